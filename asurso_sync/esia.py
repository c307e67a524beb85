"""The application's Госуслуги login: ``login-esia`` once by a person, then renewal by every run, and one letter
to the deputy when the server stops renewing (README «Вход через Госуслуги», docs/server-api.md §2.1)."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from contextlib import closing
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid

import httpx
from sqlite_utils import Database

from adapters.mail.backends import MailBackend, MailError
from adapters.netschool.client import NetSchoolClient, Sleep
from adapters.netschool.errors import NetSchoolError
from adapters.netschool.esia import EsiaMethod
from asurso_sync import exitcodes
from asurso_sync.config import Config
from asurso_sync.connect import client_settings, token_path
from asurso_sync.errors import AppError
from asurso_sync.tokens import StoredLogin, TokenFile, now_iso
from cache import audit, enqueue, open_cache

log = logging.getLogger(__name__)
NOTICE_KIND = "relogin"


class WrongSchool(AppError):
    exit_code = exitcodes.AUTH


@dataclass
class EsiaLoginResult:
    stored: StoredLogin
    path: str


async def login_esia(
    config: Config,
    method: EsiaMethod,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    sleep: Sleep | None = None,
) -> EsiaLoginResult:
    """Sign in through Госуслуги as a person, check the school, store the refresh token (0600, atomically)."""
    tokens: list[str] = []
    settings = client_settings(config, esia=method)
    settings.on_token = tokens.append
    client = NetSchoolClient(settings, transport=transport, sleep=sleep or asyncio.sleep)
    async with client:
        ctx, info = client.context, client.info
        assert ctx is not None and info is not None
        scid = config.school.scid
        if scid is not None and ctx.schoolId is not None and ctx.schoolId != scid:
            raise WrongSchool(
                f"Выбрана другая школа: «{ctx.organizationName or ctx.schoolId}» (номер {ctx.schoolId}), а в "
                f"настройках [school] scid = {scid}. Вход не сохранён: повторите «asurso-sync login-esia» и выберите "
                "свою школу."
            )
        if not tokens and not client.portal_token:
            raise WrongSchool(
                "Сервер выполнил вход через Госуслуги, но не выдал токен продления (refreshToken): ночные запуски "
                "не смогут входить сами. Вход не сохранён.",
                exitcodes.TEMPFAIL,
            )
        stored = StoredLogin(
            base_url=config.asurso.base_url,
            refresh_token=tokens[-1] if tokens else None,
            portal_token=client.portal_token,  # the renewal's second candidate (issue #32), when the portal gave one
            user=info.user_name or (ctx.user.name if ctx.user else None),
            school=ctx.organizationName,
            school_id=ctx.schoolId,
            obtained=now_iso(),
        )
    path = token_path(config)
    TokenFile(path).save(stored)
    _audit(config, "esia-login", {"user": stored.user, "school": stored.school, "token_file": str(path)})
    return EsiaLoginResult(stored, str(path))


def _audit(config: Config, event: str, details: dict[str, object]) -> None:
    """Record in the cache's audit log when the cache exists and may be written (never create one for this)."""
    if not config.cache.path.exists():
        return
    try:
        with closing(open_cache(config.cache.path, create=False)) as db:
            audit(db, event, details)
    except Exception as exc:
        log.warning("Запись в журнал аудита не удалась: %s", exc)


def notice_text(config: Config, stored: StoredLogin | None, reason: str) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = "asurso-sync: нужно заново войти через Госуслуги"
    msg["From"] = config.mail.from_addr
    msg["To"] = config.mail.deputy_addr or ""
    msg["Message-ID"] = make_msgid(domain=config.mail.from_addr.rpartition("@")[2] or None)
    who = f" (вход выполнил(а) {stored.user})" if stored and stored.user else ""
    msg.set_content(
        "Сервер АСУ РСО перестал продлевать вход программы asurso-sync через Госуслуги"
        f"{who}: «{reason}».\n\n"
        "Пока вход не выполнен заново, синхронизация журнала не идёт, а списки замечаний не готовятся: по "
        "устаревшим данным замечания были бы ошибочными.\n\n"
        "Что сделать (один раз, с телефоном под рукой): на компьютере с программой выполнить\n"
        "    asurso-sync login-esia\n"
        "или, если удобнее сканировать QR-код приложением «Госуслуги»,\n"
        "    asurso-sync login-esia --qr\n"
        "После этого ночные запуски снова будут входить сами. Это письмо приходит один раз.\n"
    )
    return msg


def handle_refusal(config: Config, db: Database, exc: NetSchoolError, backend: MailBackend | None = None) -> None:
    """The server refused the stored token: mark it refused and tell the deputy once (the outbox's key is the
    refused token's fingerprint, so another night never sends another letter)."""
    from asurso_sync.delivery import backend_from_config, deliver

    store = TokenFile(token_path(config))
    before = store.load()
    if before is None:
        return
    seed = before.refused or before.refresh_token or before.obtained or ""  # one refusal, one letter
    period = "esia-" + hashlib.sha256(seed.encode()).hexdigest()[:16]
    stored = store.mark_refused(getattr(exc, "server_message", str(exc)))
    audit(db, "esia-refused", {"reason": str(exc)})
    to = config.mail.deputy_addr
    if stored is None or stored.notified:
        return
    if not to:
        log.warning("Вход через Госуслуги нужно выполнить заново; адрес заместителя ([mail] deputy_addr) не задан")
        return
    msg = notice_text(config, stored, stored.refused_reason or str(exc))
    enqueue(db, recipient=to, kind=NOTICE_KIND, period=period, subject=str(msg["Subject"]), message=bytes(msg))
    try:
        report = deliver(db, backend or backend_from_config(config), period=period, recipients=[to])
    except (MailError, AppError) as mail_exc:
        log.warning("Письмо о повторном входе через Госуслуги не отправлено: %s", mail_exc)
        return
    if report.sent or report.already_sent:
        store.mark_notified()
    else:
        log.warning("Письмо о повторном входе через Госуслуги пока не отправлено: оно осталось в очереди")


def stored_login_problem(config: Config) -> tuple[StoredLogin | None, str | None]:
    """The stored Госуслуги login and what is wrong with it, for ``status`` and ``selfcheck`` (None: nothing)."""
    path = token_path(config)
    try:
        stored = TokenFile(path).load()
    except AppError as exc:
        return None, str(exc)
    if stored is None:
        if config.asurso.auth == "esia":
            return None, f"нет сохранённого входа через Госуслуги ({path}): выполните «asurso-sync login-esia»"
        return None, None
    if stored.refused is not None:
        told = "; заместитель директора уведомлён письмом" if stored.notified else ""
        return stored, (
            f"сервер отказал в продлении входа через Госуслуги («{stored.refused_reason}»){told}: выполните "
            f"«asurso-sync login-esia» (или удалите {path}, если вход по паролю вас устраивает)"
        )
    if stored.base_url != config.asurso.base_url:
        return stored, (
            f"сохранённый вход через Госуслуги выдан для {stored.base_url}, а в настройках {config.asurso.base_url}: "
            "выполните «asurso-sync login-esia»"
        )
    if path.stat().st_mode & 0o077:
        return stored, f"файл входа через Госуслуги {path} доступен другим пользователям: выполните chmod 600 {path}"
    return stored, None
