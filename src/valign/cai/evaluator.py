"""The trained evaluator: a classifier that scores a reply against each principle.

For users without a strong judge model. The guard's frozen MiniLM encoder embeds the
conversation and the reply; a small head scores, for every principle, how well the reply
follows it, and guesses from the conversation alone which principles bear on it::

    x         = [e(conv), e(reply), e(conv) * e(reply)]     # (batch, 3 * dim)
    follows   = W_f GELU(W_t x)                             # (batch, n_principles) logits
    relevance = softmax(W_r e(conv))                        # (batch, n_principles)

The product term lets the same reply be good after one request and bad after another (a
refusal after a harmful request, a refusal after a safe one). A pair (a, b) judged under
principle k gets ``sigmoid(follows_k(a) - follows_k(b))``; with no principle given, the
principles are weighted by their relevance. Training uses the constitution's labelled
examples (pointwise: follows or violates) and a labelled seed of comparisons
(Bradley–Terry on the difference, soft labels honoured), each judged by the principles
:mod:`valign.cai.rubric` assigns. It trains in seconds: only the head learns.

A saved evaluator is a folder: ``evaluator.json`` (principles, encoder settings, training
provenance, held-out agreement) and ``head.safetensors``.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from pydantic import BaseModel, ConfigDict, Field
from safetensors.torch import load_file, save_file
from torch import nn

from valign.cai.judge import PairItem, Verdict
from valign.cai.judge import render as render_text
from valign.cai.rubric import seed_rubric
from valign.errors import UserError
from valign.guard.encoder import Encoder, shared_encoder
from valign.models.threads import set_threads
from valign.records.comparisons import Comparison
from valign.records.messages import Conversation
from valign.values import Constitution

EVALUATOR_FILE = "evaluator.json"
HEAD_FILE = "head.safetensors"


class EvaluatorSettings(BaseModel):
    """How the evaluator's head is trained (the encoder stays frozen)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    hidden: int = Field(256, description="Width of the hidden layer.")
    epochs: int = Field(60, description="Passes over the training data.")
    batch_size: int = Field(128, description="Examples per step.")
    lr: float = Field(2e-3, description="AdamW learning rate.")
    weight_decay: float = Field(1e-2, description="AdamW weight decay.")
    dropout: float = Field(0.1, description="Dropout on the features and the hidden layer.")
    example_weight: float = Field(
        4.0, description="Weight of a constitution example relative to a seed comparison."
    )
    negatives: int = Field(
        2,
        description="Synthetic incoherent or off-topic replies per seed comparison, each "
        "ranked below the chosen reply under the helpfulness principle (0: none).",
    )
    max_length: int = Field(256, description="Longest text the encoder reads, in tokens.")
    seed: int = Field(0, description="Seeds initialisation and shuffling.")
    threads: int = Field(0, description="CPU threads for torch (0: leave torch's default).")
    focus: int = Field(
        0,
        ge=0,
        description="Judge by the k most relevant principles only (0: weigh every principle "
        "by its relevance). 1 lets a category's own principle overrule general helpfulness.",
    )


def render(conversation: Conversation) -> str:
    """A conversation as one text for the encoder."""
    return render_text(conversation, "\n")


