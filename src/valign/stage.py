"""The stage contract: what every stage of a profile receives and returns.

A stage is a callable that takes one :class:`StageContext` and returns its summary (a
JSON-able dict, optionally with a ``report`` section). The runner
(:func:`valign.pipeline.run_demo`, :func:`valign.pipeline.run_real_profile`) builds one
context per run: the run folder, the profile's settings, the console, the seed and the
constitution the settings name (composed with their overlays), resolved once, so every
stage holds to the same values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from rich.console import Console

from valign.records.runs import RunDir
from valign.values import Constitution, load_composed

C = TypeVar("C")


def resolve_constitution(cfg: Any) -> Constitution:
    """The constitution ``cfg.constitution`` names (default: ``default``), composed with
    ``cfg.overlays`` when the settings have them."""
    name = getattr(cfg, "constitution", None) or "default"
    return load_composed(name, tuple(getattr(cfg, "overlays", ()) or ()))


@dataclass(frozen=True)
class StageContext(Generic[C]):
    """What a stage works with: ``run`` (the run folder), ``cfg`` (the profile's settings),
    ``console``, ``seed`` and the resolved ``constitution``."""

    run: RunDir
    cfg: C
    console: Console
    seed: int
    constitution: Constitution

    @classmethod
    def of(
        cls,
        run: RunDir,
        cfg: C,
        console: Console | None = None,
        constitution: Constitution | None = None,
    ) -> StageContext[C]:
        """The context of ``run`` under ``cfg``: its seed, its constitution resolved."""
        return cls(
            run=run,
            cfg=cfg,
            console=console or Console(),
            seed=int(getattr(cfg, "seed", 0) or 0),
            constitution=constitution or resolve_constitution(cfg),
        )


class Stage(Protocol):
    """One stage of a profile: a context in, the stage summary out."""

    def __call__(self, ctx: StageContext[Any], /) -> dict[str, Any]: ...
