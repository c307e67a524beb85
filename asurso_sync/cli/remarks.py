"""``asurso-sync remarks build|send|status``: the weekly remark lists."""

from __future__ import annotations

from contextlib import closing
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table
from sqlite_utils import Database

from asurso_sync import exitcodes
from asurso_sync.cli.common import STATE, App, err, fail, local_time, out
from asurso_sync.config import Config
from asurso_sync.delivery import backend_from_config, deliver
from asurso_sync.remarks import NoCheckYet, Week, build_week, directory_template, enqueue_week, write_files
from asurso_sync.routing import shadow_line
from cache import open_cache, outbox_rows
from cache.cabinet import released_rules
from cache.files import open_to_others, unsafe_folder_message, write_private_bytes
from cache.reads import teaching_staff
from rules.catalogue import load_catalogue
from rules.wording import count, plural

app = App(
    help=(
        "Еженедельные списки замечаний: учителям — только их замечания, заместителю директора — сводка.\n\n"
        "Списки строятся по последней проверке («asurso-sync check»). Неделя — с понедельника по воскресенье; "
        "по умолчанию — последняя завершившаяся."
    ),
)

WeekOption = Annotated[
    str | None,
    typer.Option("--week", "-w", help="Неделя: 2026-W48 или любая дата внутри недели (по умолчанию — прошедшая)."),
]


def _week(config: Config, text: str | None) -> Week:
    if text:
        return Week.parse(text)
    return Week.last_completed(datetime.now(config.school.tz).date())


@app.command("build")
def build(
    week: WeekOption = None,
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Папка для файлов (.html, .txt, .xlsx, .eml).")] = Path(
        "remarks"
    ),
    only: Annotated[str | None, typer.Option("--only", help="Только этот учитель: id или часть ФИО.")] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Записать файлы даже в папку, открытую другим пользователям.")
    ] = False,
) -> None:
    """Сформировать списки замечаний и сводку в файлы, ничего не отправляя."""
    config = STATE.config()
    w = _week(config, week)
    for folder in (out_dir, out_dir / w.label):
        if not force and open_to_others(folder):
            raise fail(unsafe_folder_message(folder), exitcodes.CONFIG)
    with (
        closing(open_cache(config.cache.path, create=False, read_only_ok=True)) as db,
        err.status(f"Формирование списков за неделю {w.span}…"),
    ):
        wl = build_week(db, config, w)
        files = write_files(config, wl, out_dir, only=only)
    shown = wl.recipients(config, only)
    tasks = sum(t.part.tasks + t.chief.tasks for t in shown)
    records = sum(len(t.part.records) + len(t.chief.records) for t in shown)
    out.print(
        f"Неделя {w.span} ({w.label}): списков учителям — {len(shown)}, в них задач — {tasks}, "
        f"«внесено позже срока — исправлять нечего» — {records}.",
        highlight=False,
    )
    if wl.summary.shadow_rules:
        out.print(
            f"Теневой запуск: замечаний неотпущенных правил — {wl.summary.totals['shadow']} "
            f"(учителям пока не отправляется; в сводке и в файлах …-preview).",
            highlight=False,
        )
    out.print(f"Файлы ({len(files)}) записаны в {out_dir / w.label}", highlight=False)
    missing = [t.name for t in shown if not t.email]
    if missing:
        err.print(f"[yellow]Нет адреса электронной почты:[/] {', '.join(missing)}", highlight=False)


