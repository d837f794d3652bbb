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
import sys
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


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium for one test module. Not for the session: Playwright's sync API keeps an
    event loop running in the main thread while it is open, which would break later tests
    that call ``asyncio.run``."""
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
