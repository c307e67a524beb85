"""``asurso-sync demo``: the whole job on the built-in emulator, with no config and no network.

A generated school (АНОО СОШ «Сота») runs in-process; the demo moves its clock along the standard observation
schedule of the rule contract — a full sync at the start, a 16:05 snapshot every school day, a 01:00 sync every
night — and on every Monday at 07:00 runs the check and sends the remark lists for the week that ended. Everything
goes through the production code: the real client, sync, cache, rules, remark lists and SMTP delivery; only the
clock, the server and the mail server (aiosmtpd on loopback, storing each message as .eml) are simulated.

At the end the check's findings are compared with the emulator's ground truth per core rule (accuracy.txt).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from adapters.emulator.esia import PORTAL, EsiaSettings, totp
from adapters.emulator.faults import parse_faults
from adapters.emulator.practice import ORDINARY, SITUATIONS
from adapters.emulator.school import SCHOOL_NAME
from adapters.emulator.server import Emulator, EmulatorSettings
from adapters.emulator.situations import situation_counts
from adapters.emulator.transport import EmulatorTransport
from adapters.emulator.truth import ground_truth, write_jsonl
from adapters.mail.backends import SMTPBackend
from adapters.netschool.client import Sleep
from adapters.netschool.esia import EsiaMethod
from asurso_sync import accuracy
from asurso_sync.accuracy import RuleScore
from asurso_sync.check import CheckOptions, CheckOutcome, run_check, to_jsonl
from asurso_sync.config import Config, load_config
from asurso_sync.delivery import deliver
from asurso_sync.errors import UsageError
from asurso_sync.esia import login_esia
from asurso_sync.remarks import Week, build_week, enqueue_week, write_files
from asurso_sync.scheduler import is_school_day as snapshot_day
from asurso_sync.sync import SyncOptions, sync_once
from asurso_sync.web.auth import hash_password
from cache import datasette_command, open_cache, write_browse_metadata
from cache.cabinet import set_password_hash
from cache.files import ensure_private_dir, write_private_bytes

DEFAULT_SEED = 1
DEFAULT_FROM = date(2026, 12, 7)  # four weeks from here cross the end of the 2nd quarter (27.12)
PASSWORD_ENV = "ASURSO_DEMO_PASSWORD"  # noqa: S105 - the name of a variable
CABINET_PASSWORD = "Сота-кабинет"  # noqa: S105 - the demo's published cabinet password, like the emulator's
DEMO_FILES = (
    "cache.db",
    "cache.db-wal",
    "cache.db-shm",
    "cache-esia-token.json",
    "findings.jsonl",
    "ground_truth.jsonl",
    "accuracy.txt",
)
DEMO_DIRS = ("mail", "remarks")


@dataclass
class DemoOptions:
    size: str = "small"
    seed: int = DEFAULT_SEED
    weeks: int = 4
    start: date = DEFAULT_FROM
    out: Path = Path("demo-out")
    faults: bool = False
    auth: str = "password"  # "esia": an ESIA-only server, the Госуслуги login by QR code, renewed every night
    week: int = 5  # school days a week of the generated school


class DemoPrompter:
    """The demo plays the person with the Госуслуги app: it confirms the QR code at once, reads the SMS off the
    emulated phone, confirms a push and picks the configured school."""

    def __init__(self, emu: Emulator) -> None:
        self.emu = emu

    def ask_code(self, kind: str, details: Mapping[str, Any]) -> str:
        return self.emu.esia.sms[-1] if kind != "TOTP" else totp(self.emu.esia.identity.totp_secret)

    def show_qr(self, content: str, attempt: int, seconds: float) -> None:
        self.emu.esia.scan(content.partition("signed_token=")[2])

    def push_waiting(self, seconds: float) -> None:
        self.emu.esia.approve_push()

    def choose(self, options: Sequence[str], preferred: int | None) -> int:
        return preferred or 0


@dataclass
class DemoResult:
    out: Path
    scores: list[RuleScore]
    findings: int
    undecided: int
    messages: int
    weeks_sent: list[str]
    requests: int
    seconds: float
    as_of: datetime
    fingerprints: list[str] = field(default_factory=list)
    situations: dict[str, int] = field(default_factory=dict)  # findings per situation kind (practice.SITUATIONS)

    @property
    def perfect(self) -> bool:
        return all(s.precision == 1.0 and s.recall == 1.0 for s in self.scores)

    @property
    def meets_targets(self) -> bool:
        """The accuracy targets: no false finding in any rule (precision 1.000 on decided findings) and recall
        ≥ 0.98 over all rules, undecided items counted as misses (benchmarks/RESULTS.md)."""
        planted = sum(s.planted for s in self.scores)
        found = sum(s.true_positive for s in self.scores)
        return all(s.precision == 1.0 for s in self.scores) and (not planted or found / planted >= RECALL_TARGET)


class MailDrop:
    """An aiosmtpd handler that stores every accepted message as an .eml file (0600)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.count += 1
        rcpt = "_".join(envelope.rcpt_tos).replace("@", "_at_").replace("/", "_")
        write_private_bytes(self.folder / f"{self.count:03d}-{rcpt}.eml", bytes(envelope.original_content))
        return "250 Сообщение принято"


