"""A school term with people in it: ten school weeks of letters, teachers who answer them, a deputy who releases rules.

Run: python -m benchmarks.term [--profile strict|typical|lax|all] [--weeks 10] [--seed 1] [--size small]
                               [--out term-out] [--docs]

The demo's school (``asurso_sync.demo``: its config, teacher directory and mail drop) lives through the real
scheduler: every job at the time ``asurso_sync.scheduler.fire_times`` gives for the school's config — the 16:05
snapshot on school days, the 01:00 sync with the access report, the 18:00 daily check, the Monday 07:00 check and
sending — each run by ``scheduler.Jobs`` against the emulator, the letters sent through real SMTP to a local aiosmtpd.
The school starts in the shadow (``[rules] shadow = true``): each school evening the deputy judges about ten of the
day's findings of rules still in the shadow in the cabinet's own store (``cache.cabinet.adjudicate``; the verdict is
the emulator's ground truth) and releases each rule the cabinet's own rule allows (``web.precision.ready``:
≥ 20 verdicts, precision ≥ 0.95). After every Monday's letter each teacher fixes her tasks by her profile
(``adapters.emulator.answers``), as later entries in the emulated journal.

Every figure is read from the letters the SMTP server received (``benchmarks/letters.py``): letters per week, items
per letter split into tasks and records, the share of last week's tasks gone from this week's letters, tasks
carried three weeks or more, records shown more than once, letters whose numbers disagree with their sections, items
the ground truth calls false, the deputy's summary, the week each rule was released. Written to the output folder as
term.json, term.md and term.svg (``--docs``: the chart also to docs/img/term.svg).
Exit code 1 when a figure that must be 0 is not (records shown twice, count mismatches, false items).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import statistics
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from adapters.emulator.answers import PROFILES_BY_NAME, Answers, Fix, SchoolProfile, assign_profiles, fixes_by_rule
from adapters.emulator.journal import Scenario, generate_journal
from adapters.emulator.practice import Practice
from adapters.emulator.school import generate_structure
from adapters.emulator.server import Emulator, EmulatorSettings
from adapters.emulator.transport import EmulatorTransport
from adapters.emulator.truth import ground_truth
from adapters.emulator.views import EDIT_LIMIT_DAYS
from adapters.mail.backends import SMTPBackend
from asurso_sync.accuracy import SCORED_RULES, finding_key
from asurso_sync.config import Config, load_config
from asurso_sync.demo import MailDrop, _free_port, prepare
from asurso_sync.routing import shadowed
from asurso_sync.scheduler import Jobs, fire_times
from asurso_sync.sync import SyncOptions, sync_once
from asurso_sync.web.cabinet import ACTOR
from asurso_sync.web.precision import precision_by_rule, ready
from benchmarks.letters import Letter, read
from cache import audit, findings_by_state, open_cache
from cache.cabinet import adjudicate, open_fingerprints, released_rules, set_release, verdicts
from cache.files import ensure_private_dir, write_private_bytes
from rules.catalogue import load_catalogue

DEFAULT_START = date(2027, 1, 11)  # ten school weeks: the 3rd quarter, 11.01 (vacation's last day) to 21.03
MARKER = ".asurso-sync-term"
DEPUTY_PER_DAY = 10
SAMPLE_PER_RULE = 5  # the cabinet's sample page shows up to 5 findings of every rule by default
DEPUTY = "завуч (модель, по эталону эмулятора)"


@dataclass
class TermOptions:
    profile: str = "typical"
    weeks: int = 10
    seed: int = 1
    size: str = "small"
    start: date = DEFAULT_START
    out: Path = Path("term-out")
    per_day: int = DEPUTY_PER_DAY
    per_rule: int = SAMPLE_PER_RULE


def _pct(values: list[int], q: float) -> int:
    if not values:
        return 0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def spread(values: list[int]) -> dict[str, float]:
    """Median, 90th percentile (nearest rank) and maximum."""
    return {
        "median": float(statistics.median(values)) if values else 0.0,
        "p90": float(_pct(values, 0.9)),
        "max": float(max(values, default=0)),
    }


def _at(d: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(d, datetime.min.time()).replace(hour=hour, minute=minute)


def build_emulator(opt: TermOptions, profile: SchoolProfile) -> Emulator:
    """The demo's generated school with its teachers' profiles drawn from the school's mix."""
    practice = Practice()
    school = generate_structure(opt.seed, opt.size, week=5, practice=practice)  # type: ignore[arg-type]
    assign_profiles(school, profile)
    journal = generate_journal(school, Scenario(), practice)
    emu = Emulator(
        EmulatorSettings(
            seed=opt.seed,
            size=opt.size,  # type: ignore[arg-type]
            clock=_at(opt.start, 1),
            prebuilt=(school, journal),
            practice=practice,
        )
    )
    emu.reports.build_seconds = 0.01
    return emu


