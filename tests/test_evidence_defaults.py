"""Issue #32: the emulator's defaults follow the public evidence; what it inferred before is a drift, and the
project's client reads both."""

from __future__ import annotations

import asyncio
import http.cookiejar
import json
import urllib.error
import urllib.parse
import urllib.request
from datetime import date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.emulator.faults import Faults
from adapters.emulator.protocol import password_hashes
from adapters.emulator.server import Emulator, EmulatorSettings
from adapters.emulator.transport import EmulatorTransport
from adapters.netschool import api
from adapters.netschool.client import NetSchoolClient
from adapters.netschool.models import SchoolSettings
from adapters.netschool.reports import AccessReport, fetch_access_report, iup_filter
from asurso_sync.mirror import directory_rows
from cache import classify, save_access_rows, unit
from tests.emu import BASE, generated, serve, tiny
from tests.mirror import MON, NIGHT, SG, SNAP, TUE, Mirror, cw, hw
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


# --- the access report (issue #32, item 2) -----------------------------------------------------------------------

REPORT_CLOCK = datetime(2026, 12, 14, 7, 0)
WEEK = (date(2026, 12, 7), date(2026, 12, 13))


def _report_emu(size: str = "tiny", *drifts: str) -> Emulator:
    """The school's served report (read only: the school generated once per process, tests/emu.generated)."""
    return generated(size, control=True, clock=REPORT_CLOCK, faults=Faults(drifts=frozenset(drifts)))


def _asp(emu: Emulator, target: int | str) -> AccessReport:
    async def go() -> AccessReport:
        async with NetSchoolClient(settings(timeout=5), transport=EmulatorTransport(emu)) as c:
            return await fetch_access_report(c, target, *WEEK, method="asp")

    return asyncio.run(go())


def test_the_asp_form_says_by_classes_and_the_whole_log() -> None:
    emu = _report_emu()
    cls = min(emu.school.classes)
    report = _asp(emu, cls)
    form = emu.reports.asp_forms[-1]
    assert (form["PCLID_IUP"], form["ViewType"], form["LastAccess"]) == (f"{cls}_0", "1", "0")
    assert report.layout == "log" and report.entries
    assert any("изменений" in h for h in report.headers)  # «Дата и время изменений», as the evidence has it


def test_iup_groups_and_every_class_through_the_class_filter() -> None:
    """``<grade>_1`` gives the ИУП groups of a grade (so they get exact times); ``-1`` every class."""
    emu = _report_emu("small")
    iup = {g.iup_grade: g for g in emu.school.groups.values() if g.iup_grade is not None}
    assert iup, "the small school has ИУП groups in grades 10–11"
    grade = min(g for g in iup if g is not None)
    report = _asp(emu, iup_filter(grade))
    assert report.entries and {e.class_name for e in report.entries} == {f"{grade} *"}
    names = {g.name for g in emu.school.groups.values() if g.iup_grade == grade}
    assert {e.subject for e in report.entries} <= names
    every = _asp(emu, "-1")
    assert {e.class_name for e in every.entries} == {c.name for c in emu.school.classes.values()}


@pytest.mark.parametrize(("drift", "how"), [("report_bare_codes", "bare"), ("report_joined_codes", "joined")])
def test_cells_with_only_codes_are_read_for_what_they_prove(drift: str, how: str) -> None:
    """A cell with the code alone (or several codes) gives the kind of entry, when and by whom — no detail."""
    emu = _report_emu("tiny", drift)
    cls = min(emu.school.classes)
    detailed = _asp(_report_emu(), cls)
    report = _asp(emu, cls)
    assert report.cells[how] > 0 and report.cells["detailed"] == 0
    kinds = [classify(e.action) for e in report.entries]
    assert {k for k, _ in kinds} >= {"topic", "homework", "task", "mark", "attendance"}
    assert all(detail is None for _, detail in kinds)
    # topics are proven whatever the cell says: the same entries as the detailed page's
    topics = sorted((e.subject, e.at, e.lesson_day) for e in report.entries if classify(e.action)[0] == "topic")
    assert topics == sorted(
        (e.subject, e.at, e.lesson_day) for e in detailed.entries if classify(e.action)[0] == "topic"
    )


