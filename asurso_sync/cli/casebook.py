"""``asurso-sync casebook run``: the school's casebook (scenario files) as the judge of the rules."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from asurso_sync import exitcodes
from asurso_sync.casebook import CaseResult, case_files, run_cases
from asurso_sync.cli.common import App, err, fail, out

app = App(
    help=(
        "Сборник случаев (casebook): файлы сценариев — маленькая школа, что и когда внесено в журнал, расписание "
        "синхронизаций и ожидаемые замечания. Каждый случай проходит весь путь: эмулятор, синхронизация, "
        "проверка — и сравнивается с ожиданием. Формат файлов: docs/scenarios.md."
    )
)


@app.command("run")
def run(
    paths: Annotated[list[Path], typer.Argument(help="Файлы сценариев (.toml) или папки с ними.")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="table (таблица) или json.")] = "table",
    jobs: Annotated[
        int, typer.Option("--jobs", "-j", min=1, max=32, help="Сколько случаев проверять одновременно (процессы).")
    ] = max(1, min(4, os.cpu_count() or 1)),
) -> None:
    """Проверить случаи: для каждого — эмулятор, синхронизация по расписанию, проверка и сравнение с ожиданием.

    Код выхода: 0 — все случаи сошлись с ожиданием; 1 — есть расхождения (в том числе у случаев, помеченных \
как известные расхождения xfail); 2 — ошибка в файле сценария (файл, строка и ключ — в сообщении).
    """
    if fmt not in ("table", "json"):
        raise fail(f"неизвестный формат «{fmt}»: допустимы table, json", exitcodes.CONFIG)
    files = case_files(paths)
    if not files:
        raise fail("сценариев не найдено: укажите файлы .toml или папку с ними", exitcodes.CONFIG)
    with err.status(f"Проверка случаев: {len(files)}…"):
        results = run_cases(files, jobs=jobs)
    if fmt == "json":
        out.print_json(json.dumps([r.as_dict() for r in results], ensure_ascii=False))
    else:
        _table(results)
    if not all(r.passed for r in results):
        raise typer.Exit(exitcodes.ATTENTION)


def _table(results: list[CaseResult]) -> None:
    t = Table(title="Сборник случаев", title_justify="left")
    for col in ("", "случай", "что проверяется", "с"):
        t.add_column(col)
    for r in results:
        mark = "[green]✓[/]" if r.passed else ("[yellow]✗[/]" if r.xfail else "[red]✗[/]")
        t.add_row(mark, r.id, escape(r.title), f"{r.seconds:.1f}")
    out.print(t)
    for r in results:
        if r.passed:
            continue
        out.print(f"\n[bold]{escape(r.id)}[/] {escape(r.title)}", highlight=False)
        if r.xfail:
            out.print(f"  известное расхождение: {escape(r.xfail)}", highlight=False)
        if r.error:
            out.print(f"  [red]ошибка:[/] {escape(r.error)}", highlight=False)
        for row in r.missing:
            out.print(f"  ожидалось, не найдено: {escape(row.text())}", highlight=False)
        for row in r.extra:
            out.print(f"  найдено, не ожидалось: {escape(row.text())}", highlight=False)
        for expected, found in r.wrong:
            out.print(
                f"  не тот владелец или адрес: ожидалось {escape(expected.text())}; найдено {escape(found.text())}",
                highlight=False,
            )
        for rule, (want, got) in r.undecided.items():
            out.print(f"  не определено по {rule}: ожидалось {want}, получилось {got}", highlight=False)
        for problem in r.letters:
            out.print(f"  письма: {escape(problem)}", highlight=False)
    passed = sum(r.passed for r in results)
    known = sum(1 for r in results if not r.passed and r.xfail)
    out.print(
        f"\nСошлось: {passed} из {len(results)}; известных расхождений: {known}; "
        f"новых расхождений: {len(results) - passed - known}.",
        highlight=False,
    )
