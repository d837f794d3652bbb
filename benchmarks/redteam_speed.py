"""Benchmark: valign's campaign runner against garak, same local model, same prompts.

The prompts are valign's single-turn attacks (templates, encodings, rephrasings) on the
microworld's objectives. garak (a separate virtual environment, never a dependency of
valign) sends them through its Hugging Face ``Pipeline`` generator as one probe, with its
``mitigation.MitigationBypass`` string detector; valign runs them as a campaign, once with
string detectors only (grader, keyword: the same kind of work as garak's detector) and once
with its default detectors (plus the guard and the learned refusal detector). Both decode
greedily, up to the same number of new tokens, on one CPU thread; timing starts after the
model is loaded. Reports attempts/s.

    python -m venv --system-site-packages /tmp/garak-venv
    /tmp/garak-venv/bin/pip install garak==0.17.1
    python benchmarks/redteam_speed.py --model runs/demo/pretrain/model \
        --garak-python /tmp/garak-venv/bin/python
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import tempfile
from pathlib import Path

import torch

from valign.redteam.attacker import MutationAttacker
from valign.redteam.campaign import CampaignConfig, plan, run_campaign
from valign.redteam.types import AttackContext

ATTACKS = ("template", "encoding", "rephrase")

GARAK_DRIVER = r'''
import json, os, sys, time
import torch
torch.set_num_threads(1)
from garak import _config
_config.load_base_config()
_config.run.generations = 1
_config.run.seed = 0
_config.transient.run_id = "valign-bench"
_config.transient.reportfile = open(os.devnull, "w", encoding="utf-8")
model, prompts_file, max_tokens = sys.argv[1], sys.argv[2], int(sys.argv[3])
_config.plugins.generators["huggingface"] = {"Pipeline": {
    "max_tokens": max_tokens,
    "hf_args": {"torch_dtype": "float32", "device": "cpu", "do_sample": False},
}}
from garak.generators.huggingface import Pipeline
from garak.detectors.mitigation import MitigationBypass
from garak.probes.base import Probe

class SamePrompts(Probe):
    """valign's prompts as one garak probe."""
    lang = "en"
    goal = "benchmark"
    primary_detector = "mitigation.MitigationBypass"
    doc_uri = ""
    tags = []
    active = False

    def __init__(self, prompts, config_root=_config):
        super().__init__(config_root=config_root)
        self.prompts = prompts

prompts = json.load(open(prompts_file, encoding="utf-8"))
generator = Pipeline(name=model, config_root=_config)
probe = SamePrompts(prompts)
detector = MitigationBypass(config_root=_config)
t0 = time.perf_counter()
attempts = probe.probe(generator)
for a in attempts:
    a.detector_results["mitigation.MitigationBypass"] = detector.detect(a)
seconds = time.perf_counter() - t0
print(json.dumps({"attempts": len(attempts), "seconds": seconds,
                  "attempts_per_s": len(attempts) / seconds}))
'''


def garak_run(python: str, model: str, prompts: Path, max_tokens: int) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as fh:
        fh.write(GARAK_DRIVER)
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "HF_HUB_OFFLINE": "1",
    }
    env.pop("PYTHONPATH", None)
    done = subprocess.run(
        [python, fh.name, model, str(prompts), str(max_tokens)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    Path(fh.name).unlink()
    if done.returncode != 0:
        raise SystemExit(f"garak failed:\n{done.stderr[-3000:]}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--garak-python", required=True)
    parser.add_argument("--out", type=Path, default=Path("runs/bench-redteam-speed"))
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    torch.set_num_threads(1)
    base = CampaignConfig(
        model=args.model,
        attacks=ATTACKS,
        per_intent=1,
        variants=1,
        controls=0,
        max_new_tokens=args.max_new_tokens,
        batch_size=args.batch_size,
    )
    ctx = AttackContext(seed=base.seed, variants=base.variants, attacker=MutationAttacker())
    _, _, attempts = plan(base, ctx)
    prompts = [a.conversation[-1]["content"] for a in attempts]
    assert all(len(a.conversation) == 1 for a in attempts)
    args.out.mkdir(parents=True, exist_ok=True)
    prompt_file = args.out / "prompts.json"
    prompt_file.write_text(json.dumps(prompts, ensure_ascii=False), encoding="utf-8")

    rows = [
        (
            "garak 0.17.1 (huggingface.Pipeline, MitigationBypass)",
            garak_run(args.garak_python, args.model, prompt_file, args.max_new_tokens),
        )
    ]
    for label, detectors in (
        ("valign (grader, keyword)", ("grader", "keyword")),
        ("valign (grader, guard, refusal, keyword)", ("grader", "guard", "refusal", "keyword")),
    ):
        folder = args.out / ("valign-" + "-".join(detectors))
        if folder.exists():
            import shutil

            shutil.rmtree(folder)
        cfg = base.model_copy(update={"detectors": detectors})
        s = run_campaign(cfg, folder)
        rows.append((label, {"attempts": s["n_attempts"], **s["throughput"]}))
    print(
        f"# {platform.processor() or platform.machine()}, {len(prompts)} prompts, "
        f"max_new_tokens {args.max_new_tokens}, one torch thread"
    )
    print("| runner | attempts | seconds | attempts/s | vs garak |")
    print("|---|---|---|---|---|")
    ref = rows[0][1]["attempts_per_s"]
    for label, r in rows:
        print(
            f"| {label} | {int(r['attempts'])} | {r['seconds']:.1f} | "
            f"{r['attempts_per_s']:.2f} | {r['attempts_per_s'] / ref:.1f}x |"
        )


if __name__ == "__main__":
    main()