def test_the_2013_page_is_recognised_and_named() -> None:
    emu = _report_emu("tiny", "report_2013")
    report = _asp(emu, min(emu.school.classes))
    assert report.layout == "last_change_2013" and report.entries == [] and len(report.headers) == 3


def _rows(day: str, at: str, actions: list[str], *, class_name: str = "8а", subject: str = "Алгебра") -> list[Any]:
    return [
        {
            "class_name": class_name,
            "subject": subject,
            "at": f"{day}T{at}:0{i}",
            "user": "Учитель А. А.",
            "lesson_day": day,
            "lesson_number": 2,
            "period": "2 четверть",
            "action": action,
        }
        for i, action in enumerate(actions)
    ]


def test_rows_with_only_codes_decide_nothing_they_do_not_prove(tmp_path: Path) -> None:
    """Ruling R18 with a report whose cells name only the kind: the tasks, homework and marks of a late night
    stay undecided (counted), never a violation; the same rows with their details decide (the lateness)."""
    m = Mirror(tmp_path / "c.db")
    night = "2026-11-25T01:00:00"
    lessons = [(1, MON), (3, TUE)]
    homework = [hw(50, 3, 1, "№ 12"), hw(51, 3, 3, "№ 14", issue=TUE)]
    m.journal(night, SG, lessons=lessons, assignments=[cw(70, 1), cw(71, 3, day=TUE), *homework],
              marks=[(70, 1, "5"), (71, 1, "4")])  # fmt: skip
    bare = ["Задание", "Домашнее задание: добавлено", "Отметка"]
    with unit(m.db, "access_log", None, observed_at=night, allow_empty=True):
        save_access_rows(m.db, [*_rows(MON, "15:50", bare), *_rows(TUE, "18:30", bare)], observed_at=night)
    for code in ("TML002", "TML003", "TML004"):
        assert m.check(code, as_of=night) == (set(), 2), code
    detailed = ["Задание «Ответ на уроке»: добавлено («Работа»)", "Домашнее задание: добавлено («№ 14»)",
                "Отметка «Ответ на уроке»: выставлена"]  # fmt: skip
    with unit(m.db, "access_log", None, observed_at=night, allow_empty=True):
        save_access_rows(m.db, _rows(TUE, "18:31", detailed), observed_at=night)
    assert m.check("TML004", as_of=night)[0] == {(("cm", 3),)}  # the details prove it: late, exact


def test_an_iup_row_resolves_to_its_group_and_lesson(tmp_path: Path) -> None:
    """The report names an ИУП grade as the class filter does («10 *») and the group by its whole name."""
    m = Mirror(tmp_path / "c.db")
    iup_sg, name = 30, "Химия (углублённый уровень), ИУП 10 кл."
    with unit(m.db, "directory-group", {"sg_id": iup_sg}, observed_at=f"{MON}T01:00:00") as u:
        u.save("subject_group", [{"id": iup_sg, "name": name, "class_id": None, "subject_id": 7,
                                  "is_iup": 1, "extracurricular": 0, "iup_grade": 10}])  # fmt: skip
    m.journal(NIGHT, iup_sg, lessons=[(40, MON, 8)])
    with unit(m.db, "access_log", None, observed_at=NIGHT, allow_empty=True):
        rows_ = _rows(MON, "15:10", ["Тема урока: добавлена"], class_name="10 *", subject=name)
        save_access_rows(m.db, [{**r, "lesson_number": 8} for r in rows_], observed_at=NIGHT)
    ((sg, cm),) = m.db.execute('SELECT "sg_id", "cm_id" FROM "access_log"').fetchall()
    assert (sg, cm) == (iup_sg, 40)