def _free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


SCHOOL_THRESHOLDS = """
# пороги школы для накопляемости и итоговых (пример из config.example.toml): без них DEN001 и FIN001 не работают
[rules.DEN001]
quarter = { 1 = 3, 2 = 5, 3 = 7 }
half_year = { 1 = 5, 2 = 8, 3 = 10 }

[rules.FIN001]
quarter = 3
half_year = 5
"""


def _config_text(emu: Emulator, out: Path, smtp_port: int, *, thresholds: bool = True, auth: str = "password") -> str:
    school = emu.school
    family = sorted(s.id for s in school.students.values() if s.family_educ)
    part_time = sorted(s.id for s in school.students.values() if s.part_time)
    deputy = next(s for s in school.staff.values() if s.login == "zavuch")
    extra = SCHOOL_THRESHOLDS if thresholds else ""
    login = (
        f'login = "zavuch"\npassword_env = "{PASSWORD_ENV}"'
        if auth == "password"
        else f'auth = "esia"  # вход через Госуслуги: «asurso-sync login-esia», затем продление каждую ночь\n'
        f'esia_url = "http://emulator.invalid{PORTAL}"  # имитация портала Госуслуг в эмуляторе'
    )
    return f"""# Конфигурация демонстрации (создана «asurso-sync demo»; эмулятор АСУ РСО в том же процессе).
[school]
name = {json.dumps(SCHOOL_NAME, ensure_ascii=False)}
scid = {school.scid}
timezone = "Europe/Samara"
regulation = "Положение об электронном журнале АНОО СОШ «Сота»"

[asurso]
base_url = "http://emulator.invalid"
{login}

[sync]
concurrency = 2
min_interval = 0
timeout = 0.5

[cache]
path = "cache.db"

[rules]
family_education = {json.dumps(family)}
part_time_education = {json.dumps(part_time)}
freshness_hours = 26

{extra}
[mail]
backend = "smtp"
host = "127.0.0.1"
port = {smtp_port}
security = "none"
from_addr = "asurso-sync@sota.example"
deputy_addr = "{deputy.email}"
directory = "teachers.csv"
"""


def _directory_csv(emu: Emulator) -> bytes:
    lines = ["id;ФИО;email"]
    lines += [f"{s.id};{s.full_name};{s.email}" for s in sorted(emu.school.staff.values(), key=lambda s: s.id)]
    return ("\n".join(lines) + "\n").encode("utf-8-sig")


# The demo marks its folder: only a folder with this file, or one without a cache, config or directory of its own,
# is the demo's to clean (a school's real installation is never overwritten by «demo --out»).
MARKER = ".asurso-sync-demo"
_SCHOOL_FILES = ("config.toml", "cache.db", "teachers.csv")


class NotADemoFolder(UsageError):
    """``demo --out`` names a folder that holds a real installation's files."""


def check_out_folder(out: Path) -> None:
    """Refuse a folder that is not the demo's: one with a cache, config or teacher directory but no demo mark."""
    if out.exists() and not out.is_dir():
        raise NotADemoFolder(f"«{out}» — это файл, а не папка: укажите папку для результатов демонстрации (--out).")
    if not out.is_dir() or (out / MARKER).exists():
        return
    found = [name for name in _SCHOOL_FILES if (out / name).exists()]
    if found:
        raise NotADemoFolder(
            f"В папке «{out}» уже есть {', '.join(found)} — похоже, это рабочая установка, и демонстрация её не "
            "тронет. Укажите пустую или новую папку: asurso-sync demo --out demo-out"
        )


