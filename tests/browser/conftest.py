"""Browser tests: Playwright driving Debian's Chromium against a live rating server.

Chromium is ``$VALIGN_CHROMIUM`` or ``chromium`` on the PATH (``.ci/run`` installs Debian's
package; Playwright's own browser download needs more of the internet than CI has). Without
Playwright or Chromium the tests are skipped, unless ``VALIGN_REQUIRE_SERVICES=1``, when
they fail. Screenshots go to ``$VALIGN_ARTEFACTS/feedback`` (default: pytest's temporary
folder); the folder is printed at the end of the run.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "feedback" / "human"))

_ARTEFACTS: list[Path] = []
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def need(what: str) -> None:
    if os.environ.get("VALIGN_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{what} is required here (VALIGN_REQUIRE_SERVICES=1)")
    pytest.skip(f"{what} is not available")


@pytest.fixture(scope="session")
def artefacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = os.environ.get("VALIGN_ARTEFACTS")
    out = Path(root) / "feedback" if root else tmp_path_factory.mktemp("artefacts")
    out.mkdir(parents=True, exist_ok=True)
    _ARTEFACTS.append(out)
    return out


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for path in _ARTEFACTS:
        shots = sorted(path.glob("*.png"))
        if shots:
            terminalreporter.write_line(f"browser screenshots ({len(shots)}): {path}")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        need("Playwright (pip install playwright)")
    exe = (
        os.environ.get("VALIGN_CHROMIUM")
        or shutil.which("chromium")
        or shutil.which("chromium-browser")
    )
    if not exe:
        need("Chromium (apt-get install chromium)")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        yield b
        b.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """A uvicorn server in a thread, over ``store``."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.time() + 20
        while not self.server.started:
            if time.time() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
