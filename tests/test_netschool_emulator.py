"""The client against the emulator: in-process and over loopback HTTP, with every fault, read-only proven."""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from adapters.emulator.faults import Faults, parse_faults
from adapters.emulator.server import Emulator, EmulatorSettings
from adapters.emulator.transport import EmulatorTransport
from adapters.netschool import api
from adapters.netschool.client import ClientSettings, NetSchoolClient
from adapters.netschool.errors import FirewallBlocked, ReadOnlyViolation
from adapters.netschool.models import declared
from asurso_sync.cli import app
from tests.conftest import edit_config
from tests.emu import generated, serve
from tests.schools import Schools
from tests.sync_helpers import make_config

CLOCK_TERM = 1  # index of the current quarter (2 четверть) for the emulator's default clock


class NoSleep:
    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        await asyncio.sleep(0)


def settings(base: str = "http://emu.test", **kw: Any) -> ClientSettings:
    """In-process: a short read timeout (a spurious one only costs a retry); sleeps are disabled per test."""
    defaults: dict[str, Any] = {
        "base_url": base,
        "login": "zavuch",
        "password": "Сота-2026",
        "scid": 1,
        "min_interval": 0,
        "timeout": 0.25,
        "max_attempts": 8,
        "keepalive": False,
    }
    defaults.update(kw)
    return ClientSettings(**defaults)


async def read_everything(client: NetSchoolClient, journals: int = 50) -> dict[str, Any]:
    """Every directory endpoint, ``journals`` group journals, their lessons' editors (topics) and КТП.

    Returned as plain data with declared fields only (``declared``), so reads under faults and drifts compare
    equal to a clean read whenever they carry the same information.
    """
    year = await api.fetch_current_year(client)
    terms = await api.fetch_terms(client)
    classes = await api.fetch_classes(client)
    groups = await api.fetch_subject_groups(client)
    out: dict[str, Any] = {
        "year": year,
        "terms": terms,
        "vacations": await api.fetch_vacations(client),
        "classes": classes,
        "subjects": await api.fetch_subjects(client),
        "groups": groups,
        "times": await api.fetch_schedule_times(client),
        "types": await api.fetch_assignment_types(client),
        "reasons": await api.fetch_attendance_reasons(client),
        "settings": await api.fetch_school_settings(client, year.id),
        "class_students": {c.id: await api.fetch_class_students(client, c.id) for c in classes},
        "meetings": await api.fetch_class_meetings(
            client, date(2026, 11, 16), date(2026, 11, 20), [c.id for c in classes]
        ),
        "journals": {},
        "group_students": {},
        "edits": {},
        "plans": {},
    }
    quarter = sorted(t.id for t in terms if t.termTypeId == 1)[CLOCK_TERM]
    half = sorted(t.id for t in terms if t.termTypeId == 2)[0]
    grade_of = {c.id: c.grade_number or 0 for c in classes}
    for g in groups[:journals]:
        class_id = g.class_.id if g.class_ else 0
        term_id = half if grade_of.get(class_id, 0) >= 10 else quarter
        body = (await api.fetch_journal(client, g.id, term_id, year_id=year.id, class_id=class_id)).journals[0]
        journal = {k: v for k, v in declared(body).items() if k != "lastAccess"}
        journal["assignments"] = sorted(journal["assignments"], key=lambda a: a["id"])  # order is no meaning
        out["journals"][g.id] = journal
        out["group_students"][g.id] = await api.fetch_group_students(client, g.id, term_id)
        for cm in body.classMeeting[:3]:
            out["edits"][cm.id] = await api.fetch_lesson_edit(client, cm.id, g.id, term_id)
        out["plans"][g.id] = await api.fetch_subject_plan(client, g.id)
    return {
        k: ({kk: declared(vv) for kk, vv in v.items()} if isinstance(v, dict) else declared(v)) for k, v in out.items()
    }


async def run_read(emu: Emulator, *, journals: int = 50, **kw: Any) -> tuple[dict[str, Any], NetSchoolClient]:
    client = NetSchoolClient(settings(**kw), transport=EmulatorTransport(emu), sleep=NoSleep())
    async with client:
        data = await read_everything(client, journals)
    return data, client


@pytest.fixture(scope="module")
def clean_read() -> dict[str, Any]:
    emu = generated()
    data, _ = asyncio.run(run_read(emu))
    return data


