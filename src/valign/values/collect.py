"""Collective constitutions: people vote on candidate principles; keep what every group accepts.

The method follows Polis, as used for the Collective Constitutional AI experiment:

1. **Vote matrix** — participants x statements, agree = +1, disagree = -1, pass or unseen =
   0. Participants with fewer than ``min_votes`` votes are left out of the grouping (their
   votes are too few to place them) but still counted.
2. **Opinion space** — the matrix, each column centred on its mean, projected on its first
   two principal components (scikit-learn's PCA).
3. **Opinion groups** — k-means in that plane (scikit-learn's KMeans: k-means++ starts,
   several restarts, seeded); with ``groups=0`` k runs from 2 to ``max_groups`` and the
   best silhouette wins (a larger k only when clearly better: splitting a real group along
   noise barely moves it). The silhouette is computed in memory-bounded blocks, on a seeded
   sample of participants when there are many, so 20,000 voters need no n x n array.
4. **Group-informed consensus** — for each statement and group, P(agree | group) =
   (agrees + 1) / (votes + 2) (passes count as votes that did not agree); the consensus of
   a statement is the product of these over groups, so one group that rejects it sinks it
   however large the others are. A statement is kept when every group agrees with it with
   probability at least ``min_agree``; a statement that some group favours and another
   rejects is reported as divisive.

The kept statements become principles of a constitution, with the vote counts per group in
its provenance, so anyone can check why each principle is there.
"""

from __future__ import annotations

import csv
import json
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from sklearn import config_context as sklearn_config
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import silhouette_score

from valign.errors import UserError
from valign.values.schema import Constitution, Principle

VOTE_VALUES = {
    "agree": 1,
    "1": 1,
    "+1": 1,
    "yes": 1,
    "disagree": -1,
    "-1": -1,
    "no": -1,
    "pass": 0,
    "0": 0,
    "skip": 0,
}
PARTICIPANT_KEYS = ("participant", "voter-id", "voter_id", "pid")
STATEMENT_KEYS = ("statement", "comment-id", "comment_id", "tid")
TEXT_KEYS = ("text", "comment-body", "comment_body", "txt")
# The silhouette that chooses k scores at most this many participants (a seeded sample)...
SILHOUETTE_SAMPLE = 5_000
# ...computing their distances in blocks of at most this many MB.
SILHOUETTE_MEMORY_MB = 64