@pytest.mark.slow
@pytest.mark.parametrize("drift", ["report_bare_codes", "report_joined_codes"])
def test_nightly_syncs_with_code_only_cells_make_no_false_remark(tmp_path: Path, drift: str) -> None:
    """Through the real sync and check: a report whose cells hold only codes leaves undecided what it cannot
    prove — precision stays 1.000 for every rule — and still decides the topics exactly."""
    from adapters.emulator.truth import ground_truth
    from asurso_sync import accuracy
    from asurso_sync.check import CheckOptions, run_check
    from asurso_sync.config import load_config
    from asurso_sync.demo import prepare
    from asurso_sync.sync import SyncOptions, sync_once
    from tests.conftest import edit_config

    start = date(2026, 12, 7)
    emu = Emulator(EmulatorSettings(size="tiny", seed=1, control=True, clock=datetime(2026, 12, 7, 1, 0),
                                    faults=Faults(drifts=frozenset({drift}))))  # fmt: skip
    prepare(tmp_path, emu, 25)
    with serve(emu) as base:
        edit_config(tmp_path / "config.toml", 'base_url = "http://emulator.invalid"', f'base_url = "{base}"')
        config = load_config(tmp_path / "config.toml", environ={})
        for night in range(6):
            emu.clock = datetime(2026, 12, 7 + night, 1, 0)
            mode = "all" if night == 0 else "incremental"
            report = asyncio.run(sync_once(config, SyncOptions(mode=mode, access_log="hub")))  # type: ignore[arg-type]
            assert report.status == "ok", report.error
    outcome = run_check(config, CheckOptions(start=start, as_of=emu.clock))
    truth = ground_truth(emu.school, emu.journal, start, emu.clock)
    scores = accuracy.score(outcome.findings, truth, outcome.result.undecided)
    assert all(s.precision == 1.0 for s in scores), [s for s in scores if s.precision < 1]
    assert sum(outcome.result.undecided.values()) > 0  # what the codes cannot prove is counted, not flagged
    assert any(f["evidence"] == "exact" for f in outcome.findings if f["rule"] == "TML001")


# --- the per-lesson teacher (issue #32, item 3) -----------------------------------------------------------------


@pytest.mark.parametrize("served", [False, True])
def test_class_meetings_name_a_lesson_teacher_only_under_the_drift(served: bool) -> None:
    """No public evidence of a per-lesson ``teacher`` on ``schedule/classmeetings``: by default none is served;
    the ``lesson_teacher`` drift names the recorded substitutes, and the client reads them."""
    emu = tiny(faults=Faults(drifts=frozenset({"lesson_teacher"} if served else set())))
    recorded = [le for le in emu.school.lessons.values() if le.teacher_id is not None]
    assert recorded
    first = min(le.day for le in recorded)
    classes = sorted({emu.school.groups[le.sg_id].class_id for le in recorded if le.day == first})

    async def go() -> list[Any]:
        async with NetSchoolClient(settings(), transport=EmulatorTransport(emu)) as c:
            return await api.fetch_class_meetings(c, first, first, classes)

    meetings = asyncio.run(go())
    named = {m.id: m.teacher.id for m in meetings if m.teacher is not None}
    expected = {le.id: le.teacher_id for le in recorded if le.day == first}
    assert named == (expected if served else {})


# --- extracurricular (issue #32, item 4) ------------------------------------------------------------------------


@pytest.mark.parametrize("drift", [None, "group_extracurricular", "no_extracurricular_flag"])
def test_extracurricular_is_read_from_subjects_groups_or_the_relay(drift: str | None) -> None:
    """The captured response has ``extraCurricular`` on ``subjects``; a server may put it on groups too, or
    nowhere — then the schedule's relay 2 (with ``isEaLesson`` in diaries) says it. Every way, the mirror marks the
    same groups."""
    emu = tiny(faults=Faults(drifts=frozenset({drift} if drift else set())))
    expected = {g.id for g in emu.school.groups.values() if g.extracurricular}
    assert expected

    async def go() -> tuple[Any, Any, Any]:
        async with NetSchoolClient(settings(), transport=EmulatorTransport(emu)) as c:
            return await api.fetch_subjects(c), await api.fetch_subject_groups(c), await api.fetch_current_year(c)

    subjects, groups, year = asyncio.run(go())
    on_subjects = {s.id for s in subjects if s.extraCurricular}
    on_groups = {g.id for g in groups if g.extraCurricular}
    assert bool(on_subjects) == (drift != "no_extracurricular_flag")
    assert on_groups == (expected if drift == "group_extracurricular" else set())
    rows = directory_rows(context=None, year=year, terms=[], vacations=[], classes=[], subjects=subjects,
                          groups=groups, times=[], types=[], reasons=[], settings=SchoolSettings())  # fmt: skip
    marked = {r["id"] for r in rows["subject_group"] if r["extracurricular"]}
    assert marked == (set() if drift == "no_extracurricular_flag" else expected)


