"""The client's errors. ``str(error)`` is a Russian message for the user: what happened and what to do."""

from __future__ import annotations


class NetSchoolError(Exception):
    """Base class for errors talking to a NetSchool server."""


class LoginError(NetSchoolError):
    """The server refused the login (wrong login/password, unknown school). Never retried automatically."""

    def __init__(self, server_message: str) -> None:
        self.server_message = server_message
        super().__init__(
            f"Сервер отказал во входе: «{server_message}». Проверьте логин, пароль и номер школы (scid). "
            "Повторных попыток не было: после нескольких неудачных попыток сервер блокирует вход."
        )


class LoginLockedError(LoginError):
    """The server locked the login; its own text says for how long (the numbers are the server's, not ours)."""

    def __init__(self, server_message: str) -> None:
        self.server_message = server_message
        NetSchoolError.__init__(
            self,
            f"Вход временно заблокирован сервером: «{server_message}». Дождитесь названного сервером времени и "
            "проверьте пароль; повторные попытки продлевают блокировку.",
        )


class LoginUnavailable(NetSchoolError):
    """«Ошибка входа в систему» (a 409 like a wrong password, but this text): the server cannot log anyone in
    now (its database is down) — not the password's fault, worth retrying later."""

    def __init__(self, server_message: str) -> None:
        self.server_message = server_message
        super().__init__(
            f"Сервер АСУ РСО сейчас не выполняет вход: «{server_message}». Так он отвечает, когда "
            "недоступна его база данных: пароль тут ни при чём. Повторите позже."
        )


class PasswordLoginDisabled(NetSchoolError):
    def __init__(self) -> None:
        super().__init__(
            "Вход по логину и паролю на этом сервере отключён (только Госуслуги). Войдите один раз через "
            "Госуслуги: «asurso-sync login-esia» — дальше программа продлевает вход сама ([asurso] auth)."
        )


_ESIA_MESSAGES = {
    "INVALID_PASSWORD": "Госуслуги: неверный пароль. Проверьте раскладку и Caps Lock; после нескольких ошибок "
    "портал попросит капчу — тогда войдите по QR-коду (asurso-sync login-esia --qr).",
    "INVALID_LOGIN": "Госуслуги не нашли учётную запись с таким логином: укажите телефон, почту или СНИЛС, "
    "как при входе на gosuslugi.ru.",
    "ACCOUNT_NOT_FOUND": "Госуслуги не нашли учётную запись с таким логином: укажите телефон, почту или СНИЛС, "
    "как при входе на gosuslugi.ru.",
    "ACCOUNT_LOCKED": "Учётная запись на Госуслугах заблокирована. Восстановите доступ на gosuslugi.ru или в центре "
    "обслуживания, затем повторите «asurso-sync login-esia».",
    "CAPTCHA_REQUIRED": "Госуслуги просят ввести символы с картинки (капчу) — так портал отвечает после нескольких "
    "неудачных попыток. Программа капчу не вводит: войдите по QR-коду — «asurso-sync login-esia --qr» — или "
    "повторите вход по паролю позже.",
    "INVALID_OTP": "Неверный код подтверждения.",
    "ATTEMPTS_EXCEEDED": "Код подтверждения введён неверно слишком много раз. Начните вход заново.",
    "NO_CODE": "Код подтверждения не введён: вход прерван.",
    "NO_CREDENTIALS": "Не заданы логин и пароль Госуслуг.",
    "PUSH_REJECTED": "Вход отклонён в приложении «Госуслуги».",
    "PUSH_EXPIRED": "Подтверждение в приложении «Госуслуги» не пришло вовремя. Начните вход заново.",
    "QR_EXPIRED": "QR-код так и не отсканировали в приложении «Госуслуги» за отведённое время. Начните вход заново.",
    "MAX_QUIZ_REQUIRED": "Госуслуги требуют настроить вход через «Макс» и не дают пропустить этот шаг: настройте его "
    "на gosuslugi.ru и повторите вход.",
    "UNKNOWN_MFA": "Госуслуги просят подтвердить вход способом, которого программа не знает",
    "ESIA_OFF": "На этом сервере АСУ РСО вход через Госуслуги не включён (logindata: esiaLogin = false).",
    "NO_LINKED_USER": "К учётной записи Госуслуг не привязан ни один пользователь АСУ РСО. Привяжите её в профиле "
    "АСУ РСО или попросите администратора АСУ РСО школы.",
}


class EsiaRefused(NetSchoolError):
    """The Госуслуги portal refused the login (its ``failed`` or error ``code``): a person has to act."""

    def __init__(self, code: str, attempts_left: int | None = None, *, detail: str = "") -> None:
        self.code, self.attempts_left = code, attempts_left
        text = _ESIA_MESSAGES.get(code) or f"Госуслуги отказали во входе (код {code})."
        if detail:
            text = f"{text}: {detail}"
        if attempts_left is not None and code == "INVALID_OTP":
            text = f"{text} Осталось попыток: {attempts_left}."
        super().__init__(text)