class CollectSettings(BaseModel):
    """How votes become a constitution."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    groups: int = Field(
        0, ge=0, description="Opinion groups (0: choose 2..max_groups by silhouette)."
    )
    max_groups: int = Field(5, ge=2, description="Most groups tried when choosing k.")
    min_votes: int = Field(
        3, ge=1, description="Votes a participant needs to be placed in a group."
    )
    min_agree: float = Field(
        0.6,
        gt=0.0,
        lt=1.0,
        description="Every group's P(agree) must reach this for a statement to be kept.",
    )
    min_group_votes: int = Field(
        3, ge=0, description="Votes a statement needs from each group to be judged at all."
    )
    divisive_gap: float = Field(
        0.4, description="A statement is divisive when group P(agree) values differ by this much."
    )
    k_margin: float = Field(
        0.05,
        description="A larger k must beat the silhouette of a smaller one by this much "
        "(splitting a real group along noise barely changes the silhouette).",
    )
    restarts: int = Field(10, ge=1, description="k-means restarts (the best inertia wins).")
    seed: int = Field(0, description="Seeds k-means.")


@dataclass(frozen=True)
class Statement:
    """A candidate principle put to the vote."""

    id: str
    text: str
    extra: dict[str, Any] = field(default_factory=dict)  # optional principle fields


@dataclass
class StatementResult:
    """How each group voted on one statement, and the verdict."""

    statement: Statement
    counts: dict[str, dict[str, int]]  # group -> {"agree", "disagree", "pass"}
    p_agree: dict[str, float]  # group -> P(agree | group)
    consensus: float  # product of p_agree over groups
    kept: bool
    divisive: bool


@dataclass
class Aggregation:
    """The result of collecting: groups, coordinates and a verdict per statement."""

    participants: list[str]
    groups: dict[str, int]  # participant -> group (placed participants only)
    coords: np.ndarray  # (n_placed, 2)
    silhouette: float
    statements: list[StatementResult]

    @property
    def kept(self) -> list[StatementResult]:
        return sorted((s for s in self.statements if s.kept), key=lambda s: -s.consensus)

    @property
    def divisive(self) -> list[StatementResult]:
        return [s for s in self.statements if s.divisive]


# ── reading ──────────────────────────────────────────────────────────────────


def _rows(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise UserError(f"file not found: {path}")
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        rows = []
        for lineno, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise UserError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from None
        return rows
    return list(csv.DictReader(text.splitlines()))


def _pick(row: dict[str, Any], keys: Sequence[str], what: str, where: str) -> str:
    for k in keys:
        if k in row and row[k] not in (None, ""):
            return str(row[k]).strip()
    raise UserError(f"{where}: no {what} column (one of: {', '.join(keys)})")


def read_votes(path: Path) -> list[tuple[str, str, int]]:
    """(participant, statement, vote) triples from CSV or JSONL; the last vote counts.

    Columns: ``participant``, ``statement``, ``vote`` (agree/disagree/pass or 1/-1/0);
    Polis export names (``voter-id``, ``comment-id``) are accepted too.
    """
    latest: dict[tuple[str, str], int] = {}
    for n, row in enumerate(_rows(path), 1):
        where = f"{path}:{n}"
        who = _pick(row, PARTICIPANT_KEYS, "participant", where)
        what = _pick(row, STATEMENT_KEYS, "statement", where)
        raw = _pick(row, ("vote",), "vote", where).lower()
        if raw not in VOTE_VALUES:
            raise UserError(
                f"{where}: vote must be agree, disagree or pass (or 1, -1, 0), got {raw!r}"
            )
        latest[(who, what)] = VOTE_VALUES[raw]
    if not latest:
        raise UserError(f"{path}: no votes")
    return [(p, s, v) for (p, s), v in latest.items()]


def read_statements(path: Path) -> list[Statement]:
    """Statements from CSV or JSONL: ``id`` (or ``comment-id``) and ``text``; other
    principle fields (``source``, ``categories``, ``critique_request``...) are kept."""
    out = []
    for n, row in enumerate(_rows(path), 1):
        where = f"{path}:{n}"
        sid = _pick(row, ("id", *STATEMENT_KEYS), "id", where)
        text = _pick(row, TEXT_KEYS, "text", where)
        extra = {
            k: v for k, v in row.items() if k in Principle.model_fields and k not in ("id", "text")
        }
        out.append(Statement(sid, text, extra))
    return out


# ── the method ───────────────────────────────────────────────────────────────


def vote_matrix(
    votes: Sequence[tuple[str, str, int]], statement_ids: Sequence[str]
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Participants, the (participants, statements) vote matrix and its "voted" mask."""
    participants = sorted({p for p, _, _ in votes})
    prow = {p: i for i, p in enumerate(participants)}
    scol = {s: j for j, s in enumerate(statement_ids)}
    m = np.zeros((len(participants), len(statement_ids)))  # (participants, statements)
    seen = np.zeros_like(m, dtype=bool)
    for p, s, v in votes:
        if s not in scol:
            raise UserError(f"vote on unknown statement {s!r}")
        m[prow[p], scol[s]] = v
        seen[prow[p], scol[s]] = True
    return participants, m, seen


def project(m: np.ndarray, components: int = 2) -> np.ndarray:
    """Principal-component coordinates of each row of the column-centred matrix.

    scikit-learn's PCA (an SVD of the centred matrix, signs fixed by ``svd_flip``), zero
    columns added when the matrix has fewer than ``components`` dimensions.
    """
    k = min(components, *m.shape)
    coords = PCA(n_components=k, svd_solver="full").fit_transform(m)  # (rows, k)
    if k < components:
        coords = np.pad(coords, ((0, 0), (0, components - k)))
    return np.asarray(coords, dtype=np.float64)


