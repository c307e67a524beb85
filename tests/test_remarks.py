"""Weekly remark lists: content, privacy, rendering snapshots, and `remarks send` through a real SMTP server.

The school is the emulator's `tiny` one, followed along the standard observation schedule for two weeks from
07.12.2026 through the real sync, and checked on Monday 21.12.2026 07:00 (as the weekly job does).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from contextlib import closing
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from adapters.emulator.server import Emulator, EmulatorSettings
from asurso_sync.cli import app
from asurso_sync.demo import prepare
from asurso_sync.remarks import (
    RemarksError,
    Week,
    build_week,
    load_directory,
    render_summary,
    render_teacher,
)
from cache import letter_rules, open_cache, outbox_rows, rows
from tests.conftest import edit_config
from tests.schools import Schools, Spec
from tests.smtp import Recorder, smtp_server

START = date(2026, 12, 7)
MONDAY = datetime(2026, 12, 21, 7, 0)
W50, W51 = Week(2026, 50), Week(2026, 51)
SNAPSHOTS = Path(__file__).parent / "snapshots"


@pytest.fixture
def school(schools: Schools, tmp_path: Path) -> Iterator[Path]:
    """A synced and checked tiny school (built once per run; each test works on its own copy)."""
    target = tmp_path / "school"
    schools.copy(target, Spec(start=START, weeks=2, check_at=MONDAY))
    yield target


@pytest.fixture
def smtp() -> Iterator[tuple[int, Recorder]]:
    with smtp_server() as server:
        yield server


def _config(school: Path, port: int) -> Path:
    path = school / "config.toml"
    edit_config(path, "port = 25", f"port = {port}")
    return path


def _cli(runner: CliRunner, config: Path, *args: str) -> Any:
    return runner.invoke(app, ["-c", str(config), *args])


def _load(school: Path) -> Any:
    from asurso_sync.config import load_config

    return load_config(school / "config.toml", environ={})


# --- weeks and the directory --------------------------------------------------------------------


def test_weeks() -> None:
    assert Week.parse("2026-W48") == Week.parse("2026-11-25") == Week.of(date(2026, 11, 29))
    w = Week.parse("2026-w48")
    assert (w.monday, w.sunday, w.label, w.span) == (
        date(2026, 11, 23),
        date(2026, 11, 29),
        "2026-W48",
        "23.11–29.11.2026",
    )
    assert Week.last_completed(date(2026, 11, 30)) == w  # on Monday: the week that ended yesterday
    assert Week.last_completed(date(2026, 11, 29)) == Week(2026, 47)
    assert Week.parse("2026-W53").sunday == date(2027, 1, 3)  # 2026 has 53 ISO weeks
    with pytest.raises(RemarksError):
        Week.parse("2025-W53")
    with pytest.raises(RemarksError, match="2026-W48"):
        Week.parse("на прошлой неделе")


def test_directory_csv_and_toml(tmp_path: Path) -> None:
    csv_file = tmp_path / "t.csv"
    csv_file.write_text("ФИО;e-mail\nИванова Мария Петровна;ivanova@school.example\n\n", encoding="utf-8-sig")
    d = load_directory(csv_file)
    assert d.find(1, "иванова  мария петровна") == "ivanova@school.example"
    assert d.find(2, "Петров Пётр", "petrov@server.example") == "petrov@server.example"  # server data fallback
    csv_file.write_text("id,email\n811601,t811601@school.example\n811602,не-адрес\n", encoding="utf-8")
    with pytest.raises(RemarksError, match=r"t\.csv, строка 3: «не-адрес»"):
        load_directory(csv_file)
    csv_file.write_text("учитель\nИванова\n", encoding="utf-8")
    with pytest.raises(RemarksError, match="заголовки"):
        load_directory(csv_file)
    toml_file = tmp_path / "t.toml"
    toml_file.write_text('[teachers]\n"Сидорова Анна Ильинична" = "sidorova@school.example"\n811601 = "a@b.example"\n')
    d = load_directory(toml_file)
    assert d.find(811601, "кто-то") == "a@b.example"
    assert d.find(5, "Сидорова Анна Ильинична") == "sidorova@school.example"
    with pytest.raises(RemarksError, match="не читается"):
        load_directory(tmp_path / "missing.csv")


# --- content ------------------------------------------------------------------------------------


def test_lists_hold_only_the_teachers_own_findings(school: Path) -> None:
    config = _load(school)
    with closing(open_cache(config.cache.path, create=False)) as db:
        wl = build_week(db, config, W51)
        owners = {
            r["fingerprint"]: r["teacher_id"]
            for r in rows(db, 'SELECT "fingerprint", "teacher_id" FROM "finding" WHERE "state" != \'resolved\'')
        }
        taught = {
            r["teacher_id"]: r["n"]
            for r in rows(db, 'SELECT "teacher_id", count(*) AS n FROM "subject_group_teacher" GROUP BY 1')
        }
    with_remarks = [tl for tl in wl.lists if not tl.empty]
    assert len(with_remarks) >= 3
    for tl in wl.lists:
        for part in (tl.part, tl.chief):
            for r in (*part.new, *part.still_open, *part.resolved):
                assert owners.get(r.fingerprint, tl.teacher_id) == tl.teacher_id
                assert r.severity == "error" or r.owner == "chief"
                assert r.owner != "deputy"  # FIN003 and other information for the deputy never reach a teacher
        assert tl.teacher_id in taught or not tl.part.new
    summary = wl.summary
    assert {t.teacher_id for t in summary.teachers} == {tl.teacher_id for tl in wl.lists}
    assert summary.undecided == 0 and summary.school_on_time is not None
    assert all(len(t.trend) == 4 for t in summary.teachers)
    assert all(t.trend[0] is None for t in summary.teachers)  # before the check period: unknown, not 100 %


def test_a_finding_owned_by_the_deputy_goes_to_the_summary_not_to_the_teacher(school: Path) -> None:
    """A finding's own owner (R15: a family-education student's term mark) outranks its rule's route."""
    config = _load(school)
    with closing(open_cache(config.cache.path, create=False)) as db:
        before = build_week(db, config, W51)
        mine = next(r for tl in before.lists for r in tl.part.new if "," not in r.rule)  # one finding, one line
        with db.conn:
            db.execute('UPDATE "finding" SET "owner" = \'deputy\' WHERE "fingerprint" = ?', [mine.fingerprint])
        after = build_week(db, config, W51)
    in_lists = {r.fingerprint for tl in after.lists for p in (tl.part, tl.chief) for r in (*p.new, *p.still_open)}
    assert mine.fingerprint not in in_lists
    assert mine.fingerprint in {r.fingerprint for r in after.summary.info}
    assert sum(t.new for t in after.summary.teachers) == sum(t.new for t in before.summary.teachers) - 1


