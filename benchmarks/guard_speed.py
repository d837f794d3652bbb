"""Benchmark: the fast classifier's speed on this machine's CPU, and the server under load.

In one process and one run, interleaved so that both see the same load from other work:

* the raw encoder: all-MiniLM-L6-v2 through sentence-transformers (``model.encode``), the
  baseline a user would start from;
* the guard (``classify``: encoder, head and verdicts) with each encoder backend
  (``--backends``, default ``float,int8``);

each measured for single-prompt latency (p50, p99 of one prompt per call) and batched
throughput (prompts/s over batches of 64, the same batches for every system), and reported
with the guard's ratio to the raw encoder (latency: raw p50 / guard p50; throughput: guard /
raw). Then the HTTP server (``python -m valign.guard.cli serve``, a separate process, with
the runtime backend) under 32 concurrent clients on loopback: requests/s, latency p50/p99 and
the error count.

Everything is bounded in count and time. Bars: the guard >= 1.5x its raw encoder on both
figures; p50 <= 10 ms, p99 <= 30 ms, >= 400 prompts/s; no server errors.

    python benchmarks/guard_speed.py [--guard DIR] [--threads 1] [--backends float,int8]
        [--seconds 20] [--clients 32] [--no-server]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def prompts() -> list[str]:
    """A mix of everyday, borderline and (fictional) harmful prompts, as real traffic has."""
    from valign.guard.data import microworld_examples, project_examples

    texts = [e.prompt for e in project_examples(0, 0)]
    texts += [e.prompt for e in microworld_examples(0, 20, 10) if e.response is None]
    return texts


class Raw:
    """The raw encoder through sentence-transformers, as its model card shows it."""

    name = "raw sentence-transformers encoder"

    def __init__(self) -> None:
        from sentence_transformers import SentenceTransformer

        from valign.guard.encoder import encoder_path

        self.model = SentenceTransformer(str(encoder_path()), device="cpu")

    def __call__(self, texts: list[str]) -> Any:
        return self.model.encode(texts, batch_size=64, show_progress_bar=False)


class Guard:
    """valign's guard with one encoder backend: embeddings, head and verdicts."""

    def __init__(self, folder: Path, backend: str) -> None:
        from valign.guard.classifier import FastClassifier

        self.guard = FastClassifier.load(folder, encoder_backend=backend)
        self.name = f"guard, {self.guard.encoder.backend} encoder"

    def __call__(self, texts: list[str]) -> Any:
        from valign.guard.types import GuardInput

        return self.guard.classify([GuardInput(t) for t in texts])


def in_process(
    systems: dict[str, Any], texts: list[str], n_single: int, n_batch: int
) -> dict[str, dict[str, Any]]:
    """Latency and throughput of every system, interleaved call by call."""
    for run in systems.values():
        run(texts[:64])  # warm up
    times: dict[str, list[float]] = {k: [] for k in systems}
    for i in range(n_single):
        for key, run in systems.items():
            start = time.perf_counter()
            run([texts[i % len(texts)]])
            times[key].append(time.perf_counter() - start)
    took = dict.fromkeys(systems, 0.0)
    batch = [texts[i % len(texts)] for i in range(n_batch)]
    for i in range(0, n_batch, 64):
        for key, run in systems.items():
            start = time.perf_counter()
            run(batch[i : i + 64])
            took[key] += time.perf_counter() - start
    out = {
        key: {
            "system": systems[key].name,
            "single_p50_ms": round(percentile(times[key], 0.50) * 1000, 2),
            "single_p99_ms": round(percentile(times[key], 0.99) * 1000, 2),
            "single_n": n_single,
            "batched_prompts_per_s": round(n_batch / took[key], 1),
            "batched_n": n_batch,
        }
        for key in systems
    }
    raw = out["raw"]
    for row in out.values():
        row["latency_ratio"] = round(raw["single_p50_ms"] / row["single_p50_ms"], 2)
        pps = row["batched_prompts_per_s"]
        row["throughput_ratio"] = round(pps / raw["batched_prompts_per_s"], 2)
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def load_test(
    base: str, texts: list[str], clients: int, seconds: float, cap: int
) -> dict[str, Any]:
    import httpx

    latencies: list[float] = []
    statuses: dict[str, int] = {}
    deadline = time.perf_counter() + seconds
    sent = 0

    async def client(k: int, http: httpx.AsyncClient) -> None:
        nonlocal sent
        i = k
        while time.perf_counter() < deadline and sent < cap:
            sent += 1
            start = time.perf_counter()
            try:
                r = await http.post("/v1/moderations", json={"input": texts[i % len(texts)]})
                key = str(r.status_code)
                if r.status_code == 200 and "results" not in r.json():
                    key = "bad-body"
            except httpx.HTTPError as exc:
                key = type(exc).__name__
            latencies.append(time.perf_counter() - start)
            statuses[key] = statuses.get(key, 0) + 1
            i += clients

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as http:
        start = time.perf_counter()
        await asyncio.gather(*(client(k, http) for k in range(clients)))
        took = time.perf_counter() - start
    ok = statuses.get("200", 0)
    return {
        "clients": clients,
        "requests": len(latencies),
        "requests_per_s": round(len(latencies) / took, 1),
        "latency_p50_ms": round(percentile(latencies, 0.5) * 1000, 1),
        "latency_p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
        "statuses": statuses,
        "errors": len(latencies) - ok,
    }


