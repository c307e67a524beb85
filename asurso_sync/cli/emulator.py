"""``asurso-sync emulator …``: the built-in asurso.ru emulator for tests, demos and benchmarks."""

from __future__ import annotations

import ipaddress
import json
import logging
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
from rich.table import Table

from adapters.emulator.faults import parse_faults
from adapters.emulator.journal import generate_journal
from adapters.emulator.scenario import build as build_scenario
from adapters.emulator.scenario import load as load_scenario
from adapters.emulator.school import SIZES, School, generate_structure
from adapters.emulator.server import Emulator, EmulatorSettings
from adapters.emulator.truth import ground_truth, write_jsonl
from asurso_sync import exitcodes
from asurso_sync.cli.common import App, err, fail, out, parse_date
from cache.files import write_private_bytes

app = App(help="Встроенный эмулятор asurso.ru: сгенерированная школа, часы, сбои и эталон нарушений.")

SizeOpt = Annotated[str, typer.Option("--size", help=f"Размер школы: {', '.join(SIZES)}.")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Зерно генерации: одно и то же зерно — та же школа.")]
WeekOpt = Annotated[
    int, typer.Option("--week", min=5, max=6, help="Учебных дней в неделю у сгенерированной школы: 5 или 6.")
]


def _size(value: str) -> Any:
    if value not in SIZES:
        raise fail(f"неизвестный размер «{value}»: допустимы {', '.join(SIZES)}", exitcodes.CONFIG)
    return value


def _moment(value: str, option: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise fail(f"{option}: «{value}» — не дата и время ISO, например 2026-11-23T16:05", exitcodes.CONFIG) from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(ZoneInfo("Europe/Samara")).replace(tzinfo=None)
    return moment


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Адрес для прослушивания (по умолчанию только эта машина).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Порт.")] = 8765,
    size: SizeOpt = "small",
    seed: SeedOpt = 1,
    week: WeekOpt = 5,
    clock: Annotated[
        str | None,
        typer.Option(help="Время эмулятора (местное самарское), ISO; по умолчанию — текущее."),
    ] = None,
    faults: Annotated[
        str | None, typer.Option(help="Сбои: standard или список ключ=значение, например 5xx=0.1,hang=0.05.")
    ] = None,
    test_mode: Annotated[
        bool, typer.Option("--test-mode", help="Включить управление часами /_emulator/clock (тесты и демо).")
    ] = False,
    session_timeout: Annotated[int, typer.Option(help="Тайм-аут бездействия сессии, секунды.")] = 3600,
    scenario: Annotated[
        Path | None,
        typer.Option(
            "--scenario",
            help="Файл сценария (.toml, docs/scenarios.md): школа из файла вместо сгенерированной.",
            dir_okay=False,
        ),
    ] = None,
    esia_only: Annotated[
        bool,
        typer.Option(
            "--esia-only", help="Только вход через Госуслуги: вход по паролю отключён (как в регионах с ЕСИА)."
        ),
    ] = False,
    esia_mfa: Annotated[
        str,
        typer.Option(
            "--esia-mfa", help="Второй фактор учётной записи Госуслуг эмулятора: sms, totp, push, max или none."
        ),
    ] = "sms",
) -> None:
    """Запустить эмулятор asurso.ru по HTTP (uvicorn) — вместе с имитацией портала Госуслуг по адресу /gosuslugi."""
    import uvicorn

    from adapters.emulator.esia import DEMO_LOGIN, DEMO_PASSWORD, MFA_TYPES, EsiaSettings

    if esia_mfa not in MFA_TYPES:
        raise fail(f"--esia-mfa: «{esia_mfa}» — допустимы {', '.join(MFA_TYPES)}", exitcodes.CONFIG)

    try:
        ip = ipaddress.ip_address(host)
        if not ip.is_loopback:
            err.print(f"[yellow]Внимание:[/] эмулятор слушает внешний адрес {host}.")
    except ValueError:
        pass
    fault_cfg = parse_faults(faults, seed=seed)
    now = _moment(clock, "--clock") if clock else datetime.now(ZoneInfo("Europe/Samara")).replace(tzinfo=None)
    prebuilt = None
    if scenario is not None:
        built = build_scenario(load_scenario(scenario))
        prebuilt = (built.school, built.journal)
        err.print(f"Школа из сценария {scenario}")
    else:
        err.print(f"Генерация школы ({size}, зерно {seed}, {week}-дневная неделя)…")
    emu = Emulator(
        EmulatorSettings(
            seed=seed,
            size=_size(size),
            clock=now.replace(microsecond=0),
            faults=fault_cfg,
            control=test_mode,
            session_timeout_ms=session_timeout * 1000,
            prebuilt=prebuilt,
            esia=EsiaSettings(only=esia_only, mfa=esia_mfa),
            week=week,
        )
    )
    password = "только через Госуслуги" if esia_only else "zavuch / Сота-2026"
    err.print(
        f"[green]Эмулятор asurso.ru[/]: http://{host}:{port}  школа «{emu.school.name}», scid={emu.school.scid}, "
        f"часы {emu.clock.isoformat(timespec='minutes')}; вход: {password}; Госуслуги: http://{host}:{port}/gosuslugi "
        f"({DEMO_LOGIN} / {DEMO_PASSWORD}, второй фактор {esia_mfa})",
        highlight=False,
    )
    logging.getLogger("uvicorn.error").addFilter(_quiet_emulated_resets)
    uvicorn.run(emu, host=host, port=port, log_level="warning", date_header=False, server_header=False)


def _quiet_emulated_resets(record: logging.LogRecord) -> bool:
    """An emulated connection reset (``--faults reset=…``) is the emulator's intent, not an error of it: uvicorn
    would print its traceback for every one."""
    from adapters.emulator.protocol import EmulatedConnectionReset

    return not (record.exc_info and isinstance(record.exc_info[1], EmulatedConnectionReset))


@app.command("ground-truth")
def ground_truth_cmd(
    start: Annotated[str, typer.Option("--from", metavar="ДАТА", help="Начало периода, ГГГГ-ММ-ДД.")],
    as_of: Annotated[str, typer.Option("--as-of", metavar="ДАТА_ВРЕМЯ", help="Момент проверки (местное время), ISO.")],
    size: SizeOpt = "small",
    seed: SeedOpt = 1,
    week: WeekOpt = 5,
    output: Annotated[Path | None, typer.Option("--out", help="Файл JSONL (по умолчанию — вывод на экран).")] = None,
) -> None:
    """Эталон нарушений за период \\[from, as-of] по решениям школы R0–R20, с владельцем каждого (JSONL;
    docs/rules.md, разделы 3 и 4)."""
    period_start = parse_date(start, "--from")
    assert period_start is not None
    moment = _moment(as_of, "--as-of")
    school = generate_structure(seed, _size(size), week=week)
    truth = ground_truth(school, generate_journal(school), period_start, moment)
    text = write_jsonl(truth)
    if output is None:
        out.print(text, end="", markup=False, highlight=False, soft_wrap=True)
    else:
        write_private_bytes(output, text.encode("utf-8"))
        err.print(f"Записано {len(truth)} нарушений в {output}")


def accounts_of(school: School) -> dict[str, Any]:
    staff = sorted(school.staff.values(), key=lambda s: s.id)
    role = {school.deputy_id: "завуч", school.admin_id: "администратор"}
    rows = [
        {
            "login": s.login,
            "password": s.password,
            "role": role.get(s.id, "учитель"),
            "user_id": s.id,
            "name": s.full_name,
            "role_groups": list(s.roles) if len(s.roles) > 1 and "Родитель" in s.roles else None,
        }
        for s in staff
    ]
    students = sorted(school.students.values(), key=lambda s: s.id)[:10]
    rows += [
        {
            "login": s.login,
            "password": s.password,
            "role": "ученик",
            "user_id": s.id,
            "name": s.full_name,
            "role_groups": None,
        }
        for s in students
    ]
    rows += [
        {
            "login": p.login,
            "password": p.password,
            "role": "родитель",
            "user_id": p.id,
            "name": p.name,
            "role_groups": None,
        }
        for p in school.parent_accounts
    ]
    return {
        "school": school.name,
        "scid": school.scid,
        "accounts": rows,
        "family_education": sorted(s.id for s in school.students.values() if s.family_educ),
    }


@app.command()
def accounts(
    size: SizeOpt = "small",
    seed: SeedOpt = 1,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table или json.")] = "table",
) -> None:
    """Учётные записи эмулятора: scid, логины, пароли и роли.

    Завуч всегда zavuch / Сота-2026. Пароли: учитель — «Учитель-<id>», ученик — «Ученик-<id>», \
родитель — «Родитель-<id>», администратор — «Админ-2026».
    """
    if fmt not in ("table", "json"):
        raise fail(f"неизвестный формат «{fmt}»: допустимы table, json", exitcodes.CONFIG)
    data = accounts_of(generate_structure(seed, _size(size)))
    if fmt == "json":
        out.print_json(json.dumps(data, ensure_ascii=False))
        return
    out.print(f"[bold]{data['school']}[/], scid = {data['scid']}")
    t = Table("логин", "пароль", "роль", "id", "ФИО")
    for a in data["accounts"]:
        role = a["role"] + (" + родитель (выбор роли)" if a["role_groups"] else "")
        t.add_row(a["login"], a["password"], role, str(a["user_id"]), a["name"])
    out.print(t)
    out.print(f"Семейное обучение (для [rules] family_education): {data['family_education']}", markup=False)