# --- class-teacher history (issue #32, item 5) ------------------------------------------------------------------

CHIEFS_CASE = """
version = 1
id = "I32-chiefs"
title = "Классный руководитель сменился: «ОТ» — руководителю того дня"
section = "Кому замечание"
rulings = ["R6", "R12"]

[[staff]]
name = "Кузьмина Ольга Сергеевна"
from = 2026-11-26

[[classes]]
name = "7Б"
chiefs = [
  { name = "Сидорова Анна Викторовна", to = 2026-11-25 },
  { name = "Кузьмина Ольга Сергеевна", from = 2026-11-26 },
]
students = ["Попов Никита", "Смирнов Иван"]

[check]
at = 2026-12-02T07:00:00
%s
"""


def _lesson(day: str, number: int, ot: bool) -> str:
    attendance = 'attendance = [{ student = "Попов Никита", code = "ОТ" }]\n' if ot else ""
    return (
        f'[[lessons]]\ngroup = "7Б/Алгебра"\ndate = {day}\nnumber = {number}\ntopic = "Уравнения {day}"\n'
        f'homework = "№ {number}"\nwork = [{{ type = "Ответ на уроке" }}]\n{attendance}\n'
    )


@pytest.mark.slow
def test_class_teacher_items_go_to_the_class_teacher_of_that_date(tmp_path: Path) -> None:
    """R6 through the emulator's class-teacher history: «ОТ» left on Monday's lesson is the class teacher's of
    Monday, the one on Thursday's the new class teacher's (she took the class on Thursday)."""
    from asurso_sync.casebook import run_case

    days = ["2026-11-23", "2026-11-24", "2026-11-25", "2026-11-26", "2026-11-27", "2026-11-30", "2026-12-01"]
    lessons = "".join(_lesson(d, 2, d in ("2026-11-23", "2026-11-26")) for d in days)
    expect = "".join(
        f'[[expect]]\nrule = "ATT002"\nlesson = "7Б/Алгебра {d} урок 2"\nstudent = "Попов Никита"\n'
        f'owner = "{owner}"\nroute = "class_teacher"\n\n'
        for d, owner in (("23.11.2026", "Сидорова Анна Викторовна"), ("26.11.2026", "Кузьмина Ольга Сергеевна"))
    )
    case = tmp_path / "chiefs.toml"
    case.write_text(CHIEFS_CASE % (lessons + expect), encoding="utf-8")
    result = run_case(case, workdir=tmp_path)
    assert result.passed, (result.missing, result.extra, result.wrong, result.error)


HOSPITAL_CASE = """
version = 1
id = "I32-hospital"
title = "Отметка при «Б», внесённая классным руководителем в день урока, — из больницы (R4)"
section = "Отметки: сроки"
rulings = ["R4"]

[[lessons]]
group = "7Б/Литература"
date = 2026-11-24
number = 3
topic = "А. С. Пушкин. «Полтава»"
homework = "Выучить отрывок «Полтавский бой»"
work = [{ type = "Ответ на уроке" }]
marks = [{ student = "Попов Никита", value = 5, at = "15:00", by = "%s" }]
attendance = [{ student = "Попов Никита", code = "Б" }]
%s
"""


