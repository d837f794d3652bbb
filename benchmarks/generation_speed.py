"""Benchmark: valign's batched generation against plain ``transformers`` on a real model.

Both generate greedy replies from SmolLM2-135M-Instruct (the packaged model, converted and
cached on first use) to the same prompts, with the same chat template, the same
``max_new_tokens`` and the same batch size, in one process, one after the other:

* **valign**: ``HFChatModel.generate`` (prompts sorted by length into batches, left
  padding, ``torch.inference_mode``, stop at EOS);
* **plain**: the usual recipe: ``tokenizer.apply_chat_template`` on each conversation,
  a left-padded ``tokenizer(...)`` per batch in input order, ``model.generate`` under
  ``torch.no_grad``, ``batch_decode``.

The prompts (``--mix eval``, the default) are an evaluation's traffic: everyday requests
interleaved with the microworld's evaluation prompts, so lengths vary; ``--mix benign``
has everyday requests only, of nearly equal length. Each path runs ``--repeats`` times,
in ABBA order, after a short warm-up each; the best time of each is compared (the least
disturbed by other work on a shared machine). The ratio is plain seconds / valign
seconds: above 1 means valign is faster. Replies are compared too: greedy decoding should
give the same text on both paths.

    python benchmarks/generation_speed.py [--prompts 32] [--max-new-tokens 48]
        [--batch-size 8] [--repeats 2] [--threads 2] [--mix eval|benign]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import time
from importlib import resources
from typing import Any

import torch
import yaml


def conversations(n: int, mix: str, seed: int = 0) -> list[Any]:
    """``n`` conversations: everyday requests from the guard's benign set, and with
    ``mix="eval"`` half of them evaluation prompts of the microworld's held-out split
    (BBQ-style contexts, agentic scenarios, jailbreak wrappers, misconception questions),
    interleaved in a seeded order as an evaluation's traffic is: lengths vary about 3x."""
    text = resources.files("valign.guard").joinpath("data", "benign.yaml").read_text("utf-8")
    every: list[str] = yaml.safe_load(text)["prompts"]
    n_benign = n if mix == "benign" else n // 2
    step = max(1, len(every) // n_benign)
    convs: list[Any] = [[{"role": "user", "content": t}] for t in every[::step][:n_benign]]
    if mix == "eval":
        from valign.world.generate import Generator
        from valign.world.lexicon import build_lexicon

        gen = Generator(build_lexicon(seed), "eval", random.Random(seed))
        kinds = (gen.bias, gen.agentic, gen.jailbreak, gen.misconception)
        convs += [kinds[i % len(kinds)]().item.prompt() for i in range(n - n_benign)]
        random.Random(seed).shuffle(convs)
    return convs


def plain_generate(model: Any, tok: Any, convs: list[Any], batch: int, new: int) -> list[str]:
    """What a user of transformers writes without valign: batches in input order."""
    tok.padding_side = "left"
    out: list[str] = []
    with torch.no_grad():
        for i in range(0, len(convs), batch):
            rendered = [
                tok.apply_chat_template(c, tokenize=False, add_generation_prompt=True)
                for c in convs[i : i + batch]
            ]
            enc = tok(rendered, return_tensors="pt", padding=True, add_special_tokens=False)
            ids = model.generate(**enc, max_new_tokens=new, do_sample=False)
            out += tok.batch_decode(ids[:, enc["input_ids"].shape[1] :], skip_special_tokens=True)
    return out


def count_tokens(tok: Any, replies: list[str]) -> int:
    return sum(len(tok(r, add_special_tokens=False)["input_ids"]) for r in replies)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prompts", type=int, default=32)
    ap.add_argument("--max-new-tokens", type=int, default=48)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--mix", choices=("eval", "benign"), default="eval")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from valign.models import GenerationConfig, HFChatModel
    from valign.models.chat import prompt_ids
    from valign.models.packaged import ensure_packaged

    folder = ensure_packaged("smollm2")
    model = HFChatModel(folder, name="smollm2", dtype="float32", device="cpu")
    tok = model.tokenizer
    convs = conversations(args.prompts, args.mix)
    config = GenerationConfig(max_new_tokens=args.max_new_tokens, batch_size=args.batch_size)

    def run(path: str) -> list[str]:
        if path == "valign":
            return model.generate(convs, config)
        return plain_generate(model.model, tok, convs, args.batch_size, args.max_new_tokens)

    # Warm-up on the longest batch shape both paths meet (allocator, kernels).
    warm = GenerationConfig(max_new_tokens=4, batch_size=args.batch_size)
    model.generate(convs, warm)
    plain_generate(model.model, tok, convs, args.batch_size, 4)
    times: dict[str, list[float]] = {"valign": [], "plain": []}
    replies: dict[str, list[str]] = {}
    for rep in range(args.repeats):  # ABBA: neither path always runs first
        for path in ("valign", "plain") if rep % 2 == 0 else ("plain", "valign"):
            t0 = time.perf_counter()
            replies[path] = run(path)
            times[path].append(time.perf_counter() - t0)
            print(f"{path} {times[path][-1]:.1f} s", file=sys.stderr, flush=True)

    best = {k: min(v) for k, v in times.items()}
    same = sum(
        a.strip() == b.strip() for a, b in zip(replies["valign"], replies["plain"], strict=True)
    )
    result = {
        "model": "smollm2 (SmolLM2-135M-Instruct, float32, CPU)",
        "prompts": len(convs),
        "mix": args.mix,
        "prompt_tokens": sorted(len(prompt_ids(tok, c)) for c in convs),
        "max_new_tokens": args.max_new_tokens,
        "batch_size": args.batch_size,
        "threads": torch.get_num_threads(),
        "repeats": args.repeats,
        "seconds": {k: [round(x, 2) for x in v] for k, v in times.items()},
        "best_seconds": {k: round(v, 2) for k, v in best.items()},
        "tokens": {k: count_tokens(tok, v) for k, v in replies.items()},
        "tokens_per_second": {k: round(count_tokens(tok, replies[k]) / best[k], 1) for k in best},
        "ratio_plain_over_valign": round(best["plain"] / best["valign"], 2),
        "identical_replies": f"{same}/{len(convs)}",
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}",
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