class EvaluatorHead(nn.Module):
    """Per-principle adherence logits and principle relevance from frozen embeddings."""

    def __init__(self, dim: int, n_principles: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.trunk = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(3 * dim, hidden), nn.GELU(), nn.Dropout(dropout)
        )
        self.follows = nn.Linear(hidden, n_principles)
        self.relevance = nn.Linear(dim, n_principles)

    def forward(self, conv: torch.Tensor, reply: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # conv, reply: (batch, dim)
        x = torch.cat([conv, reply, conv * reply], dim=-1)  # (batch, 3 * dim)
        return self.follows(self.trunk(x)), self.relevance(conv)  # (batch, k), (batch, k)


@dataclass
class _Data:
    """Indices into one table of unique texts, so each text is embedded once."""

    texts: list[str]
    point: list[tuple[int, int, int, float, float]]  # conv, reply, principle, label, weight
    # conv, a, b, principles, p(a), whether the pair teaches relevance (synthetic ones don't)
    pairs: list[tuple[int, int, int, tuple[int, ...], float, bool]]

    def index(self, text: str, table: dict[str, int]) -> int:
        if text not in table:
            table[text] = len(self.texts)
            self.texts.append(text)
        return table[text]


class TrainedEvaluator:
    """The trained evaluator: the same ``compare`` as the LLM judge, plus pointwise scores."""

    def __init__(
        self,
        head: EvaluatorHead,
        principles: Sequence[str],
        encoder: Encoder,
        meta: dict[str, Any] | None = None,
    ) -> None:
        self.head = head.eval()
        self.principles = list(principles)
        self.encoder = encoder
        self.meta = dict(meta or {})
        self.focus = int(self.meta.get("settings", {}).get("focus", 0))
        self.name = "trained-evaluator"
        self._cache: dict[str, torch.Tensor] = {}

    # ---------------------------------------------------------------- embedding

    def embed(self, texts: Sequence[str]) -> torch.Tensor:
        """Embeddings (len(texts), dim), each distinct text encoded once per evaluator."""
        todo = sorted({t for t in texts if t not in self._cache})
        if todo:
            for text, vec in zip(todo, self.encoder.encode(todo), strict=True):
                self._cache[text] = vec
        if not texts:
            return torch.zeros(0, self.encoder.dim)
        return torch.stack([self._cache[t] for t in texts])

    # ----------------------------------------------------------------- scoring

    @torch.inference_mode()
    def logits(
        self, convs: Sequence[Conversation], replies: Sequence[str]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Adherence logits and relevance probabilities, each (n, n_principles)."""
        c = self.embed([render(x) for x in convs])
        r = self.embed(list(replies))
        follows, relevance = self.head(c, r)
        return follows, torch.softmax(relevance, dim=-1)

    def score(self, convs: Sequence[Conversation], replies: Sequence[str]) -> list[float]:
        """How well each reply follows the principles that bear on its conversation, 0..1."""
        if not convs:
            return []
        follows, relevance = self.logits(convs, replies)
        return (torch.sigmoid(follows) * self._focus(relevance)).sum(-1).tolist()

    def _focus(self, weights: torch.Tensor) -> torch.Tensor:
        """Keep the ``focus`` largest weights of each row (all with focus 0), renormalised."""
        if self.focus:
            top = weights.topk(min(self.focus, weights.shape[-1]), dim=-1).indices
            kept = torch.zeros_like(weights).scatter(-1, top, 1.0)
            weights = weights * kept
        return weights / weights.sum(-1, keepdim=True).clamp(min=1e-9)

    def reward(self, convs: Sequence[Conversation]) -> list[float]:
        """Score whole conversations (last turn = the reply): the reward of direct RLAIF."""
        return self.score([c[:-1] for c in convs], [c[-1]["content"] for c in convs])

    def compare(self, items: Sequence[PairItem], principle: str | None = None) -> list[Verdict]:
        """P(a better) per pair, in input order (see the module docstring).

        Without ``principle`` the relevance-weighted mixture over all principles is used,
        or over the item's allowed principles when it names some. The evaluator is
        symmetric by construction, so the two orders agree exactly.
        """
        if not items:
            return []
        convs = [i.conversation for i in items]
        fa, rel = self.logits(convs, [i.a for i in items])
        fb, _ = self.logits(convs, [i.b for i in items])
        p = torch.sigmoid(fa - fb)  # (n, k)
        out = []
        for row, item in enumerate(items):
            weights = rel[row].clone()
            allowed = [self.principles.index(x) for x in item.principles if x in self.principles]
            if principle is not None:
                weights = torch.zeros_like(weights)
                weights[self.principles.index(principle)] = 1.0
            elif allowed:
                mask = torch.zeros_like(weights)
                mask[allowed] = 1.0
                weights = self._focus(weights * mask)
            else:
                weights = self._focus(weights)
            weights = weights / weights.sum().clamp(min=1e-9)
            p_a = float((p[row] * weights).sum())
            top = self.principles[int(weights.argmax())]
            out.append(Verdict(p_a, top, p_a, p_a))
        return out

    # ------------------------------------------------------------------ saving

    def save(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        save_file(
            {k: v.contiguous() for k, v in self.head.state_dict().items()}, folder / HEAD_FILE
        )
        config = {
            "principles": self.principles,
            "encoder": self.encoder.describe(),
            "hidden": self.head.follows.in_features,
            **self.meta,
        }
        (folder / EVALUATOR_FILE).write_text(json.dumps(config, indent=2, default=str))
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> TrainedEvaluator:
        path = Path(folder)
        if not (path / EVALUATOR_FILE).is_file():
            raise UserError(f"not an evaluator folder (no {EVALUATOR_FILE}): {path}")
        config = json.loads((path / EVALUATOR_FILE).read_text())
        enc = config["encoder"]
        encoder = shared_encoder(enc["max_length"], enc["pooling"], enc["precision"])
        head = EvaluatorHead(encoder.dim, len(config["principles"]), config["hidden"], 0.0)
        head.load_state_dict(load_file(path / HEAD_FILE))
        meta = {k: v for k, v in config.items() if k not in ("principles", "encoder", "hidden")}
        return cls(head, config["principles"], encoder, meta)


def _training_data(
    constitution: Constitution, seed_rows: Sequence[Comparison], s: EvaluatorSettings
) -> tuple[_Data, list[str]]:
    principles = constitution.principle_ids
    pid = {p: i for i, p in enumerate(principles)}
    data = _Data([], [], [])
    table: dict[str, int] = {}
    for principle in constitution.principles:
        for ex in principle.examples:
            conv = data.index(render([{"role": "user", "content": ex.prompt}]), table)
            reply = data.index(ex.response, table)
            label = 1.0 if ex.verdict == "follows" else 0.0
            data.point.append((conv, reply, pid[principle.id], label, s.example_weight))
    rng = random.Random(s.seed)
    for row, ids in seed_rubric(seed_rows, constitution):
        conv = data.index(render(row.messages()), table)
        a, b = data.index(row.chosen, table), data.index(row.rejected, table)
        p = row.p_chosen if row.p_chosen is not None else 1.0
        if rng.random() < 0.5:  # both orders appear, so no position can be learnt
            a, b, p = b, a, 1.0 - p
        data.pairs.append((conv, a, b, tuple(pid[i] for i in ids), p, True))
    _add_negatives(data, table, seed_rows, constitution, s, rng)
    if not data.point and not data.pairs:
        raise UserError("no labelled examples or comparisons to train the evaluator on")
    return data, principles


def corrupt(reply: str, other: str, rng: random.Random) -> str:
    """An incoherent or off-topic reply: another request's reply, a splice or a shuffle.

    Small policies degenerate in exactly these ways; without such negatives a classifier
    trained only on fluent replies can rate fluent-looking nonsense above a correct answer.
    """
    words, others = reply.split(), other.split()
    kind = rng.randrange(3)
    if kind == 0 or len(words) < 3:
        return other
    if kind == 1:
        cut, cut2 = rng.randrange(1, len(words)), rng.randrange(0, max(1, len(others)))
        return " ".join(words[:cut] + others[cut2:])
    shuffled = words[:]
    while shuffled == words:
        rng.shuffle(shuffled)
    return " ".join(shuffled)


def _add_negatives(
    data: _Data,
    table: dict[str, int],
    seed_rows: Sequence[Comparison],
    constitution: Constitution,
    s: EvaluatorSettings,
    rng: random.Random,
) -> None:
    from valign.cai.rubric import general_principles

    if not s.negatives or len(seed_rows) < 2:
        return
    pid = {p: i for i, p in enumerate(constitution.principle_ids)}
    general = tuple(pid[i] for i in general_principles(constitution))
    for row in seed_rows:
        conv = data.index(render(row.messages()), table)
        for _ in range(s.negatives):
            other = seed_rows[rng.randrange(len(seed_rows))]
            bad = corrupt(row.chosen, rng.choice([other.chosen, other.rejected]), rng)
            if bad in (row.chosen, row.rejected):
                continue
            a, b = data.index(row.chosen, table), data.index(bad, table)
            p = 1.0
            if rng.random() < 0.5:
                a, b, p = b, a, 0.0
            data.pairs.append((conv, a, b, general, p, False))


def train_evaluator(
    constitution: Constitution,
    seed_rows: Sequence[Comparison] = (),
    settings: EvaluatorSettings | None = None,
    encoder: Encoder | None = None,
) -> TrainedEvaluator:
    """Train the head on the constitution's examples and a labelled seed of comparisons."""
    s = settings or EvaluatorSettings()
    set_threads(s.threads)
    torch.manual_seed(s.seed)
    data, principles = _training_data(constitution, seed_rows, s)
    encoder = encoder or shared_encoder(max_length=s.max_length)
    evaluator = TrainedEvaluator(
        EvaluatorHead(encoder.dim, len(principles), s.hidden, s.dropout), principles, encoder
    )
    emb = evaluator.embed(data.texts)  # (n_texts, dim)
    _fit(evaluator.head, emb, data, len(principles), s)
    evaluator.head.eval()
    evaluator.meta = {
        "constitution": constitution.name,
        "constitution_version": constitution.version,
        "seed_comparisons": sum(1 for x in data.pairs if x[5]),
        "synthetic_negatives": sum(1 for x in data.pairs if not x[5]),
        "constitution_examples": len(data.point),
        "settings": s.model_dump(),
    }
    evaluator.focus = s.focus
    return evaluator


def _fit(head: EvaluatorHead, emb: torch.Tensor, data: _Data, k: int, s: EvaluatorSettings) -> None:
    """Minimise pointwise BCE + pairwise Bradley–Terry + relevance cross-entropy."""
    head.train()
    opt = torch.optim.AdamW(head.parameters(), lr=s.lr, weight_decay=s.weight_decay)
    point = torch.tensor([x[:3] for x in data.point], dtype=torch.long).reshape(-1, 3)
    point_y = torch.tensor([x[3] for x in data.point]).reshape(-1)
    point_w = torch.tensor([x[4] for x in data.point]).reshape(-1)
    pairs = torch.tensor([x[:3] for x in data.pairs], dtype=torch.long).reshape(-1, 3)
    pair_p = torch.tensor([x[4] for x in data.pairs]).reshape(-1)
    allowed = torch.zeros(len(data.pairs), k)  # (n_pairs, k): which heads judge each pair
    for row, (*_, ids, _p, _r) in enumerate(data.pairs):
        allowed[row, list(ids)] = 1.0
    teaches = torch.tensor([x[5] for x in data.pairs], dtype=torch.float).reshape(-1)
    gen = torch.Generator().manual_seed(s.seed)
    n = max(len(pairs), 1)
    steps = max(1, n // s.batch_size)
    per_step = min(s.batch_size, max(len(pairs), len(point)))
    for _ in range(s.epochs):
        order = torch.randperm(len(pairs), generator=gen)
        for step in range(steps):
            loss = torch.zeros(())
            if len(pairs):
                idx = order[step * s.batch_size : (step + 1) * s.batch_size]
                c, a, b = emb[pairs[idx, 0]], emb[pairs[idx, 1]], emb[pairs[idx, 2]]
                fa, rel = head(c, a)
                fb, _ = head(c, b)
                mask = allowed[idx]  # (batch, k)
                margin = fa - fb  # (batch, k)
                p = pair_p[idx].unsqueeze(-1)  # (batch, 1)
                bt = -(
                    p * nn.functional.logsigmoid(margin)
                    + (1 - p) * nn.functional.logsigmoid(-margin)
                )
                loss = loss + (bt * mask).sum() / mask.sum()
                target = mask / mask.sum(-1, keepdim=True)
                ce = -(target * torch.log_softmax(rel, -1)).sum(-1)  # (batch,)
                loss = loss + (ce * teaches[idx]).sum() / teaches[idx].sum().clamp(min=1.0)
            if len(point):
                f, rel = head(emb[point[:, 0]], emb[point[:, 1]])
                logit = f.gather(1, point[:, 2:3]).squeeze(1)
                bce = nn.functional.binary_cross_entropy_with_logits(
                    logit, point_y, reduction="none"
                )
                ce = nn.functional.cross_entropy(rel, point[:, 2], reduction="none")
                # Over an epoch each example weighs ``example_weight`` seed comparisons.
                loss = loss + ((bce + 0.1 * ce) * point_w).sum() / (steps * per_step)
            opt.zero_grad()
            loss.backward()
            opt.step()


def pair_items(
    rows: Sequence[Comparison], constitution: Constitution, seed: int = 0
) -> tuple[list[PairItem], list[bool]]:
    """Held-out comparisons as pairs in a random (seeded) order, and whether ``a`` is the chosen.

    Shuffling the order makes "a is better" a balanced label, so chance agreement is 50%
    and Cohen's kappa is meaningful.
    """
    from valign.cai.rubric import principles_for

    rng = random.Random(seed)
    items, truth = [], []
    for row in rows:
        ids = principles_for(constitution, row.category, row.kind)
        first = rng.random() < 0.5
        a, b = (row.chosen, row.rejected) if first else (row.rejected, row.chosen)
        conv: Conversation = row.messages()
        items.append(PairItem(conv, a, b, row.id, ids))
        truth.append(first)
    return items, truth


__all__ = [
    "EvaluatorSettings",
    "TrainedEvaluator",
    "pair_items",
    "train_evaluator",
]
