"""The microworld: a seeded assistant world with exact ground truth.

Build the splits with :func:`build_world`; grade any response with :func:`grade`.
"""

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