def shadow_config(folder: Path, config: Config, start: date) -> Config:
    """The demo's config in a shadow start: no rule reaches teachers until the deputy releases it, the check's
    period begins with the term's first week."""
    path = folder / "config.toml"
    text = path.read_text(encoding="utf-8").replace(
        "[rules]\n",
        f'[rules]\nshadow = true  # теневой запуск: правила уходят учителям после выпуска\ncheck_from = "{start}"\n',
        1,
    )
    write_private_bytes(path, text.encode())
    return load_config(path, environ={})


@dataclass
class Seen:
    """What earlier letters showed: per (teacher address, ref) the weeks it was a task, and records shown."""

    task_weeks: Counter[tuple[str, str]] = field(default_factory=Counter)
    records: set[tuple[str, str]] = field(default_factory=set)
    last_tasks: set[tuple[str, str]] = field(default_factory=set)


class Term:
    """One school living ``opt.weeks`` weeks with one discipline profile."""

    def __init__(self, opt: TermOptions, profile: SchoolProfile, progress: Callable[[str], None] | None = None) -> None:
        self.opt, self.profile, self.progress = opt, profile, progress or (lambda _s: None)
        self.folder = opt.out / profile.name
        if self.folder.exists() and (self.folder / MARKER).exists():
            shutil.rmtree(self.folder)
        elif self.folder.exists() and any(self.folder.iterdir()):
            raise SystemExit(f"{self.folder}: the folder is not empty and is not a term benchmark's output")
        ensure_private_dir(self.folder)
        write_private_bytes(self.folder / MARKER, b"python -m benchmarks.term\n")
        self.emu = build_emulator(opt, profile)
        self.answers = Answers(self.emu.school, self.emu.journal, profile, opt.seed)
        self.email_of = {s.email.casefold(): s.id for s in self.emu.school.staff.values() if s.email}
        self.seen = Seen()
        self.weeks: list[dict[str, Any]] = []
        self.released: dict[str, str] = {}  # rule -> the week (label) whose letters it first reached
        self.errors: list[str] = []
        self.verdicts = 0
        self._mail_read = 0
        self.observed_at: datetime | None = None  # the emulator's clock at the newest sync: what the mirror saw
        self.answered: list[tuple[Fix, str, str]] = []  # (fix, teacher's address, the letter's number of the item)
        self.timing: defaultdict[str, float] = defaultdict(float)

    def run(self) -> dict[str, Any]:
        started = time.perf_counter()
        mail = self.folder / "mail"
        ensure_private_dir(mail)
        self.drop = MailDrop(mail)
        controller = Controller(self.drop, hostname="127.0.0.1", port=_free_port())
        controller.start()
        try:
            config = prepare(self.folder, self.emu, controller.port)
            self.config = shadow_config(self.folder, config, self.opt.start)
            self.deputy_addr = (self.config.mail.deputy_addr or "").casefold()
            transport = EmulatorTransport(self.emu)
            self.emu.clock = _at(self.opt.start, 1)
            options = SyncOptions(mode="all", lookback_days=self.config.sync.lookback_days)
            asyncio.run(sync_once(self.config, options, transport=transport))  # day one: «asurso-sync sync --all»
            jobs = Jobs(
                self.config,
                now=lambda: self.emu.clock,
                transport=transport,
                backend=SMTPBackend("127.0.0.1", controller.port, "none", timeout=10),
            )
            tz = self.config.school.tz
            begin = _at(self.opt.start, 1, 1).replace(tzinfo=tz)
            end = _at(self.opt.start + timedelta(weeks=self.opt.weeks), 7, 1).replace(tzinfo=tz)
            for moment, name in fire_times(self.config, begin, end):
                self.emu.clock = moment.replace(tzinfo=None)
                if self.answers.apply_due(self.emu.clock):
                    self.emu.reports.forget()
                began = time.perf_counter()
                try:
                    outcome = jobs.run(name)
                except Exception as exc:  # the scheduler logs a job's error and goes on; so does the term
                    self.errors.append(f"{self.emu.clock:%d.%m %H:%M} {name}: {exc}")
                    continue
                finally:
                    self.timing[name] += time.perf_counter() - began
                if name == "nightly" or (name == "snapshot" and not str(outcome).startswith("пропущено")):
                    self.observed_at = self.emu.clock
                began = time.perf_counter()
                if name == "daily_check" and self.emu.clock.weekday() < 5:
                    self.deputy_day()
                    self.timing["deputy"] += time.perf_counter() - began
                elif name == "weekly":
                    self.monday(outcome)
                    self.timing["letters"] += time.perf_counter() - began
        finally:
            controller.stop()
        return {
            "profile": self.profile.name,
            "title": self.profile.title,
            "teachers_by_profile": dict(
                sorted(Counter(s.profile for s in self.emu.school.staff.values() if s.email).items())
            ),
            "weeks": self.weeks,
            "released": self.released,
            "unreleased": self.unreleased(),
            "verdicts": self.verdicts,
            "fixes_entered": fixes_by_rule(self.answers.done),
            "fixes_planned_not_due": len(self.answers.pending),
            "fixes_refused_read_only": self.answers.read_only,
            "errors": self.errors,
            "seconds": round(time.perf_counter() - started, 1),
            "seconds_by_job": {k: round(v, 1) for k, v in sorted(self.timing.items())},
            "requests": self.emu.total_requests,
        }

    # --- the deputy in the cabinet -------------------------------------------------------------------------------

    def _truth(self, as_of: datetime | None = None) -> set[tuple[Any, ...]]:
        truth = ground_truth(self.emu.school, self.emu.journal, self.opt.start, as_of or self.emu.clock)
        return {(v.rule, tuple(sorted(dict(v.entity).items())), v.owner) for v in truth}

    def deputy_day(self) -> None:
        """An evening in the cabinet: ~10 findings of shadowed rules judged against the truth, then every rule the
        cabinet allows released."""
        catalogue = load_catalogue()
        with closing(open_cache(self.config.cache.path, create=False)) as db:
            waiting = set(shadowed(catalogue, self.config, released_rules(db)))
            if not waiting:
                return
            judged = {v["fingerprint"] for v in verdicts(db)}
            by_rule: dict[str, list[str]] = defaultdict(list)
            for code, fp in open_fingerprints(db):
                if code in waiting and fp not in judged:
                    by_rule[code].append(fp)
            rng = self.answers.rng
            chosen: list[str] = []
            # the cabinet's sample page: up to ``per_rule`` findings of a rule; she starts with the rules that hold
            # the most items (those teachers will feel first) and judges about ``per_day`` an evening
            for code in sorted(by_rule, key=lambda c: (-len(by_rule[c]), c)):
                room = self.opt.per_day - len(chosen)
                if room <= 0:
                    break
                chosen += rng.sample(by_rule[code], min(self.opt.per_rule, room, len(by_rule[code])))
            if chosen:
                # She judges what the check saw: the journal as the newest sync read it. A lesson filled in after the
                # 16:05 snapshot was still empty then — «урок не заполнен» is right about that moment, and the next
                # sync turns it into late entries (records); the truth of the evening would call it false.
                truth = self._truth(self.observed_at)
                found = {f["fingerprint"]: f for f in findings_by_state(db) if f["fingerprint"] in set(chosen)}
                for fp in chosen:
                    f = found.get(fp)
                    if f is None or f.get("evidence") == "undecided":
                        continue
                    verdict = "right" if finding_key(f) in truth else "wrong"
                    adjudicate(db, fp, f["rule"], verdict, "по эталону эмулятора", DEPUTY)
                    self.verdicts += 1
            stats = precision_by_rule(db)
            for code in sorted(waiting):
                if ready(stats.get(code)):  # the cabinet's own release rule, as its «выпустить» button applies it
                    s = stats[code]
                    set_release(
                        db,
                        code,
                        released=True,
                        author=ACTOR,
                        adjudicated=s["decided"],
                        precision=s["precision"],
                        reason="",
                    )
                    audit(db, "rule-release", {"rule": code, "adjudicated": s["decided"], "precision": s["precision"]})
                    self.released[code] = self._next_week_label()

    def _next_week_label(self) -> str:
        """The week whose Monday letters a release made now first reaches (the label of the week that ends)."""
        day = self.emu.clock.date()
        monday = day + timedelta(days=(7 - day.weekday()) % 7 or 7)
        return (monday - timedelta(days=7)).strftime("%G-W%V")

    def unreleased(self) -> dict[str, int]:
        """Rules still in the shadow at the end, with the verdicts they got."""
        with closing(open_cache(self.config.cache.path, create=False)) as db:
            waiting = shadowed(load_catalogue(), self.config, released_rules(db))
            stats = precision_by_rule(db)
        return {code: int(stats.get(code, {}).get("decided", 0)) for code in waiting}

    # --- Monday: the letters, measured; the teachers answer --------------------------------------------------------

    def new_letters(self) -> list[tuple[bytes, Letter]]:
        files = sorted((self.folder / "mail").glob("*.eml"))
        fresh = files[self._mail_read :]
        self._mail_read = len(files)
        out = []
        for path in fresh:
            raw = path.read_bytes()
            probe = read(raw, header_line=False)
            deputy = probe.to == self.deputy_addr
            out.append((raw, probe if deputy else read(raw)))
        return out

    def monday(self, outcome: Any) -> None:
        letters = self.new_letters()
        if not letters:
            return
        week = (self.emu.clock.date() - timedelta(days=7)).strftime("%G-W%V")
        teachers = [lt for _raw, lt in letters if lt.to != self.deputy_addr]
        summaries = [lt for _raw, lt in letters if lt.to == self.deputy_addr and lt.subject.startswith("Сводка")]
        with closing(open_cache(self.config.cache.path, create=False)) as db:
            by_ref = {f["fingerprint"][:8]: f for f in findings_by_state(db)}
            released = sorted(released_rules(db))
        truth = self._truth()
        seen = self.seen
        tasks_now: set[tuple[str, str]] = set()
        twice = carried = false_items = unjudged = past_limit = 0
        false_examples: list[str] = []
        items_per, tasks_per, records_per = [], [], []
        mismatched: list[str] = []
        for lt in teachers:
            items_per.append(len(lt.tasks) + len(lt.records))
            tasks_per.append(len(lt.tasks))
            records_per.append(len(lt.records))
            if lt.mismatches():
                mismatched.append(f"{lt.to}: {'; '.join(lt.mismatches())}")
            for item in lt.items:
                key = (lt.to, item.ref)
                if item.kind == "resolved":
                    continue
                if key in seen.records:
                    twice += 1  # a record is shown once (R22; a task turning into a record is shown once as such)
                if item.kind == "task":
                    tasks_now.add(key)
                    day = self.answers.lesson_day(by_ref[item.ref]["entity"]) if item.ref in by_ref else None
                    if day is not None and (self.emu.clock.date() - day).days > EDIT_LIMIT_DAYS:
                        past_limit += 1  # a task the journal no longer lets anyone fix (R22: it is a record)
                f = by_ref.get(item.ref)
                if f is None or f["rule"] not in SCORED_RULES:
                    unjudged += 1
                elif finding_key(f) not in truth:
                    false_items += 1
                    if len(false_examples) < 5:
                        false_examples.append(f"{f['rule']} {f['message']}")
        for lt in teachers:
            for item in lt.items:
                if item.kind == "record":
                    seen.records.add((lt.to, item.ref))
        for key in tasks_now:
            seen.task_weeks[key] += 1
            carried += seen.task_weeks[key] >= 3
        # a task the teacher has fixed (something entered) before this Monday must be gone from this week's letter
        entered = {(to, ref): fix for fix, to, ref in self.answered if fix.done and fix.applied}
        still = [
            f"{fix.rule} {fix.entity} {fix.applied} {fix.at:%d.%m %H:%M}"
            for k, fix in entered.items()
            if k in tasks_now
        ]
        self.answered = [a for a in self.answered if not a[0].done]
        fixed = len(seen.last_tasks - tasks_now)
        share = fixed / len(seen.last_tasks) if seen.last_tasks else None
        seen.last_tasks = tasks_now
        summary = summaries[0] if summaries else None
        summary_off = summary.mismatches() if summary else []
        self.weeks.append(
            {
                "week": week,
                "released_rules": released,
                "letters": len(teachers),
                "items": spread(items_per),
                "tasks": spread(tasks_per),
                "records": spread(records_per),
                "items_total": sum(items_per),
                "tasks_total": sum(tasks_per),
                "records_total": sum(records_per),
                "last_week_tasks_fixed": share,
                "tasks_carried_3_weeks": carried,
                "tasks_past_edit_limit": past_limit,
                "fixed_still_listed": len(still),
                "fixed_still_examples": still[:5],
                "records_shown_twice": twice,
                "teacher_count_mismatches": len(mismatched),
                "summary_mismatches": summary_off,
                "count_mismatches": len(mismatched) + bool(summary_off),
                "count_mismatch_examples": (mismatched + [f"сводка: {m}" for m in summary_off])[:4],
                "false_items": false_items,
                "false_examples": false_examples,
                "unjudged_items": unjudged,
                "reply_to": sum(1 for lt in teachers if lt.reply_to),
                "summary_lines": len(summary.text.strip().splitlines()) if summary else 0,
                "on_time": _on_time(summary.text) if summary else None,
                "summary_items": len(summary.items) if summary else 0,
                "answers_total": len(self.answers.done),  # fixes made so far (some found nothing left to enter)
                "fixes_entered_total": sum(1 for f in self.answers.done if f.applied),
                "job": str(outcome),
            }
        )
        for lt in teachers:  # the teachers read their letters and answer
            teacher = self.email_of.get(lt.to)
            if teacher is None:
                continue
            refs = [i.ref for i in lt.tasks if i.ref in by_ref]
            tasks = [(by_ref[r]["rule"], by_ref[r]["entity"]) for r in refs]
            for fix in self.answers.answer(teacher, tasks, self.emu.clock):
                ref = next(r for r in refs if by_ref[r]["rule"] == fix.rule and by_ref[r]["entity"] == fix.entity)
                self.answered.append((fix, lt.to, ref))
        self.progress(
            f"{self.profile.name} {week}: писем {len(teachers)}, медиана {spread(items_per)['median']:g}, "
            f"выпущено правил {len(released)}"
        )


