"""The microworld: a seeded assistant world with exact ground truth.

Build the splits with :func:`build_world`; grade any response with :func:`grade`.
"""

from typing import TYPE_CHECKING

from valign.lazy import lazy_face

if TYPE_CHECKING:
    from valign.world.grader import Grade, grade, pattern_refusal
    from valign.world.lexicon import Lexicon, build_lexicon
    from valign.world.splits import WorldConfig, build_world

__all__ = [
    "Grade",
    "Lexicon",
    "WorldConfig",
    "build_lexicon",
    "build_world",
    "grade",
    "pattern_refusal",
]

# Each name is imported on first use (valign.lazy); type checkers read the imports above.
if not TYPE_CHECKING:
    __getattr__, __dir__ = lazy_face(
        __name__,
        __all__,
        {
            "grader": ["Grade", "grade", "pattern_refusal"],
            "lexicon": ["Lexicon", "build_lexicon"],
            "splits": ["WorldConfig", "build_world"],
        },
    )
