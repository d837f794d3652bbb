"""valign.evals: the alignment scorecard of any model, on the microworld or on task files.

:func:`run_eval` loads the tasks and the model, has :func:`evaluate_items` generate and grade
every reply, and writes :func:`compute_scorecard`'s figures, each with a 95% interval.
See ``docs/evaluation.md``.

    from valign.evals import EvalSettings, run_eval
    card = run_eval(EvalSettings(model="runs/demo/pretrain/model"), Path("runs/eval"))
"""

from typing import TYPE_CHECKING

from valign.lazy import lazy_face

if TYPE_CHECKING:
    from valign.evals.run import run_eval
    from valign.evals.runner import evaluate_items, regrade
    from valign.evals.scorecard import compute_scorecard
    from valign.evals.settings import EvalSettings

__all__ = ["EvalSettings", "compute_scorecard", "evaluate_items", "regrade", "run_eval"]

# Each name is imported on first use (valign.lazy); type checkers read the imports above.
if not TYPE_CHECKING:
    __getattr__, __dir__ = lazy_face(
        __name__,
        __all__,
        {
            "run": ["run_eval"],
            "runner": ["evaluate_items", "regrade"],
            "scorecard": ["compute_scorecard"],
            "settings": ["EvalSettings"],
        },
    )
