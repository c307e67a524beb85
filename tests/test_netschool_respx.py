"""respx unit tests of the client: each login branch, the retry policy, re-login once, logout, read-only gate."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from adapters.netschool.client import ClientSettings, NetSchoolClient, parse_retry_after, password_hashes
from adapters.netschool.errors import (
    EsiaLoginRequired,
    FirewallBlocked,
    LoginError,
    LoginLockedError,
    PasswordLoginDisabled,
    ReadOnlyViolation,
    ServerUnavailable,
    SessionLost,
    TLSVerificationError,
)

BASE = "https://asurso.test"
AT = "4012341777721575425550192"


def settings(**kw: object) -> ClientSettings:
    defaults: dict[str, object] = {
        "base_url": BASE,
        "login": "zavuch",
        "password": "Сота-2026",
        "scid": 107,
        "min_interval": 0,
        "keepalive": False,
        "max_attempts": 4,
    }
    defaults.update(kw)
    return ClientSettings(**defaults)  # type: ignore[arg-type]


class Sleeps(list[float]):
    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


def login_body(entry: str = "/angular/school/main/", at: str = AT, **extra: object) -> dict[str, object]:
    return {
        "at": at,
        "timeOut": 3_600_000,
        "entryPoint": entry,
        "requestData": None,
        "accountInfo": {"user": {"id": 811645, "name": "Иванова М. И."}, "userRoles": []},
        **extra,
    }


CONTEXT = {
    "userId": 811645,
    "schoolId": 107,
    "schoolYearId": 8987,
    "roles": ["Principal"],
    "user": {"id": 811645, "name": "Иванова М. И."},
    "productName": "Сетевой Город. Образование",
    "version": "5.47.0",
    "schoolyear": {"id": 8987, "name": "2026/2027"},
}


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        router.get("/webapi/logindata").respond(
            json={"productName": "Сетевой Город. Образование", "version": "5.47.0", "schoolLogin": True},
            headers={"set-cookie": "NSSESSIONID=abc; path=/"},
        )
        router.post("/webapi/auth/getdata").respond(json={"lt": "878792729", "ver": "679337794", "salt": "9369808045"})
        router.post("/webapi/login", name="login").respond(
            json=login_body(), headers={"set-cookie": "ESRNSec=s1; path=/"}
        )
        router.get("/webapi/context", name="context").respond(json=CONTEXT)
        router.post("/webapi/auth/logout", name="logout").respond(200)
        yield router


def form(request: httpx.Request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(request.content.decode()).items()}


async def test_login_sends_the_documented_form(api: respx.MockRouter) -> None:
    async with NetSchoolClient(settings()) as client:
        assert client.info is not None and client.info.at == AT
        assert client.context is not None and client.context.userId == 811645
    sent = api["login"].calls.last.request
    f = form(sent)
    h1 = hashlib.md5("Сота-2026".encode("cp1251")).hexdigest()
    pw2 = hashlib.md5(("9369808045" + h1).encode()).hexdigest()
    assert f == {
        "loginType": "1",
        "scid": "107",
        "un": "zavuch",
        "pw": pw2[:9],
        "pw2": pw2,
        "lt": "878792729",
        "ver": "679337794",
    }
    assert sent.headers["referer"] == f"{BASE}/"
    assert sent.headers["x-requested-with"] == "XMLHttpRequest"
    assert "NSSESSIONID=abc" in sent.headers["cookie"]
    ctx_req = api["context"].calls.last.request
    assert ctx_req.headers["at"] == AT and "ESRNSec=s1" in ctx_req.headers["cookie"]
    assert api["logout"].called
    assert form(api["logout"].calls.last.request)["at"] == AT


async def test_wrong_password_is_not_retried(api: respx.MockRouter) -> None:
    api["login"].respond(409, json={"message": "Неправильный пароль или логин"})
    with pytest.raises(LoginError, match="Неправильный пароль или логин"):
        async with NetSchoolClient(settings()):
            pass
    assert api["login"].call_count == 1


async def test_lock_message(api: respx.MockRouter) -> None:
    api["login"].respond(
        409, json={"message": "Следующая попытка может быть совершена не ранее чем 28.11.2026 14:35:12"}
    )
    with pytest.raises(LoginLockedError, match=r"28\.11\.2026 14:35:12"):
        async with NetSchoolClient(settings()):
            pass
    assert api["login"].call_count == 1


@pytest.mark.parametrize("variant", ["schoolLogin", "nosalt"])
async def test_password_login_disabled(api: respx.MockRouter, variant: str) -> None:
    if variant == "schoolLogin":
        api.get("/webapi/logindata").respond(json={"schoolLogin": False, "esiaMainAuth": True})
    else:
        api.post("/webapi/auth/getdata").respond(json={})
    with pytest.raises(PasswordLoginDisabled, match="login-esia"):
        async with NetSchoolClient(replace(settings(), auth="password")):
            pass
    assert not api["login"].called
    # the default («auto») says the same in its words: nothing stored to sign in with through Госуслуги
    with pytest.raises((EsiaLoginRequired, PasswordLoginDisabled), match="login-esia"):
        async with NetSchoolClient(settings()):
            pass
    assert not api["login"].called


async def test_choose_session_role_picks_staff_and_logs_in_again(api: respx.MockRouter) -> None:
    roles = [
        {"userId": 1, "schoolId": 107, "role": {"id": 2, "name": "Родитель"}},
        {"userId": 2, "schoolId": 107, "role": {"id": 7, "name": "Учитель"}},
    ]
    first = login_body("/angular/school/choose-session-role/", at="1" * 26)
    first["accountInfo"] = {"user": {"id": 1}, "userRoles": roles}
    api["login"].side_effect = [httpx.Response(200, json=first), httpx.Response(200, json=login_body())]
    async with NetSchoolClient(settings()) as client:
        assert client.info is not None and client.info.at == AT
    assert "rolegroup" not in form(api["login"].calls[0].request)
    assert form(api["login"].calls[1].request)["rolegroup"] == "7"
    assert form(api["logout"].calls[0].request)["at"] == "1" * 26


async def test_configured_role_group_wins(api: respx.MockRouter) -> None:
    roles = [{"role": {"id": 2, "name": "Родитель"}}, {"role": {"id": 7, "name": "Учитель"}}]
    first = login_body("/angular/school/choose-session-role/")
    first["accountInfo"] = {"user": {"id": 1}, "userRoles": roles}
    api["login"].side_effect = [httpx.Response(200, json=first), httpx.Response(200, json=login_body())]
    async with NetSchoolClient(settings(role_group="Родитель")):
        pass
    assert form(api["login"].calls[1].request)["rolegroup"] == "2"


async def test_security_warning_at_login_is_acknowledged(api: respx.MockRouter) -> None:
    api["login"].respond(json=login_body("/asp/SecurityWarning.asp", requestData={"warnType": "1", "atlist": "1"}))
    ack = api.post("/asp/SecurityWarning.asp").respond(200, html="<html>OK</html>")
    async with NetSchoolClient(settings()) as client:
        assert client.info is not None and client.info.other_session
        assert client.stats.security_warnings == 1
    assert ack.called and form(ack.calls.last.request)["WarnType"] == "2"


async def test_retries_5xx_then_succeeds_with_backoff(api: respx.MockRouter) -> None:
    route = api.get("/webapi/terms")
    route.side_effect = [httpx.Response(503), httpx.Response(502, html="<h1>502</h1>"), httpx.Response(200, json=[])]
    sleeps = Sleeps()
    async with NetSchoolClient(settings(), sleep=sleeps) as client:
        assert await client.get_json("/webapi/terms") == []
        assert client.stats.retries == 2
    assert len(sleeps) == 2 and all(0 <= s <= 30 for s in sleeps)


async def test_retry_after_seconds_and_date_are_honoured(api: respx.MockRouter) -> None:
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=20), usegmt=True)
    api.get("/webapi/terms").side_effect = [
        httpx.Response(429, headers={"Retry-After": "7"}),
        httpx.Response(429, headers={"Retry-After": later}),
        httpx.Response(429, headers={"Retry-After": "0"}),
        httpx.Response(200, json=[]),
    ]
    sleeps = Sleeps()
    async with NetSchoolClient(settings(max_attempts=5, backoff_max=2.0), sleep=sleeps) as client:
        await client.get_json("/webapi/terms")
    assert sleeps[0] == 7
    assert 15 <= sleeps[1] <= 21
    assert sleeps[2] <= 2.0  # Retry-After: 0 is no hint: ordinary backoff


def test_parse_retry_after() -> None:
    now = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    assert parse_retry_after("120") == 120
    assert parse_retry_after("0") is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("Sat, 28 Nov 2026 12:01:00 GMT", now) == 60
    assert parse_retry_after("Sat, 28 Nov 2026 11:59:00 GMT", now) is None


async def test_attempts_cap(api: respx.MockRouter) -> None:
    route = api.get("/webapi/terms").respond(503)
    async with NetSchoolClient(settings(max_attempts=3), sleep=Sleeps()) as client:
        with pytest.raises(ServerUnavailable, match="после 3 попыток"):
            await client.get_json("/webapi/terms")
    assert route.call_count == 3


async def test_total_time_cap(api: respx.MockRouter) -> None:
    route = api.get("/webapi/terms").respond(503)
    async with NetSchoolClient(settings(max_attempts=1000, max_retry_seconds=0.3, backoff_max=0.05)) as client:
        with pytest.raises(ServerUnavailable):
            await client.get_json("/webapi/terms")
    assert 2 <= route.call_count < 1000


async def test_timeouts_and_resets_are_retried(api: respx.MockRouter) -> None:
    api.get("/webapi/terms").side_effect = [
        httpx.ReadTimeout("slow"),
        httpx.RemoteProtocolError("reset"),
        httpx.ConnectError("refused"),
        httpx.Response(200, json=[]),
    ]
    async with NetSchoolClient(settings(), sleep=Sleeps()) as client:
        assert await client.get_json("/webapi/terms") == []
        assert client.stats.retries == 3


async def test_relogin_once_on_expiry(api: respx.MockRouter) -> None:
    api.get("/webapi/terms").side_effect = [
        httpx.Response(401, headers={"auth-error": "SessionExpired"}),
        httpx.Response(200, json=[{"id": 1}]),
    ]
    async with NetSchoolClient(settings()) as client:
        assert await client.get_json("/webapi/terms") == [{"id": 1}]
        assert client.stats.relogins == 1
    assert api["login"].call_count == 2


async def test_html_where_json_expected_means_logged_out(api: respx.MockRouter) -> None:
    api.get("/webapi/terms").side_effect = [
        httpx.Response(200, html="<html><!--Jumptologin page--></html>"),
        httpx.Response(200, json=[]),
    ]
    async with NetSchoolClient(settings()) as client:
        assert await client.get_json("/webapi/terms") == []
        assert client.stats.relogins == 1


async def test_second_expiry_after_relogin_stops_the_run(api: respx.MockRouter) -> None:
    api.get("/webapi/terms").respond(401, headers={"auth-error": "SessionExpired"})
    async with NetSchoolClient(settings()) as client:
        with pytest.raises(SessionLost, match="Запуск остановлен"):
            await client.get_json("/webapi/terms")
    assert api["login"].call_count == 2


async def test_security_warning_interstitial_is_acknowledged_and_repeated(api: respx.MockRouter) -> None:
    page = '<html><form action="/asp/SecurityWarning.asp"><input name="WarnType" value="1"></form></html>'
    api.get("/webapi/terms").side_effect = [httpx.Response(200, html=page), httpx.Response(200, json=[])]
    ack = api.post("/asp/SecurityWarning.asp").respond(200, html="<html>OK</html>")
    async with NetSchoolClient(settings()) as client:
        assert await client.get_json("/webapi/terms") == []
        assert client.stats.security_warnings == 1 and client.stats.relogins == 0
    assert ack.call_count == 1


async def test_waf_page_stops_without_retry(api: respx.MockRouter) -> None:
    route = api.get("/webapi/terms").respond(403, html="<html><h1>Forbidden</h1></html>")
    async with NetSchoolClient(settings()) as client:
        with pytest.raises(FirewallBlocked, match="межсетевой экран"):
            await client.get_json("/webapi/terms")
    assert route.call_count == 1


async def test_logout_happens_on_error_too(api: respx.MockRouter) -> None:
    with pytest.raises(RuntimeError):
        async with NetSchoolClient(settings()):
            raise RuntimeError("boom")
    assert api["logout"].called


async def test_tls_failure_explains_the_ca_bundle(api: respx.MockRouter) -> None:
    api.get("/webapi/logindata").mock(
        side_effect=httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed")
    )
    with pytest.raises(TLSVerificationError, match="ca_bundle"):
        async with NetSchoolClient(settings()):
            pass


async def test_read_only_gate_refuses_writes_before_sending(api: respx.MockRouter) -> None:
    write = api.post("/webapi/grade/journal/edit").respond(200)
    async with NetSchoolClient(settings()) as client:
        for method, path in (
            ("POST", "/webapi/grade/journal/edit"),
            ("POST", "/webapi/grade/journal/quickedit"),
            ("DELETE", "/webapi/grade/journal/assignments/1"),
            ("PUT", "/webapi/mysettings"),
        ):
            with pytest.raises(ReadOnlyViolation):
                await client._raw(method, path)
    assert not write.called


async def test_recording_redacts_secrets(api: respx.MockRouter, tmp_path: Path) -> None:
    api.get("/webapi/terms").respond(json=[{"id": 1, "termName": "1 четверть"}])
    rec = tmp_path / "rec"
    async with NetSchoolClient(settings(record_dir=rec)) as client:
        await client.get_json("/webapi/terms")
    files = sorted(rec.iterdir())
    assert any("webapi_terms" in f.name for f in files)
    text = "".join(f.read_text(encoding="utf-8") for f in files)
    _, pw2 = password_hashes("Сота-2026", "9369808045")
    for secret in (AT, pw2, "Сота-2026", "9369808045", "s1"):
        assert secret not in text
    assert "1 четверть" in text
    assert all(oct(f.stat().st_mode & 0o777) == "0o600" for f in files)


def test_password_outside_cp1251_cannot_log_in() -> None:
    with pytest.raises(LoginError, match="windows-1251"):
        password_hashes("пароль😀", "1")


def test_the_homeworks_issue_lesson_under_either_name() -> None:
    from adapters.netschool.models import JournalAssignment

    new = JournalAssignment.model_validate({"id": 1, "typeId": 3, "issueClassMeetingId": 77})
    old = JournalAssignment.model_validate({"id": 2, "typeId": 3, "issueCmId": 78})
    none = JournalAssignment.model_validate({"id": 3, "typeId": 3})
    assert (new.issue_lesson, old.issue_lesson, none.issue_lesson) == (77, 78, None)


# --- issue #20: shapes of the real server ---------------------------------------------------------------------


async def test_an_empty_second_esrnsec_does_not_replace_the_session_cookie(api: respx.MockRouter) -> None:
    """A login answer may set ESRNSec twice, the second time empty: the last non-empty value is kept."""
    api["login"].respond(
        json=login_body(),
        headers=[("set-cookie", "ESRNSec=s1; path=/"), ("set-cookie", "ESRNSec=; path=/")],
    )
    async with NetSchoolClient(settings()):
        pass
    assert "ESRNSec=s1" in api["context"].calls.last.request.headers["cookie"]


async def test_a_login_error_of_the_server_is_not_a_wrong_password(api: respx.MockRouter) -> None:
    from adapters.netschool.errors import LoginUnavailable
    from asurso_sync import exitcodes
    from asurso_sync.errors import exit_code_for

    api["login"].respond(409, json={"message": "Ошибка входа в систему"})
    with pytest.raises(LoginUnavailable, match="Ошибка входа в систему") as caught:
        async with NetSchoolClient(settings()):
            pass
    assert "пароль тут ни при чём" in str(caught.value) and exit_code_for(caught.value) == exitcodes.TEMPFAIL
    api["login"].respond(409, json={"message": "Превышено количество попыток входа (3). Вход заблокирован"})
    with pytest.raises(LoginLockedError, match=r"\(3\)") as locked:
        async with NetSchoolClient(settings()):
            pass
    assert "15 минут" not in str(locked.value)  # the server's numbers, not ours


async def test_a_routine_security_warning_is_not_another_session(api: respx.MockRouter) -> None:
    """SecurityWarning with warnType 1 and no atlist comes on ordinary logins: acknowledged, not counted."""
    api["login"].respond(json=login_body("/asp/SecurityWarning.asp", requestData={"warnType": "1"}))
    ack = api.post("/asp/SecurityWarning.asp").respond(200, html="<html>OK</html>")
    async with NetSchoolClient(settings()) as client:
        assert client.info is not None and not client.info.other_session
        assert client.stats.security_warnings == 0
    assert ack.called and form(ack.calls.last.request)["WarnType"] == "2"


def test_assignments_nested_in_lessons_are_read_and_marks_without_them_refused() -> None:
    from adapters.netschool.errors import ParseError
    from adapters.netschool.models import Journal, parse

    body = {
        "subjectGroupId": 5,
        "students": [{"id": 1}],
        "classMeeting": [
            {"id": 10, "date": "2026-12-01T00:00:00", "assignments": [{"id": 100, "typeId": 10, "name": "Ответ"}]},
            {"id": 11, "date": "2026-12-02T00:00:00", "assignments": [{"id": 101, "typeId": 3, "classMeetingId": 11}]},
        ],
        "marks": [{"studentId": 1, "assignmentId": 100, "mark": 5}],
    }
    journal = parse(Journal, {"journals": [body]}, "grade/journal")
    got = {(a.id, a.classMeetingId) for a in journal.journals[0].assignments}
    assert got == {(100, 10), (101, 11)}
    flat = {
        **body,
        "assignments": [{"id": 100, "typeId": 10, "classMeetingId": 10}],
        "classMeeting": body["classMeeting"][:1],
    }
    assert len(parse(Journal, {"journals": [flat]}, "grade/journal").journals[0].assignments) == 1  # not twice
    nothing = {**body, "classMeeting": [{"id": 10, "date": "2026-12-01T00:00:00"}]}
    with pytest.raises(ParseError, match="нет ни одного задания"):
        parse(Journal, {"journals": [nothing]}, "grade/journal")


# --- issue #31 (2): one retry and classification path for every request ------------------------------------------

FAULTS = [
    httpx.RemoteProtocolError("peer closed connection without sending complete message body"),
    httpx.ReadError("[Errno 104] Connection reset by peer"),
]


def _flaky(ok: httpx.Response, retry_after: str = "3") -> list[object]:
    """A reset, a 429 with Retry-After, then the answer."""
    return [*FAULTS, httpx.Response(429, headers={"Retry-After": retry_after}), ok]


@pytest.mark.parametrize(
    "kind",
    ["journal", "directory", "report queue", "ASP page", "report file", "probe", "logindata", "getdata", "SW ack"],
)
async def test_every_path_kind_retries_resets_and_429(api: respx.MockRouter, kind: str) -> None:
    """Journal, directory, the reports hub's HTTP calls and the ASP pages, the access-report probe, the public
    calls before login and the SecurityWarning acknowledgement all pass the same policy: resets and 429 are retried
    (Retry-After honoured), never an unhandled exception."""
    sleeps = Sleeps()
    html = httpx.Response(200, html="<html><table class='table-print'></table></html>")
    ok = httpx.Response(200, json=[])
    call: Callable[[NetSchoolClient], Awaitable[object]] | None = None
    if kind == "journal":
        route, call = api.get("/webapi/grade/journal"), lambda c: c.get_json("/webapi/grade/journal")
    elif kind == "directory":
        route, call = api.get("/webapi/classes"), lambda c: c.get_json("/webapi/classes")
    elif kind == "report queue":
        path = "/webapi/reports/journalaccess/queue"
        route, call = api.post(path), lambda c: c.post_read_json(path, {})
    elif kind == "ASP page":
        page = "/asp/Reports/JournalAccess.asp"
        route, ok = api.post(page), html
        call = lambda c: c.post_read_form_html(page, {"RPTID": "JournalAccess"})  # noqa: E731
    elif kind == "report file":
        route, ok, call = api.get("/webapi/files/7"), html, lambda c: c.get_html("/webapi/files/7")
    elif kind == "probe":
        route, call = api.get("/webapi/earlyaccess"), lambda c: c.probe("/webapi/earlyaccess")
    elif kind == "logindata":
        route = api.get("/webapi/logindata")
        ok = httpx.Response(200, json={"productName": "Сетевой Город. Образование", "schoolLogin": True})
    elif kind == "getdata":
        route = api.post("/webapi/auth/getdata")
        ok = httpx.Response(200, json={"lt": "878792729", "ver": "679337794", "salt": "9369808045"})
    else:
        route, ok = api.post("/asp/SecurityWarning.asp"), html
        api["login"].respond(json=login_body("/asp/SecurityWarning.asp", requestData={"warnType": "1"}))
    route.side_effect = _flaky(ok)
    async with NetSchoolClient(settings(max_attempts=5), sleep=sleeps) as client:
        if call is not None:
            await call(client)
        assert client.stats.retries == 3
    assert route.call_count == 4
    assert 3 in sleeps  # the server's Retry-After


async def test_the_access_report_probe_never_raises_a_transient_error(api: respx.MockRouter) -> None:
    """The probe before the hub used to let the client's internal «_Transient» escape (exit 4 under
    ``--faults reset=0.1``): a probe that keeps failing now says «no answer» (None)."""
    api.get("/webapi/earlyaccess").mock(side_effect=httpx.RemoteProtocolError("reset"))
    async with NetSchoolClient(settings(max_attempts=3), sleep=Sleeps()) as client:
        assert await client.probe("/webapi/earlyaccess") is None


async def test_retry_after_is_bounded(api: respx.MockRouter) -> None:
    api.get("/webapi/terms").side_effect = [
        httpx.Response(429, headers={"Retry-After": "86400"}),
        httpx.Response(200, json=[]),
    ]
    sleeps = Sleeps()
    async with NetSchoolClient(settings(retry_after_max=9.0), sleep=sleeps) as client:
        await client.get_json("/webapi/terms")
    assert sleeps == [9.0]


async def test_a_truncated_json_body_is_retried(api: respx.MockRouter) -> None:
    """A body cut off mid-way that the transport did not notice (no Content-Length) is a passing fault, retried —
    not «ответ не в формате JSON» for the whole unit."""
    cut = httpx.Response(200, content=b'{"journals":[{"id":1', headers={"content-type": "application/json"})
    route = api.get("/webapi/grade/journal")
    route.side_effect = [cut, httpx.Response(200, json={"journals": []})]
    async with NetSchoolClient(settings(), sleep=Sleeps()) as client:
        assert await client.get_json("/webapi/grade/journal") == {"journals": []}
        assert client.stats.retries == 1
    route.side_effect = None
    route.respond(200, content=b'{"journals":[', headers={"content-type": "application/json"})
    async with NetSchoolClient(settings(max_attempts=2), sleep=Sleeps()) as client:
        with pytest.raises(ServerUnavailable, match="не целиком"):
            await client.get_json("/webapi/grade/journal")


@pytest.mark.parametrize("fault", [httpx.RemoteProtocolError("reset"), httpx.Response(503), httpx.Response(429)])
async def test_a_login_post_is_classified_never_retried(api: respx.MockRouter, fault: object) -> None:
    """The password login is not repeated (the server counts attempts), but a reset or a 5xx/429 on it is the
    server's trouble (exit 6), not an unhandled error and not «wrong password»."""
    from asurso_sync import exitcodes
    from asurso_sync.errors import exit_code_for

    api["login"].side_effect = [fault]
    with pytest.raises(ServerUnavailable) as caught:
        async with NetSchoolClient(settings(), sleep=Sleeps()):
            pass
    assert api["login"].call_count == 1
    assert exit_code_for(caught.value) == exitcodes.TEMPFAIL


