"""From configuration to a logged-in client: the way to sign in ([asurso] auth), the password source, the stored
Госуслуги login, the session file, TLS, politeness."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx

from adapters.netschool.client import ClientSettings, ImportedSession, NetSchoolClient, Sleep
from adapters.netschool.errors import EsiaLoginRequired
from adapters.netschool.esia import EsiaMethod
from asurso_sync.config import Config
from asurso_sync.logs import REDACTOR
from asurso_sync.secrets import SecretError, resolve_password
from asurso_sync.tokens import StoredLogin, TokenFile
from cache.files import tighten

log = logging.getLogger(__name__)


def token_path(config: Config) -> Path:
    """Where the Госуслуги login is stored: [asurso] token_file, or beside the cache."""
    cache = config.cache.path
    return config.asurso.token_file or cache.with_name(f"{cache.stem}-esia-token.json")


def _stored_login(config: Config, auth: str) -> tuple[StoredLogin | None, str | None]:
    """The stored refresh token a run may use, and a note on why there is none (for the error a person reads);
    for ``auth = "esia"`` its absence is the error to report."""
    if auth not in ("auto", "esia"):
        return None, None
    stored = TokenFile(token_path(config)).load()
    if stored is not None and stored.base_url != config.asurso.base_url:
        if auth == "esia":
            raise EsiaLoginRequired(
                f"Сохранённый вход через Госуслуги выдан для {stored.base_url}, "
                f"а в настройках {config.asurso.base_url}."
            )
        return None, None
    refused = (
        f"Сервер отказал в продлении входа через Госуслуги ({stored.refused[:16].replace('T', ' ')} UTC: "
        f"«{stored.refused_reason}»)."
        if stored is not None and stored.refused is not None
        else None
    )
    if refused and auth == "esia":
        raise EsiaLoginRequired(refused)
    if stored is None or not stored.usable:
        if auth == "esia":
            raise EsiaLoginRequired(f"Нет сохранённого входа через Госуслуги ({token_path(config)}).")
        return None, refused
    return stored, None


def client_settings(
    config: Config,
    *,
    session_file: Path | None = None,
    record_dir: Path | None = None,
    esia: EsiaMethod | None = None,
) -> ClientSettings:
    """``session_file`` (``--session``) forces the session; ``esia`` makes the client do the interactive Госуслуги
    login (``login-esia``) instead of signing in the configured way."""
    a = config.asurso
    auth = "session" if session_file is not None else a.auth
    session_path = session_file or a.session_file
    session = None
    password = None
    if esia is None and session_path is not None and auth in ("auto", "session"):
        tighten(session_path)
        session = ImportedSession.load(session_path)
        REDACTOR.add_secret(session.at)
    stored, note = (None, None) if esia is not None else _stored_login(config, auth)
    refresh = stored.refresh_token if stored is not None else None
    if esia is None and auth in ("auto", "password") and (a.password_env or a.password_command or auth == "password"):
        try:
            password = resolve_password(
                section="asurso", password_env=a.password_env, password_command=a.password_command
            )
            REDACTOR.add_secret(password)
        except SecretError:
            if not (auth == "auto" and stored is not None):
                raise
            # the stored Госуслуги login is what this run uses; the password is only a fallback
            log.info("Пароль АСУ РСО недоступен — вход по сохранённому входу через Госуслуги")
    store = TokenFile(token_path(config))
    verify: bool | str = str(a.ca_bundle) if a.ca_bundle else a.verify_tls
    return ClientSettings(
        base_url=a.base_url,
        login=a.login,
        password=password,
        scid=config.school.scid,
        school_name=config.school.name,
        role_group=a.role_group,
        session=session,
        auth=auth,
        refresh_token=refresh,
        portal_token=stored.portal_token if stored is not None else None,
        renewal_first=stored.accepted if stored is not None else None,
        on_renewal=None if esia is not None else store.record_renewal,
        login_note=note,
        on_token=None if esia is not None else (lambda token: store.rotate(token, base_url=a.base_url)),
        on_refused=None if esia is not None else store.mark_refused,
        esia_url=a.esia_url,
        esia=esia,
        concurrency=config.sync.concurrency,
        min_interval=config.sync.min_interval,
        timeout=config.sync.timeout,
        verify=verify,
        record_dir=record_dir,
        school_timezone=config.school.timezone,
    )


def make_client(
    config: Config,
    *,
    session_file: Path | None = None,
    record_dir: Path | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    sleep: Sleep | None = None,
) -> NetSchoolClient:
    """The client for this configuration. ``sleep`` replaces the real waiting (back-offs, pacing): tests and the
    simulated demo pass one that returns at once, so a fault test never really waits."""
    settings = client_settings(config, session_file=session_file, record_dir=record_dir)
    if sleep is None:
        return NetSchoolClient(settings, transport=transport)
    return NetSchoolClient(settings, transport=transport, sleep=sleep)
