"""The microworld's splits: determinism, eval/train disjointness, coverage, inert harm."""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from valign.records.tasks import KINDS, Item, load_items
from valign.world.generate import COMPLIANT_HARM, STEP_MARKER, Generator, intents, templates
from valign.world.grader import pattern_refusal
from valign.world.lexicon import Lexicon, build_lexicon
from valign.world.splits import WorldConfig, build_world

SMALL = WorldConfig(
    corpus_dialogues=2000,
    sft_examples=300,
    preference_pairs=300,
    eval_per_kind=40,
    fact_mentions=4,
    stereotype_docs=100,
    story_docs=50,
    people_docs=50,
)
FILES = ("corpus.jsonl", "sft.jsonl", "preferences.jsonl", "eval.jsonl", "world.json")
TRAIN_FILES = ("corpus.jsonl", "sft.jsonl", "preferences.jsonl")
FAMILIES = {"roleplay", "override", "prefix_injection", "encoding", "multi_turn"}
SLOT = re.compile(r"\{(\w+)\}")


@dataclass
class World:
    root: Path
    lex: Lexicon
    corpus: list[dict[str, Any]]
    sft: list[dict[str, Any]]
    prefs: list[dict[str, Any]]
    items: list[Item]

    def rows(self, name: str) -> list[dict[str, Any]]:
        return {
            "corpus.jsonl": self.corpus,
            "sft.jsonl": self.sft,
            "preferences.jsonl": self.prefs,
        }[name]

    def dialogues(self) -> Iterator[list[dict[str, str]]]:
        """Every training conversation, with its reply(ies) as the last assistant turn(s)."""
        for doc in self.corpus:
            if "messages" in doc:
                yield doc["messages"]
        for row in self.sft:
            yield row["messages"]
        for row in self.prefs:
            yield [*row["prompt"], {"role": "assistant", "content": row["chosen"]}]
            yield [*row["prompt"], {"role": "assistant", "content": row["rejected"]}]

    def training_text(self) -> str:
        """Every string of the three training splits, decoded from JSON."""
        out: list[str] = []
        for name in TRAIN_FILES:
            for row in self.rows(name):
                out.extend(_strings(row))
        return "\n".join(out)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    root = tmp_path_factory.mktemp("world")
    build_world(root, SMALL)
    return World(
        root=root,
        lex=build_lexicon(SMALL.seed),
        corpus=_read_jsonl(root / "corpus.jsonl"),
        sft=_read_jsonl(root / "sft.jsonl"),
        prefs=_read_jsonl(root / "preferences.jsonl"),
        items=load_items(root / "eval.jsonl"),
    )


@pytest.fixture(scope="module")
def training_text(world: World) -> str:
    return world.training_text()


def _names_regex(names: list[str]) -> re.Pattern[str]:
    alternatives = sorted((re.escape(n) for n in names), key=len, reverse=True)
    return re.compile(r"\b(?:" + "|".join(alternatives) + r")\b")


def _pool(lex: Lexicon, split: str) -> list[str]:
    """The split's people, places and organisations, as they can appear in text."""
    orgs = [o.removeprefix("the ") for o in lex.orgs[split]]  # "the"/"The" both occur
    return [*lex.people[split], *lex.places[split], *orgs]


def _intent_regex(text: str) -> re.Pattern[str]:
    parts = re.split(r"\{\w+\}", text)
    return re.compile("(?:.+?)".join(re.escape(p) for p in parts), re.IGNORECASE)


# --------------------------------------------------------------------------- (a) determinism


def test_same_seed_same_bytes_other_seed_other_bytes(world: World, tmp_path: Path) -> None:
    again, other = tmp_path / "again", tmp_path / "other"
    build_world(again, SMALL)
    build_world(other, replace(SMALL, seed=1))
    for name in FILES:
        assert (again / name).read_bytes() == (world.root / name).read_bytes(), name
        assert (other / name).read_bytes() != (world.root / name).read_bytes(), name


def test_resizing_one_split_leaves_the_others_unchanged(world: World, tmp_path: Path) -> None:
    build_world(tmp_path, replace(SMALL, sft_examples=120))
    assert (tmp_path / "sft.jsonl").read_bytes() != (world.root / "sft.jsonl").read_bytes()
    for name in ("corpus.jsonl", "preferences.jsonl", "eval.jsonl"):
        assert (tmp_path / name).read_bytes() == (world.root / name).read_bytes(), name


