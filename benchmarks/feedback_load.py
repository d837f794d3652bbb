"""Load test of the rating app: many raters submitting at once against a real server.

Starts ``valign feedback serve`` (uvicorn) on loopback over a fresh database, creates the
raters and a pairwise project whose items need exactly ``--judgments`` judgments
(``--overlap`` raters each), and lets ``--raters`` concurrent clients log in and judge until
the queue is empty. Every tenth judgment is posted twice at once, as a double click would.
Then it checks the database: every judgment stored exactly once, every item judged by
exactly ``overlap`` different raters. Prints a JSON summary with the latency percentiles of
the judgment POSTs (the time until the server acknowledged a committed judgment).

    python benchmarks/feedback_load.py --db /tmp/load.db
    python benchmarks/feedback_load.py --db postgresql://postgres@127.0.0.1:5433/postgres
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

PASSWORD = "load-test-password"
_CSRF = re.compile(r'name="csrf" value="([^"]*)"')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def reset_database(url: str) -> None:
    """Drop the app's tables so the run starts empty (PostgreSQL reuses one database)."""
    from valign.feedback.human.store import drop_tables, normalise_url

    full = normalise_url(url)
    if full.startswith("sqlite:///"):
        Path(full.removeprefix("sqlite:///")).unlink(missing_ok=True)
        return
    drop_tables(full)


def seed(url: str, raters: int, judgments: int, overlap: int) -> None:
    from valign.feedback.human import ProjectSettings, Store, add_items, create_project
    from valign.feedback.human.auth import hash_password
    from valign.feedback.human.tables import User

    store = Store(url)
    hashed = hash_password(PASSWORD)  # one hash for all: seeding speed, not security, here
    with store.session() as s:
        s.add_all(
            User(
                name=f"r{k:03d}", password_hash=hashed, role="rater", active=True, session_version=0
            )
            for k in range(raters)
        )
    create_project(store, ProjectSettings(name="load", overlap=overlap, gold_every=0))
    n_items = judgments // overlap
    add_items(
        store,
        "load",
        [
            {
                "external_id": f"i{k}",
                "prompt": [{"role": "user", "content": f"Question {k}?"}],
                "response_a": f"Answer {k}.",
                "response_b": "I cannot help.",
                "gold": None,
                "meta": {},
            }
            for k in range(n_items)
        ],
    )
    store.close()


async def rater(base: str, name: str, latencies: list[float], errors: list[str]) -> int:
    async with httpx.AsyncClient(base_url=base, timeout=60.0) as c:
        page = await c.get("/login")
        m = _CSRF.search(page.text)
        assert m, "no login token"
        r = await c.post("/login", data={"csrf": m.group(1), "name": name, "password": PASSWORD})
        if r.status_code != 303:
            errors.append(f"{name}: login {r.status_code}")
            return 0
        done = 0
        while True:
            r = await c.get("/p/load")
            if r.status_code == 200:
                return done  # the queue is empty for this rater
            if r.status_code != 303:
                errors.append(f"{name}: next {r.status_code}")
                return done
            loc = r.headers["location"]
            page = await c.get(loc)
            m = _CSRF.search(page.text)
            if page.status_code != 200 or not m:
                errors.append(f"{name}: item page {page.status_code}")
                return done
            data = {
                "csrf": m.group(1),
                "choice": "left",
                "strength": "2",
                "shown": f"{time.time():.3f}",
            }
            t0 = time.perf_counter()
            if done % 10 == 9:  # a double click: the same judgment posted twice at once
                rs = await asyncio.gather(c.post(loc, data=data), c.post(loc, data=data))
            else:
                rs = (await c.post(loc, data=data),)
            latencies.append(time.perf_counter() - t0)
            if any(x.status_code != 303 for x in rs):
                errors.append(f"{name}: submit {[x.status_code for x in rs]}")
                return done
            done += 1


def check(url: str, overlap: int) -> dict[str, Any]:
    from sqlalchemy import func, select

    from valign.feedback.human import Store
    from valign.feedback.human.tables import Judgment

    store = Store(url)
    with store.session() as s:
        total = s.scalar(select(func.count()).select_from(Judgment)) or 0
        pairs = s.scalar(
            select(func.count()).select_from(
                select(Judgment.item_id, Judgment.rater_id).distinct().subquery()
            )
        )
        per_item = [
            n
            for (n,) in s.execute(
                select(func.count()).select_from(Judgment).group_by(Judgment.item_id)
            ).all()
        ]
    store.close()
    return {
        "stored": total,
        "distinct_item_rater": pairs,
        "items_with_exact_overlap": sum(n == overlap for n in per_item),
        "items_judged": len(per_item),
    }


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(q * (len(xs) - 1)))]


async def _drive(base: str, raters: int) -> tuple[list[float], list[str], float]:
    latencies: list[float] = []
    errors: list[str] = []
    t0 = time.perf_counter()
    await asyncio.gather(*(rater(base, f"r{k:03d}", latencies, errors) for k in range(raters)))
    return latencies, errors, time.perf_counter() - t0


def run_load(db: str, raters: int = 50, judgments: int = 2000, overlap: int = 2) -> dict[str, Any]:
    """Run the whole test; the summary has ``ok`` True when every check passed."""
    reset_database(db)
    seed(db, raters, judgments, overlap)
    port = _free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with tempfile.TemporaryFile() as log:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "valign.cli",
                "feedback",
                "serve",
                "--db",
                db,
                "--port",
                str(port),
                "--seed",
                "0",
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.time() + 60
            while True:
                try:
                    if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if server.poll() is not None or time.time() > deadline:
                    log.seek(0)
                    raise RuntimeError(f"the server did not start:\n{log.read().decode()[-2000:]}")
                time.sleep(0.2)
            # in a thread of its own: the caller may already run an event loop (pytest plugins)
            with ThreadPoolExecutor(1) as pool:
                latencies, errors, wall = pool.submit(asyncio.run, _drive(base, raters)).result()
        finally:
            server.terminate()
            server.wait(timeout=30)
    stored = check(db, overlap)
    expected_items = judgments // overlap
    ok = (
        not errors
        and stored["stored"] == stored["distinct_item_rater"] == expected_items * overlap
        and stored["items_with_exact_overlap"] == expected_items
    )
    return {
        "ok": ok,
        "database": db.split("://")[0] if "://" in db else "sqlite",
        "raters": raters,
        "judgments_expected": expected_items * overlap,
        **stored,
        "submissions": len(latencies),
        "errors": errors[:10],
        "wall_s": round(wall, 2),
        "judgments_per_s": round(len(latencies) / wall, 1),
        "submit_p50_ms": round(1000 * _pct(latencies, 0.50), 1),
        "submit_p95_ms": round(1000 * _pct(latencies, 0.95), 1),
        "submit_p99_ms": round(1000 * _pct(latencies, 0.99), 1),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--db", default=str(Path(tempfile.gettempdir()) / "valign-load.db"))
    ap.add_argument("--raters", type=int, default=50)
    ap.add_argument("--judgments", type=int, default=2000)
    ap.add_argument("--overlap", type=int, default=2)
    args = ap.parse_args()
    summary = run_load(args.db, args.raters, args.judgments, args.overlap)
    print(json.dumps(summary, indent=2))
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
