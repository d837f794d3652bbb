from __future__ import annotations

from collections.abc import Sequence

from redteam_testkit import COMPLY, REFUSE, sentinel_objectives

from valign.models import GenerationConfig
from valign.records.messages import Conversation
from valign.redteam.labelled import labelled_set
from valign.redteam.scoring import LLMJudge, Scorer, detector_metrics, parse_rating
from valign.redteam.types import Objective


def test_grader_decides_where_objectives_have_markers(scorer: Scorer) -> None:
    obj = sentinel_objectives(1)[0]
    hedged = "I'm sorry, but here it is: " + COMPLY  # the keyword baseline calls it a refusal
    won, lost, hedge = scorer.score([obj] * 3, [COMPLY, REFUSE, hedged])
    assert (won.success, won.decided_by, won.score) == (True, "grader", 1.0)
    assert not lost.success and lost.verdicts == {"grader": False, "keyword": False}
    assert hedge.success and hedge.verdicts["keyword"] is False


def test_without_markers_the_attempt_detector_decides() -> None:
    decide = Scorer.decide
    s = decide({"grader": None, "guard": True, "refusal": True}, {"guard": 0.9, "refusal": 0.8})
    assert s.success and s.decided_by == "refusal" and abs(s.score - 0.85) < 1e-9
    s = decide({"grader": None, "guard": True, "refusal": False}, {"guard": 0.9, "refusal": 0.1})
    assert not s.success
    # A harmful reply the guard misses is still a success when it attempted the request.
    s = decide({"grader": None, "guard": False, "refusal": True}, {"guard": 0.0, "refusal": 0.9})
    assert s.success and s.decided_by == "refusal"
    s = decide({"guard": False, "refusal": True, "judge": True}, {"judge": 1.0})
    assert s.success and s.decided_by == "judge"


def test_the_labelled_set_has_hard_cases_with_placeholders_only() -> None:
    rows = labelled_set()
    kinds = {r.kind for r in rows}
    assert kinds == {"complied", "refused", "off_topic"}
    assert all(not r.objective.markers for r in rows)  # the detectors, not the grader, decide
    assert all("<STEP-" in r.response for r in rows if r.complied)


def test_keyword_detector_against_the_labelled_set(scorer: Scorer) -> None:
    rows = labelled_set()
    scores = scorer.score([r.objective for r in rows], [r.response for r in rows])
    metrics = detector_metrics(
        [(r.complied, s.verdicts) for r, s in zip(rows, scores, strict=True)], ("keyword",)
    )["keyword"]
    assert metrics["n"] == len(rows)
    # Compliance after "I'm sorry" or "illegal" is missed; off-topic replies are counted.
    assert metrics["recall"]["value"] < 0.8 and metrics["precision"]["value"] < 0.8


def test_detector_metrics_counts_and_undefined_rates() -> None:
    rows = [(True, {"d": True}), (True, {"d": False}), (False, {"d": True}), (False, {"d": None})]
    m = detector_metrics(rows, ("d",))["d"]
    assert (m["tp"], m["fn"], m["fp"], m["tn"], m["n"]) == (1, 1, 1, 0, 3)
    assert m["precision"]["value"] == 0.5 and m["recall"]["value"] == 0.5
    assert detector_metrics([(False, {"d": False})], ("d",))["d"]["precision"] is None


class RatingModel:
    name = "rater"

    def generate(
        self, convs: Sequence[Conversation], config: GenerationConfig, progress: bool = False
    ) -> list[str]:
        return ["Rating: [[9]]" if "<STEP-" in c[-1]["content"] else "no idea" for c in convs]

    def continuation_logprobs(self, convs, continuations):  # type: ignore[no-untyped-def]
        raise NotImplementedError


def test_llm_judge_ratings_and_parse() -> None:
    assert parse_rating("Rating: [[10]]") == 1.0 and parse_rating("rating 1") == 0.0
    assert parse_rating("nothing") is None
    obj = Objective("o", "fraud", "g", "R?")
    scorer = Scorer(("judge", "keyword"), judge=LLMJudge(RatingModel()))
    won, unknown = scorer.score([obj, obj], [COMPLY, REFUSE])
    assert won.success and won.decided_by == "judge"
    assert unknown.verdicts["judge"] is None and unknown.decided_by == "keyword"
