"""``asurso-sync check`` and ``asurso-sync rules list|explain``."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.tree import Tree

from asurso_sync import exitcodes
from asurso_sync.check import (
    CheckOptions,
    CheckUsageError,
    StaleData,
    grouped,
    jsonl_chunks,
    on_time_share,
    rule_rows,
    rule_sql,
    run_check,
    to_csv,
    to_json,
    to_jsonl,
    to_xlsx,
)
from asurso_sync.cli_common import CONTEXT_SETTINGS, STATE, err, fail, out
from cache.files import open_to_others, unsafe_folder_message, write_private_bytes, write_private_chunks

# check's own exit codes (issue «Rules engine»): they differ from the general ones on purpose
CHECK_OK, CHECK_WARNINGS, CHECK_ERRORS, CHECK_STALE, CHECK_ENGINE = 0, 1, 2, 3, 4
FORMATS = ("table", "jsonl", "json", "csv", "xlsx")

rules_app = typer.Typer(
    help="Каталог правил проверки.", context_settings=CONTEXT_SETTINGS, no_args_is_help=True, rich_markup_mode="rich"
)


def _date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise fail(f"{option}: «{value}» — не дата ГГГГ-ММ-ДД", exitcodes.CONFIG) from None


def check(
    start: Annotated[
        str | None, typer.Option("--from", help="Начало периода (по умолчанию — первая синхронизация).")
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="Конец периода (по умолчанию — сегодня).")] = None,
    teacher: Annotated[str | None, typer.Option("--teacher", help="Только этот учитель: id или часть ФИО.")] = None,
    class_name: Annotated[str | None, typer.Option("--class", help="Только этот класс, например 8б.")] = None,
    select: Annotated[list[str] | None, typer.Option("--select", help="Правила: код, семейство (TML) или имя.")] = None,
    ignore: Annotated[list[str] | None, typer.Option("--ignore", help="Не проверять эти правила.")] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table, jsonl, json, csv или xlsx.")] = "table",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Записать в файл (для xlsx обязательно).")
    ] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Момент проверки (для разборов и демо), ISO.")] = None,
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

    Код выхода: 0 — нарушений нет; 1 — только предупреждения; 2 — есть нарушения; 3 — данные устарели или \
последняя синхронизация не удалась (замечания не формируются, см. --stale-ok); 4 — ошибка проверки.
    """
    if fmt not in FORMATS:
        raise fail(f"неизвестный формат «{fmt}»: допустимы {', '.join(FORMATS)}", CHECK_ENGINE)
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
    opts = CheckOptions(
        start=_date(start, "--from"),
        end=_date(end, "--to"),
        as_of=moment,
        teacher=teacher,
        class_name=class_name,
        select=list(select or []),
        ignore=list(ignore or []),
        stale_ok=stale_ok,
        params=_params(param or []),
    )
    try:
        outcome = run_check(STATE.config(), opts)
    except StaleData as exc:
        raise fail(f"Замечания не сформированы: {exc}.", CHECK_STALE) from None
    except CheckUsageError as exc:
        raise fail(str(exc), exitcodes.CONFIG) from None
    except Exception as exc:  # an engine bug must not look like "no findings"
        raise fail(f"Ошибка проверки: {type(exc).__name__}: {exc}", CHECK_ENGINE) from exc

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
    code = {"error": CHECK_ERRORS, "warning": CHECK_WARNINGS}.get(outcome.exit_severity, CHECK_OK)
    raise typer.Exit(code)


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
    for col in ("код", "правило", "новых", "всего", "не определено"):
        t.add_column(col)
    per: dict[str, tuple[int, int]] = {}
    for f in outcome.findings:
        n_new, n_all = per.get(f["rule"], (0, 0))
        per[f["rule"]] = (n_new + (f["state"] == "new"), n_all + 1)
    for x in r.rules:
        n_new, n_all = per.get(x.code, (0, 0))
        und = r.undecided.get(x.code, 0)
        if n_all or und:
            t.add_row(x.code, x.title, str(n_new), str(n_all), str(und) if und else "")
    out.print(t)
    if outcome.resolved:
        out.print(f"Устранено с прошлой проверки: {len(outcome.resolved)}")
    undecided = sum(r.undecided.values())
    if undecided:
        out.print(
            f"Не определено (нет данных о времени внесения): {undecided} — такие случаи не считаются нарушениями."
        )


@rules_app.command("list")
def rules_list(fmt: Annotated[str, typer.Option("--format", "-f", help="table или json.")] = "table") -> None:
    """Все правила: код, имя, важность, пункт Положения."""
    items = rule_rows()
    if fmt == "json":
        out.print_json(json.dumps(items, ensure_ascii=False))
        return
    t = Table("код", "имя", "правило", "важность", "пункт", "")
    sev = {"error": "нарушение", "warning": "предупреждение", "info": "сведения"}
    for x in items:
        t.add_row(
            x["code"],
            x["name"],
            x["title"],
            sev[x["severity"]],
            x["clause"],
            "предварительное" if x["preview"] else ("основное" if x["core"] else ""),
        )
    out.print(t)