def test_sections_new_open_resolved_and_settled(school: Path, smtp: tuple[int, Recorder]) -> None:
    """A week's «new» starts after the check the previous week's lists were sent from; a late entry that has
    been made since (a matter of record) is shown once and not carried over."""
    port, _handler = smtp
    config_path = _config(school, port)
    config = _load(school)
    runner = CliRunner()
    assert _cli(runner, config_path, "remarks", "send", "--week", "2026-W50").exit_code == 0
    with closing(open_cache(config.cache.path, create=False)) as db:
        w50 = build_week(db, config, W50)
        w51 = build_week(db, config, W51)
        settled = {r["fingerprint"] for r in rows(db, 'SELECT "fingerprint" FROM "finding" WHERE "settled" = 1')}
    new50 = {r.fingerprint for tl in w50.lists for r in tl.part.new}
    new51 = {r.fingerprint for tl in w51.lists for r in tl.part.new}
    open51 = {r.fingerprint for tl in w51.lists for r in tl.part.still_open}
    assert new50 and settled
    # W50's lists were built from the same check: W51 then has nothing new from it, and carries only what is
    # still to be fixed
    assert not (new51 & new50)
    assert open51 <= new50 - settled
    assert not (open51 & settled)


def test_rendering_snapshots(school: Path) -> None:
    """The lists as users see them. Set UPDATE_SNAPSHOTS=1 to rewrite the files after an intended change."""
    config = _load(school)
    with closing(open_cache(config.cache.path, create=False)) as db:
        wl = build_week(db, config, W51)
    teacher = max(wl.lists, key=lambda tl: tl.part.total + tl.chief.total)
    chief = (
        next(tl for tl in wl.lists if tl.chief.new or tl.chief.still_open)
        if any(tl.chief.new or tl.chief.still_open for tl in wl.lists)
        else None
    )
    rendered = {"teacher": render_teacher(teacher), "summary": render_summary(wl.summary)}
    if chief is not None:
        rendered["chief"] = render_teacher(chief)

    def normal(text: str) -> str:
        return re.sub(r"версия \d+\.[0-9a-f]{8} \(asurso-sync [^)]+\)", "версия <rules> (asurso-sync <v>)", text)

    SNAPSHOTS.mkdir(exist_ok=True)
    for name, r in rendered.items():
        for ext, body in (("txt", r.text), ("html", r.html)):
            path = SNAPSHOTS / f"remarks-{name}.{ext}"
            if os.environ.get("UPDATE_SNAPSHOTS") or not path.exists():
                path.write_text(normal(body), encoding="utf-8")
            assert normal(body) == path.read_text(encoding="utf-8"), f"{path.name} changed"
    text = rendered["teacher"].text
    assert ("Новые за неделю".upper() in text and "→" in text) or "ВНЕСЕНО ПОЗЖЕ СРОКА" in text
    assert "Положение об электронном журнале" in text
    assert "Если замечание ошибочно" in text
    html = rendered["teacher"].html
    assert '<meta name="viewport"' in html and "<style" not in html  # inline CSS only, mobile-friendly
    assert teacher.name in html


