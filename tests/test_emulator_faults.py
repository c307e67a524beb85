"""Each emulator fault alone, the standard preset, and the network-level ones over real loopback HTTP."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import timedelta

import httpx
import pytest

from adapters.emulator.faults import STANDARD, Faults, FaultSpecError, parse_faults
from adapters.emulator.server import Emulator, EmulatorSettings
from tests.emu import client, fresh_school, login, serve


def emu_with(**faults: object) -> Emulator:
    return Emulator(EmulatorSettings(size="tiny", faults=Faults(seed=5, **faults), prebuilt=fresh_school()))  # type: ignore[arg-type]


async def statuses(emu: Emulator, n: int = 60, path: str = "/webapi/years/current") -> list[int]:
    async with client(emu) as c:
        assert (await login(c)).status_code == 200  # the login flow itself is never faulted
        return [(await c.get(path)).status_code for _ in range(n)]


async def test_5xx_rate() -> None:
    codes = await statuses(emu_with(error_5xx=0.3), 100)
    bad = [s for s in codes if s >= 500]
    assert 15 <= len(bad) <= 45
    assert set(bad) <= {500, 502, 503}


async def test_hang_becomes_a_read_timeout() -> None:
    """In process a hang that would outlast the client's read timeout ends at once as ``httpx.ReadTimeout`` (what the
    client's timer would raise, without its seconds of nothing); a shorter hang is a late answer."""
    emu = emu_with(hang=1.0, hang_seconds=60.0)
    async with client(emu, timeout=httpx.Timeout(5.0, read=30.0)) as c:
        await login(c)
        started = time.monotonic()
        with pytest.raises(httpx.ReadTimeout):
            await c.get("/webapi/years/current")
        assert time.monotonic() - started < 10  # not the 30 s a real socket would have waited
    assert emu.request_log[-1] == ("GET", "/webapi/years/current", 0)  # no answer was begun
    emu = emu_with(hang=1.0, hang_seconds=0.05)
    async with client(emu, timeout=httpx.Timeout(5.0, read=30.0)) as c:
        await login(c)
        started = time.monotonic()
        late = await c.get("/webapi/years/current")
        assert late.status_code == 200 and time.monotonic() - started >= 0.04


async def test_reset_in_process_is_a_protocol_error() -> None:
    emu = emu_with(reset=1.0)
    async with client(emu) as c:
        await login(c)
        with pytest.raises(httpx.RemoteProtocolError):
            await c.get("/webapi/years/current")


async def test_session_expires_after_n_requests() -> None:
    emu = emu_with(expire_every=3)
    async with client(emu) as c:
        await login(c)
        codes = [(await c.get("/webapi/years/current")).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 401]
        r = await c.get("/webapi/years/current")
        assert r.headers["auth-error"] == "SessionExpired"
        await login(c)
        assert (await c.get("/webapi/years/current")).status_code == 200


async def test_forced_security_warning_once() -> None:
    emu = emu_with(security_warning_at=8)
    async with client(emu) as c:
        await login(c)
        kinds = []
        for _ in range(6):
            r = await c.get("/webapi/years/current")
            kinds.append(r.headers["content-type"].split(";")[0])
            if "html" in kinds[-1]:
                assert "/asp/SecurityWarning.asp" in r.text
                await c.post("/asp/SecurityWarning.asp", data={"at": c.headers["at"], "WarnType": "2"})
        assert kinds.count("text/html") == 1


async def test_rate_limit_with_retry_after() -> None:
    emu = emu_with(rate_limit=1.0, retry_after="7")
    async with client(emu) as c:
        await login(c)
        r = await c.get("/webapi/years/current")
        assert r.status_code == 429 and r.headers["retry-after"] == "7"


async def test_waf_page() -> None:
    emu = emu_with(waf=1.0)
    async with client(emu) as c:
        await login(c)
        r = await c.get("/webapi/years/current")
        assert r.status_code == 403 and r.headers["content-type"].startswith("text/html")
        assert "Доступ запрещён" in r.text


async def test_latency() -> None:
    emu = emu_with(latency=0.05, jitter=0.02)
    async with client(emu) as c:
        started = time.monotonic()
        await c.get("/webapi/logindata")
        assert time.monotonic() - started >= 0.05


async def test_faults_are_reproducible() -> None:
    a = await statuses(emu_with(error_5xx=0.2, rate_limit=0.1), 80)
    b = await statuses(emu_with(error_5xx=0.2, rate_limit=0.1), 80)
    assert a == b


async def _get(emu: Emulator, path: str, **params: object) -> object:
    async with client(emu) as c:
        await login(c)
        try:
            return (await c.get(path, params=params)).json()
        finally:
            await c.post("/webapi/auth/logout", data={"at": c.headers["at"]})


