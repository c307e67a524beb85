"""``asurso-sync check``: the journal against the Положение, as a table or a file."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.tree import Tree

from asurso_sync import exitcodes
from asurso_sync.check import (
    CheckOptions,
    grouped,
    jsonl_chunks,
    on_time_share,
    run_check,
    to_csv,
    to_json,
    to_jsonl,
    to_xlsx,
    undecided_by_rule,
)
from asurso_sync.cli.common import STATE, err, fail, out, parse_period
from asurso_sync.config import require_filled
from cache.files import open_to_others, unsafe_folder_message, write_private_bytes, write_private_chunks

FORMATS = ("table", "jsonl", "json", "csv", "xlsx")


def check(
    start: Annotated[
        str | None,
        typer.Option(
            "--from", metavar="ДАТА", help="Начало периода (по умолчанию — начало учебного года, [rules] check_from)."
        ),
    ] = None,
    end: Annotated[
        str | None, typer.Option("--to", metavar="ДАТА", help="Конец периода (по умолчанию — сегодня).")
    ] = None,
    teacher: Annotated[
        str | None, typer.Option("--teacher", metavar="УЧИТЕЛЬ", help="Только этот учитель: id или часть ФИО.")
    ] = None,
    class_name: Annotated[
        str | None, typer.Option("--class", metavar="КЛАСС", help="Только этот класс, например 8б.")
    ] = None,
    finding: Annotated[
        str | None,
        typer.Option(
            "--finding",
            metavar="ЗАМЕЧАНИЕ",
            help="Только это замечание: его номер из письма (8 знаков, например 63d50e89) или слова его строки.",
        ),
    ] = None,
    select: Annotated[list[str] | None, typer.Option("--select", help="Правила: код, семейство (TML) или имя.")] = None,
    ignore: Annotated[list[str] | None, typer.Option("--ignore", help="Не проверять эти правила.")] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table, jsonl, json, csv или xlsx.")] = "table",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Записать в файл (для xlsx обязательно).")
    ] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", metavar="ДАТА_ВРЕМЯ", help="Момент проверки (для разборов и демо), ISO.")
    ] = None,
    stale_ok: Annotated[bool, typer.Option("--stale-ok", help="Проверять даже по устаревшим данным.")] = False,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", help="Параметр правила: КОД.имя=значение (важнее конфигурации)."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Записать файл даже в папку, открытую другим пользователям.")
    ] = False,
) -> None:
    """Проверить журнал по Положению и показать замечания.

    Код выхода: 0 — нарушений нет; 1 — только предупреждения; 8 — есть нарушения; 2 — ошибка в команде или \
