"""The stored Госуслуги login: the server's refresh token and what the program knows about it.

One JSON file, mode 0600, beside the cache ([asurso] token_file). The server spends a refresh token on every
renewal and hands out the next one (docs/server-api.md §2.1), so the new token is written — to a temporary file,
synced, renamed over the old one — before the run does anything else: a crash leaves the old file or the new one,
never none. A refused renewal is recorded in the file (the dead token dropped), so ``status`` and ``selfcheck``
can say what to do and the deputy is told once, not every night.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path

from asurso_sync import exitcodes
from asurso_sync.errors import AppError
from asurso_sync.logs import REDACTOR
from cache.files import tighten, write_private_bytes

log = logging.getLogger(__name__)
FORMAT = 1


class TokenFileError(AppError):
    exit_code = exitcodes.STORAGE


def fingerprint(token: str) -> str:
    """What may be written about a token: the first 12 hex digits of its SHA-256 (it cannot be used to sign in)."""
    return hashlib.sha256(token.encode()).hexdigest()[:12]


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class StoredLogin:
    base_url: str
    refresh_token: str | None = None
    user: str | None = None  # who signed in (the server's name for them)
    school: str | None = None
    school_id: int | None = None
    obtained: str | None = None  # when «login-esia» was done (UTC, ISO)
    renewed: str | None = None  # the last successful renewal
    renewals: int = 0
    refused: str | None = None  # when the server refused to renew; the token is gone then
    refused_reason: str | None = None
    notified: str | None = None  # when the deputy was told to sign in again
    # issue #32: the portal session's token (``sfd.gosuslugi.ru/session``), the renewal's other candidate, and which
    # candidate the server accepted last — by kind and a fingerprint (never the token itself), and when
    portal_token: str | None = None
    accepted: str | None = None  # «answer» (the login answer's refreshToken) or «portal»
    accepted_fingerprint: str | None = None  # the first 12 hex digits of the accepted token's SHA-256
    accepted_at: str | None = None

    def __repr__(self) -> str:  # never the token
        return f"StoredLogin(user={self.user!r}, school={self.school!r}, renewed={self.renewed!r})"

    @property
    def usable(self) -> bool:
        return bool(self.refresh_token or self.portal_token) and self.refused is None


class TokenFile:
    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> StoredLogin | None:
        """The stored login, or None when there is none. Its token is added to the log redactor."""
        if not self.path.exists():
            return None
        tighten(self.path)
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except PermissionError:
            raise TokenFileError(
                f"Нет прав на чтение файла входа через Госуслуги {self.path}: запускайте программу от пользователя, "
                "которому он принадлежит."
            ) from None
        except (OSError, ValueError) as exc:
            raise TokenFileError(
                f"Файл входа через Госуслуги {self.path} повреждён ({exc}). Удалите его и выполните "
                "«asurso-sync login-esia»."
            ) from None
        known = {f.name for f in fields(StoredLogin)}
        if not isinstance(raw, dict) or not isinstance(raw.get("base_url"), str):
            raise TokenFileError(
                f"Файл {self.path} — не файл входа через Госуслуги. Удалите его и выполните «asurso-sync login-esia»."
            )
        stored = StoredLogin(**{k: v for k, v in raw.items() if k in known})
        for secret in (stored.refresh_token, stored.portal_token):
            if secret:
                REDACTOR.add_secret(secret)
        return stored

    def save(self, stored: StoredLogin) -> None:
        for secret in (stored.refresh_token, stored.portal_token):
            if secret:
                REDACTOR.add_secret(secret)
        data = {"format": FORMAT, **asdict(stored)}
        write_private_bytes(self.path, (json.dumps(data, ensure_ascii=False, indent=1) + "\n").encode())

    def rotate(self, token: str, *, base_url: str) -> None:
        """The server handed out the next refresh token: store it now (the old one is spent)."""
        stored = self.load() or StoredLogin(base_url=base_url)
        stored.refresh_token = token
        stored.renewed = now_iso()
        stored.renewals += 1
        stored.refused = stored.refused_reason = stored.notified = None
        self.save(stored)

    def record_renewal(self, accepted: str, token: str, refused: list[str]) -> None:
        """A renewal succeeded with the candidate ``accepted`` (after the server refused ``refused``): remember the
        kind and the token's fingerprint, drop the refused candidates' tokens."""
        stored = self.load()
        if stored is None:
            return
        stored.accepted, stored.accepted_fingerprint = accepted, fingerprint(token)
        stored.accepted_at = now_iso()
        for kind in refused:
            if kind == "answer":
                stored.refresh_token = None
            elif kind == "portal":
                stored.portal_token = None
        self.save(stored)

    def mark_refused(self, reason: str) -> StoredLogin | None:
        """The server refused the token: drop it and remember when and why. Returns the updated login."""
        stored = self.load()
        if stored is None:
            return None
        if stored.refused is None:
            stored.refused, stored.refused_reason = now_iso(), reason
        stored.refresh_token = stored.portal_token = None
        self.save(stored)
        return stored

    def mark_notified(self) -> None:
        stored = self.load()
        if stored is not None:
            stored.notified = now_iso()
            self.save(stored)