async def test_each_drift_changes_the_shape() -> None:
    plain = Emulator(EmulatorSettings(size="tiny"))
    cm = next(t.cm_id for t in plain.journal.topics.values() if t.at < plain.clock)

    def drifted(*names: str) -> Emulator:
        return Emulator(EmulatorSettings(size="tiny", faults=Faults(drifts=frozenset(names))))

    edit = await _get(drifted("lesson_flat"), "/webapi/grade/journal/edit", cmid=cm)
    assert isinstance(edit, dict) and "lesson" not in edit and {"lessonId", "lessonName"} <= set(edit)
    reasons = await _get(drifted("reason_mark"), "/webapi/grade/attendance/reasons")
    assert isinstance(reasons, list) and "ReasonMark" in reasons[0] and "mark" not in reasons[0]
    ids = await _get(drifted("string_ids"), "/webapi/classes")
    assert isinstance(ids, list) and isinstance(ids[0]["id"], str) and ids[0]["id"].isdigit()
    emu = drifted("frac_digits")
    sg = next(iter(emu.school.groups))
    term = emu.school.terms_for_group(sg)[0]
    jr = await _get(emu, "/webapi/grade/journal", sgId=sg, termId=term.id)
    assert "." in jr["journals"][0]["lastAccess"]["date"]  # type: ignore[index]
    emu = drifted("null_arrays")
    empty_cm = next(le.id for le in emu.school.lessons.values() if le.day > emu.clock.date() + timedelta(days=14))
    edit = await _get(emu, "/webapi/grade/journal/edit", cmid=empty_cm)
    assert isinstance(edit, dict) and edit.get("assignments") is None and edit.get("attendance") is None
    past = await _get(emu, "/webapi/grade/journal/edit", cmid=cm)
    assert isinstance(past, dict) and past["assignments"] and "comments" not in past["assignments"][0]
    for name, path in (("students_dict", "/webapi/student/diary/init"),):
        emu = drifted(name)
        st = next(iter(emu.school.students.values()))
        async with client(emu) as c:
            await login(c, st.login, st.password)
            assert isinstance((await c.get(path)).json()["students"], dict)
    emu = drifted("teacher_single")
    st = next(iter(emu.school.students.values()))
    aid = next(
        a.id
        for a in emu.journal.assignments.values()
        if st.id in emu.school.groups[a.sg_id].student_ids and a.at < emu.clock
    )
    async with client(emu) as c:
        await login(c, st.login, st.password)
        details = (await c.get(f"/webapi/student/diary/assigns/{aid}")).json()
        assert "teacher" in details and "teachers" not in details


def test_parse_faults() -> None:
    assert parse_faults("standard", seed=3) == replace(STANDARD, seed=3)
    std = parse_faults("standard")
    assert (std.error_5xx, std.hang, std.expire_every, std.security_warning_at > 0, len(std.drifts)) == (
        0.1,
        0.05,
        200,
        True,
        1,
    )
    f = parse_faults("latency=0.1,jitter=0.05,5xx=0.2,429=0.1,retry_after=3,drift=null_arrays+string_ids")
    assert (f.latency, f.error_5xx, f.rate_limit, f.retry_after) == (0.1, 0.2, 0.1, "3")
    assert f.drifts == {"null_arrays", "string_ids"}
    assert parse_faults("none") == Faults()
    for bad in ("boom=1", "5xx=много", "drift=nope", "hang"):
        with pytest.raises(FaultSpecError):
            parse_faults(bad)


# --- over real loopback HTTP (uvicorn) ---------------------------------------------------------


async def test_login_and_journal_over_loopback_http() -> None:
    emu = Emulator(EmulatorSettings(size="tiny"))
    with serve(emu) as base:
        async with httpx.AsyncClient(base_url=base) as c:
            r = await login(c)
            assert r.status_code == 200
            assert r.headers["date"] == "Mon, 23 Nov 2026 12:05:00 GMT"
            sg = next(iter(emu.school.groups))
            term = emu.school.terms_for_group(sg)[0]
            jr = await c.get("/webapi/grade/journal", params={"sgId": sg, "termId": term.id})
            assert jr.status_code == 200 and jr.json()["journals"][0]["subjectGroupId"] == sg


async def test_reset_and_hang_over_loopback_http() -> None:
    emu = emu_with(reset=1.0)
    with serve(emu) as base:
        async with httpx.AsyncClient(base_url=base) as c:
            await login(c)
            with pytest.raises(httpx.RemoteProtocolError):
                await c.get("/webapi/years/current")
    # a hang no timer of a loaded machine can outwait, ended by the client's short read timeout on that request only
    # (the login keeps httpx's 5 s: a normal answer must never time out)
    emu = emu_with(hang=1.0, hang_seconds=600.0)
    with serve(emu) as base:
        async with httpx.AsyncClient(base_url=base) as c:
            await login(c)
            with pytest.raises(httpx.ReadTimeout):
                await c.get("/webapi/years/current", timeout=httpx.Timeout(5.0, read=0.3))
    # the client closed its connection on the timeout: the hang ended then, unanswered, and the server stopped
    # without waiting out its 600 s
    assert emu.request_log[-1] == ("GET", "/webapi/years/current", 0)
