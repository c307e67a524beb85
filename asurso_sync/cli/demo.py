"""``asurso-sync demo``: the first thing a new user runs."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from asurso_sync import exitcodes
from asurso_sync.cli.common import err, fail, out, parse_date, progress_bar
from asurso_sync.demo import (
    CABINET_PASSWORD,
    DEFAULT_FROM,
    DEFAULT_SEED,
    DemoOptions,
    datasette_hint,
    run_demo,
    situation_rows,
)

SIZES = ("tiny", "small", "medium", "large")
WEEKDAYS = ("пн", "вт", "ср", "чт", "пт", "сб", "вс")


def demo(
    size: Annotated[str, typer.Option("--size", help="Размер школы: tiny, small, medium или large.")] = "small",
    seed: Annotated[int, typer.Option("--seed", help="Зерно генератора школы (та же школа при том же зерне).")] = (
        DEFAULT_SEED
    ),
    weeks: Annotated[int, typer.Option("--weeks", min=1, max=40, help="Сколько недель учебного года прожить.")] = 4,
    start: Annotated[
        str,
        typer.Option(
            "--from",
            metavar="ДАТА",
            help="Первый день (лучше понедельник); по умолчанию период захватывает конец четверти.",
        ),
    ] = DEFAULT_FROM.isoformat(),
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Папка для результатов.")] = Path("demo-out"),
    faults: Annotated[
        bool, typer.Option("--faults", help="Со сбоями сервера (набор standard): замечания должны совпасть.")
    ] = False,
    auth: Annotated[
        str,
        typer.Option(
            "--auth",
            help="Способ входа: password (по паролю) или esia — сервер только с Госуслугами: вход по QR-коду (его "
            "подтверждает сама демонстрация), затем продление входа каждую ночь.",
        ),
    ] = "password",
    week: Annotated[
        int, typer.Option("--week", min=5, max=6, help="Учебных дней в неделю у школы эмулятора: 5 или 6.")
    ] = 5,
) -> None:
    """Демонстрация без настройки и без сети: встроенный эмулятор АСУ РСО, синхронизация, проверка, рассылка.

    Эмулятор школы АНОО СОШ «Сота» работает в этом же процессе; программа «проживает» несколько недель: полная \
синхронизация в начале, снимок в 16:05 каждого учебного дня, синхронизация в 01:00 каждую ночь, по понедельникам — \
проверка и рассылка списков замечаний (письма принимает встроенный почтовый сервер и складывает в папку mail). \
В конце замечания сравниваются с эталоном эмулятора (accuracy.txt).

    Школа эмулятора живёт как настоящая: сдвоенные уроки, замены, отработки, отметки из санатория, освобождённые \
от физкультуры, уроки после 16:00, рабочая суббота, записи в 16:03 и после полуночи (их доли — \
adapters/emulator/CHOICES.md); в конце видно, сколько замечаний пришло из каждого вида ситуаций.

    Код выхода: 0 — ни одного ложного замечания (precision 1.000 по каждому правилу) и полнота не ниже 0.98 \
(неопределённое считается пропуском); 1 — цели не достигнуты.
    """
    if size not in SIZES:
        raise fail(f"--size: «{size}» — допустимы {', '.join(SIZES)}", exitcodes.CONFIG)
    first = parse_date(start, "--from")
    assert first is not None
    if auth not in ("password", "esia"):
        raise fail(f"--auth: «{auth}» — допустимы password и esia", exitcodes.CONFIG)
    opt = DemoOptions(size=size, seed=seed, weeks=weeks, start=first, out=out_dir, faults=faults, auth=auth, week=week)
    total = weeks * 7
    err.print(
        f"Демонстрация: школа «{size}» ({week}-дневная неделя), seed {seed}, с {first:%d.%m.%Y} на {weeks} нед."
        + (" Сервер со сбоями (standard)." if faults else "")
        + (" Вход через Госуслуги." if auth == "esia" else ""),
        highlight=False,
    )
    with progress_bar(transient=False, bold=True) as bar:
        task = bar.add_task("подготовка", total=total)

        def progress(day: date, what: str) -> None:
            done = (day - first).days
            bar.update(task, completed=done, description=f"{day:%d.%m.%Y} {WEEKDAYS[day.weekday()]}: {what}")

        result = run_demo(opt, progress)
        bar.update(task, completed=total, description="готово")

    table = Table(
        title="Точность: замечания против эталона эмулятора (правило, объект и владелец)", title_justify="left"
    )
    for col in ("Правило", "Заложено", "Найдено", "Верно", "Не опр.", "Precision", "Recall"):
        table.add_column(col, justify="right" if col != "Правило" else "left")
    for s in result.scores:
        style = None if s.precision == 1.0 and s.recall == 1.0 else "red"
        table.add_row(
            s.rule,
            str(s.planted),
            str(s.found),
            str(s.true_positive),
            str(s.undecided),
            f"{s.precision:.3f}",
            f"{s.recall:.3f}",
            style=style,
        )
    out.print(table)
    if result.situations:
        kinds = Table(title="Замечания по видам ситуаций (одно может касаться нескольких)", title_justify="left")
        kinds.add_column("Ситуация")
        kinds.add_column("Замечаний", justify="right")
        for name, number in situation_rows(result.situations):
            kinds.add_row(name, str(number))
        out.print(kinds)
    o = result.out
    out.print(
        f"Проверка на {result.as_of:%d.%m.%Y %H:%M}: замечаний {result.findings}, не определено {result.undecided}. "
        f"Писем отправлено: {result.messages} (недели {', '.join(result.weeks_sent) or '—'}). "
        f"Запросов к эмулятору: {result.requests}; заняло {result.seconds:.0f} с.",
        highlight=False,
    )
    out.print("\nЧто посмотреть:", highlight=False)
    out.print(f"  письма (.eml, открываются почтовой программой): {o / 'mail'}", highlight=False, soft_wrap=True)
    out.print(f"  списки замечаний и сводка (.html, .xlsx): {o / 'remarks'}", highlight=False, soft_wrap=True)
    out.print(
        f"  замечания (JSON Lines): {o / 'findings.jsonl'};  эталон: {o / 'ground_truth.jsonl'}",
        highlight=False,
        soft_wrap=True,
    )
    out.print(f"  точность по правилам: {o / 'accuracy.txt'}", highlight=False, soft_wrap=True)
    out.print(
        f"  кэш (SQLite): {o / 'cache.db'} — например, asurso-sync -c {o / 'config.toml'} status",
        highlight=False,
        soft_wrap=True,  # paths and commands to copy are never broken across lines
    )
    out.print(
        f"  кабинет завуча в браузере: asurso-sync -c {o / 'config.toml'} web — затем http://127.0.0.1:8080, "
        f"пароль «{CABINET_PASSWORD}»",
        highlight=False,
        soft_wrap=True,
    )
    hint = datasette_hint(o)
    if hint:
        out.print(f"  просмотр кэша в браузере: {hint}", highlight=False, soft_wrap=True)
    if not result.meets_targets:
        raise typer.Exit(exitcodes.ATTENTION)