def _on_time(text: str) -> float | None:
    """«Уроков заполнено в срок: 84%» of the deputy's summary, as a share."""
    found = re.search(r"заполнено в срок:\s*(\d+)%", text)
    return int(found.group(1)) / 100 if found else None


# --- the report ---------------------------------------------------------------------------------------------------


def _fmt_share(v: float | None) -> str:
    return "—" if v is None else f"{v * 100:.0f}%"


def _s(d: dict[str, float]) -> str:
    return f"{d['median']:g} / {d['p90']:g} / {d['max']:g}"


def shrink(r: dict[str, Any]) -> tuple[float | None, float | None]:
    """(median letter of the first week teachers got letters, median of the weekly medians of weeks 6–10)."""
    sent = [w for w in r["weeks"] if w["letters"]]
    first = sent[0]["items"]["median"] if sent else None
    late = [w["items"]["median"] for w in r["weeks"][5:10] if w["letters"]]
    return first, (float(statistics.median(late)) if late else None)


def shrink_line(r: dict[str, Any]) -> str:
    first, late = shrink(r)
    if first is None or late is None:
        return "Median letter: not enough weeks with letters to compare."
    verdict = "smaller" if late < first else "not smaller"
    return f"Median letter: {first:g} items in the first week of letters, {late:g} in weeks 6–10 ({verdict})."


