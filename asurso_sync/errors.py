"""The application's errors and the one table that turns any error into an exit code.

Every error a user can cause or meet carries a Russian message (``str(error)``) and an exit code. The
application's own errors derive from :class:`AppError` and carry their code (the pattern of click's
``ClickException``); errors of the packages below the application (``cache``, ``adapters``), which must not
import it, are mapped by :func:`exit_code_for`. The command line has one handler that uses it
(``asurso_sync.cli.common.guarded``); README's table «Коды завершения» documents the codes.
"""

from __future__ import annotations

import errno

from adapters.emulator.faults import FaultSpecError
from adapters.emulator.scenario import ScenarioError
from adapters.mail.backends import MailError, MailTemporaryError
from adapters.netschool.errors import (
    AccessDenied,
    AddressNotFound,
    EsiaLoginRequired,
    EsiaRefused,
    EsiaUnavailable,
    FirewallBlocked,
    LoginError,
    NetSchoolError,
    NotNetSchool,
    PasswordLoginDisabled,
    ReadOnlyViolation,
    RenewalRefused,
    TLSProtocolError,
    TLSVerificationError,
)
from asurso_sync import exitcodes
from cache import CacheBusyError, CacheError, storage_error
from cache.db import full_message, read_only_fs_message


class AppError(Exception):
    """An expected failure with a Russian message for the user and the exit code it ends the command with."""

    exit_code: int = exitcodes.ATTENTION

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class UsageError(AppError):
    """A bad command line or configuration value: nothing was done."""

    exit_code = exitcodes.CONFIG


# (error class, exit code) for errors raised below the application; the first match wins, so subclasses
# come before their bases.
_FOREIGN: tuple[tuple[type[BaseException], int], ...] = (
    (CacheBusyError, exitcodes.LOCKED),
    (CacheError, exitcodes.STORAGE),
    (ReadOnlyViolation, exitcodes.INTERNAL),
    (LoginError, exitcodes.AUTH),
    (PasswordLoginDisabled, exitcodes.AUTH),
    (RenewalRefused, exitcodes.AUTH),
    (EsiaLoginRequired, exitcodes.AUTH),
    (EsiaRefused, exitcodes.AUTH),
    (EsiaUnavailable, exitcodes.TEMPFAIL),
    (AccessDenied, exitcodes.AUTH),
    (TLSVerificationError, exitcodes.CONFIG),
    (NotNetSchool, exitcodes.WRONG_SERVER),
    (AddressNotFound, exitcodes.WRONG_SERVER),
    (TLSProtocolError, exitcodes.WRONG_SERVER),
    (FirewallBlocked, exitcodes.TEMPFAIL),
    (NetSchoolError, exitcodes.TEMPFAIL),
    (MailTemporaryError, exitcodes.TEMPFAIL),
    (MailError, exitcodes.CONFIG),
    (FaultSpecError, exitcodes.CONFIG),
    (ScenarioError, exitcodes.CONFIG),
)


def _translated(exc: BaseException) -> BaseException:
    """An SQLite error a person can act on (disk full, damage, a lock held too long) as the cache's error."""
    return storage_error(exc) or exc


def exit_code_for(exc: BaseException) -> int | None:
    """The documented exit code of an expected error, or None for an unexpected one (a bug: INTERNAL)."""
    exc = _translated(exc)
    if isinstance(exc, AppError):
        return exc.exit_code
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS):
        return exitcodes.STORAGE
    for kind, code in _FOREIGN:
        if isinstance(exc, kind):
            return code
    return None


def message_for(exc: BaseException) -> str:
    """The Russian message of an expected error."""
    exc = _translated(exc)
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return full_message(exc.filename)
    if isinstance(exc, OSError) and exc.errno == errno.EROFS:
        return read_only_fs_message(exc.filename or "файл")
    return str(exc)
