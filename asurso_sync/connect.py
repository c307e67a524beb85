"""From configuration to a logged-in client: password source, session file, TLS, politeness."""

from __future__ import annotations

from pathlib import Path

import httpx

from adapters.netschool.client import ClientSettings, ImportedSession, NetSchoolClient, Sleep
from asurso_sync.config import Config
from asurso_sync.logs import REDACTOR
from asurso_sync.secrets import resolve_password
from cache.files import tighten


def client_settings(
    config: Config, *, session_file: Path | None = None, record_dir: Path | None = None
) -> ClientSettings:
    a = config.asurso
    session_path = session_file or a.session_file
    session = None
    password = None
    if session_path is not None:
        tighten(session_path)
        session = ImportedSession.load(session_path)
        REDACTOR.add_secret(session.at)
    else:
        password = resolve_password(section="asurso", password_env=a.password_env, password_command=a.password_command)
        REDACTOR.add_secret(password)
    verify: bool | str = str(a.ca_bundle) if a.ca_bundle else a.verify_tls
    return ClientSettings(
        base_url=a.base_url,
        login=a.login,
        password=password,
        scid=config.school.scid,
        school_name=config.school.name,
        role_group=a.role_group,
        session=session,
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