конфигурации; 3 — данные устарели или последняя синхронизация не удалась (замечания не формируются, см. \
--stale-ok); 4 — внутренняя ошибка; 9 — кэш не создан или недоступен.
    """
    if fmt not in FORMATS:
        raise fail(f"неизвестный формат «{fmt}»: допустимы {', '.join(FORMATS)}", exitcodes.CONFIG)
    if fmt == "xlsx" and output is None:
        raise fail("для формата xlsx укажите файл: --output отчёт.xlsx", exitcodes.CONFIG)
    if output is not None and not force and open_to_others(output.resolve().parent):
        raise fail(unsafe_folder_message(output.resolve().parent), exitcodes.CONFIG)
    moment = None
    if as_of:
        try:
            moment = datetime.fromisoformat(as_of).replace(tzinfo=None)
        except ValueError:
            raise fail(f"--as-of: «{as_of}» — не дата и время ISO", exitcodes.CONFIG) from None
    first, last = parse_period(start, end)
    opts = CheckOptions(
        start=first,
        end=last,
        as_of=moment,
        teacher=teacher,
        class_name=class_name,
        finding=finding,
        select=list(select or []),
        ignore=list(ignore or []),
        stale_ok=stale_ok,
        params=_params(param or []),
    )
    # errors take the one handler's path: a stale cache is 3, a missing config 2, an engine bug 4 — never
    # a quiet «no findings»
    config = STATE.config()
    require_filled(config, ("school", "name"))  # the remarks and the summary carry the school's name
    outcome = run_check(config, opts)
    if not outcome.run_id:
        err.print(
            "[yellow]Внимание:[/] кэш доступен только для чтения — результаты этой проверки не сохранены "
            "(списки замечаний строятся по последней сохранённой проверке).",
            highlight=False,
        )

    line = _shadow_line()
    if line:
        err.print(line, highlight=False, markup=False)
    if fmt == "table":
        _print_table(outcome)
    elif fmt == "xlsx":
        assert output is not None
        to_xlsx(outcome, output)
        err.print(f"Отчёт записан: {output}")
    elif fmt == "jsonl" and output is not None:
        write_private_chunks(output, jsonl_chunks(outcome))
        err.print(f"Записано: {output} ({len(outcome.findings)} замечаний)")
    else:
        data = to_jsonl(outcome) if fmt == "jsonl" else to_json(outcome) if fmt == "json" else None
        payload = to_csv(outcome) if fmt == "csv" else (data or "").encode("utf-8")
        if output is not None:
            write_private_bytes(output, payload)
            err.print(f"Записано: {output} ({len(outcome.findings)} замечаний)")
        else:
            typer.echo(payload.decode("utf-8-sig"), nl=False)
    code = {"error": exitcodes.VIOLATIONS, "warning": exitcodes.ATTENTION}.get(outcome.exit_severity, exitcodes.OK)
    raise typer.Exit(code)


def _shadow_line() -> str | None:
    from contextlib import closing

    from asurso_sync.routing import shadow_line
    from cache import open_cache
    from cache.cabinet import released_rules
    from rules.catalogue import load_catalogue

    config = STATE.config()
    if not config.rules.shadow:
        return None
    with closing(open_cache(config.cache.path, create=False, read_only_ok=True)) as db:
        return shadow_line(config, load_catalogue(), released_rules(db))


def _params(items: list[str]) -> dict[str, dict[str, object]]:
    import tomllib

    out_: dict[str, dict[str, object]] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        code, dot, name = key.partition(".")
        if not sep or not dot or not code or not name:
            raise fail(f"параметр «{item}» задаётся как КОД.имя=значение, например TML005.days=10", exitcodes.CONFIG)
        try:
            value = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            value = raw
        out_.setdefault(code, {})[name] = value
    return out_


def _print_table(outcome) -> None:  # type: ignore[no-untyped-def]
    r = outcome.result
    out.print(
        f"[bold]Проверка журнала[/] за {r.start:%d.%m.%Y} – {r.end:%d.%m.%Y}, на {r.as_of:%d.%m.%Y %H:%M} "
        f"(данные: {outcome.freshness})",
        highlight=False,
    )
    titles = {x.code: x.title for x in r.rules}
    tree = Tree("Замечания по учителям")
    share = on_time_share(outcome)
    by_name = {v: k for k, v in outcome.names["teacher"].items()}
    for teacher, places in sorted(grouped(outcome).items()):
        total = sum(sum(c.values()) for c in places.values())
        pct = share.get(by_name.get(teacher, -1))
        extra = f", уроков заполнено в срок {pct:.0%}" if pct is not None else ""
        branch = tree.add(f"[bold]{teacher}[/] — {total}{extra}")
        for place, counts in sorted(places.items()):
            leaf = branch.add(place)
            for code, n in sorted(counts.items()):
                leaf.add(f"{code} {titles.get(code, '')}: {n}")
    out.print(tree)
    t = Table(title="Итого по правилам", title_justify="left")
    for col in ("код", "правило", "новых", "всего", "из них исправлять нечего", "не определено"):
        t.add_column(col)
    per: dict[str, tuple[int, int, int]] = {}
    for f in outcome.findings:
        n_new, n_all, n_rec = per.get(f["rule"], (0, 0, 0))
        per[f["rule"]] = (n_new + (f["state"] == "new"), n_all + 1, n_rec + (f.get("kind") == "record"))
    for x in r.rules:
        n_new, n_all, n_rec = per.get(x.code, (0, 0, 0))
        und = r.undecided.get(x.code, 0)
        if n_all or und:
            t.add_row(x.code, x.title, str(n_new), str(n_all), str(n_rec) if n_rec else "", str(und) if und else "")
    out.print(t)
    if outcome.resolved:
        out.print(f"Устранено с прошлой проверки: {len(outcome.resolved)}")
    undecided = sum(undecided_by_rule(r.undecided).values())
    if undecided:
        out.print(
            f"Не определено (нет данных о времени внесения): {undecided} — такие случаи не считаются нарушениями."
        )