async def test_logout_reset_is_not_an_error(api: respx.MockRouter) -> None:
    api["logout"].mock(side_effect=httpx.ReadError("reset"))
    async with NetSchoolClient(settings(), sleep=Sleeps()):
        pass
    assert api["logout"].call_count == 1  # best effort, once


async def test_the_esia_portal_passes_the_same_policy() -> None:
    """The Госуслуги portal's requests: a GET hop is retried after a reset and a 429; a POST (a password, a code)
    is never repeated, and a reset on it is «Госуслуги недоступны», not an unhandled error."""
    from adapters.netschool.errors import EsiaUnavailable

    portal = "https://esia.test"
    with respx.mock(assert_all_called=False) as router:
        hop = router.get(f"{portal}/aas/oauth2/ac")
        hop.side_effect = _flaky(httpx.Response(200, json={}), retry_after="2")
        post = router.post(f"{portal}/aas/oauth2/api/login").mock(side_effect=httpx.RemoteProtocolError("reset"))
        sleeps = Sleeps()
        client = NetSchoolClient(settings(), sleep=sleeps)
        async with httpx.AsyncClient() as http:
            assert (await client._portal(http, "GET", f"{portal}/aas/oauth2/ac")).status_code == 200
            with pytest.raises(EsiaUnavailable, match=r"esia\.test"):
                await client._portal(http, "POST", f"{portal}/aas/oauth2/api/login", json={"login": "x"})
        assert hop.call_count == 4 and 2 in sleeps
        assert post.call_count == 1