# POSTs that change nothing on a NetSchool server, written out here independently of the client's own allowlist:
# the login handshake and logout, the SecurityWarning acknowledgement, the term search, and building the access
# report (a report reads the journal).
SERVER_READ_POSTS = {
    "/webapi/auth/getdata",
    "/webapi/login",
    "/webapi/auth/logout",
    "/asp/logout.asp",
    "/asp/securitywarning.asp",
    "/webapi/terms/search",
    "/webapi/grade/journal/filter/init",  # the journal page's filters (the extra-activity journal's, issue #32)
    "/webapi/reports/journalaccess/initfilters",
    "/webapi/v2/reports/journalaccess/initfilters",
    "/webapi/reports/journalaccess/queue",
    "/webapi/v2/reports/journalaccess/queue",
    "/asp/reports/reportjournalaccess.asp",
    "/asp/reports/journalaccess.asp",
}


class Recording(httpx.AsyncBaseTransport):
    """Below the client: sees every request that would leave the machine, whatever the client thinks it sends."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.seen: list[tuple[str, str]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append((request.method, request.url.path.lower()))
        return await self.inner.handle_async_request(request)


def test_full_read_is_read_only(clean_read: dict[str, Any]) -> None:
    emu = generated()
    wire = Recording(EmulatorTransport(emu))
    client = NetSchoolClient(settings(), transport=wire, sleep=NoSleep())

    async def go() -> dict[str, Any]:
        async with client:
            return await read_everything(client)

    data = asyncio.run(go())
    assert data == clean_read
    assert len(data["journals"]) == 50 and len(wire.seen) > 200
    writes = [(m, p) for m, p in wire.seen if m != "GET" and not (m == "POST" and p in SERVER_READ_POSTS)]
    assert writes == []
    assert emu.write_attempts == []
    assert not emu.sessions  # logged out


def test_whole_sync_sends_no_write_on_the_wire(tmp_path: Path, schools: Schools) -> None:
    """The production sync (every unit, the access report included) observed at the transport: the recorded full
    load of ``tests/schools.FullSync`` (its ``Wire`` sits below the client, as ``Recording`` here)."""
    _emu, _config, full = schools.full_sync(tmp_path, datetime(2026, 11, 23, 16, 5))
    assert full.report["status"] == "ok" and full.report["units"] > 10
    seen = [(r["method"], r["path"].lower()) for r in full.requests]
    assert "POST" in {m for m, _p in seen}  # the login and the report: the recorder does see POSTs
    writes = [(m, p) for m, p in seen if m != "GET" and not (m == "POST" and p in SERVER_READ_POSTS)]
    assert writes == []


def test_the_gate_stops_a_write_before_the_wire() -> None:
    emu = Emulator(EmulatorSettings(size="tiny"))
    wire = Recording(EmulatorTransport(emu))
    client = NetSchoolClient(settings(), transport=wire, sleep=NoSleep())

    async def go() -> None:
        async with client:
            before = len(wire.seen)
            with pytest.raises(ReadOnlyViolation):
                await client._raw("POST", "/webapi/assignments/1")  # an editing endpoint of the journal
            assert len(wire.seen) == before

    asyncio.run(go())
    assert emu.write_attempts == []


def test_standard_fault_preset_gives_the_same_data(clean_read: dict[str, Any]) -> None:
    emu = generated(faults=parse_faults("standard", seed=11))
    data, client = asyncio.run(run_read(emu, concurrency=2))
    assert data == clean_read
    s = client.stats
    assert s.retries > 0 and s.relogins >= 1 and s.security_warnings == 1
    assert any(code >= 500 for code in s.by_status)
    assert any(status == 0 for *_, status in emu.request_log)  # a hang: no answer, the client timed out and read again
    assert emu.write_attempts == []


@pytest.mark.parametrize(
    "faults",
    [
        Faults(error_5xx=0.3, seed=1),
        Faults(hang=0.2, hang_seconds=30, seed=2),
        Faults(reset=0.2, seed=3),
        Faults(expire_every=15, seed=4),
        Faults(security_warning_at=9, seed=5),
        Faults(rate_limit=0.2, retry_after="3", seed=6),
        Faults(latency=0.001, jitter=0.003, seed=7),  # answers out of order: ~130 requests, 0.3 s of delays
        Faults(drifts=frozenset({"lesson_flat", "reason_mark", "string_ids", "frac_digits", "null_arrays"}), seed=8),
        # issue #20: IRTech's newer journal shape, and the login answer that sets ESRNSec only once
        Faults(drifts=frozenset({"assignments_nested", "esrnsec_once"}), seed=9),
    ],
    ids=["5xx", "hang", "reset", "expiry", "security-warning", "429", "latency", "drifts", "real-shapes"],
)
def test_each_fault_alone(clean_read: dict[str, Any], faults: Faults) -> None:
    emu = generated(faults=faults)
    sleeper = NoSleep()
    client = NetSchoolClient(settings(), transport=EmulatorTransport(emu), sleep=sleeper)

    async def go() -> dict[str, Any]:
        async with client:
            return await read_everything(client, 12)

    data = asyncio.run(go())
    expected = dict(clean_read)
    for key in ("journals", "group_students", "edits", "plans"):
        expected[key] = {k: v for k, v in clean_read[key].items() if k in data[key]}
    assert data == expected
    if faults.hang:  # hangs past the read timeout: no answer, read again
        assert sum(status == 0 for *_, status in emu.request_log) >= 2
    if faults.rate_limit:
        assert 3.0 in sleeper.calls  # Retry-After honoured
    if faults.expire_every:
        assert client.stats.relogins >= 1


def test_waf_stops_the_run() -> None:
    emu = Emulator(EmulatorSettings(size="tiny", faults=Faults(waf=1.0)))

    async def go() -> None:
        async with NetSchoolClient(settings(), transport=EmulatorTransport(emu), sleep=NoSleep()) as client:
            await api.fetch_terms(client)

    with pytest.raises(FirewallBlocked):
        asyncio.run(go())
    assert not emu.sessions  # logged out even so


def test_concurrent_expiry_relogs_in_once() -> None:
    emu = Emulator(EmulatorSettings(size="tiny", faults=Faults(expire_every=4)))

    async def go() -> NetSchoolClient:
        client = NetSchoolClient(settings(concurrency=4), transport=EmulatorTransport(emu), sleep=NoSleep())
        async with client:
            # the session lives for 4 requests: context + 3 …
            await asyncio.gather(*(api.fetch_terms(client) for _ in range(3)))
            # … then four concurrent requests all meet the expired session; one re-login serves them all
            await asyncio.gather(*(api.fetch_terms(client) for _ in range(4)))
        return client

    client = asyncio.run(go())
    assert client.stats.relogins == 1


def test_keepalive_pings_an_idle_session() -> None:
    """The client's clock and sleep are its own (``monotonic=``, ``sleep=``): time passes when the keep-alive
    sleeps, not on the wall clock, so the test waits for nothing and a busy machine cannot starve it."""
    emu = Emulator(EmulatorSettings(size="tiny", session_timeout_ms=3000))
    now = [0.0]
    slept: list[float] = []
    pinged = asyncio.Event()

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        if pinged.is_set() and seconds >= 1.0:  # seen: the keep-alive waits here until the client's exit cancels it
            await asyncio.Event().wait()
        now[0] += seconds
        await asyncio.sleep(0)

    async def go() -> int:
        client = NetSchoolClient(
            settings(keepalive=True), transport=EmulatorTransport(emu), sleep=sleep, monotonic=lambda: now[0]
        )
        async with client:
            before = client.stats.requests
            for _ in range(100):  # idle: only the keep-alive task runs
                if client.stats.requests > before:
                    pinged.set()
                    break
                await asyncio.sleep(0)
            return client.stats.requests - before

    assert asyncio.run(go()) >= 1
    assert 1.0 in slept  # interval = timeOut / 3 = 1 s


# --- over loopback HTTP -------------------------------------------------------------------------


def test_standard_faults_over_loopback_http(clean_read: dict[str, Any]) -> None:
    """The standard preset over real sockets: a hang is the client's own read timeout, 5xx pages, the SecurityWarning.

    Each hang costs the read timeout in real seconds, so the read is short (~60 requests: the SecurityWarning comes at
    the 37th) and the seed gives it one hang. The pair cannot flake: the preset's hang (60 s) ends only when the
    client leaves, and 1 s is hundreds of times a normal answer, so no answer of a loaded machine times out (the
    login is never retried). The faults are drawn in the order requests arrive, one stream whatever the concurrency."""
    emu = generated(faults=parse_faults("standard", seed=12))
    with serve(emu) as base:

        async def go() -> tuple[dict[str, Any], NetSchoolClient]:
            client = NetSchoolClient(settings(base, timeout=1.0), sleep=NoSleep())
            async with client:
                return await read_everything(client, 4), client

        data, client = asyncio.run(go())
    assert data["journals"] == {k: v for k, v in clean_read["journals"].items() if k in data["journals"]}
    assert len(data["journals"]) == 4
    s = client.stats
    assert s.retries > 0 and s.security_warnings == 1 and any(code >= 500 for code in s.by_status)
    assert any(status == 0 for *_, status in emu.request_log)  # a hang: no answer until the client timed out and left


def test_login_check_and_get_commands_over_loopback(runner: CliRunner, config_file: Path) -> None:
    emu = Emulator(EmulatorSettings(size="tiny"))
    with serve(emu) as base:
        edit_config(config_file, 'base_url = "https://asurso.ru"', f'base_url = "{base}"')
        env = {"ASURSO_PASSWORD": "Сота-2026", "ASURSO_SYNC_SYNC__MIN_INTERVAL": "0"}
        result = runner.invoke(app, ["--config", str(config_file), "login-check"], env=env)
        assert result.exit_code == 0, result.output
        assert "Фролова" in result.stdout or "Пользователь" in result.stdout
        assert "5.47.0" in result.stdout and "2026/2027" in result.stdout
        assert "завуч, учитель" in result.stdout and "Principal" not in result.stdout  # roles in Russian
        result = runner.invoke(app, ["--config", str(config_file), "get", "terms"], env=env)
        assert result.exit_code == 0 and '"termName": "1 четверть"' in result.stdout
        result = runner.invoke(app, ["--config", str(config_file), "get", "grade/journal", "-p", "sgId"], env=env)
        assert result.exit_code == 2
        wrong = {"ASURSO_PASSWORD": "нет", "ASURSO_SYNC_SYNC__MIN_INTERVAL": "0"}
        result = runner.invoke(app, ["--config", str(config_file), "login-check"], env=wrong)
        assert result.exit_code == 5 and "Неправильный пароль" in result.stderr
        assert "нет" not in result.stderr.replace("нет прав", "")
        assert not emu.sessions
    # no password in the environment — whatever an earlier test of this worker left there (benchmarks.accuracy's
    # simulate sets ASURSO_PASSWORD for the process: under the run's order this test can come after it)
    result = runner.invoke(app, ["--config", str(config_file), "login-check"], env={"ASURSO_PASSWORD": None})
    assert result.exit_code == 2 and "ASURSO_PASSWORD" in result.stderr


def test_a_routine_security_warning_and_a_server_that_cannot_log_in(runner: Any, tmp_path: Any) -> None:
    """Issue #20, through the real client over loopback: a SecurityWarning with warnType 1 and no atlist is
    acknowledged and not taken for another session; «Ошибка входа в систему» is exit 6 (try later), not 5."""
    from asurso_sync import exitcodes
    from asurso_sync.cli import app
    from tests.emu import serve

    routine = Emulator(EmulatorSettings(size="tiny", faults=Faults(drifts=frozenset({"routine_warning"}))))

    async def login(base: str) -> NetSchoolClient:
        client = NetSchoolClient(settings(base, timeout=5))
        async with client:
            await client.get_json("/webapi/classes")
        return client

    with serve(routine) as base:
        client = asyncio.run(login(base))
    assert client.stats.security_warnings == 0
    assert ("POST", "/asp/securitywarning.asp") in client.stats.calls

    down = Emulator(EmulatorSettings(size="tiny", faults=Faults(drifts=frozenset({"login_down"}))))
    with serve(down) as base:
        make_config(tmp_path, base_url=base)
        env = {
            "ASURSO_PASSWORD": "Сота-2026",
            "ASURSO_SYNC_ASURSO__BASE_URL": base,
            "ASURSO_SYNC_SYNC__MIN_INTERVAL": "0",
        }
        result = runner.invoke(app, ["-c", str(tmp_path / "config.toml"), "login-check"], env=env)
    assert result.exit_code == exitcodes.TEMPFAIL, result.output
    assert "Ошибка входа в систему" in result.output and "пароль тут ни при чём" in " ".join(result.output.split())
