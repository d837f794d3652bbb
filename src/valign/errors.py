"""User-facing errors.

A ``UserError`` is a mistake in what the user gave us (a missing file, a malformed
constitution, a bad option). The command line prints its message on one line and exits
with code 2, never a traceback. Everything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class UserError(Exception):
    """A mistake in the user's input; shown as one line, exit code 2."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message
