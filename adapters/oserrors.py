"""Operating-system network errors in Russian: the C library's messages («Connection refused») are English, and
a school's IT person reads the program's messages in Russian. Shared by the asurso.ru client and the mail."""

from __future__ import annotations

import errno
import socket
from collections.abc import Iterator

_RU = {
    errno.ECONNREFUSED: "соединение отклонено: на этом адресе и порту никто не принимает подключения",
    errno.ECONNRESET: "соединение разорвано другой стороной",
    errno.ETIMEDOUT: "нет ответа (истекло время ожидания)",
    errno.EHOSTUNREACH: "узел недоступен",
    errno.ENETUNREACH: "сеть недоступна",
    errno.EHOSTDOWN: "узел выключен",
    errno.ECONNABORTED: "соединение прервано",
    errno.EADDRNOTAVAIL: "адрес недоступен",
}


def chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and the exceptions below it (``__cause__`` or ``__context__``), outermost first: the library
    wrappers (httpx, httpcore) above the ``OSError`` or ``ssl.SSLError`` that says what happened."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def os_error_text(exc: BaseException) -> str:
    """A Russian phrase for a network ``OSError`` (or the exception chain ending in one); the original text
    when the error is not a known one."""
    for current in chain(exc):
        if isinstance(current, TimeoutError | socket.timeout):
            return _RU[errno.ETIMEDOUT]
        if isinstance(current, socket.gaierror):
            return f"имя не найдено (DNS: {current.strerror})"
        if isinstance(current, OSError) and current.errno in _RU:
            return _RU[current.errno]
    return str(exc)
