"""Secrets masked wherever they could be written down: the one place that says what a secret is and how it is
hidden, for the client's recordings (``--record``, adapters/netschool/client.py) and every log line
(asurso_sync/logs.py).

A secret is known by its name — in a form or a query (``name=value``), a JSON object (``"name": "value"``), a
header (``name: value``, or httpcore's ``(b'name', b'value')`` at -vv), a hidden input of the ASP pages
(``name="name" value="…"``) — or by its value, when the caller knows it (the session's ``at``, a password, a
refresh token). ``code`` and ``state`` (the Госуслуги authorisation code and its state on the way back to the
server) are secrets in a URL or a form; as JSON keys of the server's data they are ordinary fields (an
attendance code, a task's state) and stay.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

MASK = "***"

# names whose value is a credential: sessions (at, the other sessions' atlist, cookies), the password login's
# hashes, tokens, the Госуслуги login's state
NAMES = (
    "pw",
    "pw2",
    "password",
    "passwd",
    "at",
    "atlist",
    "salt",
    "esrnsec",
    "nssessionid",
    "accesstoken",
    "access_token",
    "refreshtoken",
    "refresh_token",
    "secureactivetoken",
    "signed_token",
    "esia_session",
    "loginstate",
    "authorization",
    "cookie",
    "set-cookie",
)
URL_NAMES = (*NAMES, "code", "state")  # in a URL or a form the authorisation code and its state are secrets too

_KEY = re.compile(rf"(?i)^({'|'.join(re.escape(n) for n in NAMES)})$")
_ANY = "|".join(re.escape(n) for n in URL_NAMES)
_JSON_NAMES = "|".join(re.escape(n) for n in NAMES)
_PATTERNS = [  # the secret's value is the group «v»
    # a query or a form: ?code=…&state=…, un=…&pw=…, Cookie: ESRNSec=…; NSSESSIONID=…
    re.compile(rf"(?i)(?<![\w-])(?:{_ANY})=(?P<v>[^&\s;,\"'<>#]+)"),
    # JSON: "at": "…", "atlist": "…"
    re.compile(rf'(?i)"(?:{_JSON_NAMES})"\s*:\s*"(?P<v>(?:[^"\\]|\\.)*)"'),
    # a header: at: …, Cookie: …
    re.compile(r"(?i)(?<![\w-])(?:at|authorization|cookie|set-cookie)\s*:\s*(?P<v>[^\r\n]+)"),
    # httpcore's header tuples at -vv: (b'at', b'…'), (b'set-cookie', b'…')
    re.compile(rf"(?i)\(b'(?:{_JSON_NAMES})',\s*b'(?P<v>[^']*)'\)"),
    # a hidden input of the ASP pages: name="ATLIST" value="…" (either attribute first)
    re.compile(rf"""(?i)name=["']?(?:{_ANY})["']?\s+value=["'](?P<v>[^"']*)["']"""),
    re.compile(rf"""(?i)value=["'](?P<v>[^"']*)["']\s+name=["']?(?:{_ANY})["']?"""),
]


def _mask(match: re.Match[str]) -> str:
    value = match.group("v")
    if not value or value == MASK:
        return match.group(0)
    start, end = match.span("v")
    whole, offset = match.group(0), match.start(0)
    return whole[: start - offset] + MASK + whole[end - offset :]


def redact_text(text: str, known: Iterable[str] = ()) -> str:
    """``text`` with every known secret value and every value of a secret name masked."""
    for secret in known:
        if secret and len(secret) >= 3:
            text = text.replace(secret, MASK)
    for pattern in _PATTERNS:
        text = pattern.sub(_mask, text)
    return text


def redact_data(value: Any, known: Iterable[str] = ()) -> Any:
    """A JSON-like value with the values of secret keys masked and every string passed through ``redact_text``
    (URLs in answers — ``entryPoint``, a ``Location`` — carry ``atlist``, ``code``, ``loginState``)."""
    known = tuple(known)
    if isinstance(value, dict):
        return {k: (MASK if _KEY.match(str(k)) else redact_data(v, known)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_data(v, known) for v in value]
    if isinstance(value, str):
        return redact_text(value, known)
    return value


def redact_request(value: Any, known: Iterable[str] = ()) -> Any:
    """A request's query parameters or form: there ``code`` and ``state`` are secrets too."""
    known = tuple(known)
    if isinstance(value, dict):
        return {k: (MASK if str(k).lower() in URL_NAMES else redact_request(v, known)) for k, v in value.items()}
    return redact_data(value, known)
