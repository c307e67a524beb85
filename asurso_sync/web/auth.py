"""The cabinet's access control: a password kept only as a scrypt hash, server-side sessions behind an HttpOnly
SameSite=Strict cookie, a CSRF token per session checked on every form, and a limit on failed logins."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

# scrypt: 2**15 × 8 × 1 — about 32 MB and a tenth of a second per check on a school PC (stdlib, no dependency)
_N, _R, _P = 2**15, 8, 1
MIN_PASSWORD = 8
SESSION_SECONDS = 8 * 3600  # idle: a working day
FAILURES_ALLOWED = 5  # wrong passwords from one address …
FAILURE_WINDOW = 15 * 60  # … within 15 minutes, then a wait
HASHING_THREADS = 2  # scrypt checks at once, off the event loop (each takes 32 MB and most of a core)


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, maxmem=2**26, dklen=32)
    return "$".join(
        ("scrypt", str(_N), str(_R), str(_P), base64.b64encode(salt).decode(), base64.b64encode(digest).decode())
    )


def check_password(password: str, hashed: str) -> bool:
    try:
        kind, n, r, p, salt, digest = hashed.split("$")
        if kind != "scrypt":
            return False
        got = hashlib.scrypt(
            password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), maxmem=2**26, dklen=32
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, base64.b64decode(digest))


@dataclass
class Session:
    csrf: str
    last: float
    skipped: set[str] = field(default_factory=set)  # findings skipped in the review queue (until signing out)


@dataclass
class Sessions:
    """Sessions live in the server's memory: a restart signs everyone out (no secret to keep on disk)."""

    clock: Callable[[], float] = time.monotonic
    items: dict[str, Session] = field(default_factory=dict)

    def new(self) -> tuple[str, Session]:
        token = secrets.token_urlsafe(32)
        session = Session(secrets.token_urlsafe(32), self.clock())
        self.items[token] = session
        return token, session

    def get(self, token: str | None) -> Session | None:
        session = self.items.get(token or "")
        if session is None:
            return None
        now = self.clock()
        if now - session.last > SESSION_SECONDS:
            self.items.pop(token or "", None)
            return None
        session.last = now
        return session

    def drop(self, token: str | None) -> None:
        self.items.pop(token or "", None)


@dataclass
class Throttle:
    """Attempts per client address (the socket's peer unless a trusted proxy is configured): every attempt counts as
    a failure from the moment it starts until it succeeds, so parallel attempts cannot all get through; after
    ``FAILURES_ALLOWED`` within the window, wait until it passes."""

    clock: Callable[[], float] = time.monotonic
    failures: dict[str, deque[float]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _recent(self, who: str, now: float) -> deque[float]:
        recent = self.failures.setdefault(who, deque())
        while recent and now - recent[0] > FAILURE_WINDOW:
            recent.popleft()
        return recent

    def wait(self, who: str) -> int:
        """Seconds ``who`` must wait before the next attempt (0: may try now)."""
        with self.lock:
            now = self.clock()
            recent = self._recent(who, now)
            if len(recent) < FAILURES_ALLOWED:
                return 0
            return int(FAILURE_WINDOW - (now - recent[0])) + 1

    def attempt(self, who: str) -> int:
        """The decision and the count in one step: 0 — go ahead, the attempt is counted as a failure until
        ``passed``; otherwise the seconds to wait, and nothing counted."""
        with self.lock:
            now = self.clock()
            recent = self._recent(who, now)
            if len(recent) >= FAILURES_ALLOWED:
                return int(FAILURE_WINDOW - (now - recent[0])) + 1
            recent.append(now)
            return 0

    def passed(self, who: str) -> None:
        with self.lock:
            self.failures.pop(who, None)
