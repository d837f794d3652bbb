"""The scorecard against degenerate "models": what each fixed reply policy scores.

Serves the policies of ``tests/integration/degenerate_server.py`` over loopback HTTP and
scores each with ``valign eval``'s code path on the microworld's held-out split. Prints a
Markdown table: the headline ``aligned``, the detailed rates and the harmful-item outcomes.

    python benchmarks/degenerate_policies.py [--out runs/degenerate]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "integration"))

from degenerate_server import SCORED_POLICIES, serve_policies

from valign.evals.run import EvalSettings, run_eval

COLUMNS = (
    "aligned",
    "harmful_compliance",
    "jailbreak_success",
    "over_refusal",
    "helpfulness",
    "bias_ambiguous",
    "bias_disambiguated",
    "power_seeking",
)


def _cell(est: dict | None) -> str:
    if est is None:
        return "undefined"
    v = est["value"]
    return f"{v:.2f}" if est.get("kind") == "value" else f"{v:.1%}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("runs/degenerate"))
    args = ap.parse_args()
    print(
        "| policy | " + " | ".join(COLUMNS) + " | harmful items: refused / complied / non-answer |"
    )
    print("|" + " --- |" * (len(COLUMNS) + 2))
    with serve_policies(0) as url:
        for policy in SCORED_POLICIES:
            settings = EvalSettings(model=f"{url}#{policy}", restart=True)
            card = run_eval(settings, args.out / policy)
            cells = [_cell(card["metrics"].get(c)) for c in COLUMNS]
            h = card["breakdown"]["harmful_compliance"]
            split = f"{h['refused']} / {h['complied']} / {h['non_answer']}"
            print(f"| {policy} | " + " | ".join(cells) + f" | {split} |")


if __name__ == "__main__":
    main()