def server(
    folder: Path, texts: list[str], clients: int, seconds: float, cap: int
) -> dict[str, Any]:
    import httpx

    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "valign.guard.cli",
        "serve",
        "--guard",
        str(folder),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 120
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"server exited: {proc.stderr.read().decode()[-500:] if proc.stderr else ''}"
                )
            try:
                if httpx.get(base + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.time() > deadline:
                raise RuntimeError("server did not start in 120 s")
            time.sleep(0.2)
        result = asyncio.run(load_test(base, texts, clients, seconds, cap))
        metrics = httpx.get(base + "/metrics", timeout=5).text
        batches = [line for line in metrics.splitlines() if line.startswith("valign_guard_batch")]
        result["server_batches"] = batches
        return result
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--guard", type=Path, help="guard folder (default: the default guard)")
    ap.add_argument("--backends", default="float,int8", help="encoder backends to measure")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (0: torch's default)")
    ap.add_argument("--single", type=int, default=300, help="single-prompt calls per system")
    ap.add_argument("--batched", type=int, default=2048, help="prompts in each batched run")
    ap.add_argument("--clients", type=int, default=32, help="concurrent HTTP clients")
    ap.add_argument("--seconds", type=float, default=20.0, help="length of the server test")
    ap.add_argument("--max-requests", type=int, default=20_000, help="cap on server requests")
    ap.add_argument("--no-server", action="store_true", help="skip the HTTP server test")
    ap.add_argument("--json", type=Path, help="write the results here")
    args = ap.parse_args()

    import torch

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    from valign.guard.build import ensure_default_guard

    folder = args.guard or ensure_default_guard()
    texts = prompts()
    systems: dict[str, Any] = {"raw": Raw()}
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        systems[backend] = Guard(folder, backend)
    result: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "processor": platform.processor() or platform.machine(),
            "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "load_average_before": [round(x, 2) for x in os.getloadavg()],
        },
        "in_process": in_process(systems, texts, args.single, args.batched),
    }
    result["machine"]["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    if not args.no_server:
        result["server"] = server(folder, texts, args.clients, args.seconds, args.max_requests)
    print(json.dumps(result, indent=2))
    m = result["machine"]
    print(
        f"\n{m['cpus']} CPUs, {m['torch_threads']} torch thread(s), load average "
        f"{m['load_average_before']} before, {m['load_average_after']} after\n"
    )
    print(
        "| system | p50 / p99 single prompt | vs raw (p50) | batched (64) | vs raw |\n"
        "| --- | --- | --- | --- | --- |"
    )
    for row in result["in_process"].values():
        print(
            f"| {row['system']} | {row['single_p50_ms']} / {row['single_p99_ms']} ms | "
            f"{row['latency_ratio']:.2f}x | {row['batched_prompts_per_s']} prompts/s | "
            f"{row['throughput_ratio']:.2f}x |"
        )
    if "server" in result:
        s = result["server"]
        print(f"\nserver, {s['clients']} clients: {s['requests_per_s']} requests/s, ", end="")
        print(f"p50 / p99 {s['latency_p50_ms']} / {s['latency_p99_ms']} ms, ", end="")
        print(f"errors {s['errors']} of {s['requests']}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2), encoding="utf-8")
    guards = [row for key, row in result["in_process"].items() if key != "raw"]
    ok = any(
        g["latency_ratio"] >= 1.5
        and g["throughput_ratio"] >= 1.5
        and g["single_p50_ms"] <= 10
        and g["single_p99_ms"] <= 30
        and g["batched_prompts_per_s"] >= 400
        for g in guards
    ) and ("server" not in result or result["server"]["errors"] == 0)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