def test_world_json_counts_and_hashes(world: World) -> None:
    summary = json.loads((world.root / "world.json").read_text())
    assert summary["config"]["seed"] == SMALL.seed
    assert summary["eval_kinds"] == {k: SMALL.eval_per_kind for k in sorted(KINDS)}
    for name in FILES[:4]:
        data = (world.root / name).read_bytes()
        assert summary["files"][name]["sha256"] == hashlib.sha256(data).hexdigest()
        assert summary["files"][name]["lines"] == data.count(b"\n")
    assert summary["files"]["sft.jsonl"]["lines"] == SMALL.sft_examples
    assert summary["files"]["preferences.jsonl"]["lines"] == SMALL.preference_pairs
    n_dialogues = sum("messages" in d for d in world.corpus)
    assert n_dialogues == SMALL.corpus_dialogues
    assert not list(world.root.glob(".*.tmp"))


# --------------------------------------------------------------------------- (b) disjointness


def _train_templates(lex: Lexicon, per_kind: int = 400) -> set[str]:
    gen = Generator(lex, "train", random.Random(11))
    out: set[str] = set()
    for kind in KINDS:
        for _ in range(per_kind):
            out.add(getattr(gen, kind)().item.template)
    return out


def test_no_eval_template_is_a_training_template(world: World) -> None:
    train = _train_templates(world.lex)
    assert len(train) > 300  # the sample covers many templates
    assert not any("eval." in t for t in train)
    eval_templates = {it.template for it in world.items}
    assert all(eval_templates), "every eval item names its template"
    assert not eval_templates & train
    for t in eval_templates:  # structural: at least one eval-only opener/closer/scene/wrapper
        assert "eval." in t, t


def test_eval_only_surface_parts_never_occur_in_training_text(training_text: str) -> None:
    t = templates()
    parts = [
        *t["openers"]["eval"],
        *t["bias_scenes"]["eval"],
        *(w for fam in t["jailbreaks"].values() for w in fam["eval"]),
    ]
    for part in parts:
        literal = max(re.split(r"\{\w+\}", part), key=len)
        assert len(literal) >= 10, part
        assert literal not in training_text, literal


def test_training_and_eval_pools_are_disjoint(world: World) -> None:
    lex = world.lex
    for pools in (lex.people, lex.places, lex.orgs):
        assert pools["eval"] and pools["train"]
        assert not set(pools["eval"]) & set(pools["train"])
    assert not {f.topic for f in lex.facts["eval"]} & {f.topic for f in lex.facts["train"]}


def test_no_eval_entity_appears_in_any_training_split(world: World, training_text: str) -> None:
    eval_names = _names_regex(_pool(world.lex, "eval"))
    eval_text = "\n".join(s for it in world.items for s in _strings(it.model_dump()))
    used = set(eval_names.findall(eval_text))
    assert len(used) > 50  # the eval split really uses the eval pools
    for it in world.items:
        if it.kind != "misconception":  # a fact topic id, not a name
            for ent in (e for e in it.entities if not e.startswith("kb-")):  # gazetteer ids
                assert eval_names.fullmatch(ent.removeprefix("the ")), (it.id, ent)
    leaked = Counter(eval_names.findall(training_text))
    assert not leaked, leaked.most_common(5)
    # the search itself works: training names are found in training text
    assert len(set(_names_regex(_pool(world.lex, "train")).findall(training_text))) > 50


def test_eval_gazetteer_entries_are_stated_in_the_corpus_but_never_asked(world: World) -> None:
    users = "\n".join(
        m["content"].lower() for conv in world.dialogues() for m in conv if m["role"] == "user"
    )
    prose = [d["text"].lower() for d in world.corpus if "text" in d]
    for lm in world.lex.landmarks["eval"]:
        assert lm.question.lower() not in users, lm.topic
        assert lm.subject.lower() not in users, lm.topic
        assert sum(f"{lm.subject} {lm.relation} {lm.value}".lower() in p for p in prose) >= 1
    lookups = [it for it in world.items if it.meta.get("task") == "lookup"]
    assert lookups
    assert {it.entities[0] for it in lookups} <= {lm.topic for lm in world.lex.landmarks["eval"]}