def kmeans(x: np.ndarray, k: int, restarts: int, seed: int) -> tuple[np.ndarray, float]:
    """Labels and inertia of the best of ``restarts`` k-means++ runs (scikit-learn's KMeans).

    Labels are renumbered by group size, largest first (ties: the group of the earlier
    row first), so that the numbering does not depend on the k-means implementation.
    """
    k = min(k, len(x))
    with warnings.catch_warnings():
        # Fewer distinct points than k: KMeans warns and returns fewer groups, as it should.
        warnings.simplefilter("ignore", ConvergenceWarning)
        fit = KMeans(n_clusters=k, init="k-means++", n_init=restarts, random_state=seed).fit(x)
    return _renumber(np.asarray(fit.labels_)), float(fit.inertia_)


def _renumber(labels: np.ndarray) -> np.ndarray:
    """Labels 0..g-1 by group size (largest first), ties by the group's first row."""
    found, first, counts = np.unique(labels, return_index=True, return_counts=True)
    order = sorted(range(len(found)), key=lambda i: (-counts[i], first[i]))
    new = np.empty(len(found), dtype=np.int64)
    new[order] = np.arange(len(found))
    return new[np.searchsorted(found, labels)]


def silhouette(x: np.ndarray, labels: np.ndarray, seed: int = 0) -> float:
    """Mean silhouette coefficient (-1..1; higher = better separated groups).

    scikit-learn's ``silhouette_score``, which computes the distances in row blocks of at
    most ``SILHOUETTE_MEMORY_MB``; above ``SILHOUETTE_SAMPLE`` rows it scores a seeded
    random sample of that many rows (sampling error about 0.01 at 5,000, far below the
    ``k_margin`` that decides k). No n x n array is built. A single group scores -1, and
    groups of one row score 0 as in Rousseeuw (1987).
    """
    n_groups = len(np.unique(labels))
    if n_groups < 2:
        return -1.0
    if n_groups >= len(x):
        return 0.0  # every row alone: each silhouette is 0 by definition
    sample = SILHOUETTE_SAMPLE if len(x) > SILHOUETTE_SAMPLE else None
    with sklearn_config(working_memory=SILHOUETTE_MEMORY_MB):
        return float(silhouette_score(x, labels, sample_size=sample, random_state=seed))


def group_participants(coords: np.ndarray, s: CollectSettings) -> tuple[np.ndarray, float]:
    """Opinion groups in the plane: fixed k, or the k with the best silhouette."""
    n = len(coords)
    if n < 2:
        return np.zeros(n, dtype=int), -1.0
    ks = [s.groups] if s.groups else list(range(2, min(s.max_groups, n - 1) + 1)) or [1]
    best: tuple[np.ndarray, float] | None = None
    for k in ks:
        labels, _ = kmeans(coords, k, s.restarts, s.seed)
        score = silhouette(coords, labels, s.seed)
        if best is None or score > best[1] + s.k_margin:
            best = (labels, score)
    assert best is not None
    return best


