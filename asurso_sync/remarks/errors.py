"""Errors of the remark lists: a list that cannot be built, and the special case of no check yet."""

from __future__ import annotations

from asurso_sync import exitcodes
from asurso_sync.errors import UsageError


class RemarksError(UsageError):
    """A list cannot be built (a bad week, a bad directory file); the message is Russian."""


class NoCheckYet(RemarksError):
    """There is no check to build lists from."""

    exit_code = exitcodes.STALE


class NoSuchTeacher(RemarksError):
    """``--only`` names no teacher of the week (the message lists close matches)."""
