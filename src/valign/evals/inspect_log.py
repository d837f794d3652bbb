"""A finished evaluation folder as an inspect-ai evaluation log.

inspect-ai's log viewer (``inspect view``) and its Python API (``read_eval_log``) are what
many teams already use to browse evaluations sample by sample. :func:`inspect_log` turns a
``valign eval`` folder into that log format (version 2, JSON): one sample per item — the
conversation, the model's reply, the grader's verdict as an ``aligned`` score (``C`` or
``I``) with the outcome as its explanation — and every scorecard metric, with its 95%
interval and count in the metric's metadata. Nothing is re-run: the log is read from
``scorecard.json``, ``responses.jsonl``, ``manifest.json`` and the task file the
scorecard names (used only when its content hash still matches; otherwise the samples
carry their ids without the conversation).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from valign.errors import UserError
from valign.records.runs import atomic_write_json, read_json, read_records
from valign.records.tasks import Item, load_items, tasks_sha256

SCORER = "valign_grader"


def _items(card: dict[str, Any]) -> dict[str, Item]:
    """The scored items by id, when the task file is still the one that was scored."""
    source = Path(str(card.get("tasks", {}).get("source", "")))
    if not source.is_file():
        return {}
    items = load_items(source)
    if tasks_sha256(items) != card["tasks"].get("sha256"):
        return {}
    return {it.id: it for it in items}


def _target(item: Item | None) -> str | list[str]:
    if item is None:
        return ""
    if item.kind in ("harmful", "jailbreak"):
        return "refuse"
    if item.choices and item.correct is not None:
        return item.choices[item.correct]
    return list(item.answers) or ""


def _sample(record: dict[str, Any], item: Item | None, model: str) -> dict[str, Any]:
    reply = str(record.get("response") or "")
    turns = [dict(m) for m in item.messages] if item else []
    meta = {k: v for k, v in record.items() if k not in ("id", "response") and v is not None}
    return {
        "id": record["id"],
        "epoch": 1,
        "input": turns or str(record["id"]),
        "choices": list(item.choices) if item and item.choices else None,
        "target": _target(item),
        "messages": [*turns, {"role": "assistant", "content": reply, "source": "generate"}],
        "output": {
            "model": model,
            "choices": [
                {
                    "message": {"role": "assistant", "content": reply, "source": "generate"},
                    "stop_reason": "unknown",
                }
            ],
        },
        "scores": {
            "aligned": {
                "value": "C" if record.get("aligned") else "I",
                "answer": reply,
                "explanation": str(record.get("outcome", "")),
                "metadata": meta,
            }
        },
        "metadata": {"kind": record.get("kind"), "category": record.get("category")},
    }


def _metrics(card: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out = {}
    for name, m in card["metrics"].items():
        if m and m.get("value") is not None:
            extra = {k: m[k] for k in ("low", "high", "n", "kind") if k in m}
            out[name] = {"name": name, "value": float(m["value"]), "metadata": extra}
    return out


def inspect_log(folder: Path) -> dict[str, Any]:
    """The evaluation log of a finished ``valign eval`` folder (inspect-ai format 2; the
    keys in the order inspect-ai's streaming reader expects)."""
    card_path = folder / "scorecard.json"
    if not card_path.is_file():
        raise UserError(f"{folder}: no scorecard.json (not a finished evaluation folder)")
    card = read_json(card_path)
    man = read_json(folder / "manifest.json") if (folder / "manifest.json").is_file() else {}
    records = read_records(folder / "responses.jsonl")
    items = _items(card)
    model = str(card.get("model", "unknown"))
    tasks = card.get("tasks", {})
    task = Path(str(tasks.get("source", "tasks"))).stem
    created = str(man.get("created") or man.get("time") or "1970-01-01T00:00:00+00:00")
    run_id = hashlib.sha256(f"{folder.resolve()}|{tasks.get('sha256')}".encode()).hexdigest()
    versions = man.get("versions", {})
    return {
        "version": 2,
        "status": "success",
        "eval": {
            "run_id": run_id[:22],
            "eval_id": run_id[22:44],
            "created": created,
            "task": f"valign/{task}",
            "task_id": str(tasks.get("sha256", ""))[:22],
            "task_version": 0,
            "dataset": {
                "name": task,
                "location": str(tasks.get("source", "")),
                "samples": len(records),
                "sample_ids": [r["id"] for r in records],
            },
            "model": model,
            "config": {},
            "packages": {k: str(v) for k, v in versions.items() if isinstance(v, str)},
            "metadata": {"tasks_sha256": tasks.get("sha256"), "grader": card.get("grader")},
        },
        "plan": {"name": "plan", "steps": [{"solver": "generate", "params": {}}], "config": {}},
        "results": {
            "total_samples": len(records),
            "completed_samples": len(records),
            "scores": [
                {
                    "name": "aligned",
                    "scorer": SCORER,
                    "scored_samples": len(records),
                    "metrics": _metrics(card),
                }
            ],
        },
        "stats": {"started_at": created, "completed_at": created},
        "samples": [_sample(r, items.get(r["id"]), model) for r in records],
    }


def write_inspect_log(folder: Path, log_dir: Path) -> Path:
    """Write :func:`inspect_log` of ``folder`` into ``log_dir`` (atomically), named as
    inspect-ai names its logs (``<created>_<task>_<id>.json``, which ``inspect view`` and
    ``list_eval_logs`` look for); returns the file's path."""
    log = inspect_log(folder)
    created = log["eval"]["created"].split(".")[0].replace(":", "-")
    task = log["eval"]["task"].replace("/", "-").replace("_", "-")
    return atomic_write_json(log_dir / f"{created}_{task}_{log['eval']['eval_id']}.json", log)
