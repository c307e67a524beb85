"""The cabinet under attack (issue #31 item 5), in process: httpx's ASGI transport against the real app over a real
cache — parallel wrong logins, scrypt off the event loop, ids beyond SQLite's range, the security headers; and, over
uvicorn on loopback, X-Forwarded-For not believed unless a proxy is named."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pytest

from asurso_sync.config import Config
from asurso_sync.web import cabinet as cabinet_module
from asurso_sync.web.app import create_app, server_options
from asurso_sync.web.auth import FAILURES_ALLOWED, HASHING_THREADS
from cache import open_cache
from cache.cabinet import set_password_hash
from cache.queries import rows
from tests.emu import serve
from tests.passwords import stored_hash
from tests.schools import Schools
from tests.test_web import PASSWORD, SPEC


@pytest.fixture
def school(tmp_path: Path, schools: Schools) -> Iterator[Config]:
    _emu, config = schools.copy(tmp_path / "school", SPEC)
    with closing(open_cache(config.cache.path)) as db:
        set_password_hash(db, stored_hash(PASSWORD))
    yield config


def client(app: Any, address: str = "127.0.0.1") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(address, 40000)), base_url="http://cab")


def audit_rows(config: Config, action: str) -> list[dict[str, Any]]:
    with closing(open_cache(config.cache.path, create=False)) as db:
        return rows(db, 'SELECT * FROM "audit_log" WHERE "action" = ?', [action])


def test_forty_parallel_wrong_logins_are_counted_before_they_are_checked(school: Config) -> None:
    """Over uvicorn on loopback (the request body arrives after the headers: the handler awaits it)."""

    async def attack(base: str) -> list[int]:
        async with httpx.AsyncClient(base_url=base, limits=httpx.Limits(max_connections=40)) as c:
            answers = await asyncio.gather(*(c.post("/login", data={"password": f"не тот {i}"}) for i in range(40)))
            return [a.status_code for a in answers]

    with serve(create_app(school), **server_options(None)) as base:
        codes = asyncio.run(attack(base))
    assert codes.count(401) == FAILURES_ALLOWED and codes.count(429) == 40 - FAILURES_ALLOWED
    assert len(audit_rows(school, "web-login-failed")) == FAILURES_ALLOWED


def test_the_password_is_checked_in_a_thread_and_the_pages_go_on(
    school: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    """scrypt in the event loop held every page for its tenth of a second; now it runs in a worker thread, at most
    ``HASHING_THREADS`` at once, and a page is answered meanwhile.

    The checks are held until the page has been answered (an event, not a guessed time): a page answered while
    ``HASHING_THREADS`` checks are running proves they run beside the loop (in the loop, the first held check would
    stop every page), and the four others waiting their turn prove the limit."""
    real = cabinet_module.check_password
    threads: set[int] = set()
    running, peak = 0, 0
    lock = threading.Lock()
    answered = threading.Event()

    def held_check(password: str, hashed: str) -> bool:
        nonlocal running, peak
        with lock:
            threads.add(threading.get_ident())
            running += 1
            peak = max(peak, running)
        answered.wait(30)  # a safety bound, not a timing: in the loop this would hold the page for 30 s
        with lock:
            running -= 1
        return real(password, hashed)

    monkeypatch.setattr(cabinet_module, "check_password", held_check)
    app = create_app(school)

    async def attack() -> tuple[list[int], int]:
        loop_thread = threading.get_ident()
        clients = [client(app, f"10.0.0.{i}") for i in range(6)]  # six addresses: the throttle lets each try
        logins = [asyncio.ensure_future(c.post("/login", data={"password": "не тот"})) for c in clients]
        for _ in range(30_000):  # until the limiter has let its checks start (a safety bound, not a timing)
            if running == HASHING_THREADS:
                break
            await asyncio.sleep(0.001)
        async with client(app, "10.0.1.1") as reader:
            assert (await reader.get("/login")).status_code == 200
        during = running  # the page was answered while the checks were still held
        answered.set()
        codes = [(await x).status_code for x in logins]
        for c in clients:
            await c.aclose()
        assert loop_thread not in threads
        return codes, during

    codes, during = asyncio.run(attack())
    assert codes == [401] * 6
    assert during == peak == HASHING_THREADS


def test_ids_beyond_sqlite_and_unknown_pages_are_404(school: Config) -> None:
    app = create_app(school)
    huge = "99999999999999999999999"

    async def probe() -> dict[str, int]:
        async with client(app) as c:
            assert (await c.post("/login", data={"password": PASSWORD})).status_code == 303
            page = (await c.get("/waivers")).text
            csrf = re.search(r'name="csrf" value="([^"]+)"', page)
            assert csrf
            codes = {
                path: (await c.get(path)).status_code
                for path in (
                    f"/lesson/{huge}",
                    "/lesson/abc",
                    "/lesson/١٢",
                    f"/teachers/{huge}",
                    f"/classes/{huge}",
                    f"/lists/2026-W50/{huge}",
                    "/nonsense/1",
                    f"/lesson/{2**63}",
                )
            }
            for path in (f"/waivers/{huge}/revoke", f"/lesson/{huge}/review"):
                codes[path] = (await c.post(path, data={"csrf": csrf[1], "verdict": "clean"})).status_code
            codes["max"] = (await c.get(f"/lesson/{2**63 - 1}")).status_code
            return codes

    codes = asyncio.run(probe())
    assert all(code == 404 for code in codes.values()), codes


def test_the_security_headers_with_form_action(school: Config) -> None:
    async def get() -> httpx.Response:
        async with client(create_app(school)) as c:
            return await c.get("/login")

    csp = asyncio.run(get()).headers["content-security-policy"]
    assert "form-action 'self'" in csp and "frame-ancestors 'self'" in csp and "default-src 'self'" in csp


def test_x_forwarded_for_is_not_believed_unless_a_proxy_is_named(school: Config) -> None:
    """Over uvicorn as «asurso-sync web» runs it: a rotating X-Forwarded-For from 127.0.0.1 does not reset the
    throttle and is not what the audit log records; with «--forwarded-allow-ips 127.0.0.1» the proxy's header is
    the client's address."""
    with serve(create_app(school), **server_options(None)) as base, httpx.Client(base_url=base) as c:
        codes = [
            c.post("/login", data={"password": "нет"}, headers={"X-Forwarded-For": f"203.0.113.{i}"}).status_code
            for i in range(FAILURES_ALLOWED + 1)
        ]
    assert codes == [401] * FAILURES_ALLOWED + [429]
    assert {r["details"] for r in audit_rows(school, "web-login-failed")} == {'{"from": "127.0.0.1"}'}
    with (
        serve(create_app(school), **server_options("127.0.0.1")) as base,
        httpx.Client(base_url=base) as c,
    ):
        answer = c.post("/login", data={"password": "нет"}, headers={"X-Forwarded-For": "203.0.113.77"})
    assert answer.status_code == 401
    assert '{"from": "203.0.113.77"}' in {r["details"] for r in audit_rows(school, "web-login-failed")}