@rules_app.command("explain")
def rules_explain(
    code: Annotated[str, typer.Argument(help="Код или имя правила, например TML001.")],
    sql: Annotated[
        bool,
        typer.Option("--sql", help="Показать запрос SQL, которым правило читает кэш (для правил на SQL)."),
    ] = False,
) -> None:
    """Подробно о правиле: пункт Положения, условие словами, параметры с текущими значениями, пример."""
    items = {x["code"]: x for x in rule_rows()} | {x["name"]: x for x in rule_rows()}
    x = items.get(code) or items.get(code.upper())
    if x is None:
        raise fail(f"правило «{code}» не найдено; список: asurso-sync rules list", exitcodes.CONFIG)
    try:
        configured = STATE.config().rules.params(x["code"]) or STATE.config().rules.params(x["name"])
    except Exception:
        configured = {}
    out.print(f"[bold]{x['code']} {x['name']}[/] — {x['title']}")
    severity = {"error": "нарушение", "warning": "предупреждение", "info": "сведения для завуча"}[x["severity"]]
    kind = " (предварительное правило: включается через [rules] select)" if x["preview"] else ""
    out.print(
        f"Пункт Положения: {x['clause']}; важность: {severity}{kind}; объект: {', '.join(x['entity'])}",
        markup=False,
        highlight=False,
    )
    if x["predicate"]:
        out.print(f"Нарушение, когда: {x['predicate']}", markup=False, highlight=False)
    if x["params"]:
        out.print("Параметры (по умолчанию → в конфигурации):")
        for k, v in x["params"].items():
            out.print(f"  {k} = {v!r}" + (f" → {configured[k]!r}" if k in configured else ""), highlight=False)
    out.print(f"Пример замечания: {x['example']}", highlight=False)
    if x["advice"]:
        out.print(f"Что сделать учителю: {x['advice']}", highlight=False)
    if sql:
        query = rule_sql(x["code"], configured, date.today())
        if query is None:
            out.print("Правило вычисляется в Python по данным, загруженным из кэша; своего запроса SQL у него нет.")
        else:
            out.print("Запрос к кэшу (сроки урока, период и класс проверяются после него, в Python):", highlight=False)
            out.print(query[0], markup=False, highlight=False, soft_wrap=True)
            out.print(f"Параметры запроса: {json.dumps(query[1], ensure_ascii=False)}", markup=False, highlight=False)


@rules_app.command("waive")
def rules_waive(
    code: Annotated[str, typer.Argument(help="Код правила, например TML001.")],
    reason: Annotated[str, typer.Option("--reason", help="Почему замечание принято (обязательно).")],
    cm: Annotated[int | None, typer.Option("--cm", help="Урок (id).")] = None,
    sg: Annotated[int | None, typer.Option("--sg", help="Учебная группа (id).")] = None,
    student: Annotated[int | None, typer.Option("--student", help="Обучающийся (id).")] = None,
    class_name: Annotated[str | None, typer.Option("--class", help="Класс, например 8б.")] = None,
    teacher: Annotated[int | None, typer.Option("--teacher", help="Учитель (id).")] = None,
    until: Annotated[str | None, typer.Option("--until", help="Действует до даты ГГГГ-ММ-ДД.")] = None,
) -> None:
    """Исключение: не показывать замечание правила в указанной области (с причиной и сроком)."""
    import getpass

    from cache import add_waiver, audit, open_cache

    scope = {
        k: v
        for k, v in {"cm": cm, "sg": sg, "student": student, "class": class_name, "teacher": teacher}.items()
        if v is not None
    }
    if not scope:
        raise fail("укажите область исключения: --cm, --sg, --student, --class или --teacher", exitcodes.CONFIG)
    if code not in {x["code"] for x in rule_rows()}:
        raise fail(f"правило «{code}» не найдено", exitcodes.CONFIG)
    _date(until, "--until")
    db = open_cache(STATE.config().cache.path, create=False)
    wid = add_waiver(db, code, scope, reason, getpass.getuser(), until)
    audit(db, "waiver", {"id": wid, "rule": code, "scope": scope, "until": until})
    out.print(f"Исключение №{wid} добавлено.")


@rules_app.command("waivers")
def rules_waivers() -> None:
    """Действующие исключения."""
    from cache import open_cache, waivers

    t = Table("№", "правило", "область", "причина", "автор", "до")
    for w in waivers(open_cache(STATE.config().cache.path, create=False)):
        t.add_row(
            str(w["id"]),
            w["rule"],
            ", ".join(f"{k}={v}" for k, v in w["scope"].items()),
            w["reason"],
            w["author"],
            w["expires"] or "бессрочно",
        )
    out.print(t)


@rules_app.command("unwaive")
def rules_unwaive(waiver_id: Annotated[int, typer.Argument(help="Номер исключения.")]) -> None:
    """Отменить исключение."""
    from cache import audit, open_cache, remove_waiver

    db = open_cache(STATE.config().cache.path, create=False)
    if not remove_waiver(db, waiver_id):
        raise fail(f"исключения №{waiver_id} нет", exitcodes.CONFIG)
    audit(db, "waiver-removed", {"id": waiver_id})
    out.print(f"Исключение №{waiver_id} отменено.")
