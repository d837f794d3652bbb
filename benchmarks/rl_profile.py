"""Where a step of the demo's online RL goes: cProfile over a few GRPO steps.

    python benchmarks/rl_profile.py --run runs/demo [--steps 6] [--threads 1] [--top 45]

Trains ``--steps`` steps of the demo's RL stage (valign's default alignment settings) from a
finished ``valign demo`` run's SFT model, reward and cost models and prompt pool, into a
temporary folder, under cProfile; prints the wall clock and the functions that take the most
cumulative time (sampling: ``generate``; the reward: ``rewards.py``; the rule reward's
embeddings: ``encoder.py (encode)``; the policy's and the reference's log-probabilities:
``_get_per_token_logps_and_entropies``; the update: ``run_backward``).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import tempfile
import time
from pathlib import Path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--run", type=Path, default=Path("runs/demo"), help="A finished demo run.")
    ap.add_argument("--steps", type=int, default=6, help="GRPO steps to profile.")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads.")
    ap.add_argument("--top", type=int, default=45, help="Functions to print.")
    a = ap.parse_args()
    for stage in ("sft", "reward", "cost", "world"):
        if not (a.run / stage).is_dir():
            raise SystemExit(f"{a.run}: no {stage} stage; run `valign demo --out {a.run}` first")

    from valign.train.align import AlignConfig, rl_step

    cfg = AlignConfig()
    rl = cfg.rl.model_copy(update={"max_steps": a.steps, "threads": a.threads, "save_steps": 10**6})
    cfg = cfg.model_copy(update={"rl": rl})
    with tempfile.TemporaryDirectory(prefix="valign-rl-profile-") as out:
        profile = cProfile.Profile()
        t0 = time.perf_counter()
        profile.enable()
        rl_step(
            a.run / "sft" / "model",
            a.run / "world" / "sft.jsonl",
            cfg,
            str(a.run / "reward" / "model"),
            str(a.run / "cost" / "model"),
            Path(out),
        )
        profile.disable()
        print(f"{a.steps} steps in {time.perf_counter() - t0:.1f} s (setup included)")
    pstats.Stats(profile).sort_stats("cumulative").print_stats(a.top)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
