"""The class journal, lesson editors, КТП, the student/parent diary; the journal's write endpoints refuse."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from adapters.emulator.protocol import (
    Reply,
    Session,
)
from adapters.emulator.routes.common import emulator, ep, forbidden_write, group, json_get, qdate, qint, term_of
from adapters.emulator.views import week_bounds


def journal(request: Request, sess: Session) -> Any:
    """``grade/journal``. Under the ``ea_journal`` drift an extracurricular group is kept in the extra-activity
    journal: asked for with ``extraActivity=true`` (the filters ``EASGID``/``EASBJID``), and the class journal does
    not know it (404), nor does the extra-activity journal know a lesson group [I: the shape is not in evidence]."""
    e = emulator(request)
    v = e.views
    sg_id = group(request, sess, "sgId")
    if "ea_journal" in e.settings.faults.drifts:
        asked = request.query_params.get("extraActivity", "").lower() == "true"
        if asked != e.school.groups[sg_id].extracurricular:
            where = "журнале внеурочной деятельности" if not asked else "классном журнале"
            raise Reply(JSONResponse({"message": f"Группа ведётся в {where}"}, 404))
    return v.journal(sg_id, term_of(request, sg_id), e.clock)


def readable_lesson(request: Request, sess: Session) -> Any:
    """The lesson named by ``cmid``, if it exists and the session may read its group."""
    e = emulator(request)
    s = e.school
    lesson = s.lessons.get(qint(request, "cmid") or 0)
    if lesson is None:
        raise Reply(JSONResponse({"message": "Урок не найден"}, 404))
    if not e.may_read_group(sess, lesson.sg_id):
        raise Reply(JSONResponse({"message": "Недостаточно прав"}, 403))
    return lesson


def journal_short(request: Request, sess: Session) -> Any:
    e = emulator(request)
    s = e.school
    v = e.views
    lesson = readable_lesson(request, sess)
    term = s.term_of(lesson.sg_id, lesson.day)
    assert term is not None
    return v.journal(lesson.sg_id, term, e.clock)


def journal_edit(request: Request, sess: Session) -> Any:
    e = emulator(request)
    v = e.views
    return v.journal_edit(readable_lesson(request, sess).id, e.clock)


def plan(request: Request, sess: Session) -> Any:
    e = emulator(request)
    v = e.views
    return v.plan(group(request, sess, "sgId"), e.clock)


def plan_lesson(request: Request, sess: Session) -> Any:
    e = emulator(request)
    v = e.views
    found = v.plan_lesson(qint(request, "lessonId") or 0)
    if found is None:
        raise Reply(JSONResponse({"message": "Урок КТП не найден"}, 404))
    return found


def diary_init(request: Request, sess: Session) -> Any:
    e = emulator(request)
    v = e.views
    return v.diary_init(e.student_of(sess, None), e.clock)


def diary(request: Request, sess: Session) -> Any:
    e = emulator(request)
    v = e.views
    sid = e.student_of(sess, qint(request, "studentId", required=False))
    ws = qdate(request, "weekStart") if request.query_params.get("weekStart") else week_bounds(e.clock.date())[0]
    we = qdate(request, "weekEnd") if request.query_params.get("weekEnd") else ws + timedelta(days=6)
    return v.diary(sid, ws, we, e.clock)


async def assign(request: Request) -> Response:
    e = emulator(request)
    v = e.views
    sess = e.session(request)
    e.student_of(sess, qint(request, "studentId", required=False))
    found = v.assign_details(int(request.path_params["aid"]), e.clock)
    if found is None:
        return JSONResponse({"message": "Задание не найдено"}, 404)
    return JSONResponse(found)


def past_mandatory(request: Request, sess: Session) -> Any:
    e = emulator(request)
    v = e.views
    sid = e.student_of(sess, qint(request, "studentId", required=False))
    ws = qdate(request, "weekStart") if request.query_params.get("weekStart") else e.clock.date()
    return v.past_mandatory(sid, ws, e.clock)


async def filter_init(request: Request) -> Response:
    """``POST grade/journal/filter/init``: the journal page's filter sources (a read: it changes nothing). The
    class filter, groups and terms; with ``?extraActivity=true`` the extra-activity journal's filters (``EASGID``,
    ``EASBJID``), which the emulator serves only under the ``ea_journal`` drift: the journal's shape is not in the
    evidence (issue #32), and by default the answer is 404, a server without it."""
    e = emulator(request)
    sess = e.session(request)
    s = e.school
    if request.query_params.get("extraActivity", "").lower() == "true":
        if "ea_journal" not in e.settings.faults.drifts:
            return JSONResponse({"message": "Журнал внеурочной деятельности не ведётся"}, 404)
        extra = [g for g in s.groups.values() if g.extracurricular and e.may_read_group(sess, g.id)]
        return JSONResponse(
            [
                {"filterId": "EASBJID", "items": [{"title": s.subjects[g.subject_id].name, "value": str(g.subject_id)}
                                                  for g in extra], "defaultValue": None, "nullText": None},
                {"filterId": "EASGID", "items": [{"title": g.name, "value": str(g.id)} for g in extra],
                 "defaultValue": None, "nullText": None},
            ]
        )  # fmt: skip
    classes = [
        {"title": c.name, "value": f"{c.id}_0"}
        for c in sorted(s.classes.values(), key=lambda c: (c.grade, c.letter))
        if any(e.may_read_group(sess, g.id) for g in s.groups.values() if g.class_id == c.id)
    ]
    return JSONResponse([{"filterId": "PCLID_IUP", "items": classes, "defaultValue": None, "nullText": None}])


ROUTES: list[BaseRoute] = [
    Route("/webapi/grade/journal/filter/init", ep(filter_init), methods=["POST"]),
    Route("/webapi/grade/journal", json_get(journal)),
    Route("/webapi/grade/journal/short", json_get(journal_short)),
    Route("/webapi/grade/journal/edit", json_get(journal_edit)),
    Route("/webapi/grade/journal/edit", ep(forbidden_write), methods=["POST"]),
    Route("/webapi/grade/journal/quickedit", ep(forbidden_write), methods=["POST"]),
    Route("/webapi/grade/journal/comments", ep(forbidden_write), methods=["POST"]),
    Route("/webapi/grade/journal/assignments/{aid:int}", ep(forbidden_write), methods=["DELETE"]),
    Route("/webapi/subjectplans/getforsubjectgroup", json_get(plan)),
    Route("/webapi/subjectplans/lessons", json_get(plan_lesson)),
    Route("/webapi/student/diary/init", json_get(diary_init)),
    Route("/webapi/student/diary", json_get(diary)),
    Route("/webapi/student/diary/assigns/{aid:int}", ep(assign)),
    Route("/webapi/student/diary/pastmandatory", json_get(past_mandatory)),
    Route("/webapi/announcements", json_get(lambda r, x: emulator(r).views.announcements(emulator(r).clock))),
]
