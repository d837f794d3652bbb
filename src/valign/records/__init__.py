"""valign.records: the ground floor every stage shares.

- :mod:`~valign.records.messages` one chat turn (:class:`Message`) and a conversation;
- :mod:`~valign.records.tasks` evaluation tasks as data (:class:`Item`, task files);
- :mod:`~valign.records.comparisons` the one comparison format (:class:`Comparison`);
- :mod:`~valign.records.runs` run folders (:class:`RunDir`), append-only records and
  atomic writes.
"""

from typing import TYPE_CHECKING

from valign.lazy import lazy_face

if TYPE_CHECKING:
    from valign.records.comparisons import (
        SOURCES,
        Comparison,
        iter_comparisons,
        load_comparisons,
        write_comparisons,
    )
    from valign.records.messages import Conversation, Message, to_messages
    from valign.records.runs import (
        RecordWriter,
        RunDir,
        atomic_write_json,
        atomic_write_text,
        completed_ids,
        manifest,
        read_records,
    )
    from valign.records.tasks import KINDS, Item, dump_items, load_items

__all__ = [
    "KINDS",
    "SOURCES",
    "Comparison",
    "Conversation",
    "Item",
    "Message",
    "RecordWriter",
    "RunDir",
    "atomic_write_json",
    "atomic_write_text",
    "completed_ids",
    "dump_items",
    "iter_comparisons",
    "load_comparisons",
    "load_items",
    "manifest",
    "read_records",
    "to_messages",
    "write_comparisons",
]

# Each name is imported on first use (valign.lazy); type checkers read the imports above.
if not TYPE_CHECKING:
    __getattr__, __dir__ = lazy_face(
        __name__,
        __all__,
        {
            "comparisons": [
                "SOURCES",
                "Comparison",
                "iter_comparisons",
                "load_comparisons",
                "write_comparisons",
            ],
            "messages": ["Conversation", "Message", "to_messages"],
            "runs": [
                "RecordWriter",
                "RunDir",
                "atomic_write_json",
                "atomic_write_text",
                "completed_ids",
                "manifest",
                "read_records",
            ],
            "tasks": ["KINDS", "Item", "dump_items", "load_items"],
        },
    )