def clean_out(out: Path) -> None:
    """Remove what an earlier demo wrote into ``out`` (only the demo's own files; ``check_out_folder`` first)."""
    check_out_folder(out)
    for name in (*DEMO_FILES, "config.toml", "teachers.csv"):
        (out / name).unlink(missing_ok=True)
    for name in DEMO_DIRS:
        if (out / name).is_dir():
            shutil.rmtree(out / name)


Progress = Callable[[date, str], None]


def prepare(out: Path, emu: Emulator, smtp_port: int, *, thresholds: bool = True, auth: str = "password") -> Config:
    """Write the demo's config.toml and teacher directory into ``out`` and load the config. ``thresholds``: with
    the example thresholds of DEN001/FIN001 (the emulator's school plants against them; a casebook case states
    its own)."""
    deputy = next(s for s in emu.school.staff.values() if s.login == "zavuch")
    os.environ[PASSWORD_ENV] = deputy.password  # the emulator's published demo password, not a secret
    text = _config_text(emu, out, smtp_port, thresholds=thresholds, auth=auth)
    write_private_bytes(out / "config.toml", text.encode())
    write_private_bytes(out / "teachers.csv", _directory_csv(emu))
    return load_config(out / "config.toml", environ={})


def _at(d: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(d, datetime.min.time()).replace(hour=hour, minute=minute)


def simulate(
    emu: Emulator,
    config: Config,
    start: date,
    weeks: int,
    *,
    monday: Callable[[datetime], None] | None = None,
    progress: Progress | None = None,
    sleep: Sleep | None = None,
    full: bool = True,
) -> None:
    """Follow the standard observation schedule from ``start`` (01:00) for ``weeks`` weeks: a full sync first,
    a 16:05 snapshot every school day, a 01:00 sync every night; ``monday`` is called at 07:00 every Monday.
    ``sleep`` replaces the client's real waiting (tests). ``full=False``: no full sync — the schedule goes on
    where an earlier ``simulate`` into the same cache ended (its last night was ``start`` at 01:00)."""

    def sync(mode: str, at: datetime) -> None:
        emu.clock = at
        options = SyncOptions(mode=mode, lookback_days=config.sync.lookback_days)  # type: ignore[arg-type]
        asyncio.run(sync_once(config, options, transport=EmulatorTransport(emu), sleep=sleep))

    if full:
        if progress:
            progress(start, "полная синхронизация")
        sync("all", _at(start, 1))
    day, end = start, start + timedelta(weeks=weeks)
    while day < end:
        if snapshot_day(config, day):  # the scheduler's own decision: a day with lessons, Saturdays too (R7)
            sync("snapshot", _at(day, 16, 5))
        day += timedelta(days=1)
        sync("incremental", _at(day, 1))
        if monday and day.weekday() == 0:
            emu.clock = _at(day, 7)
            monday(emu.clock)
        if progress:
            progress(day, "проверка и рассылка" if day.weekday() == 0 else "снимок 16:05 и ночная синхронизация")


def run_demo(opt: DemoOptions, progress: Progress | None = None, *, sleep: Sleep | None = None) -> DemoResult:
    started = time.perf_counter()
    out = opt.out
    check_out_folder(out)  # before anything is created or changed in it
    ensure_private_dir(out)
    clean_out(out)
    write_private_bytes(
        out / MARKER, "Папка результатов «asurso-sync demo»: её файлы демонстрация перезаписывает.\n".encode()
    )
    mail_dir = out / "mail"
    ensure_private_dir(mail_dir)
    faults = parse_faults("standard", seed=opt.seed) if opt.faults else parse_faults(None)
    esia = EsiaSettings(only=opt.auth == "esia", mfa="none", second_school=False)
    emu = Emulator(
        EmulatorSettings(
            size=opt.size,  # type: ignore[arg-type]
            seed=opt.seed,
            clock=_at(opt.start, 1),
            faults=faults,
            esia=esia,
            week=opt.week,
        )
    )
    emu.reports.build_seconds = 0.01  # the access report is built in-process: keep the demo brisk
    drop = MailDrop(mail_dir)
    controller = Controller(drop, hostname="127.0.0.1", port=_free_port())
    controller.start()
    weeks_sent: list[str] = []
    outcomes: list[CheckOutcome] = []
    try:
        config = prepare(out, emu, controller.port, auth=opt.auth)
        if opt.auth == "esia":
            if progress:
                progress(opt.start, "вход через Госуслуги по QR-коду")
            method = EsiaMethod("qr", DemoPrompter(emu))
            asyncio.run(login_esia(config, method, transport=EmulatorTransport(emu), sleep=sleep))
        backend = SMTPBackend("127.0.0.1", controller.port, "none", timeout=10)

        def weekly(at: datetime) -> None:
            outcomes.append(run_check(config, CheckOptions(start=opt.start, as_of=at)))
            week = Week.last_completed(at.date())
            if week.sunday < opt.start:
                return
            with closing(open_cache(config.cache.path, create=False)) as db:
                wl = build_week(db, config, week)
                write_files(config, wl, out / "remarks")
                enqueue_week(db, config, wl)
                deliver(db, backend, period=week.label)
            weeks_sent.append(week.label)

        simulate(emu, config, opt.start, opt.weeks, monday=weekly, progress=progress, sleep=sleep)
        if not outcomes or emu.clock.date() != opt.start + timedelta(weeks=opt.weeks):
            emu.clock = _at(opt.start + timedelta(weeks=opt.weeks), 7)
            weekly(emu.clock)
    finally:
        controller.stop()
    outcome = outcomes[-1]
    as_of = emu.clock
    truth = ground_truth(emu.school, emu.journal, opt.start, as_of)
    write_private_bytes(out / "ground_truth.jsonl", write_jsonl(truth).encode())
    write_private_bytes(out / "findings.jsonl", to_jsonl(outcome).encode())
    scores = accuracy.score(outcome.findings, truth, outcome.result.undecided)
    situations = situation_counts(emu.school, emu.journal, (f["entity"] for f in outcome.findings))
    write_private_bytes(out / "accuracy.txt", accuracy_text(scores, opt, as_of, outcome, situations).encode())
    write_browse_metadata(config.cache.path, config.school.name)
    with closing(open_cache(config.cache.path, create=False)) as db:  # the cabinet opens with a published password
        set_password_hash(db, hash_password(CABINET_PASSWORD))
    return DemoResult(
        out=out,
        scores=scores,
        findings=len(outcome.findings),
        undecided=sum(outcome.result.undecided.values()),
        messages=drop.count,
        weeks_sent=weeks_sent,
        requests=emu.total_requests,
        seconds=time.perf_counter() - started,
        as_of=as_of,
        fingerprints=sorted(f["fingerprint"] for f in outcome.findings),
        situations=situations,
    )


RECALL_TARGET = 0.98


def situation_rows(situations: Mapping[str, int]) -> list[tuple[str, int]]:
    """«Замечания по видам ситуаций»: (the kind's Russian name, findings touching it), ordinary ones first."""
    names = {ORDINARY: ORDINARY, **SITUATIONS}
    return [(names[k], situations[k]) for k in names if situations.get(k)]


def accuracy_text(
    scores: list[RuleScore],
    opt: DemoOptions,
    as_of: datetime,
    outcome: CheckOutcome,
    situations: Mapping[str, int] | None = None,
) -> str:
    lines = [
        "Точность проверки: замечания asurso-sync против эталона эмулятора (docs/rules.md, раздел 3)",
        "Совпадение — правило, объект и владелец замечания (учитель или завуч).",
        f"Школа {opt.size} ({opt.week}-дневная неделя), seed {opt.seed}, период с {opt.start:%d.%m.%Y}, "
        f"проверка на {as_of:%d.%m.%Y %H:%M}" + (", со сбоями сервера (standard)" if opt.faults else ""),
        f"Не определено (нет данных о времени): {sum(outcome.result.undecided.values())}",
        "",
        *accuracy.table(scores),
    ]
    if situations:
        rows = situation_rows(situations)
        width = max(len(name) for name, _n in rows)
        lines += ["", "Замечания по видам ситуаций (одно замечание может касаться нескольких):"]
        lines += [f"{name:<{width}} {n:6}" for name, n in rows]
    return "\n".join(lines) + "\n"


def datasette_hint(out: Path) -> str | None:
    if not shutil.which("datasette"):
        return None
    return datasette_command(out / "cache.db", out / "cache.metadata.json")


__all__ = ["DEFAULT_FROM", "DEFAULT_SEED", "DemoOptions", "DemoResult", "run_demo"]