@pytest.mark.slow
@pytest.mark.parametrize("by", ["Сидорова Анна Викторовна", "subject teacher"])
def test_a_mark_beside_b_entered_by_the_class_teacher_is_a_hospital_mark(tmp_path: Path, by: str) -> None:
    """R4: entered by the class teacher on a lesson where the student has «Б» — no MRK003; the same mark entered
    by the subject teacher stays deputy information (R14)."""
    from asurso_sync.casebook import run_case

    case = tmp_path / "hospital.toml"
    if by == "subject teacher":
        expect = ('[[expect]]\nrule = "MRK003"\nlesson = "7Б/Литература 24.11.2026 урок 3"\n'
                  'student = "Попов Никита"\nowner = "завуч"\nroute = "deputy"\n')  # fmt: skip
        case.write_text((HOSPITAL_CASE % ("", expect)).replace(', by = ""', ""), encoding="utf-8")
    else:
        case.write_text(HOSPITAL_CASE % (by, ""), encoding="utf-8")
    result = run_case(case, workdir=tmp_path)
    assert result.passed, (result.missing, result.extra, result.wrong, result.error)


def test_a_lesson_filled_in_later_by_another_teacher_is_nobodys_remark(tmp_path: Path) -> None:
    """R0 + R6 without a per-lesson teacher: Monday's topic entered on Wednesday by a teacher who never taught the
    group (a substitute filling in later, perhaps) — the lesson's owner is in doubt: «не определено», not a remark
    to the group's teacher; entered by the group's own teacher, the lateness is hers."""
    m = Mirror(tmp_path / "c.db")
    night = "2026-11-26T01:00:00"
    m.journal(night, SG, lessons=[(1, MON)])
    m.topic(night, 1, SG, "Уравнения")
    late = _rows("2026-11-25", "18:00", ["Тема урока: добавлена"])
    with unit(m.db, "access_log", None, observed_at=night, allow_empty=True):
        save_access_rows(m.db, [{**r, "lesson_day": MON, "user": "Начальная В. В."} for r in late], observed_at=night)
    assert m.check("TML001", as_of=night) == (set(), 1)
    own = Mirror(tmp_path / "own.db")
    own.journal(night, SG, lessons=[(1, MON)])
    own.topic(night, 1, SG, "Уравнения")
    with unit(own.db, "access_log", None, observed_at=night, allow_empty=True):
        save_access_rows(own.db, [{**r, "lesson_day": MON} for r in late], observed_at=night)  # «Учитель А. А.»
    assert own.check("TML001", as_of=night) == ({(("cm", 1),)}, 0)


@pytest.mark.parametrize(
    ("user", "action", "doubt"),
    [
        ("Начальная В. В.", "Домашнее задание: добавлено («№ 12»)", True),  # another group's teacher, on the day
        ("Начальная В. В.", "Задание «Ответ на уроке»: добавлено («Работа»)", True),
        ("Начальная В. В.", "Посещаемость: «ОТ» (Иванов Иван)", True),
        ("Классный Б. Б.", "Посещаемость: «ОТ» (Иванов Иван)", False),  # the class teacher keeps the register
        ("Учитель А. А.", "Домашнее задание: добавлено («№ 12»)", False),  # the group's own teacher
    ],
)
def test_another_teachers_entry_on_the_lesson_day_is_a_sign_of_a_substitute(
    tmp_path: Path, user: str, action: str, doubt: bool
) -> None:
    """R6 names a substitute by the topic or marks she entered on the lesson day; a teacher who never taught the group
    entering only its homework, work or attendance that day is a sign of one too (R0): the lesson's remark — here
    TML001, the topic missing at 16:05 — is nobody's, «не определено». The class teacher (of that date) entering
    attendance is not such a sign, nor is the group's own teacher."""
    m = Mirror(tmp_path / "c.db")
    m.add_group(30, "8а/Геометрия", 1, teacher=501)  # the class teacher teaches another group of her class
    m.journal(SNAP, SG, lessons=[(1, MON)], assignments=[cw(90, 1)])
    m.topic(SNAP, 1, SG, None)
    entry = {**_rows(MON, "12:10", [action])[0], "user": user}
    with unit(m.db, "access_log", None, observed_at=NIGHT, allow_empty=True):
        save_access_rows(m.db, [entry], observed_at=NIGHT)
    assert m.check("TML001", as_of="2026-11-30T07:00:00") == ((set(), 1) if doubt else ({(("cm", 1),)}, 0))
