"""Benchmark: the fast classifier's speed on this machine's CPU, and the server under load.

* single-prompt latency (p50, p99) of ``classify([one prompt])``, in process;
* batched throughput (prompts/s) of ``classify`` over batches of 64;
* the HTTP server (``python -m valign.guard.cli serve``, a separate process) under 32
  concurrent clients on loopback: requests/s, latency p50/p99 and the error count.

Everything is bounded in count and time. Bars: p50 <= 10 ms, p99 <= 30 ms, >= 400 prompts/s,
no server errors.

    python benchmarks/guard_speed.py [--guard DIR] [--seconds 20] [--clients 32]
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


def in_process(folder: Path, texts: list[str], n_single: int, n_batch: int) -> dict[str, Any]:
    from valign.guard.classifier import FastClassifier
    from valign.guard.types import GuardInput

    guard = FastClassifier.load(folder)
    guard.classify([GuardInput(t) for t in texts[:64]])  # warm up
    times = []
    for i in range(n_single):
        start = time.perf_counter()
        guard.classify([GuardInput(texts[i % len(texts)])])
        times.append(time.perf_counter() - start)
    batch = [GuardInput(texts[i % len(texts)]) for i in range(n_batch)]
    start = time.perf_counter()
    for i in range(0, n_batch, 64):
        guard.classify(batch[i : i + 64])
    took = time.perf_counter() - start
    return {
        "single_p50_ms": round(percentile(times, 0.50) * 1000, 2),
        "single_p99_ms": round(percentile(times, 0.99) * 1000, 2),
        "single_n": n_single,
        "batched_prompts_per_s": round(n_batch / took, 1),
        "batched_n": n_batch,
        "precision": guard.encoder.precision,
        "torch_threads": __import__("torch").get_num_threads(),
    }


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
    ap.add_argument("--single", type=int, default=300, help="single-prompt calls")
    ap.add_argument("--batched", type=int, default=2048, help="prompts in the batched run")
    ap.add_argument("--clients", type=int, default=32, help="concurrent HTTP clients")
    ap.add_argument("--seconds", type=float, default=20.0, help="length of the server test")
    ap.add_argument("--max-requests", type=int, default=20_000, help="cap on server requests")
    ap.add_argument("--json", type=Path, help="write the results here")
    args = ap.parse_args()

    from valign.guard.build import ensure_default_guard

    folder = args.guard or ensure_default_guard()
    texts = prompts()
    result: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "processor": platform.processor() or platform.machine(),
            "load_average_before": [round(x, 2) for x in os.getloadavg()],
        },
        "in_process": in_process(folder, texts, args.single, args.batched),
        "server": server(folder, texts, args.clients, args.seconds, args.max_requests),
    }
    result["machine"]["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    p, s = result["in_process"], result["server"]
    print(json.dumps(result, indent=2))
    print("\n| figure | value | bar |\n| --- | --- | --- |")
    print(f"| single-prompt latency p50 | {p['single_p50_ms']} ms | <= 10 ms |")
    print(f"| single-prompt latency p99 | {p['single_p99_ms']} ms | <= 30 ms |")
    print(
        f"| batched throughput (batches of 64) | {p['batched_prompts_per_s']} prompts/s | >= 400 |"
    )
    print(f"| server, {s['clients']} clients: throughput | {s['requests_per_s']} requests/s | |")
    print(f"| server latency p50 / p99 | {s['latency_p50_ms']} / {s['latency_p99_ms']} ms | |")
    print(f"| server errors | {s['errors']} of {s['requests']} | 0 |")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2), encoding="utf-8")
    ok = (
        p["single_p50_ms"] <= 10
        and p["single_p99_ms"] <= 30
        and p["batched_prompts_per_s"] >= 400
        and s["errors"] == 0
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