@app.command("send")
def send(
    week: WeekOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Показать, кому и что уйдёт, ничего не отправляя.")
    ] = False,
    only: Annotated[str | None, typer.Option("--only", help="Только этому учителю: id или часть ФИО.")] = None,
    resend: Annotated[
        bool,
        typer.Option(
            "--resend",
            help="Повторить письма, застрявшие в состоянии «отправляется» (сбой между почтовым сервером и записью).",
        ),
    ] = False,
) -> None:
    """Разослать списки замечаний учителям и сводку заместителю директора.

    Каждое письмо уходит один раз: повторный запуск за ту же неделю ничего не отправит повторно. Код выхода: 0 — \
всё отправлено; 1 — нужно внимание (нет адресов, ошибки отправки, «застрявшие» письма); 2 — ошибка настройки.
    """
    config = STATE.config()
    w = _week(config, week)
    # a dry run writes nothing: it works on a cache this user may only read
    with closing(open_cache(config.cache.path, create=False, read_only_ok=dry_run)) as db:
        with err.status(f"Формирование списков за неделю {w.span}…"):
            wl = build_week(db, config, w)
        plan = enqueue_week(db, config, wl, only=only, dry_run=dry_run)
        shadow = shadow_line(config, load_catalogue(), released_rules(db))
        if shadow:  # the school's first weeks: what teachers do not get yet, and why
            err.print(shadow, highlight=False, markup=False)
        if dry_run:
            table = Table(title=f"Будет отправлено за неделю {w.span}", title_justify="left")
            for col in ("Кому", "Адрес", "Письмо", "Замечаний", "Из них исправлять нечего"):
                table.add_column(col)
            for p in plan.planned:
                kind = "сводка" if p.kind == "deputy" else "список"
                table.add_row(p.name, p.recipient, kind, str(p.remarks), str(p.records) if p.kind != "deputy" else "")
            out.print(table)
            heavy = [p for p in plan.planned if p.kind != "deputy" and p.remarks > HEAVY_LETTER]
            for p in heavy:
                err.print(
                    f"[yellow]Внимание:[/] в письме {escape(p.name)} {count(p.remarks, *REMARKS)} — больше "
                    f"{HEAVY_LETTER}; проверьте период проверки («asurso-sync check --from») перед отправкой.",
                    highlight=False,
                )
            if wl.summary.totals["backlog"]:
                err.print(
                    f"Первые письма по правилам: {count(wl.summary.totals['backlog'], *BACKLOG)} за прошлые недели "
                    "учителям не уйдут — они в сводке завуча числом.",
                    highlight=False,
                )
            _missing(plan.missing)
            raise typer.Exit(exitcodes.ATTENTION if plan.missing or heavy else exitcodes.OK)
        backend = backend_from_config(config)
        recipients = [p.recipient for p in plan.planned] if only else None
        with err.status("Отправка писем…"):
            report = deliver(db, backend, period=w.label, recipients=recipients, resend=resend)
    out.print(
        f"Неделя {w.span}: отправлено {len(report.sent)}, уже были отправлены раньше {report.already_sent}.",
        highlight=False,
    )
    for recipient, error in report.failed:
        err.print(f"[red]Не отправлено[/] {escape(recipient)}: {escape(error)}", highlight=False)
    if report.unreachable:
        err.print(
            f"[red]Отправка остановлена:[/] {escape(report.unreachable)}. "
            f"{count(report.left_waiting, *LETTERS)} в очереди; {_will_go(report.left_waiting)} при следующем "
            "«asurso-sync remarks send» "
            "(или в следующий запуск по расписанию), отправленные раньше не повторятся.",
            highlight=False,
        )
    if report.stuck_sending:
        err.print(
            "[yellow]Письма в состоянии «отправляется» (сбой во время прошлой отправки; возможно, уже дошли):[/] "
            + ", ".join(report.stuck_sending)
            + ". Проверьте у получателей и при необходимости повторите с --resend.",
            highlight=False,
        )
    _missing(plan.missing)
    if report.failed or report.unreachable or report.stuck_sending or plan.missing:
        raise typer.Exit(exitcodes.ATTENTION)


REMARKS = ("замечание", "замечания", "замечаний")
LETTERS = ("письмо осталось", "письма остались", "писем остались")


def _will_go(n: int) -> str:
    """«оно уйдёт» after «1 (21, 31 …) письмо осталось», «они уйдут» after the rest."""
    return "оно уйдёт" if n % 10 == 1 and n % 100 != 11 else "они уйдут"


BACKLOG = ("накопленное замечание", "накопленных замечания", "накопленных замечаний")
HEAVY_LETTER = 40  # a teacher's letter longer than this is worth a look before it goes out


