"""The one error this package raises for a bad constitution or overlay."""

from __future__ import annotations

from valign.errors import UserError

__all__ = ["ConstitutionError"]


class ConstitutionError(UserError):
    """A constitution or overlay file is missing, malformed or inconsistent.

    The message is one line that names the file, the line and the field, e.g.
    ``default.yaml:42: principles[3].categories[0]: unknown category 'violnce' (known: ...)``.
    """
