"""The emulator's login flow and session behaviour, each documented error included."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest

from adapters.emulator.server import Emulator, EmulatorSettings
from tests.emu import client, login, tiny


@pytest.fixture(scope="module")
def emu() -> Emulator:
    return tiny()


async def test_password_login_sets_token_cookies_and_entry_point(emu: Emulator) -> None:
    async with client(emu) as c:
        r = await login(c)
        assert r.status_code == 200
        body = r.json()
        assert len(body["at"]) == 26 and body["at"].isdigit()
        assert body["timeOut"] == 3_600_000
        assert body["entryPoint"] == "/angular/school/main/"
        assert body["accountInfo"]["user"]["id"] == emu.school.deputy_id
        assert "ESRNSec" in c.cookies and "NSSESSIONID" in c.cookies
        ctx = (await c.get("/webapi/context")).json()
        assert ctx["userId"] == emu.school.deputy_id
        assert ctx["schoolyear"]["id"] == emu.school.year_id
        await c.post("/webapi/auth/logout", data={"at": body["at"]})


async def test_old_field_casing_is_accepted(emu: Emulator) -> None:
    async with client(emu) as c:
        assert (await login(c, upper=True)).status_code == 200
        await c.post("/webapi/auth/logout", data={"at": c.headers["at"]})


async def test_wrong_password_is_409_with_message() -> None:
    async with client(tiny()) as c:
        r = await login(c, password="Сота-2025")
        assert r.status_code == 409
        assert r.json() == {"message": "Неправильный пароль или логин"}


async def test_utf8_hash_of_cyrillic_password_is_rejected() -> None:
    """The server hashes cp1251; a client hashing UTF-8 (a known bug of some clients) cannot log in."""
    emu = tiny()
    async with client(emu) as c:
        await c.get("/webapi/logindata")
        d = (await c.post("/webapi/auth/getdata")).json()
        h1 = hashlib.md5("Сота-2026".encode()).hexdigest()
        pw2 = hashlib.md5((d["salt"] + h1).encode()).hexdigest()
        form = {
            "loginType": "1",
            "scid": "1",
            "un": "zavuch",
            "pw": pw2[:9],
            "pw2": pw2,
            "lt": d["lt"],
            "ver": d["ver"],
        }
        r = await c.post("/webapi/login", data=form, headers={"Referer": "http://emu.test/"})
        assert r.status_code == 409


async def test_lock_after_five_failures_until_a_time() -> None:
    emu = tiny()
    async with client(emu) as c:
        for _ in range(5):
            assert (await login(c, password="x")).status_code == 409
        r = await login(c)  # even the right password is refused now
        assert r.status_code == 409
        msg = r.json()["message"]
        assert msg.startswith("Следующая попытка может быть совершена не ранее чем ")
        until = (emu.clock + timedelta(minutes=15)).strftime("%d.%m.%Y %H:%M")
        assert until in msg
        emu.clock += timedelta(minutes=16)
        assert (await login(c)).status_code == 200


async def test_salt_is_one_shot_and_bound_to_the_session_cookie(emu: Emulator) -> None:
    async with client(emu) as c:
        await c.get("/webapi/logindata")
        d = (await c.post("/webapi/auth/getdata")).json()
        from adapters.emulator.protocol import password_hashes

        pw, pw2 = password_hashes("Сота-2026", d["salt"])
        form = {"loginType": "1", "scid": "1", "un": "zavuch", "pw": pw, "pw2": pw2, "lt": d["lt"], "ver": d["ver"]}
        headers = {"Referer": "http://emu.test/"}
        other = client(emu)
        async with other:
            await other.get("/webapi/logindata")  # another cookie: the salt is not theirs
            assert (await other.post("/webapi/login", data=form, headers=headers)).status_code == 409
        assert (await c.post("/webapi/login", data=form, headers=headers)).status_code == 200
        assert (await c.post("/webapi/login", data=form, headers=headers)).status_code == 409  # used up
    async with client(emu) as c2:
        assert (await c2.post("/webapi/auth/getdata")).status_code == 400  # no NSSESSIONID


async def test_referer_is_required(emu: Emulator) -> None:
    async with client(emu) as c:
        r = await login(c, referer=False)
        assert r.status_code == 400
        assert "Referer" in r.json()["message"]


async def test_calls_need_at_and_esrnsec(emu: Emulator) -> None:
    async with client(emu) as c:
        r = await c.get("/webapi/context")
        assert r.status_code == 401 and r.headers["auth-error"] == "SessionExpired"
        await login(c)
        at = c.headers["at"]
        c.cookies.delete("ESRNSec")
        r = await c.get("/webapi/context")
        assert r.status_code == 401 and "auth-error" not in r.headers
        # the token in the query string is accepted too (users/photo, SignalR do that)
        c.headers.pop("at")
        assert (await c.get(f"/webapi/context?at={at}")).status_code == 401  # still no cookie


async def test_idle_expiry_and_refresh(monkeypatch: pytest.MonkeyPatch) -> None:
    """The emulator's idle timer on a clock the test moves (its modules' ``monotonic_time``), not on real sleeps a
    busy machine would stretch past the timeout."""
    import time
    from types import SimpleNamespace

    import adapters.emulator.routes.auth as auth_routes
    import adapters.emulator.server as server_module

    now = [time.monotonic()]  # sessions are stamped with the real clock when made: start the test's clock there
    clock = SimpleNamespace(monotonic=lambda: now[0])
    monkeypatch.setattr(server_module, "monotonic_time", clock)
    monkeypatch.setattr(auth_routes, "monotonic_time", clock)

    async def wait(seconds: float) -> None:
        now[0] += seconds

    emu = Emulator(EmulatorSettings(size="tiny", session_timeout_ms=400))
    async with client(emu) as c:
        await login(c)
        for sess in emu.sessions.values():
            sess.last = now[0]
        for _ in range(3):  # each request refreshes the idle timer
            await wait(0.25)
            assert (await c.get("/webapi/years/current")).status_code == 200
        assert (await c.get(f"/webapi/context/expired?token={c.headers['at']}")).json() is False
        await wait(0.5)
        r = await c.get("/webapi/years/current")
        assert r.status_code == 401 and r.headers["auth-error"] == "SessionExpired"
        assert (await c.get(f"/webapi/context/expired?token={c.headers['at']}")).json() is True


async def test_second_login_gets_security_warning_until_acknowledged() -> None:
    emu = tiny()
    async with client(emu) as first, client(emu) as second:
        await login(first)
        r = await login(second)
        body = r.json()
        assert body["entryPoint"] == "/asp/SecurityWarning.asp"
        assert body["requestData"]["warnType"] == "1"
        assert first.headers["at"] in body["requestData"]["atlist"]
        page = await second.get("/webapi/years/current")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "/asp/SecurityWarning.asp" in page.text and len(page.content) < 1000
        ack = await second.post("/asp/SecurityWarning.asp", data={"at": second.headers["at"], "WarnType": "2"})
        assert ack.status_code == 200
        assert (await second.get("/webapi/years/current")).json()["id"] == emu.school.year_id
        assert (await first.get("/webapi/years/current")).status_code == 200
        sessions = (await first.get("/webapi/context/activeSessions")).json()
        assert len(sessions) == 2 and sessions[0]["roles"] == "Завуч"


async def test_two_role_groups_choose_then_relogin_with_rolegroup() -> None:
    emu = tiny()
    dual = next(a for a in emu.accounts.values() if a.role_groups)
    async with client(emu) as c:
        r = await login(c, dual.login, dual.password)
        body = r.json()
        assert "choose-session-role" in body["entryPoint"]
        roles = {x["role"]["name"]: x["role"]["id"] for x in body["accountInfo"]["userRoles"]}
        assert set(roles) == {"Учитель", "Родитель"}
        assert (await c.get("/webapi/context")).status_code == 403
        assert (await c.post("/webapi/auth/logout", data={"at": c.headers["at"]})).status_code == 200
        r = await login(c, dual.login, dual.password, rolegroup=str(roles["Учитель"]))
        assert r.json()["entryPoint"] == "/angular/school/main/"
        assert (await c.get("/webapi/context")).json()["roles"] == ["Teacher"]


async def test_logout_variants(emu: Emulator) -> None:
    async with client(emu) as c:
        await login(c)
        at = c.headers["at"]
        assert (await c.post("/webapi/auth/logout", data={"at": at})).status_code == 200
        assert (await c.post("/webapi/auth/logout", data={"at": at})).status_code == 401  # already logged out
        await login(c)
        r = await c.post("/asp/logout.asp", data={"at": c.headers["at"], "VER": "1"})
        assert r.headers["content-type"].startswith("text/html")
        assert (await c.get("/webapi/context")).status_code == 401


async def test_public_endpoints(emu: Emulator) -> None:
    async with client(emu) as c:
        assert (await c.get("/webapi/schools/search")).status_code == 403
        found = (await c.get("/webapi/schools/search", params={"name": "Сота"})).json()
        assert found[0]["id"] == 1
        form = (await c.get("/webapi/prepareloginform")).json()
        assert form["scid"] == 1 and form["sid"] == 1 and form["pid"] == -1
        assert (await c.get("/webapi/loginform", params={"LASTNAME": "sft"})).json()["items"][0]["id"] == 1
        info = await c.get("/webapi/sysinfo")
        assert "Версия системы: 5.47.0" in info.text


async def test_paths_are_case_insensitive_and_date_is_the_clock(emu: Emulator) -> None:
    async with client(emu) as c:
        r = await c.get("/WebApi/LoginData")
        assert r.status_code == 200
        # clock 2026-11-23 16:05 Samara = 12:05 GMT
        assert r.headers["date"] == "Mon, 23 Nov 2026 12:05:00 GMT"