def test_the_summarys_lines_link_to_their_findings_in_the_cabinet(school: Path) -> None:
    """With ``[web] base_url`` each line of the deputy's summary about a finding links to the cabinet's page of
    each finding it names (HTML: its short numbers; text: the addresses under the line), and those pages exist;
    teachers' letters carry no link to the deputy's pages (they have their own page, R24's one letter, one count
    untouched). Without the address the summary is as before (the snapshots)."""
    import asyncio
    import dataclasses

    from bs4 import BeautifulSoup

    from asurso_sync.web.app import create_app
    from benchmarks import letters
    from cache.cabinet import set_password_hash
    from tests.passwords import stored_hash
    from tests.test_web_attack import client

    config = _load(school)
    config.web.base_url = "https://cabinet.school.test"
    with closing(open_cache(config.cache.path)) as db:
        wl = build_week(db, config, W51)
        set_password_hash(db, stored_hash("пароль-кабинета"))
    s = wl.summary
    lines = [r for _, r in s.top_open] + s.info_shown
    assert lines  # (a line naming several children links each of them: ``Remark.named``)
    rendered = render_summary(s)
    page = BeautifulSoup(rendered.html, "html.parser")
    links = [a["href"] for a in page.select("a[href*='/finding/']")]
    expected = [f"https://cabinet.school.test/finding/{fp}" for r in lines for fp in r.named]
    assert links == expected
    assert all(a["href"].rsplit("/", 1)[1].startswith(a.text) for a in page.select("a[href*='/finding/']"))
    text_links = re.findall(r"^ +(https://cabinet\.school\.test/finding/[0-9a-f]+)$", rendered.text, re.M)
    assert text_links == expected
    plain = letters.parse(rendered.text, header_line=False)
    without = letters.parse(render_summary(build_week_plain(config)).text, header_line=False)
    assert [[i.ref for i in sec.items] for sec in plain.sections] == [
        [i.ref for i in sec.items] for sec in without.sections
    ]  # the addresses add no item to the letter as read

    async def opened() -> list[int]:
        async with client(create_app(config)) as c:
            assert (await c.post("/login", data={"password": "пароль-кабинета"})).status_code == 303
            return [(await c.get(link.removeprefix("https://cabinet.school.test"))).status_code for link in links]

    assert set(asyncio.run(opened())) == {200}
    # a line naming several children (R24: one line per lesson) links each child's finding
    first = lines[0]
    merged = dataclasses.replace(first, fingerprints=[first.fingerprint, "f" * 20], students=["А", "Б"])
    one = render_summary(dataclasses.replace(s, top_open=[("учитель", merged)], info=[]))
    assert [a["href"] for a in BeautifulSoup(one.html, "html.parser").select("a[href*='/finding/']")] == [
        f"https://cabinet.school.test/finding/{first.fingerprint}",
        f"https://cabinet.school.test/finding/{'f' * 20}",
    ]
    assert f"[{first.rule} · {first.fingerprint[:8]}, ffffffff]" in one.text
    for tl in wl.lists:
        letter = render_teacher(tl)
        assert "/finding/" not in letter.text + letter.html and "cabinet.school.test" not in letter.text + letter.html


def build_week_plain(config: Any) -> Any:
    """The same week's summary without the cabinet's address."""
    plain = config.model_copy(deep=True)
    plain.web.base_url = ""
    with closing(open_cache(plain.cache.path, create=False)) as db:
        return build_week(db, plain, W51).summary


def test_no_health_detail_in_lists(school: Path) -> None:
    config = _load(school)
    with closing(open_cache(config.cache.path, create=False)) as db:
        wl = build_week(db, config, W51)
    for tl in wl.lists:
        text = render_teacher(tl).text
        assert "«Б»" not in text and " Б)" not in text and "болезн" not in text


def test_summary_workbook(school: Path) -> None:
    config = _load(school)
    with closing(open_cache(config.cache.path, create=False)) as db:
        wl = build_week(db, config, W51)
    rendered = render_summary(wl.summary)
    assert rendered.xlsx is not None
    path = school / "s.xlsx"
    path.write_bytes(rendered.xlsx)
    wb = load_workbook(path)
    assert wb.sheetnames[:3] == ["Сводка", "Динамика", "Давние"]
    teacher_sheets = wb.sheetnames[3:]
    with_items = [tl for tl in wl.lists if not (tl.part.empty and tl.chief.empty and not tl.part.resolved)]
    assert len([s for s in teacher_sheets if s != "Для сведения"]) == len(with_items)
    assert wb["Динамика"]._charts  # the on-time chart
    summary = wb["Сводка"]
    assert summary["A2"].value == "Учитель" and summary["C2"].value == "В срок, %"


# --- sending ------------------------------------------------------------------------------------