def _missing(names: list[str]) -> None:
    if names:
        err.print(
            "[yellow]Нет адреса — письмо не сформировано:[/] "
            + escape(", ".join(names) + ". Добавьте адреса в справочник ([mail] directory) или [mail] deputy_addr."),
            highlight=False,
        )


STATES = {"pending": "ожидает", "sending": "отправляется", "sent": "отправлено", "failed": "ошибка"}


@app.command("directory")
def directory(
    out_file: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Файл справочника (по умолчанию — [mail] directory или teachers.csv)."),
    ] = None,
) -> None:
    """Справочник адресов учителей: файл для Excel со всеми учителями и классными руководителями школы
    (id;ФИО;email) — остаётся вписать адреса.

    Существующий файл не перезаписывается: его строки сохраняются как есть, добавляются только учителя, которых
    в нём нет. Строка с пустым адресом — учитель без адреса (ему письмо не уйдёт, программа предупредит).
    """
    config = STATE.config()
    target = out_file or config.mail.directory or Path("teachers.csv")
    with closing(open_cache(config.cache.path, create=False, read_only_ok=True)) as db:
        teachers = teaching_staff(db)
    if not teachers:
        raise fail("в кэше ещё нет учителей: сначала синхронизация («asurso-sync sync --all»)", exitcodes.STALE)
    data, added = directory_template(teachers, target if target.exists() else None)
    if added:
        write_private_bytes(target, data)
        verb = plural(added, "добавлен", "добавлены", "добавлено")
        shown = count(added, "учитель", "учителя", "учителей")
        out.print(f"Справочник {target}: {verb} {shown}; впишите адреса в столбец email.", markup=False, soft_wrap=True)
    else:
        out.print(
            f"Справочник {target}: все учителя школы в нём уже есть, файл не изменён.", markup=False, soft_wrap=True
        )
    if config.mail.directory is None or Path(config.mail.directory) != target:
        out.print(f'Укажите его в config.toml: [mail] directory = "{target}"', markup=False, soft_wrap=True)


@app.command("status")
def status(week: WeekOption = None) -> None:
    """Состояние писем за неделю: кому отправлено, что ждёт, что не удалось.

    Код выхода: 0 — всё отправлено; 1 — есть неотправленные, ошибки или «застрявшие» письма.
    """
    config = STATE.config()
    w = _week(config, week)
    with closing(open_cache(config.cache.path, create=False, read_only_ok=True)) as db:
        items = outbox_rows(db, period=w.label)
        sent = _sent_lists(db, config, w) if items else None
    if not items:
        out.print(f"За неделю {w.span} ({w.label}) писем не формировалось.", highlight=False)
        return
    table = Table(title=f"Письма за неделю {w.span}", title_justify="left")
    for col in ("Адрес", "Письмо", "Состояние", "Попыток", f"Отправлено ({config.school.tz.key})", "Ошибка"):
        table.add_column(col)
    for row in items:
        table.add_row(
            row.recipient,
            "сводка" if row.kind == "deputy" else "список",
            STATES.get(row.state, row.state),
            str(row.attempts),
            local_time(row.sent_at, config.school.tz) if row.sent_at else "",
            row.last_error or "",
        )
    out.print(table)
    if sent:
        out.print(sent, highlight=False)
    if any(r.state != "sent" for r in items):
        raise typer.Exit(exitcodes.ATTENTION)


def _sent_lists(db: Database, config: Config, w: Week) -> str | None:
    """What the week's teacher lists hold, tasks and records apart (R22), by the latest check."""
    try:
        wl = build_week(db, config, w)
    except NoCheckYet:
        return None
    shown = wl.recipients(config)
    tasks = sum(t.part.tasks + t.chief.tasks for t in shown)
    records = sum(len(t.part.records) + len(t.chief.records) for t in shown)
    return (
        f"В списках недели (по последней проверке): задач — {tasks}, «внесено позже срока — исправлять нечего» — "
        f"{records}; прежние записи только в счёте завуча — {wl.summary.totals['records_before']}."
    )