class EsiaUnavailable(NetSchoolError):
    """The portal could not be reached or answered what the program does not understand: try again later."""

    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(f"Вход через Госуслуги не удался: {detail}. Повторите позже.")


class RenewalRefused(NetSchoolError):
    """The server refused the stored refresh token: the Госуслуги login must be done again by a person."""

    def __init__(self, server_message: str) -> None:
        self.server_message = server_message
        super().__init__(
            f"Сервер не продлил вход через Госуслуги: «{server_message}». Нужно войти заново: "
            "«asurso-sync login-esia» (один раз, с телефоном под рукой)."
        )


class EsiaLoginRequired(NetSchoolError):
    """No way to log in without a person: the server wants Госуслуги and nothing usable is stored."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"{reason} Войдите через Госуслуги: «asurso-sync login-esia».")


class SessionLost(NetSchoolError):
    """The session expired again right after a fresh login: stop the run."""

    def __init__(self, detail: str) -> None:
        super().__init__(
            f"Сессия потеряна и повторный вход не помог ({detail}). Возможно, под этой учётной записью "
            "одновременно работает другой пользователь или изменились права. Запуск остановлен."
        )


class FirewallBlocked(NetSchoolError):
    def __init__(self, path: str) -> None:
        self.path = path
        super().__init__(
            f"Сервер ответил страницей запрета доступа (403) на {path}: запросы с этого адреса, вероятно, "
            "блокирует межсетевой экран региона. Запуск остановлен, чтобы не усугублять блокировку; "
            "обратитесь к администратору сети или в региональную поддержку АСУ РСО."
        )


class AccessDenied(NetSchoolError):
    def __init__(self, path: str, server_message: str) -> None:
        self.path = path
        super().__init__(f"Нет прав на {path}: «{server_message}». Нужна учётная запись завуча или администратора.")


class ServerUnavailable(NetSchoolError):
    """Retries exhausted on timeouts, connection errors, 5xx or 429."""

    def __init__(self, path: str, detail: str, attempts: int) -> None:
        self.path, self.attempts = path, attempts
        super().__init__(
            f"Сервер не отвечает на {path} после {attempts} попыток ({detail}). Повторите позже: региональные "
            "серверы бывают недоступны, особенно в 02:00–06:00."
        )


class TLSVerificationError(NetSchoolError):
    def __init__(self, detail: str) -> None:
        super().__init__(
            f"Не удалось проверить TLS-сертификат сервера ({detail}). Многие российские серверы подписаны "
            "сертификатом НУЦ Минцифры («Russian Trusted Root CA»), которого нет в стандартном наборе: "
            "скачайте его с Госуслуг и укажите путь в [asurso] ca_bundle. Отключать проверку (verify_tls) не следует."
        )


class TLSProtocolError(NetSchoolError):
    """TLS could not even start: the port speaks plain HTTP (or something else), not a certificate problem."""

    def __init__(self, base_url: str, detail: str) -> None:
        super().__init__(
            f"Сервер {base_url} не отвечает по HTTPS ({detail}): вероятно, в [asurso] base_url указан https://, а по "
            "этому адресу и порту работает обычный http:// (или другой порт). Проверьте адрес: для АСУ РСО это "
            "https://asurso.ru. Сертификаты тут ни при чём."
        )


class AddressNotFound(NetSchoolError):
    """The server's name does not resolve: a typo in the address, not a passing network problem."""

    def __init__(self, host: str, detail: str) -> None:
        self.host = host
        super().__init__(
            f"Адрес сервера «{host}» не найден ({detail}). Проверьте [asurso] base_url (для АСУ РСО — "
            "https://asurso.ru) и что компьютер подключён к сети и видит DNS."
        )


class NotNetSchool(NetSchoolError):
    """The address answers, but not as a NetSchool server (an HTML page, 404 on the login data)."""

    def __init__(self, base_url: str, detail: str) -> None:
        self.base_url = base_url
        super().__init__(
            f"По адресу {base_url} не АСУ РСО («Сетевой город. Образование»): {detail}. Проверьте [asurso] base_url "
            "— нужен адрес, по которому открывается страница входа в журнал (для Самарской области https://asurso.ru)."
        )


class HTTPStatusError(NetSchoolError):
    def __init__(self, path: str, status: int, message: str) -> None:
        self.path, self.status = path, status
        super().__init__(f"Сервер ответил {status} на {path}: {message}")


class ParseError(NetSchoolError):
    """A response did not match the expected shape; names the endpoint and the field."""

    def __init__(self, endpoint: str, field: str, detail: str) -> None:
        self.endpoint, self.field = endpoint, field
        super().__init__(f"Неожиданный ответ {endpoint}: поле «{field}» — {detail}")


class ReadOnlyViolation(NetSchoolError):
    """A programming error: code tried to call an endpoint that is not on the read-only allowlist."""


class ReportError(NetSchoolError):
    """A server report could not be built or fetched (hub error, timeout, an unexpected page)."""

    def __init__(self, message: str) -> None:
        super().__init__(f"Отчёт о доступе к журналу: {message}")