def test_send_once_per_teacher_and_deputy_summary(school: Path, smtp: tuple[int, Recorder], runner: CliRunner) -> None:
    port, handler = smtp
    config_path = _config(school, port)
    config = _load(school)
    with closing(open_cache(config.cache.path, create=False)) as db:
        wl = build_week(db, config, W51)
    expected = {tl.email for tl in wl.lists if not tl.empty}

    dry = _cli(runner, config_path, "remarks", "send", "--week", "2026-W51", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "Будет отправлено" in dry.output and handler.envelopes == []
    assert "Первые письма по правилам:" in dry.output and "накопленн" in dry.output  # the baseline is announced

    first = _cli(runner, config_path, "remarks", "send", "--week", "2026-W51")
    assert first.exit_code == 0, first.output
    messages = handler.messages()
    recipients = [m["To"].addresses[0].addr_spec for m in messages]
    assert sorted(recipients) == sorted([*expected, config.mail.deputy_addr])
    deputy = next(m for m in messages if m["To"].addresses[0].addr_spec == config.mail.deputy_addr)
    assert deputy["Subject"] == "Сводка по ведению электронного журнала за 14.12–20.12.2026"
    attachments = list(deputy.iter_attachments())
    assert [a.get_filename() for a in attachments] == ["svodka-ezh-2026-W51.xlsx"]
    for m in messages:
        assert m.get_body(("plain",)) is not None and m.get_body(("html",)) is not None
        assert m["Message-ID"] and m["From"].addresses[0].display_name == "АНОО СОШ «Сота»"

    # each teacher's message: exactly that teacher's list (no other teacher's remark, no other teacher's name)
    by_email = {tl.email: tl for tl in wl.lists}
    names = {tl.name for tl in wl.lists}
    for m in messages:
        tl = by_email.get(m["To"].addresses[0].addr_spec)
        if tl is None or m["Subject"].startswith("Сводка"):  # the deputy also teaches: two messages
            continue
        body = m.get_body(("plain",)).get_content()
        assert tl.name in body
        assert not [other for other in names - {tl.name} if other in body], body
        # one line per remark (what was entered late: one line per lesson, in its own block)
        lines = [line for line in body.splitlines() if line.strip().startswith("- ")]
        assert len(lines) == len(tl.part.all()) + len(tl.chief.all())
        assert lines

    second = _cli(runner, config_path, "remarks", "send", "--week", "2026-W51")
    assert second.exit_code == 0 and "отправлено 0" in second.output
    assert len(handler.envelopes) == len(messages)  # nothing went twice
    status = _cli(runner, config_path, "remarks", "status", "--week", "2026-W51")
    assert status.exit_code == 0 and "отправлено" in status.output
    with closing(open_cache(config.cache.path, create=False)) as db:
        sent = outbox_rows(db, period="2026-W51")
        assert all(r.state == "sent" and r.message_id for r in sent)
        actions = [a for (a,) in db.execute('SELECT "action" FROM "audit_log"').fetchall()]
    assert actions.count("send") == len(messages) and "remarks-enqueue" in actions


def test_missing_address_is_reported_not_skipped(school: Path, smtp: tuple[int, Recorder], runner: CliRunner) -> None:
    port, handler = smtp
    config_path = _config(school, port)
    config = _load(school)
    with closing(open_cache(config.cache.path, create=False)) as db:
        wl = build_week(db, config, W51)
    victim = next(tl for tl in wl.lists if not tl.empty)
    directory = school / "teachers.csv"
    kept = [
        line
        for line in directory.read_text(encoding="utf-8-sig").splitlines()
        if not line.startswith(f"{victim.teacher_id};")
    ]
    directory.write_text("\n".join(kept) + "\n", encoding="utf-8")
    result = _cli(runner, config_path, "remarks", "send", "--week", "2026-W51")
    assert result.exit_code == 1
    assert victim.name in result.output and "Нет адреса" in result.output
    assert "[mail] directory" in result.output  # the config key is printed as text, not eaten as markup
    assert victim.email not in [e.rcpt_tos[0] for e in handler.envelopes]
    deputy = next(m for m in handler.messages() if m["To"].addresses[0].addr_spec == config.mail.deputy_addr)
    assert victim.name in deputy.get_body(("plain",)).get_content()  # the deputy sees who did not get a list


def test_only_one_teacher_and_stuck_sending(school: Path, smtp: tuple[int, Recorder], runner: CliRunner) -> None:
    port, handler = smtp
    config_path = _config(school, port)
    config = _load(school)
    with closing(open_cache(config.cache.path, create=False)) as db:
        wl = build_week(db, config, W51)
    tl = next(t for t in wl.lists if not t.empty)
    result = _cli(runner, config_path, "remarks", "send", "--week", "2026-W51", "--only", str(tl.teacher_id))
    assert result.exit_code == 0, result.output
    assert [e.rcpt_tos for e in handler.envelopes] == [[tl.email]]
    # a crash between the SMTP conversation and the commit leaves «sending»: reported, resent only on request
    with closing(open_cache(config.cache.path, create=False)) as db:
        db.execute("UPDATE outbox SET state = 'sending' WHERE recipient = ?", [tl.email])
    again = _cli(runner, config_path, "remarks", "send", "--week", "2026-W51", "--only", str(tl.teacher_id))
    assert again.exit_code == 1 and "отправляется" in again.output and len(handler.envelopes) == 1
    status = _cli(runner, config_path, "remarks", "status", "--week", "2026-W51")
    assert status.exit_code == 1 and "отправляется" in status.output
    forced = _cli(
        runner, config_path, "remarks", "send", "--week", "2026-W51", "--only", str(tl.teacher_id), "--resend"
    )
    assert forced.exit_code == 0 and len(handler.envelopes) == 2


def test_build_writes_files(school: Path, runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "lists"
    result = _cli(runner, school / "config.toml", "remarks", "build", "--week", "2026-W51", "--out", str(out))
    assert result.exit_code == 0, result.output
    folder = out / "2026-W51"
    names = sorted(p.name for p in folder.iterdir())
    assert {"summary.html", "summary.txt", "summary.eml", "svodka-ezh-2026-W51.xlsx"} <= set(names)
    assert any(n.endswith(".eml") and n.startswith("teacher-") for n in names)
    assert all((p.stat().st_mode & 0o077) == 0 for p in folder.iterdir())  # personal data: 0600


def test_no_check_yet_is_a_clear_error(tmp_path: Path, runner: CliRunner) -> None:
    emu = Emulator(EmulatorSettings(size="tiny", seed=1))
    prepare(tmp_path, emu, smtp_port=25)
    open_cache(tmp_path / "cache.db").close()
    result = _cli(runner, tmp_path / "config.toml", "remarks", "build", "--week", "2026-W51")
    assert result.exit_code == 3 and "asurso-sync check" in result.output
    bad = _cli(runner, tmp_path / "config.toml", "remarks", "status", "--week", "вчера")
    assert bad.exit_code == 2 and "2026-W48" in bad.output


def test_rules_outside_the_polozhenie_reach_teachers_only_when_the_school_names_them(tmp_path: Path) -> None:
    """Issue #18, item 4: the school's own rules (DEN003, MRK007 …) and federal recommendations are the deputy's
    until ``[rules] to_teachers`` names them; the Положение's rules are untouched."""
    from asurso_sync.routing import route_of
    from rules.catalogue import load_catalogue
    from tests.sync_helpers import make_config

    rules = load_catalogue()
    config = make_config(tmp_path)
    config.rules.warnings_to_teachers = True
    assert route_of(rules["DEN003"], config) == "deputy"
    assert route_of(rules["MRK007"], config) == "deputy"
    assert route_of(rules["TML001"], config) == "teacher"
    assert route_of(rules["KTP002"], config) == "teacher"  # a warning of the Положение (4.2.5.2)
    config.rules.to_teachers = ["DEN003", "MRK"]
    assert route_of(rules["DEN003"], config) == "teacher"
    assert route_of(rules["MRK007"], config) == "teacher"
    assert route_of(rules["DEN004"], config) == "deputy"  # information stays the deputy's


def test_what_was_late_on_one_lesson_is_one_line() -> None:
    """Issue #19 (9): four «исправлять нечего» lines for one late lesson become one; an item that can still be
    fixed, and another lesson's, stay as they are."""
    from datetime import date

    from asurso_sync.remarks.build import merge_late_entries
    from asurso_sync.remarks.model import SETTLED_ADVICE, Remark
    from rules.records import LATE

    def r(rule: str, cm: int, settled: bool = True) -> Remark:
        return Remark(
            f"{rule}{cm}", rule, rule, "error", SETTLED_ADVICE if settled else "внесите", "new", "teacher", 5,
            "8а", "Алгебра", date(2026, 12, 8), "урок 6", f"{rule} late", None, None, None, "", cm,
            record=LATE if settled else "",
        )  # fmt: skip

    items = [r("TML001", 1), r("TML002", 1), r("TML004", 1), r("TML002", 3)]
    merged = merge_late_entries(items)
    assert [(m.rule, m.detail, m.late_what) for m in merged] == [
        (
            "TML001, TML002, TML004",
            "внесены позже срока: тема, домашнее задание, отметки",
            "внесены позже срока: тема, домашнее задание, отметки",
        ),
        ("TML002", "внесены позже срока: домашнее задание", "внесены позже срока: домашнее задание"),
    ]
    assert merged[0].fingerprints == ["TML0011", "TML0021", "TML0041"]  # every finding keeps its number


def test_the_first_mailing_is_a_baseline(school: Path, smtp: tuple[int, Recorder]) -> None:
    """Issue #19 (3): the first lists sent from a cache carry only the week's items; the months before go to the
    deputy as «накопленные замечания» (a count per teacher). Once a week has been sent, nothing is held back."""
    port, _handler = smtp
    config_path = _config(school, port)
    config = _load(school)
    with closing(open_cache(config.cache.path, create=False)) as db:
        first = build_week(db, config, W51)
    days = [r.day for tl in first.lists for p in (tl.part, tl.chief) for r in (*p.new, *p.still_open) if r.day]
    assert days and min(days) >= W51.monday
    assert first.summary.totals["backlog"] > 0
    text = render_summary(first.summary).text
    assert f"НАКОПЛЕННЫЕ ЗАМЕЧАНИЯ — {first.summary.totals['backlog']}" in text
    assert _cli(CliRunner(), config_path, "remarks", "send", "--week", "2026-W50").exit_code == 0
    with closing(open_cache(config.cache.path, create=False)) as db:
        later = build_week(db, config, W51)
        reached = {t for t, _rule in letter_rules(db, before=W51.label)}
    # ruling R23: the baseline is per teacher — whoever got a letter in W50 gets no backlog in W51
    assert reached
    assert all(not (tl.part.backlog or tl.chief.backlog) for tl in later.lists if tl.teacher_id in reached)


def test_a_dry_run_warns_of_a_long_letter(
    school: Path, smtp: tuple[int, Recorder], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue #19 (3): ``send --dry-run`` names a teacher whose letter holds more items than the limit (exit 1)."""
    import asurso_sync.cli.remarks as cli_remarks

    port, _handler = smtp
    config_path = _config(school, port)
    monkeypatch.setattr(cli_remarks, "HEAVY_LETTER", 1)
    dry = _cli(CliRunner(), config_path, "remarks", "send", "--week", "2026-W51", "--dry-run")
    assert dry.exit_code == 1, dry.output  # exitcodes.ATTENTION
    assert "— больше 1; проверьте период проверки" in " ".join(dry.output.split())


def test_a_remark_is_named_by_its_number_or_its_words_from_the_letter(school: Path, runner: CliRunner) -> None:
    """Issue #19 (10): a teacher replies «this remark is wrong»; the deputy names it as the letter shows it — the
    short number after the rule, or the line's words — to look at it (check) and to waive it (rules waive)."""
    config = _load(school)
    with closing(open_cache(config.cache.path, create=False)) as db:
        wl = build_week(db, config, W51)
    teacher, remark = next(
        (tl, r) for tl in wl.lists for r in (*tl.part.new, *tl.part.still_open) if "," not in r.rule
    )  # a remark of one rule (not a merged «entered late» line)
    letter = render_teacher(teacher).text
    assert f"[{remark.rule} · {remark.ref}]" in letter and len(remark.ref) == 8
    line = next(x for x in letter.splitlines() if remark.ref in x)
    cfg = ["-c", str(school / "config.toml")]
    when = ["--from", "2026-12-07", "--as-of", MONDAY.isoformat(), "--stale-ok", "--format", "jsonl"]

    # the words of the line (as pasted from the letter, with «Воробьёва»-style folding), and the number
    words = f"{remark.class_name}, {remark.subject} {line.strip().lstrip('- ')}".replace("е", "ё", 1)
    for text in (words, remark.ref, f"[{remark.rule} · {remark.ref}]"):
        shown = runner.invoke(app, [*cfg, "check", *when, "--finding", text])
        assert shown.exit_code in (1, 8), shown.output
        assert [json.loads(x)["fingerprint"] for x in shown.stdout.splitlines()] == [remark.fingerprint], text

    nothing = runner.invoke(app, [*cfg, "check", *when, "--finding", "ffffffff"])
    assert nothing.exit_code == 2 and "не найдено" in nothing.output
    several = runner.invoke(app, [*cfg, "rules", "waive", "--finding", "урок", "--reason", "проверено"])
    assert several.exit_code == 2 and "укажите номер одного из них" in " ".join(several.output.split())

    waived = runner.invoke(app, [*cfg, "rules", "waive", "--finding", remark.ref, "--reason", "урок перенесён"])
    assert waived.exit_code == 0, waived.output
    listed = runner.invoke(app, [*cfg, "rules", "waivers"])
    assert f"замечание {remark.ref}" in " ".join(listed.output.split())
    after = runner.invoke(app, [*cfg, "check", *when])
    fingerprints = {json.loads(x)["fingerprint"] for x in after.stdout.splitlines()}
    assert remark.fingerprint not in fingerprints and len(fingerprints) > 1  # only that one is waived


def test_directory_template_lists_teachers_and_never_overwrites(school: Path, runner: CliRunner) -> None:
    """``remarks directory`` writes an Excel-ready id;ФИО;email list of the school's teachers; on an existing file
    it keeps every line as it is and appends only the teachers it does not name."""
    cfg = ["-c", str(school / "config.toml")]
    target = school / "new-teachers.csv"
    first = runner.invoke(app, [*cfg, "remarks", "directory", "--out", str(target)])
    assert first.exit_code == 0, first.output
    raw = target.read_bytes()
    assert raw.startswith("\ufeffid;ФИО;email\r\n".encode())
    lines = raw.decode("utf-8-sig").splitlines()
    assert len(lines) > 5 and all(line.endswith(";") for line in lines[1:])
    # the school fills in one address and drops one teacher; a new run keeps both edits and adds the dropped one
    edited = [lines[0], lines[1] + "a@school.example", *lines[3:]]
    target.write_text("\r\n".join(edited) + "\r\n", encoding="utf-8-sig")
    again = runner.invoke(app, [*cfg, "remarks", "directory", "--out", str(target)])
    assert again.exit_code == 0 and "добавлен 1 учитель" in " ".join(again.output.split())
    now = target.read_bytes().decode("utf-8-sig").splitlines()
    assert now[: len(edited)] == edited and now[-1] == lines[2]
    same = runner.invoke(app, [*cfg, "remarks", "directory", "--out", str(target)])
    assert "файл не изменён" in same.output
    assert load_directory(target).by_id == {int(lines[1].split(";")[0]): "a@school.example"}  # blanks skipped


# --- issue #30: what a new user found (each failed before the fix) ---------------------------------------------


def _header(text: str) -> dict[str, int]:
    from asurso_sync.casebook import header_counts

    found = header_counts(text)
    assert found is not None, text
    return found


def _section_lines(text: str) -> dict[str, int]:
    """Lines listed under each section title of a teacher's plain-text letter (both parts summed)."""
    keys = {
        "НОВЫЕ ЗА НЕДЕЛЮ": "new",
        "ВНЕСЕНО ПОЗЖЕ СРОКА — ИСПРАВЛЯТЬ НЕЧЕГО": "records",
        "НЕ УСТРАНЕНЫ": "still_open",
        "УСТРАНЕНЫ ЗА НЕДЕЛЮ": "resolved",
    }
    counts = dict.fromkeys(keys.values(), 0)
    current = None
    for line in text.splitlines():
        title = re.match(r"^([А-ЯЁ —]+) — (\d+)$", line)
        if title and title.group(1) in keys:
            current = keys[title.group(1)]
            assert int(title.group(2)) >= 0
        elif line.startswith("КЛАССНОЕ РУКОВОДСТВО") or line == "--":
            current = None
        elif current and line.strip().startswith("- "):
            counts[current] += 1
    return counts


def test_header_numbers_equal_the_lines_below(school: Path) -> None:
    """«Новых: 43» in the header with «НОВЫЕ ЗА НЕДЕЛЮ — 26» below (R24): every number of a letter's header is the
    number of lines listed under the sections of that name, late entries and the class-teacher part included."""
    config = _load(school)
    with closing(open_cache(config.cache.path, create=False)) as db:
        wl = build_week(db, config, W51)
    checked = 0
    for tl in wl.lists:
        if tl.empty:
            continue
        text = render_teacher(tl).text
        assert _header(text) == _section_lines(text), text
        checked += 1
    assert checked


def test_a_late_code_is_a_record_shown_once_without_advice(school: Path) -> None:
    """ATT003 appeared under «Новые» with «вносите отсутствующих…», then was carried for weeks as «не устранено»
    (R22): a code entered late is a record — in its own block, asking nothing, never «не устранено» later."""
    config = _load(school)
    with closing(open_cache(config.cache.path, create=False)) as db:
        wl = build_week(db, config, W51)
    late = [r for tl in wl.lists for p in (tl.part, tl.chief) for r in p.records if "ATT003" in r.rule]
    assert late
    for tl in wl.lists:
        for p in (tl.part, tl.chief):
            assert not [r for r in (*p.new, *p.still_open) if r.rule == "ATT003"]
    assert all(not r.advice or r.advice.startswith("исправлять нечего") for r in late)
    text = "".join(render_teacher(tl).text for tl in wl.lists)
    assert "вносите отсутствующих в день урока" not in text


def test_records_are_decided_in_one_place() -> None:
    """R22's decision: late entries of any kind and ATT003, a closed term (not the term mark itself, which is due
    after it), a lesson past the journal's edit limit; otherwise a task."""
    from datetime import date as d

    from rules.context import Finding
    from rules.facts import TermSpan
    from rules.records import EDIT_LIMIT, LATE, TERM_CLOSED, edit_limit_days, record_reason

    terms = {7: TermSpan(d(2026, 11, 5), d(2026, 12, 26), 1, "2 четверть")}
    today = d(2026, 12, 28)

    def reason(rule: str, entity: dict[str, int], day: d | None = None, settled: bool = False) -> str:
        f = Finding(rule, entity, "", date=day, settled=settled)
        return record_reason(f, today=today, terms=terms, edit_limit=14)

    assert reason("TML001", {"cm": 1}, d(2026, 12, 22)) == ""
    assert reason("TML001", {"cm": 1}, d(2026, 12, 22), settled=True) == LATE
    assert reason("ATT003", {"cm": 1, "student": 2}, d(2026, 12, 22)) == LATE
    assert reason("FIN001", {"student": 2, "sg": 3, "term": 7}) == TERM_CLOSED  # CB-53
    assert reason("DEN001", {"student": 2, "sg": 3, "term": 7}) == TERM_CLOSED
    assert reason("FIN002", {"student": 2, "sg": 3, "term": 7}) == ""  # the term mark: due after the term
    assert reason("TML002", {"cm": 1}, d(2026, 12, 10)) == EDIT_LIMIT
    assert edit_limit_days({"editLimitPastEdit": "1", "editLimitPastDays": "14"}) == 14
    assert edit_limit_days({"editLimitPastEdit": "0", "editLimitPastDays": "14"}) is None
    assert edit_limit_days({}) is None


def test_the_edit_limit_is_read_from_the_journal_answer(school: Path) -> None:
    """What the journal still allows comes from its own answer (``editLimit``), stored through the cache."""
    config = _load(school)
    with closing(open_cache(config.cache.path, create=False)) as db:
        settings = dict(db.execute('SELECT "key", "value" FROM "school_setting" WHERE "gone_at" IS NULL').fetchall())
    assert settings["editLimitPastEdit"] == "1" and settings["editLimitPastDays"] == "14"


def test_shadow_start_shows_the_deputy_every_item(school: Path) -> None:
    """With ``[rules] shadow = true`` the deputy saw «Новых замечаний: 0» (R23): every rule's items reach the
    summary, the workbook and `remarks build`'s preview files, marked «учителям пока не отправляется»; teachers
    get nothing of an unreleased rule."""
    config_path = school / "config.toml"
    edit_config(config_path, "[rules]", "[rules]\nshadow = true")
    config = _load(school)
    with closing(open_cache(config.cache.path, create=False)) as db:
        wl = build_week(db, config, W51)
    assert wl.summary.totals["shadow"] > 0
    assert all(tl.empty for tl in wl.lists)  # nothing released: no teacher gets a list
    text = render_summary(wl.summary).text
    assert f"{wl.summary.totals['shadow']}" in text and "УЧИТЕЛЯМ ПОКА НЕ ОТПРАВЛЯЕТСЯ" in text
    assert wl.previews and all(p.part.total or p.chief.total for p in wl.previews)
    out = school / "out"
    result = _cli(CliRunner(), config_path, "remarks", "build", "--week", "2026-W51", "--out", str(out))
    assert result.exit_code == 0, result.output
    previews = sorted((out / W51.label).glob("teacher-*-preview.txt"))
    assert len(previews) == len(wl.previews)
    assert "ПРЕДВАРИТЕЛЬНЫЙ ПРОСМОТР — УЧИТЕЛЯМ ПОКА НЕ ОТПРАВЛЯЕТСЯ" in previews[0].read_text(encoding="utf-8")
    book = load_workbook(out / W51.label / f"svodka-ezh-{W51.label}.xlsx")
    assert "В тени" in book.sheetnames


def test_shadow_weeks_are_no_teachers_baseline(school: Path, smtp: tuple[int, Recorder]) -> None:
    """Summary-only shadow weeks used up the first mailing, and at release teachers got the backlog (R23): the
    baseline is the first letter that really reaches the teacher with a released rule."""
    config_path = _config(school, smtp[0])  # a mail server that answers (port 25 refused: 1.5 s of retry waits)
    edit_config(config_path, "[rules]", "[rules]\nshadow = true")
    assert _cli(CliRunner(), config_path, "remarks", "send", "--week", "2026-W50").exit_code in (0, 1)
    config = _load(school)
    with closing(open_cache(config.cache.path, create=False)) as db:
        assert rows(db, 'SELECT * FROM "remark_week" WHERE "week" = ?', [W50.label])  # the deputy's week was sent
        assert not letter_rules(db, before=W51.label)  # … and no teacher got a letter
    edit_config(config_path, "shadow = true", "shadow = false")  # every rule released at once
    config = _load(school)
    with closing(open_cache(config.cache.path, create=False)) as db:
        wl = build_week(db, config, W51)
    assert wl.summary.totals["backlog"] > 0
    days = [r.day for tl in wl.lists for p in (tl.part, tl.chief) for r in (*p.new, *p.still_open) if r.day]
    assert days and min(days) >= W51.monday


def test_reply_to_children_named_and_strict_only(school: Path, smtp: tuple[int, Recorder]) -> None:
    """«ответьте на это письмо» without a Reply-To; ``--only "Сидоров"`` (nobody) an empty table with exit 0; CSV and
    jsonl lines about a child with only ``"student": 937122`` (R24)."""
    port, handler = smtp
    config_path = _config(school, port)
    config = _load(school)
    runner = CliRunner()
    nobody = _cli(runner, config_path, "remarks", "send", "--week", "2026-W51", "--dry-run", "--only", "Сидоров")
    assert nobody.exit_code == 2 and "не найден" in nobody.output
    nobody = _cli(runner, config_path, "remarks", "build", "--week", "2026-W51", "--only", "Жуковаа")
    assert nobody.exit_code == 2 and "Жукова София Михайловна" in nobody.output  # the close match is named
    assert _cli(runner, config_path, "remarks", "send", "--week", "2026-W51").exit_code in (0, 1)
    letters = [m for m in handler.messages() if not m["Subject"].startswith("Сводка")]
    assert letters and all(m["Reply-To"].addresses[0].addr_spec == config.mail.deputy_addr for m in letters)
    for fmt in ("jsonl", "csv"):
        out = school / f"findings.{fmt}"
        when = ["--from", "2026-12-07", "--as-of", MONDAY.isoformat(), "--stale-ok"]
        result = _cli(runner, config_path, "check", *when, "--format", fmt, "--output", str(out), "--force")
        assert out.exists(), result.output  # (the exit code says whether errors were found)
        text = out.read_text(encoding="utf-8-sig")
        if fmt == "jsonl":
            items = [json.loads(line) for line in text.splitlines()]
            about = [f for f in items if "student" in f["entity"]]
            assert about and all(f["student_name"] for f in about)
            assert {f["kind"] for f in items} == {"task", "record"}
        else:
            assert "обучающийся" in text.splitlines()[0] and "исправлять нечего" in text


def test_one_line_per_lesson_names_its_children() -> None:
    """Three identical-looking ATT003 lines for one lesson (R24): one line naming the three children."""
    from dataclasses import replace
    from datetime import date as d

    from asurso_sync.remarks.build import merge_children, merge_late_entries
    from asurso_sync.remarks.model import Remark
    from rules.records import LATE

    base = Remark(
        "a1", "ATT001", "t", "error", "укажите код", "new", "teacher", 5, "8а", "Алгебра", d(2026, 12, 8), "урок 2",
        "недопустимый код «П»", "Иванов Иван", None, None, "", 11,
    )  # fmt: skip
    three = [
        base,
        replace(base, fingerprint="a2", student="Петров Пётр"),
        replace(base, fingerprint="a3", student="Ян"),
    ]
    merged = merge_children(three)
    assert len(merged) == 1 and merged[0].who == "Иванов Иван, Петров Пётр, Ян" and merged[0].size == 3
    late = [replace(r, rule="ATT003", record=LATE, detail="отсутствие внесено поздно") for r in three]
    line = merge_late_entries(merge_children(late))
    assert len(line) == 1 and line[0].who == "Иванов Иван, Петров Пётр, Ян"