def markdown(results: list[dict[str, Any]], opt: TermOptions) -> str:
    lines = [
        f"# A term with people in it — {opt.weeks} weeks, school `{opt.size}`, seed {opt.seed}, from {opt.start}",
        "",
        "Items per letter: median / p90 / max over the week's teacher letters; tasks and records split by the "
        "letter's sections (benchmarks/letters.py). «Fixed»: share of last week's tasks gone from this week's "
        "letters. Must be 0: records shown twice, letters whose numbers disagree with their sections, items the "
        "ground truth calls false.",
    ]
    for r in results:
        lines += [
            "",
            f"## {r['profile']} ({r['title']}) — {r['seconds']} s, {r['requests']} requests, {r['verdicts']} verdicts",
            "",
            "teachers by profile: " + ", ".join(f"{k} {v}" for k, v in r["teachers_by_profile"].items()),
            "",
            "| week | on time | rules out | letters | items | tasks | records | fixed | carried ≥3 | past edit limit | "
            "records twice | count mismatch | false | summary lines / items | fixes entered |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for w in r["weeks"]:
            lines.append(
                f"| {w['week']} | {_fmt_share(w['on_time'])} | {len(w['released_rules'])} "
                f"| {w['letters']} | {_s(w['items'])} | {_s(w['tasks'])} | "
                f"{_s(w['records'])} | {_fmt_share(w['last_week_tasks_fixed'])} | {w['tasks_carried_3_weeks']} | "
                f"{w['tasks_past_edit_limit']} | "
                f"{w['records_shown_twice']} | {w['count_mismatches']} | {w['false_items']} | "
                f"{w['summary_lines']} / {w['summary_items']} | {w.get('answers_total', '—')} / "
                f"{w['fixes_entered_total']} |"
            )
        lines += ["", shrink_line(r)]
        released = ", ".join(f"{k} {v}" for k, v in sorted(r["released"].items(), key=lambda kv: (kv[1], kv[0])))
        lines += ["", f"Released (rule, first week of letters): {released or '—'}"]
        if r["unreleased"]:
            lines.append("Still in the shadow (verdicts): " + ", ".join(f"{k} {v}" for k, v in r["unreleased"].items()))
        lines.append(
            "Fixes entered by rule: "
            + (", ".join(f"{k} {v}" for k, v in r["fixes_entered"].items()) or "—")
            + f"; refused by the journal's edit limit: {r['fixes_refused_read_only']}"
        )
        if r["errors"]:
            lines.append("Job errors: " + "; ".join(r["errors"][:5]))
    return "\n".join(lines) + "\n"


_COLOURS = {"strict": "#1b7837", "typical": "#2166ac", "lax": "#b2182b"}


def _nice(top: float) -> int:
    """The axis maximum: the data's maximum rounded up to a multiple of 4 (integer ticks)."""
    return max(4, -(-int(top + 0.999) // 4) * 4)


def chart_svg(results: list[dict[str, Any]]) -> str:
    """Two panels: median (solid) and p90 (dashed) items per teacher letter by week; letters sent by week."""
    w, h, pad = 860, 300, 48
    weeks = max((len(r["weeks"]) for r in results), default=1)
    top = _nice(max((wk["items"]["p90"] for r in results for wk in r["weeks"]), default=1.0))
    top_letters = _nice(max((wk["letters"] for r in results for wk in r["weeks"]), default=1))
    panel = (w - 3 * pad) / 2

    def x(i: int, left: float) -> float:
        return left + (i / max(1, weeks - 1)) * panel

    def y(v: float, scale: float) -> float:
        return h - pad - (v / scale) * (h - 2 * pad)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h + 48}" font-family="sans-serif" '
        'font-size="11">',
        '<rect width="100%" height="100%" fill="white"/>',
    ]
    for left, title, scale in (
        (pad, "Пунктов в письме учителя: медиана и 90-й процентиль", top),
        (2 * pad + panel, "Писем учителям за неделю", top_letters),
    ):
        out.append(f'<text x="{left}" y="22" font-size="12">{title}</text>')
        out.append(f'<line x1="{left}" y1="{h - pad}" x2="{left + panel}" y2="{h - pad}" stroke="#444"/>')
        out.append(f'<line x1="{left}" y1="{pad}" x2="{left}" y2="{h - pad}" stroke="#444"/>')
        for k in range(5):
            v = scale * k // 4
            out.append(f'<text x="{left - 6}" y="{y(v, scale) + 4:.1f}" text-anchor="end">{v}</text>')
            out.append(
                f'<line x1="{left}" y1="{y(v, scale):.1f}" x2="{left + panel}" y2="{y(v, scale):.1f}" stroke="#ddd"/>'
            )
        for i in range(weeks):
            out.append(f'<text x="{x(i, left):.1f}" y="{h - pad + 14}" text-anchor="middle">{i + 1}</text>')
        out.append(f'<text x="{left + panel / 2}" y="{h - pad + 28}" text-anchor="middle">учебная неделя</text>')
    for r in results:
        colour = _COLOURS.get(r["profile"], "#555")
        for key, dash in (("median", ""), ("p90", ' stroke-dasharray="5,4"')):
            pts = " ".join(f"{x(i, pad):.1f},{y(wk['items'][key], top):.1f}" for i, wk in enumerate(r["weeks"]))
            out.append(f'<polyline points="{pts}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>')
        pts = " ".join(
            f"{x(i, 2 * pad + panel):.1f},{y(wk['letters'], top_letters):.1f}" for i, wk in enumerate(r["weeks"])
        )
        out.append(f'<polyline points="{pts}" fill="none" stroke="{colour}" stroke-width="2"/>')
    for n, r in enumerate(results):
        colour = _COLOURS.get(r["profile"], "#555")
        lx = pad + n * 220
        out.append(f'<line x1="{lx}" y1="{h + 10}" x2="{lx + 24}" y2="{h + 10}" stroke="{colour}" stroke-width="2"/>')
        out.append(f'<text x="{lx + 30}" y="{h + 14}">{r["profile"]} ({r["title"]})</text>')
    out.append(
        f'<text x="{pad}" y="{h + 36}">сплошная — медиана, пунктир — 90-й процентиль; до выпуска первого правила '
        "(теневой запуск) учителя писем не получают</text>"
    )
    out.append("</svg>")
    return "\n".join(out) + "\n"


def run(opt: TermOptions, profiles: list[str], progress: Callable[[str], None] | None = None) -> list[dict[str, Any]]:
    ensure_private_dir(opt.out)
    results = [Term(opt, PROFILES_BY_NAME[name], progress).run() for name in profiles]
    (opt.out / "term.json").write_text(
        json.dumps(
            {"options": {**opt.__dict__, "start": str(opt.start), "out": str(opt.out)}, "profiles": results},
            ensure_ascii=False,
            indent=1,
        ),
        encoding="utf-8",
    )
    (opt.out / "term.md").write_text(markdown(results, opt), encoding="utf-8")
    (opt.out / "term.svg").write_text(chart_svg(results), encoding="utf-8")
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", choices=[*PROFILES_BY_NAME, "all"], default="all")
    parser.add_argument("--weeks", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--size", choices=["tiny", "small", "medium", "large"], default="small")
    parser.add_argument("--start", type=date.fromisoformat, default=DEFAULT_START, help="a Monday (YYYY-MM-DD)")
    parser.add_argument("--out", type=Path, default=Path("term-out"))
    parser.add_argument("--per-day", type=int, default=DEPUTY_PER_DAY, help="findings the deputy judges a day")
    parser.add_argument("--per-rule", type=int, default=SAMPLE_PER_RULE, help="of them at most of one rule")
    parser.add_argument("--docs", action="store_true", help="also write the chart to docs/img/term.svg")
    args = parser.parse_args(argv)
    if args.start.weekday() != 0:
        parser.error("--start: укажите понедельник")
    profiles = list(PROFILES_BY_NAME) if args.profile == "all" else [args.profile]
    opt = TermOptions(args.profile, args.weeks, args.seed, args.size, args.start, args.out, args.per_day, args.per_rule)
    results = run(opt, profiles, progress=lambda s: print(s, flush=True))
    print(markdown(results, opt))
    if args.docs:
        target = Path(__file__).resolve().parent.parent / "docs" / "img" / "term.svg"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(chart_svg(results), encoding="utf-8")
        print(f"chart: {target}")
    sys.exit(
        1
        if any(
            w["records_shown_twice"] or w["count_mismatches"] or w["false_items"] for r in results for w in r["weeks"]
        )
        else 0
    )


if __name__ == "__main__":
    main()