def test_nothing_but_the_policy_sends_a_request() -> None:
    """The side paths are gone: in the client, only ``_retrying`` calls the gate ``_raw`` and only the policy's
    senders touch an ``httpx`` client (``_raw``, ``_portal``; the hub's WebSocket and the QR event stream are not
    request/answer calls and classify their own failures)."""
    import ast
    import inspect

    import adapters.netschool.client as module
    import adapters.netschool.esia as esia

    tree = ast.parse(inspect.getsource(module))
    callers: dict[str, set[str]] = {}
    for fn in ast.walk(tree):
        if isinstance(fn, ast.AsyncFunctionDef | ast.FunctionDef):
            for node in ast.walk(fn):
                if (
                    isinstance(node, ast.Attribute)
                    and node.attr in ("_raw", "request", "get", "post", "stream")
                    and isinstance(node.value, ast.Attribute | ast.Name)
                ):
                    base = ast.unparse(node.value)
                    if node.attr == "_raw" or base in ("self.http", "portal", "http", "self._http"):
                        callers.setdefault(f"{base}.{node.attr}", set()).add(fn.name)
    assert callers == {"self._raw": {"_retrying"}, "self.http.request": {"_raw"}, "portal.request": {"_portal", "send"}}
    esia_source = inspect.getsource(esia.EsiaPortal._call)
    assert "self.http." not in esia_source and "self._send(" in esia_source
