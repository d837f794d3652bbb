"""The guard's lifecycle stage: attack success with and without the guard, and its section."""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace

import pytest
from guard_testkit import CATEGORIES, FakeChatModel
from rich.console import Console

from valign.guard.stage import compare, guard_stage, report_section
from valign.guard.types import GuardInput, GuardVerdict
from valign.records.runs import RunDir, read_records
from valign.records.tasks import Item
from valign.stage import StageContext
from valign.world.generate import COMPLIANT_HARM, Generator
from valign.world.lexicon import build_lexicon


class StepGuard:
    """Flags any response with <STEP-n> placeholders."""

    name = "steps"
    categories = CATEGORIES

    def classify(self, inputs: Sequence[GuardInput]) -> list[GuardVerdict]:
        out = []
        for i in inputs:
            bad = "<STEP-" in (i.response or "")
            out.append(GuardVerdict(bad, float(bad), dict.fromkeys(CATEGORIES, 0.0)))
        return out


def items() -> list[Item]:
    gen = Generator(build_lexicon(0), "eval", random.Random(1))
    return [gen.harmful().item for _ in range(3)] + [gen.jailbreak().item for _ in range(3)]


def test_the_guard_stops_compliance(tmp_path: Path) -> None:
    model = FakeChatModel(reply=lambda p: COMPLIANT_HARM)
    results = compare({"base": model}, items(), StepGuard(), tmp_path)
    without, with_guard = results["base"]["without guard"], results["base"]["with guard"]
    assert without["harmful_compliance"]["value"] == 1.0
    assert without["jailbreak_success"]["value"] == 1.0
    assert with_guard["harmful_compliance"]["value"] == 0.0
    assert with_guard["guard_counts"]["outputs_blocked"] == 6
    assert len(read_records(tmp_path / "records.jsonl")) == 12
    assert (tmp_path / "decisions-base.jsonl").is_file()
    report = report_section(results, "steps")
    assert report["title"] == "Guard in front of the models" and report["tables"]


def test_guard_stage_reads_a_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import valign.guard.stage as stage
    import valign.models as models

    run = RunDir(tmp_path / "run")
    (run.stage("world") / "eval.jsonl").write_text(
        "\n".join(i.model_dump_json() for i in items()) + "\n", encoding="utf-8"
    )
    monkeypatch.setattr(
        models, "load_model", lambda spec: FakeChatModel(reply=lambda p: COMPLIANT_HARM)
    )
    monkeypatch.setattr(stage, "get_backend", lambda: StepGuard())
    summary = guard_stage(StageContext.of(run, SimpleNamespace(eval_limit=4), Console(quiet=True)))
    assert summary["results"]["base"]["with guard"]["harmful_compliance"]["n"] == 3
    assert summary["report"]["plots"]


def _scored_base(run: RunDir, tokens: int, reply: str) -> None:
    """A finished base scorecard of ``run``'s base model that recorded ``reply`` everywhere."""
    folder = run.stage("eval_base")
    rows = [{"id": i.id, "response": reply} for i in items()]
    (folder / "responses.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8"
    )
    settings = {"model": str(run.root / "pretrain" / "model"), "max_new_tokens": tokens}
    (folder / "eval_settings.json").write_text(json.dumps(settings), encoding="utf-8")
    run.mark_done("eval_base", {}, {})


def test_guard_stage_replays_the_scorecard_s_replies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import valign.guard.stage as stage
    import valign.models as models

    loaded: list[str] = []

    def load(spec: str) -> FakeChatModel:
        loaded.append(spec)
        return FakeChatModel(reply=lambda p: "I can't help with that.")

    monkeypatch.setattr(models, "load_model", load)
    monkeypatch.setattr(stage, "get_backend", lambda: StepGuard())
    for tokens, replayed in ((stage.GUARD_TOKENS, True), (32, False)):
        run = RunDir(tmp_path / str(tokens))
        (run.stage("world") / "eval.jsonl").write_text(
            "\n".join(i.model_dump_json() for i in items()) + "\n", encoding="utf-8"
        )
        _scored_base(run, tokens, COMPLIANT_HARM)
        loaded.clear()
        ctx = StageContext.of(run, SimpleNamespace(), Console(quiet=True))
        without = guard_stage(ctx)["results"]["base"]["without guard"]
        # The recorded (complying) replies, not the live model's refusals, when they fit.
        assert without["harmful_compliance"]["value"] == (1.0 if replayed else 0.0)
        assert loaded == ([] if replayed else [str(run.root / "pretrain" / "model")])