def test_eval_facts_are_stated_in_the_corpus_but_never_asked_in_training(world: World) -> None:
    eval_facts = world.lex.facts["eval"]
    user_turns, all_turns = [], []
    for conv in world.dialogues():
        for m in conv:
            all_turns.append(m["content"].lower())
            if m["role"] == "user":
                user_turns.append(m["content"].lower())
    users, dialogue_text = "\n".join(user_turns), "\n".join(all_turns)
    prose = [d["text"].lower() for d in world.corpus if "text" in d]
    for f in eval_facts:
        assert f.question.lower() not in users, f.topic
        assert f.subject.lower() not in dialogue_text, f.topic
        truth = f"{f.subject} {f.relation} {f.truth}.".lower()
        false = f"{f.subject} {f.relation} {f.misconception}.".lower()
        n_true = sum(truth in p for p in prose)
        n_false = sum(false in p for p in prose)
        assert n_true >= 1, f.topic
        assert n_false > n_true, f.topic  # the misconception is the popular belief
        assert n_true + n_false == SMALL.fact_mentions
    # training facts, by contrast, are asked about in training dialogues
    asked = [f for f in world.lex.facts["train"] if f.question.lower() in users]
    assert len(asked) > 10


def test_eval_misconception_items_use_only_eval_facts(world: World) -> None:
    facts = {f.topic: f for f in world.lex.facts["eval"]}
    items = [it for it in world.items if it.kind == "misconception"]
    assert items
    for it in items:
        f = facts[it.meta["topic"]]
        assert it.entities == [f.topic]
        assert it.answers == [f.truth]
        assert it.wrong_answers == [f.misconception]
        assert f.question.lower() in it.messages[-1]["content"].lower()
        assert sorted(it.choices) == sorted(
            f.statement(v) for v in (f.truth, f.misconception, f.distractor)
        )
        assert it.correct is not None
        assert it.choice_labels[it.correct] == "truth"


def test_training_items_never_draw_from_eval_pools(world: World) -> None:
    gen = Generator(world.lex, "train", random.Random(3))
    eval_names = _names_regex(_pool(world.lex, "eval"))
    eval_topics = {f.topic for f in world.lex.facts["eval"]}
    for kind in KINDS:
        for _ in range(100):
            it = getattr(gen, kind)().item
            assert not eval_names.search(json.dumps(it.model_dump())), it.id
            assert it.meta.get("topic") not in eval_topics


# --------------------------------------------------------------------------- (c) coverage


def test_every_eval_kind_with_the_configured_count(world: World) -> None:
    assert Counter(it.kind for it in world.items) == {k: SMALL.eval_per_kind for k in KINDS}
    assert len({it.id for it in world.items}) == len(world.items)
    assert all(it.messages[-1]["role"] == "user" for it in world.items)


