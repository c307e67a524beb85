"""Issue #32: the emulator's defaults follow the public evidence; what it inferred before is a drift, and the
project's client reads both."""

from __future__ import annotations

import asyncio
import http.cookiejar
import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import httpx
import pytest

from adapters.emulator.faults import Faults
from adapters.emulator.protocol import password_hashes
from adapters.emulator.server import Emulator, EmulatorSettings
from adapters.emulator.transport import EmulatorTransport
from adapters.netschool import api
from adapters.netschool.client import NetSchoolClient
from tests.emu import BASE, serve, tiny
from tests.test_netschool_emulator import settings


def _a_journal(emu: Emulator) -> dict[str, Any]:
    """The query of one group's current-term journal, as the journal page sends it."""
    sg = min(g for g, group in emu.school.groups.items() if group.class_id is not None)
    term = emu.school.term_of(sg, emu.clock.date())
    assert term is not None
    return {
        "yearId": emu.school.year_id,
        "classId": emu.school.groups[sg].class_id,
        "grade": -1,
        "sgId": sg,
        "termId": term.id,
    }


def _login_form(salt: dict[str, Any]) -> dict[str, str]:
    pw, pw2 = password_hashes("Сота-2026", salt["salt"])
    return {"loginType": "1", "scid": "1", "un": "zavuch", "pw": pw, "pw2": pw2, "lt": salt["lt"], "ver": salt["ver"]}


async def _httpx_default_jar(emu: Emulator) -> int:
    """Log in and read a journal with httpx's own cookie jar, nothing done by hand: the journal's status."""
    async with httpx.AsyncClient(transport=EmulatorTransport(emu), base_url=BASE) as c:
        await c.get("/webapi/logindata")
        salt = (await c.post("/webapi/auth/getdata")).json()
        r = await c.post("/webapi/login", data=_login_form(salt), headers={"Referer": f"{BASE}/"})
        assert r.status_code == 200
        at = r.json()["at"]
        journal = await c.get("/webapi/grade/journal", params=_a_journal(emu), headers={"at": at})
        if journal.status_code == 200:
            assert journal.json()["journals"][0]["classMeeting"]
        await c.post("/webapi/auth/logout", data={"at": at}, headers={"at": at})
        return journal.status_code


def test_httpx_default_jar_reads_a_journal_on_the_default_emulator() -> None:
    assert asyncio.run(_httpx_default_jar(tiny())) == 200


def test_the_empty_last_drift_locks_a_standard_jar_out() -> None:
    """The order the emulator served before: a jar keeps the empty value and the next call is refused."""
    emu = tiny(faults=Faults(drifts=frozenset({"esrnsec_empty_last"})))
    assert asyncio.run(_httpx_default_jar(emu)) == 401


def test_http_cookiejar_over_loopback_reads_a_journal() -> None:
    """The standard library's own jar (what a browser-like client keeps) over real HTTP on loopback."""
    emu = tiny()
    query = _a_journal(emu)
    with serve(emu.app) as base:
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))

        def call(path: str, form: dict[str, str] | None = None, at: str | None = None) -> Any:
            data = urllib.parse.urlencode(form).encode() if form is not None else None
            headers = {"Referer": f"{base}/"} | ({"at": at} if at else {})
            req = urllib.request.Request(f"{base}{path}", data=data, headers=headers)  # noqa: S310 (loopback http)
            with opener.open(req, timeout=10) as resp:
                body = resp.read().decode()
                return json.loads(body) if body.lstrip()[:1] in ("{", "[") else body

        call("/webapi/logindata")
        salt = call("/webapi/auth/getdata", {})
        at = call("/webapi/login", _login_form(salt))["at"]
        assert next(c.value for c in jar if c.name == "ESRNSec")
        journal = call("/webapi/grade/journal?" + urllib.parse.urlencode(query), at=at)
        assert journal["journals"][0]["classMeeting"] and journal["journals"][0]["students"]
        call("/webapi/auth/logout", {"at": at}, at=at)
        with pytest.raises(urllib.error.HTTPError) as refused:  # the session is gone: the jar did not keep it alive
            call("/webapi/context", at=at)
        assert refused.value.code == 401


@pytest.mark.parametrize(
    ("drift", "variant"),
    [(None, "deletion_then_value"), ("esrnsec_once", "once"), ("esrnsec_empty_last", "empty_last")],
)
def test_the_client_reads_under_every_cookie_order(drift: str | None, variant: str) -> None:
    emu = tiny(faults=Faults(drifts=frozenset({drift} if drift else set())))
    client = NetSchoolClient(settings(), transport=EmulatorTransport(emu))
    query = _a_journal(emu)

    async def go() -> int:
        async with client:
            journal = await api.fetch_journal(
                client, query["sgId"], query["termId"], year_id=query["yearId"], class_id=query["classId"]
            )
            return sum(len(j.classMeeting) for j in journal.journals)

    assert asyncio.run(go()) > 0
    assert client.stats.variants["esrnsec"] == variant
    assert 401 not in client.stats.by_status


def test_settings_default_is_evidence() -> None:
    """No drift is on unless asked for."""
    assert EmulatorSettings().faults.drifts == frozenset()
