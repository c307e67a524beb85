"""The session's context and the school's directories: years, terms, classes, groups, students, the timetable."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from adapters.emulator.protocol import (
    PRODUCT,
    VERSION,
    Reply,
    Session,
)
from adapters.emulator.routes.common import emulator, ep, forbidden_write, group, json_get, qdate, qint, term_of
from adapters.emulator.school import YEAR_TERM_TYPE


def context(request: Request, sess: Session) -> Any:
    e = emulator(request)
    s = e.school
    v = e.views
    roles = {
        "deputy": ["Principal", "Teacher"],
        "admin": ["Admin"],
        "teacher": ["Teacher"],
        "student": ["Student"],
        "parent": ["Parent"],
    }[sess.kind]
    scid, school_name = sess.school or (s.scid, s.name)
    return {
        "at": sess.at,
        "userId": sess.user_id,
        "funcType": "School",
        "schoolId": scid,
        "schoolYearId": s.year_id,
        "globalYearId": s.global_year_id,
        "emId": 1,
        "productName": PRODUCT,
        "userLanguage": "ru",
        "version": VERSION,
        "versionDate": "2026-10-01T00:00:00",
        "organizationName": school_name,
        "menuContext": None,
        "rights": [],
        "roles": roles,
        "schoolyear": v.school_year(),
        "user": {"id": sess.user_id, "name": e.user_name(sess)},
        "organization": {"id": scid, "name": school_name},
        "dateFormat": "d\u0001mm\u0001yy\u0001.",
        "timeFormat": "h\u0001mm\u0001:\u0001\u0001",
        "timeOut": sess.timeout_ms // 1000,
    }


def active_sessions(request: Request, sess: Session) -> Any:
    e = emulator(request)
    s = e.school
    v = e.views
    return [
        {
            "schoolId": s.scid,
            "eoName": s.name,
            "at": None,
            "userId": x.user_id,
            "loginName": None,
            "nickName": e.user_name(x),
            "loginTime": v.dt(x.login_time) if x.login_time else None,
            "lastAccessTime": "0001-01-01T00:00:00",
            "ip": None,
            "roles": {
                "deputy": "Завуч",
                "admin": "Администратор",
                "teacher": "Учитель",
                "student": "Ученик",
                "parent": "Родитель",
            }[x.kind],
            "eMs": "Самара",
            "timeOut": x.timeout_ms // 1000,
        }
        for x in e.sessions.values()
    ]


def mysettings(request: Request, sess: Session) -> Any:
    e = emulator(request)
    s = e.school
    first, last, middle = e.user_fio(sess)
    return {
        "userId": sess.user_id,
        "firstName": first,
        "lastName": last,
        "middleName": middle,
        "loginName": sess.login,
        "birthDate": None,
        "roles": [],
        "schoolyearId": s.year_id,
        "windowsAccount": None,
        "mobilePhone": None,
        "preferedCom": 0,
        "email": None,
        "existsPhoto": False,
        "userSettings": {
            "showMobilePhone": False,
            "defaultDesktop": 0,
            "language": "ru",
            "favoriteReports": [],
            "passwordExpired": 0,
            "recoveryAnswer": None,
            "recoveryQuestion": None,
            "theme": 0,
            "userId": sess.user_id,
            "showNetSchoolApp": False,
            "showSferumBanner": False,
        },
    }


def yearlist(request: Request, sess: Session) -> Any:
    e = emulator(request)
    s = e.school
    return [{"id": s.year_id - 1, "name": "(*) 2025/2026"}, {"id": s.year_id, "name": s.year_name}]


def years(request: Request, sess: Session) -> Any:
    e = emulator(request)
    s = e.school
    v = e.views
    closed = dict(
        v.school_year(),
        id=s.year_id - 1,
        name="(*) 2025/2026",
        closed="Closed",
        startDate="2025-09-01T00:00:00",
        endDate="2026-08-31T00:00:00",
    )
    return [closed, v.school_year()]


async def terms_search(request: Request) -> Response:
    e = emulator(request)
    s = e.school
    v = e.views
    e.session(request)
    body = json.loads(await request.body() or b"{}")
    start = body.get("startPeriod")
    end = body.get("endPeriod")
    class_ids = body.get("classIds") or []
    type_ids = {s.grade_term_type[s.classes[int(c)].grade] for c in class_ids if int(c) in s.classes}
    out = []
    for t in s.terms.values():
        # a class's terms are its grade's kind; the year's own period (a scenario's ``kind = "year"``) is listed
        # only under the ``year_period`` drift (by default it is termId -1 «год», -2 «итог»: ``routes.common.term_of``)
        if not v.lists_term(t) or (type_ids and t.type_id not in type_ids and t.type_id != YEAR_TERM_TYPE):
            continue
        if start and t.end < date.fromisoformat(start[:10]):
            continue
        if end and t.start > date.fromisoformat(end[:10]):
            continue
        out.append(v.term(t))
    return JSONResponse(out)


def classes(request: Request, sess: Session) -> Any:
    e = emulator(request)
    s = e.school
    v = e.views
    expand = [x.lower() for x in request.query_params.getlist("expand")]
    grades = {int(g) for g in request.query_params.getlist("grade")}
    ids = [c.id for c in s.classes.values() if not grades or c.grade in grades]
    return v.classes(ids, expand, e.clock)


def subjectgroups(request: Request, sess: Session) -> Any:
    e = emulator(request)
    s = e.school
    v = e.views
    class_id = qint(request, "classId", required=False)
    iup = request.query_params.get("iupClassId") or ""
    number, _, kind = iup.partition("_")
    if class_id is None and kind == "1":  # «<grade>_1»: the ИУП groups of a grade
        ids = [g.id for g in s.groups.values() if g.iup_grade == int(number)]
    else:  # «<classId>_0», classId, or every group
        if class_id is None and number:
            class_id = int(number)
        ids = [g.id for g in s.groups.values() if class_id is None or g.class_id == class_id]
    if not e.is_staff_admin(sess):
        ids = [i for i in ids if e.may_read_group(sess, i)]
    return v.subject_groups(sorted(ids), e.clock)


def teacher_sgs(request: Request, sess: Session) -> Any:
    e = emulator(request)
    v = e.views
    return v.subject_groups(e.teacher_groups(sess.user_id), e.clock)


def teacher_classes(request: Request, sess: Session) -> Any:
    e = emulator(request)
    s = e.school
    v = e.views
    taught = {s.groups[g].class_id for g in e.teacher_groups(sess.user_id)} - {0}  # 0: ИУП groups have no class
    ids = sorted(taught | set(e.chief_classes(sess.user_id)))
    return v.classes(ids, [], e.clock)


def student_list(request: Request, sess: Session) -> Any:
    e = emulator(request)
    s = e.school
    v = e.views
    class_id = qint(request, "classId", required=False)
    if class_id is not None:
        if class_id not in s.classes:
            raise Reply(JSONResponse({"message": "Класс не найден"}, 404))
        return v.class_students(class_id, e.clock)
    sg_id = group(request, sess, "sgid", "sgId")
    return v.enrolled(sg_id, term_of(request, sg_id), e.clock)


def sg_students(request: Request, sess: Session) -> Any:
    e = emulator(request)
    v = e.views
    sg_id = group(request, sess, "sgId", "sgid")
    return v.enrolled(sg_id, term_of(request, sg_id), e.clock)


def classmeetings(request: Request, sess: Session) -> Any:
    e = emulator(request)
    s = e.school
    v = e.views
    start, end = qdate(request, "start"), qdate(request, "end")
    class_ids = [int(x) for x in request.query_params.getlist("classId")]
    teacher = qint(request, "teacherId", required=False)
    student = qint(request, "studentId", required=False)
    if class_ids:
        sgs = {g.id for g in s.groups.values() if g.class_id in class_ids}
    elif teacher is not None:
        sgs = set(e.teacher_groups(teacher))
    elif student is not None:
        sgs = set(v.student_groups(student))
    else:
        raise ValueError("нужен classId, teacherId или studentId")
    if not e.is_staff_admin(sess) and sess.kind == "teacher":
        sgs = {g for g in sgs if e.may_read_group(sess, g)} if class_ids else sgs
    return v.class_meetings(sgs, start, end)


ROUTES: list[BaseRoute] = [
    Route("/webapi/context", json_get(context)),
    Route("/webapi/context/activesessions", json_get(active_sessions)),
    Route("/webapi/mysettings", json_get(mysettings)),
    Route("/webapi/mysettings/", ep(forbidden_write), methods=["POST"]),
    Route("/webapi/mysettings/yearlist", json_get(yearlist)),
    Route("/webapi/years/current", json_get(lambda r, x: emulator(r).views.school_year())),
    Route("/webapi/context/years", json_get(years)),
    Route("/webapi/terms", json_get(lambda r, x: emulator(r).views.terms())),
    Route("/webapi/terms/search", ep(terms_search), methods=["POST"]),
    Route("/webapi/calendar/vacations", json_get(lambda r, x: emulator(r).views.vacations())),
    Route("/webapi/classes", json_get(classes)),
    Route("/webapi/subjects", json_get(lambda r, x: emulator(r).views.subjects())),
    Route("/webapi/subjectgroups", json_get(subjectgroups)),
    Route("/webapi/users/teacher/subjectgroups", json_get(teacher_sgs)),
    Route("/webapi/users/teacher/classes", json_get(teacher_classes)),
    Route("/webapi/grade/studentlist", json_get(student_list)),
    Route("/webapi/subjectgroupstudents", json_get(sg_students)),
    Route("/webapi/schedule/classmeetings", json_get(classmeetings)),
    Route("/webapi/schedule/times", json_get(lambda r, x: emulator(r).views.times())),
    Route("/webapi/grade/assignment/types", json_get(lambda r, x: emulator(r).views.assignment_types())),
    Route("/webapi/grade/attendance/reasons", json_get(lambda r, x: emulator(r).views.attendance_reasons())),
    Route("/webapi/school/settings", json_get(lambda r, x: emulator(r).views.settings())),
]
