"""``asurso-sync rules list|explain|waive|waivers|unwaive``: the rule catalogue and the school's exceptions."""

from __future__ import annotations

import getpass
import json
from contextlib import closing
from datetime import date
from typing import Annotated, Any

import typer
from rich.table import Table

from asurso_sync import exitcodes
from asurso_sync.check import rule_rows, rule_sql
from asurso_sync.cli.common import STATE, App, err, fail, out, parse_date
from asurso_sync.config import ConfigMissing
from cache import add_waiver, audit, open_cache, remove_waiver, waivers

app = App(help="Каталог правил проверки и исключения («принятые» замечания).")


@app.command("list")
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


@app.command("explain")
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
        config = STATE.config()
        configured: dict[str, Any] = config.rules.params(x["code"]) or config.rules.params(x["name"])
    except ConfigMissing:  # the catalogue is readable without a configuration; a broken one is an error (exit 2)
        configured = {}
        err.print("Файл конфигурации не найден: показаны значения параметров по умолчанию.", highlight=False)
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


@app.command("waive")
def rules_waive(
    code: Annotated[str, typer.Argument(help="Код правила, например TML001.")],
    reason: Annotated[str, typer.Option("--reason", help="Почему замечание принято (обязательно).")],
    cm: Annotated[int | None, typer.Option("--cm", help="Урок (id).")] = None,
    sg: Annotated[int | None, typer.Option("--sg", help="Учебная группа (id).")] = None,
    student: Annotated[int | None, typer.Option("--student", help="Обучающийся (id).")] = None,
    class_name: Annotated[str | None, typer.Option("--class", metavar="КЛАСС", help="Класс, например 8б.")] = None,
    teacher: Annotated[int | None, typer.Option("--teacher", metavar="УЧИТЕЛЬ", help="Учитель (id).")] = None,
    until: Annotated[str | None, typer.Option("--until", help="Действует до даты ГГГГ-ММ-ДД.")] = None,
) -> None:
    """Исключение: не показывать замечание правила в указанной области (с причиной и сроком)."""
    scope = {
        k: v
        for k, v in {"cm": cm, "sg": sg, "student": student, "class": class_name, "teacher": teacher}.items()
        if v is not None
    }
    if not scope:
        raise fail("укажите область исключения: --cm, --sg, --student, --class или --teacher", exitcodes.CONFIG)
    if code not in {x["code"] for x in rule_rows()}:
        raise fail(f"правило «{code}» не найдено", exitcodes.CONFIG)
    expires = parse_date(until, "--until")
    until_text = expires.isoformat() if expires else None
    with closing(open_cache(STATE.config().cache.path, create=False)) as db:
        wid = add_waiver(db, code, scope, reason, getpass.getuser(), until_text)
        audit(db, "waiver", {"id": wid, "rule": code, "scope": scope, "until": until_text})
    out.print(f"Исключение №{wid} добавлено.")


@app.command("waivers")
def rules_waivers() -> None:
    """Действующие исключения."""
    with closing(open_cache(STATE.config().cache.path, create=False)) as db:
        items = waivers(db)
    t = Table("№", "правило", "область", "причина", "автор", "до")
    for w in items:
        t.add_row(
            str(w["id"]),
            w["rule"],
            ", ".join(f"{k}={v}" for k, v in w["scope"].items()),
            w["reason"],
            w["author"],
            w["expires"] or "бессрочно",
        )
    out.print(t)


@app.command("unwaive")
def rules_unwaive(waiver_id: Annotated[int, typer.Argument(help="Номер исключения.")]) -> None:
    """Отменить исключение."""
    with closing(open_cache(STATE.config().cache.path, create=False)) as db:
        if not remove_waiver(db, waiver_id):
            raise fail(f"исключения №{waiver_id} нет", exitcodes.CONFIG)
        audit(db, "waiver-removed", {"id": waiver_id})
    out.print(f"Исключение №{waiver_id} отменено.")
