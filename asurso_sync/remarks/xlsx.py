"""The deputy's summary as an Excel workbook (openpyxl): a sheet per view and a native bar chart."""

from __future__ import annotations

import io
import re
from datetime import date
from typing import Any

from asurso_sync.remarks.model import Remark, Summary

_SHEET_BAD = re.compile(r"[\[\]:*?/\\]")


def _sheet_name(name: str, used: set[str]) -> str:
    parts = name.split()
    short = f"{parts[0]} {''.join(p[0] + '.' for p in parts[1:3])}" if len(parts) > 1 else name
    base = _SHEET_BAD.sub("", short)[:28] or "Учитель"
    candidate, n = base, 1
    while candidate.casefold() in used:
        n += 1
        candidate = f"{base[:26]} {n}"
    used.add(candidate.casefold())
    return candidate


REMARK_COLUMNS = [
    "Раздел",
    "Класс",
    "Предмет",
    "Дата",
    "Урок",
    "Ученик",
    "Замечание",
    "Что сделать",
    "С",
    "Правило",
    "Номер",
]
_SECTION = {"new": "Новое", "open": "Не устранено", "resolved": "Устранено", "record": "Позже срока"}


def _row(r: Remark) -> list[Any]:
    return [
        _SECTION.get(r.state, r.state),
        r.class_name,
        r.subject,
        r.day,
        r.lesson,
        r.who,  # every child of the line by name (R24)
        r.late_what if r.record else r.detail,
        r.advice,
        r.first_seen if r.state == "open" else None,
        r.rule,
        r.ref,
    ]


def summary_xlsx(s: Summary) -> bytes:
    """The deputy's workbook: a summary sheet (teacher × rule), the weekly trend with a chart, the oldest open
    items, information for the deputy, and a sheet per teacher with their remarks."""
    from openpyxl import Workbook
    from openpyxl.chart import BarChart, Reference
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    bold = Font(bold=True)
    head_fill = PatternFill("solid", fgColor="EAEEF2")

    def header(ws: Any, values: list[Any], widths: list[float]) -> None:
        ws.append(values)
        for cell in ws[ws.max_row]:
            cell.font = bold
            cell.fill = head_fill
            cell.alignment = Alignment(wrap_text=True, vertical="top")
        for i, w in enumerate(widths, start=1):
            ws.column_dimensions[get_column_letter(i)].width = w
        ws.freeze_panes = ws.cell(row=ws.max_row + 1, column=2)

    wb = Workbook()
    ws = wb.active
    ws.title = "Сводка"
    ws.append([f"{s.footer.school}: сводка по ведению ЭЖ за неделю {s.week.span}"])
    ws["A1"].font = Font(bold=True, size=13)
    header(
        ws,
        ["Учитель", "Уроков", "В срок, %", "Новые", "Позже срока", "Не устранены", "Устранены", "В тени", *s.rules],
        [34, 8, 10, 8, 10, 12, 10, 8, *([9] * len(s.rules))],
    )
    for t in s.teachers:
        ws.append(
            [
                t.name,
                t.lessons,
                round(t.on_time * 100, 1) if t.on_time is not None else None,
                t.new,
                t.records,
                t.still_open,
                t.resolved,
                t.shadow,
                *[t.by_rule.get(code, 0) for code in s.rules],
            ]
        )
    ws.append([])
    ws.append(["Правила:"])
    for code in s.rules:
        ws.append([code, s.titles.get(code, "")])

    trend = wb.create_sheet("Динамика")
    header(trend, ["Учитель", *[f"{w.monday:%d.%m}" for w in s.weeks]], [34, *([10] * len(s.weeks))])
    shown = [t for t in s.teachers if any(v is not None for v in t.trend)]
    for t in shown:
        trend.append([t.name, *[round(v * 100, 1) if v is not None else None for v in t.trend]])
    if shown:
        chart = BarChart()
        chart.type = "bar"
        chart.title = "Уроки, заполненные в срок, %"
        chart.y_axis.scaling.min = 0
        chart.y_axis.scaling.max = 100
        chart.height = max(7.5, 0.6 * len(shown) * len(s.weeks) / 2)
        chart.width = 18
        data = Reference(trend, min_col=2, max_col=1 + len(s.weeks), min_row=1, max_row=1 + len(shown))
        cats = Reference(trend, min_col=1, min_row=2, max_row=1 + len(shown))
        chart.add_data(data, titles_from_data=True)
        chart.set_categories(cats)
        trend.add_chart(chart, f"{get_column_letter(len(s.weeks) + 3)}2")

    top = wb.create_sheet("Давние")
    header(top, ["Учитель", "Замечание", "С", "Правило", "Номер"], [30, 80, 11, 9, 10])
    for name, r in s.top_open:
        top.append([name, r.message, r.first_seen, r.rule, r.ref])

    if s.info:
        info = wb.create_sheet("Для сведения")
        header(info, ["Замечание", "Ученик", "Дата", "Правило", "Номер"], [90, 26, 11, 9, 10])
        for r in s.info:
            info.append([r.message, r.student or "", r.day, r.rule, r.ref])

    shadowed = [(tl, r) for tl in s.lists for r in (*tl.shadow.new, *tl.shadow.records, *tl.shadow.still_open)]
    if shadowed:  # ruling R23: every item of the unreleased rules, as the teachers' lists would hold them
        shadow = wb.create_sheet("В тени")
        header(shadow, ["Учитель", *REMARK_COLUMNS], [30, 13, 7, 22, 11, 8, 26, 50, 40, 11, 9, 10])
        for tl, r in shadowed:
            shadow.append([tl.name, *_row(r)])

    used = {n.casefold() for n in wb.sheetnames}
    for tl in s.lists:
        items = [r for part in (tl.part, tl.chief) for r in part.all()]
        if not items:
            continue
        sheet = wb.create_sheet(_sheet_name(tl.name, used))
        sheet.append([tl.name])
        sheet["A1"].font = Font(bold=True, size=12)
        header(sheet, REMARK_COLUMNS, [13, 7, 22, 11, 8, 26, 50, 40, 11, 9, 10])
        for r in items:
            sheet.append(_row(r))
    for sheet in wb.worksheets:
        for row in sheet.iter_rows(min_row=2):
            for cell in row:
                if isinstance(cell.value, date):
                    cell.number_format = "DD.MM.YYYY"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
