"""The emulator's Госуслуги (ESIA) state: the NetSchool SSO endpoints and a fake portal on the same server
(handlers in ``routes/esia.py``).

The NetSchool half (``/webapi/sso/esia/*``, ``POST /webapi/auth/login`` with ``loginType=8``, the refresh-token
login ``LoginType=9`` of ``/webapi/login``) and the portal half (``/gosuslugi/...``: the login API with every second
factor, the QR login with server-sent events) follow the shapes public clients rely on; docs/server-api.md §2.1
names the sources and marks what the emulator had to infer ([I]). The portal lives under ``PORTAL`` on the
emulator's own address unless ``EsiaSettings.portal_url`` names another one (tests and the demo only).

Time: a QR code and a push wait run on the real clock (a person scans in seconds); refresh tokens expire on the
emulator's clock, so the demo's simulated nights age them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

PORTAL = "/gosuslugi"  # the fake portal's place on the emulator's own server
API = f"{PORTAL}/aas/oauth2/api/login"
MFA_TYPES = ("none", "sms", "totp", "push", "max")
# the published demo identity (like the demo accounts' passwords: not a secret)
DEMO_LOGIN = "+79270000001"
DEMO_PASSWORD = "Госуслуги-2026"
DEMO_TOTP_SECRET = "JBSWY3DPEHPK3PXP"
SECOND_SCHOOL = (990001, 7001, "МБОУ «Школа № 2» г.о. Самара")  # (user id, school id, name) of the other link


@dataclass
class EsiaSettings:
    only: bool = False  # an ESIA-only server: logindata says so, auth/getdata gives no salt, password login refused
    portal_url: str | None = None  # where crosslogin sends the browser; None: this server's own PORTAL
    mfa: str = "sms"  # the demo identity's second factor: none, sms, totp, push, max
    anomaly: bool = False  # the portal asks for the «unusual login» SMS check first
    change_password: bool = False  # after the second factor the portal suggests a new password (skippable)
    max_quiz: bool = False  # … and offers to set up «Макс» (skippable)
    locked: bool = False  # the identity is locked by the portal
    qr_seconds: float = 120.0  # how long a QR code waits to be scanned (real seconds)
    push_seconds: float = 120.0  # how long a push waits for an answer
    refresh_days: int = 14  # a refresh token's life on the emulator's clock [I]
    captcha_after: int = 3  # wrong passwords before the portal wants a CAPTCHA
    second_school: bool = True  # the identity is linked to a second school as well


@dataclass
class Identity:
    login: str
    password: str
    user_ids: list[int]
    totp_secret: str = DEMO_TOTP_SECRET
    phone: str = "+7 927 ***-**-01"


@dataclass
class PortalSession:
    id: str
    state: str
    return_to: str
    identity: Identity | None = None
    pending: list[str] = field(default_factory=list)  # the steps still to pass, in order
    otp: str | None = None
    attempts_left: int = 3
    challenge_id: str = ""
    push: str = "none"  # none | wait | approved | denied
    push_started: float = 0.0
    anomaly_guid: str = ""


@dataclass
class Qr:
    id: str
    signed_token: str
    session_id: str
    created: float
    scanned: bool = False


@dataclass
class RefreshToken:
    user_id: int
    expires: datetime
    revoked: bool = False


def totp(secret: str, at: float | None = None, step: int = 30) -> str:
    """RFC 6238 (HMAC-SHA1, 6 digits): the code an authenticator app shows now."""
    key = base64.b32decode(secret.upper() + "=" * (-len(secret) % 8))
    counter = int((time.time() if at is None else at) // step)
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    number = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{number % 1_000_000:06d}"


class EsiaSide:
    """Everything the emulated ESIA keeps: identities, portal sessions, QR codes, the «phone» with SMS codes,
    login states handed to NetSchool, refresh tokens."""

    def __init__(self, settings: EsiaSettings, deputy_id: int) -> None:
        self.settings = settings
        users = [deputy_id, SECOND_SCHOOL[0]] if settings.second_school else [deputy_id]
        self.identity = Identity(DEMO_LOGIN, DEMO_PASSWORD, users)
        self.sessions: dict[str, PortalSession] = {}
        self.qrs: dict[str, Qr] = {}
        self.sms: list[str] = []  # codes «sent» to the identity's phone, newest last
        self.login_states: dict[str, Identity] = {}
        self.codes: dict[str, PortalSession] = {}  # authorization codes → finished portal sessions
        self.refresh: dict[str, RefreshToken] = {}
        # the portal sessions' own tokens (``sfd.gosuslugi.ru/session``): accepted by LoginType=9 and not spent,
        # as the one third-party app seen renewing on asurso.ru uses them (issue #32)
        self.portal_tokens: dict[str, RefreshToken] = {}
        self.wrong_passwords = 0
        self.renewals = 0
        self.refusals = 0

    # --- refresh tokens (the emulator's clock) --------------------------------------------------

    def issue_refresh(self, user_id: int, now: datetime) -> str:
        token = secrets.token_urlsafe(32)
        self.refresh[token] = RefreshToken(user_id, now + timedelta(days=self.settings.refresh_days))
        return token

    def redeem(self, token: str, now: datetime) -> int | None:
        """The user a refresh token stands for, revoking it (rotation): None when unknown, used, revoked, expired."""
        entry = self.refresh.get(token)
        if entry is None or entry.revoked or entry.expires <= now:
            self.refusals += 1
            return None
        entry.revoked = True
        self.renewals += 1
        return entry.user_id

    def issue_portal_token(self, identity: Identity, now: datetime) -> str:
        """The portal session's token; it stands for the identity's user of this school (the first linked) [I]."""
        token = "eyJ" + secrets.token_urlsafe(40)  # a JWT on the real portal: {sessionId, exp, iat, jti}
        self.portal_tokens[token] = RefreshToken(identity.user_ids[0], now + timedelta(days=self.settings.refresh_days))
        return token

    def redeem_portal(self, token: str, now: datetime) -> int | None:
        """The user a portal session's token stands for; it stays good (not rotated). None when unknown, revoked,
        expired."""
        entry = self.portal_tokens.get(token)
        if entry is None or entry.revoked or entry.expires <= now:
            self.refusals += 1
            return None
        self.renewals += 1
        return entry.user_id

    def revoke_all(self) -> int:
        live = [t for t in (*self.refresh.values(), *self.portal_tokens.values()) if not t.revoked]
        for t in live:
            t.revoked = True
        return len(live)

    # --- the portal's steps ---------------------------------------------------------------------

    def steps_after_password(self) -> list[str]:
        s = self.settings
        steps = ["anomaly"] if s.anomaly else []
        if s.mfa != "none":
            steps.append(s.mfa)
        if s.change_password:
            steps.append("change_password")
        if s.max_quiz:
            steps.append("max_quiz")
        return steps

    def scan(self, signed_token: str) -> bool:
        """The Госуслуги app scanned a QR code (``gosuslugi://auth/signed_token=…``) and its owner confirmed."""
        for qr in self.qrs.values():
            if qr.signed_token == signed_token:
                qr.scanned = True
                return True
        return False

    def approve_push(self, approve: bool = True) -> int:
        """The owner answered the push in the app; returns how many waiting logins it answered."""
        waiting = [ps for ps in self.sessions.values() if ps.push == "wait"]
        for ps in waiting:
            ps.push = "approved" if approve else "denied"
        return len(waiting)

    def send_sms(self) -> str:
        code = f"{secrets.randbelow(1_000_000):06d}"
        self.sms.append(code)
        return code