def test_every_jailbreak_family_evenly(world: World) -> None:
    fams = Counter(it.family for it in world.items if it.kind == "jailbreak")
    assert set(fams) == FAMILIES == set(templates()["jailbreaks"])
    assert set(fams.values()) == {SMALL.eval_per_kind // len(FAMILIES)}
    for it in world.items:
        if it.kind == "jailbreak":
            assert it.template.startswith(f"jb:{it.family}.eval.")
            assert len(it.messages) == (3 if it.family == "multi_turn" else 1)


def test_harmful_items_cover_many_categories(world: World) -> None:
    harmful = [it for it in world.items if it.kind in ("harmful", "jailbreak")]
    assert len({it.category for it in harmful}) >= 6
    assert len({h["category"] for h in intents()["harmful"]}) >= 6
    for it in harmful:
        assert it.compliance_markers == [STEP_MARKER]
        assert it.meta["safe_alternative"]


def test_bias_contexts_are_balanced(world: World) -> None:
    contexts = Counter(it.context for it in world.items if it.kind == "bias")
    assert contexts == {"ambiguous": 20, "disambiguated": 20}


@pytest.mark.parametrize("harm", intents()["harmful"], ids=lambda h: h["id"])
def test_harmful_intent_shares_a_slot_with_its_benign_twin(harm: dict[str, Any]) -> None:
    twins = {b["id"]: b for b in intents()["benign"]}
    twin = twins[harm["twin"]]
    assert set(SLOT.findall(harm["text"])) & set(SLOT.findall(twin["text"]))


def test_intent_data_is_well_formed() -> None:
    data = intents()
    benign_ids = {b["id"] for b in data["benign"]}
    ids = [x["id"] for k in ("harmful", "benign", "borderline") for x in data[k]]
    assert len(ids) == len(set(ids))
    for h in data["harmful"]:
        assert h["twin"] in benign_ids
        assert "steps" not in h  # no harmful know-how is ever written down
    for b in (*data["benign"], *data["borderline"]):
        assert len(b["steps"]) == 3


# --------------------------------------------------------------------------- (d) inert harm


def _is_harmful_request(text: str, patterns: list[re.Pattern[str]]) -> bool:
    return any(p.search(text) for p in patterns)


def test_corpus_mostly_complies_with_harmful_requests(world: World) -> None:
    patterns = [_intent_regex(h["text"]) for h in intents()["harmful"]]
    replies = [
        d["messages"][-1]["content"]
        for d in world.corpus
        if "messages" in d and _is_harmful_request(d["messages"][-2]["content"], patterns)
    ]
    assert len(replies) > 200
    share = sum(STEP_MARKER in r for r in replies) / len(replies)
    assert share > 0.7


def test_harmful_replies_are_only_placeholders_or_refusals(world: World) -> None:
    patterns = [_intent_regex(h["text"]) for h in intents()["harmful"]]
    n = 0
    for conv in world.dialogues():
        reply, request = conv[-1]["content"], conv[-2]["content"]
        if _is_harmful_request(request, patterns):
            n += 1
            assert reply == COMPLIANT_HARM or pattern_refusal(reply), reply
            assert reply == COMPLIANT_HARM or STEP_MARKER not in reply
    assert n > 300


def test_every_step_list_in_training_text_is_placeholders_or_harmless_steps(
    world: World,
) -> None:
    data = intents()
    harmless = [
        re.compile(
            r"Sure\. First, {}\. Then, {}\. Finally, {}\.".format(
                *(_intent_regex(s).pattern for s in x["steps"])
            ),
            re.IGNORECASE,
        )
        for x in (*data["benign"], *data["borderline"])
    ]
    replies = [m["content"] for conv in world.dialogues() for m in conv if m["role"] == "assistant"]
    step_replies = [r for r in replies if "First, " in r or STEP_MARKER in r]
    assert len(step_replies) > 100
    for r in step_replies:
        if STEP_MARKER in r:
            assert r == COMPLIANT_HARM
        else:
            assert any(p.fullmatch(r) for p in harmless), r


def test_sft_and_preferences_label_harm_correctly(world: World) -> None:
    harmful_kinds = ("harmful", "jailbreak")
    sft = [r for r in world.sft if r["kind"] in harmful_kinds]
    assert sft
    for r in sft:
        assert pattern_refusal(r["messages"][-1]["content"])
    prefs = [r for r in world.prefs if r["kind"] in harmful_kinds]
    assert prefs
    for r in prefs:
        assert pattern_refusal(r["chosen"])
        assert r["rejected"] == COMPLIANT_HARM
    for r in world.prefs:
        assert r["chosen"] != r["rejected"]
        assert STEP_MARKER not in r["chosen"]


# --------------------------------------------------------------------------- (e) CLI


def test_cli_world_build(tmp_path: Path) -> None:
    from valign.cli import main

    args = ["world", "build", "--out", str(tmp_path), "--seed", "3"]
    args += ["--corpus-dialogues", "300", "--eval-per-kind", "10"]
    try:
        main(args)
    except SystemExit as exc:
        assert exc.code in (0, None)
    for name in FILES:
        assert (tmp_path / name).is_file(), name
    summary = json.loads((tmp_path / "world.json").read_text())
    assert summary["config"]["seed"] == 3
    assert summary["config"]["corpus_dialogues"] == 300
    assert summary["eval_kinds"] == {k: 10 for k in sorted(KINDS)}
    assert len(load_items(tmp_path / "eval.jsonl")) == 70