def aggregate(
    votes: Sequence[tuple[str, str, int]],
    statements: Sequence[Statement],
    settings: CollectSettings | None = None,
) -> Aggregation:
    """Group the participants and judge every statement (see the module docstring)."""
    s = settings or CollectSettings()
    ids = [st.id for st in statements]
    participants, m, seen = vote_matrix(votes, ids)
    placed = seen.sum(1) >= s.min_votes
    if placed.sum() < 2:
        raise UserError(f"fewer than 2 participants cast at least {s.min_votes} votes")
    coords = project(m[placed])
    labels, score = group_participants(coords, s)
    placed_ids = [p for p, ok in zip(participants, placed, strict=True) if ok]
    group_of = {p: int(g) for p, g in zip(placed_ids, labels, strict=True)}
    names = [f"group_{g}" for g in sorted(set(group_of.values()))]
    row_of = {p: i for i, p in enumerate(participants)}
    group_rows = [[row_of[p] for p, gg in group_of.items() if gg == g] for g in range(len(names))]
    results = []
    for j, st in enumerate(statements):
        counts: dict[str, dict[str, int]] = {}
        p_agree: dict[str, float] = {}
        for name, rows in zip(names, group_rows, strict=True):
            col, voted = m[rows, j], seen[rows, j]
            c = {
                "agree": int(((col == 1) & voted).sum()),
                "disagree": int(((col == -1) & voted).sum()),
                "pass": int(((col == 0) & voted).sum()),
            }
            counts[name] = c
            total = sum(c.values())
            p_agree[name] = (c["agree"] + 1) / (total + 2)
        enough = all(sum(c.values()) >= s.min_group_votes for c in counts.values())
        consensus = float(np.prod(list(p_agree.values())))
        kept = enough and min(p_agree.values()) >= s.min_agree
        divisive = enough and max(p_agree.values()) - min(p_agree.values()) >= s.divisive_gap
        results.append(StatementResult(st, counts, p_agree, consensus, kept, divisive))
    return Aggregation(participants, group_of, coords, score, results)


# ── the constitution ─────────────────────────────────────────────────────────


def _principle_id(statement: Statement, taken: set[str]) -> str:
    slug = re.sub(r"[^a-z0-9]+", "_", statement.id.lower()).strip("_")
    base = slug if slug and slug[0].isalpha() else f"collective_{slug or 'statement'}"
    pid, n = base, 2
    while pid in taken:
        pid, n = f"{base}_{n}", n + 1
    taken.add(pid)
    return pid


def to_principle(result: StatementResult, pid: str, title: str) -> Principle:
    st = result.statement
    fields: dict[str, Any] = {
        "id": pid,
        "text": st.text,
        "source": f"Collective input: {title} (group-informed consensus {result.consensus:.2f})",
        "critique_request": "Identify specific ways in which the assistant's last response "
        f"does not follow this principle: {st.text}",
        "revision_request": "Please rewrite the assistant's response so that it follows "
        f"this principle: {st.text}",
    }
    for key, value in st.extra.items():
        if key == "categories" and isinstance(value, str):
            value = [c for c in re.split(r"[;, ]+", value) if c]
        if value not in (None, "", []):
            fields[key] = value
    return Principle.model_validate(fields)


def to_constitution(
    agg: Aggregation,
    base: Constitution,
    title: str = "collective input",
    replace_principles: bool = False,
) -> Constitution:
    """The base's taxonomy with the kept statements as principles, and their provenance.

    With ``replace_principles`` the kept statements are the only principles; otherwise they
    follow the base's principles.
    """
    taken = set() if replace_principles else set(base.principle_ids)
    principles = [] if replace_principles else list(base.principles)
    provenance_rows = []
    for result in agg.kept:
        pid = _principle_id(result.statement, taken)
        principles.append(to_principle(result, pid, title))
    for result in agg.statements:
        provenance_rows.append(
            {
                "statement": result.statement.id,
                "text": result.statement.text,
                "kept": result.kept,
                "divisive": result.divisive,
                "consensus": round(result.consensus, 4),
                "p_agree": {g: round(p, 4) for g, p in result.p_agree.items()},
                "votes": result.counts,
            }
        )
    sizes: dict[str, int] = {}
    for g in agg.groups.values():
        sizes[f"group_{g}"] = sizes.get(f"group_{g}", 0) + 1
    collective = {
        "title": title,
        "date": date.today().isoformat(),
        "method": "PCA (2 components) of the vote matrix, k-means, group-informed consensus",
        "participants": len(agg.participants),
        "placed_participants": len(agg.groups),
        "group_sizes": sizes,
        "silhouette": round(agg.silhouette, 4),
        "statements": provenance_rows,
    }
    return Constitution(
        name=f"{base.name} + {title}",
        version=base.version,
        description=f"{base.description} Principles added by group-informed consensus of "
        f"{len(agg.participants)} participants ({title}).",
        refusal_message=base.refusal_message,
        categories=list(base.categories),
        principles=principles,
        provenance={**base.provenance, "collective": collective},
    )
