"""Rendering a list or the summary to text and HTML (Jinja2 templates in asurso_sync/templates)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from asurso_sync.findref import ref
from asurso_sync.remarks.build import group, pct
from asurso_sync.remarks.links import Personal
from asurso_sync.remarks.model import RECORDS_TITLE, SHADOW_MARK, Summary, TeacherList
from asurso_sync.remarks.xlsx import summary_xlsx
from rules.wording import count

_ENV: Environment | None = None


def _env() -> Environment:
    global _ENV
    if _ENV is None:
        _ENV = Environment(
            loader=PackageLoader("asurso_sync", "templates"),
            autoescape=select_autoescape(["html"]),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            # package files do not change during a run; no re-reading (a user who may only read the cache, run
            # from a folder closed to him, keeps the templates loaded at start)
            auto_reload=False,
        )
        _ENV.globals["group"] = group
        _ENV.globals["lessons"] = lambda n: count(n, "урок", "урока", "уроков")
        _ENV.filters["pct"] = pct
        _ENV.filters["ref"] = ref
        _ENV.globals["records_title"] = RECORDS_TITLE
        _ENV.globals["shadow_mark"] = SHADOW_MARK
    return _ENV


def _tidy(text: str) -> str:
    """Plain-text parts: no runs of blank lines that template control blocks leave behind."""
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


@dataclass
class Rendered:
    subject: str
    text: str
    html: str
    xlsx: bytes | None = None


def render_teacher(tl: TeacherList, personal: Personal | None = None, *, preview: bool = False) -> Rendered:
    """A teacher's letter; ``personal``: her page's link and the answers to her objections (``remarks.links``).
    ``preview``: the deputy's copy of a list with the shadowed rules (R23), marked «учителям пока не
    отправляется» — never sent."""
    env = _env()
    mark = f"Предварительный просмотр — {SHADOW_MARK}. " if preview else ""
    return Rendered(
        subject=f"{mark}Список замечаний по ведению электронного журнала за {tl.week.span}",
        text=_tidy(env.get_template("teacher.txt").render(tl=tl, preview=preview, personal=personal)),
        html=env.get_template("teacher.html").render(tl=tl, preview=preview, personal=personal),
    )


def render_summary(s: Summary) -> Rendered:
    env = _env()
    return Rendered(
        subject=f"Сводка по ведению электронного журнала за {s.week.span}",
        text=_tidy(env.get_template("summary.txt").render(s=s)),
        html=env.get_template("summary.html").render(s=s),
        xlsx=summary_xlsx(s),
    )
