"""``asurso-sync rules list|explain|waive|waivers|unwaive``: the rule catalogue and the school's exceptions."""

from __future__ import annotations

import getpass
import json
from contextlib import closing
from datetime import date
from typing import Annotated, Any

import typer
from rich.table import Table
from sqlite_utils import Database

from asurso_sync import exitcodes
from asurso_sync.check import rule_rows, rule_sql
from asurso_sync.cli.common import STATE, App, err, fail, out, parse_date
from asurso_sync.config import ConfigMissing
from asurso_sync.findref import matching, ref
from cache import add_waiver, audit, findings_by_state, open_cache, remove_waiver, waivers
from rules.wording import count

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
    code: Annotated[
        str | None, typer.Argument(help="Код правила, например TML001 (не нужен с --finding).", show_default=False)
    ] = None,
    reason: Annotated[str, typer.Option("--reason", help="Почему замечание принято (обязательно).")] = "",
    finding: Annotated[
        str | None,
        typer.Option(
            "--finding",
            metavar="ЗАМЕЧАНИЕ",
            help="Одно замечание: номер из письма (8 знаков в скобках, например 63d50e89) или слова его строки.",
        ),
    ] = None,
    cm: Annotated[int | None, typer.Option("--cm", help="Урок (id).")] = None,
    sg: Annotated[int | None, typer.Option("--sg", help="Учебная группа (id).")] = None,
    student: Annotated[int | None, typer.Option("--student", help="Обучающийся (id).")] = None,
    class_name: Annotated[str | None, typer.Option("--class", metavar="КЛАСС", help="Класс, например 8б.")] = None,
    teacher: Annotated[int | None, typer.Option("--teacher", metavar="УЧИТЕЛЬ", help="Учитель (id).")] = None,
    until: Annotated[str | None, typer.Option("--until", help="Действует до даты ГГГГ-ММ-ДД.")] = None,
) -> None:
    """Исключение: не показывать замечание правила в указанной области (с причиной и сроком).

    Одно замечание из письма: «asurso-sync rules waive --finding 63d50e89 --reason "…"» (номер — в скобках после
    кода правила) или «--finding "8а, Алгебра, 10.12, урок 5"». Область шире — код правила и --class, --teacher,
    --sg, --cm или --student.
    """
    if not reason.strip():
        raise fail('укажите причину: --reason "…" (она видна в списке исключений и в журнале аудита)')
    scope: dict[str, Any] = {
        k: v
        for k, v in {"cm": cm, "sg": sg, "student": student, "class": class_name, "teacher": teacher}.items()
        if v is not None
    }
    expires = parse_date(until, "--until")
    until_text = expires.isoformat() if expires else None
    with closing(open_cache(STATE.config().cache.path, create=False)) as db:
        if finding is not None:
            target = _one_finding(db, finding)
            if code is not None and code != target["rule"]:
                raise fail(f"замечание «{finding}» — по правилу {target['rule']}, а указано {code}")
            code, scope = target["rule"], {"fingerprint": target["fingerprint"]}
        if code is None:
            raise fail("укажите код правила или --finding с номером замечания из письма")
        if not scope:
            raise fail(
                "укажите область исключения: --finding (одно замечание), --cm, --sg, --student, --class или --teacher"
            )
        if code not in {x["code"] for x in rule_rows()}:
            raise fail(f"правило «{code}» не найдено")
        wid = add_waiver(db, code, scope, reason, getpass.getuser(), until_text)
        audit(db, "waiver", {"id": wid, "rule": code, "scope": scope, "until": until_text})
    out.print(f"Исключение №{wid} добавлено.")


def _one_finding(db: Database, text: str) -> dict[str, Any]:
    """The one stored (not resolved) finding ``text`` names; none or several is a usage error that shows them."""
    found = [f for f in matching(findings_by_state(db), text) if f["state"] != "resolved"]
    if len(found) == 1:
        return found[0]
    if not found:
        raise fail(
            f"--finding: замечания «{text}» среди текущих нет. Укажите номер из письма (8 знаков в скобках после кода "
            "правила, например [TML001 · 63d50e89]) или слова строки замечания; список — «asurso-sync check»."
        )
    shown = "\n".join(f"  {ref(f['fingerprint'])}  {f['rule']}  {f['message']}" for f in found[:10])
    more = f"\n  … и ещё {len(found) - 10}" if len(found) > 10 else ""
    many = count(len(found), "замечание", "замечания", "замечаний")
    raise fail(f"--finding: под «{text}» подходят {many} — укажите номер одного из них:\n{shown}{more}")


@app.command("waivers")
def rules_waivers() -> None:
    """Действующие исключения."""
    with closing(open_cache(STATE.config().cache.path, create=False, read_only_ok=True)) as db:
        items = waivers(db)
    t = Table("№", "правило", "область", "причина", "автор", "до")
    for w in items:
        t.add_row(
            str(w["id"]),
            w["rule"],
            ", ".join(f"замечание {ref(v)}" if k == "fingerprint" else f"{k}={v}" for k, v in w["scope"].items()),
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
