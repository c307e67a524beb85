from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlite_utils import Database

from cache import (
    BackgroundReads,
    EmptyUnitError,
    get_cursor,
    open_cache,
    present_at,
    save_rows,
    unit,
    value_at,
)

T1, T2, T3, T4 = "2026-11-23T16:05:00", "2026-11-24T01:00:00", "2026-11-24T16:05:00", "2026-11-25T01:00:00"


def topic(cm: int, text: str | None, sg: int = 10) -> dict[str, object]:
    return {"cm_id": cm, "sg_id": sg, "ktp_lesson_id": None, "topic": text}


def row(db: Database, table: str, where: str) -> dict[str, object]:
    cur = db.execute(f"SELECT * FROM {table} WHERE {where}")
    names = [d[0] for d in cur.description]
    r = cur.fetchone()
    assert r is not None
    return dict(zip(names, r, strict=True))


@pytest.fixture
def db(tmp_path: Path) -> Database:
    return open_cache(tmp_path / "c.db")


def test_insert_change_disappear_reappear(db: Database) -> None:
    scope = {"sg_id": 10}
    s = save_rows(db, "lesson_topic", [topic(1, "Дроби")], observed_at=T1, scope=scope, complete=True)
    assert (s.new, s.changed) == (1, 0)
    r = row(db, "lesson_topic", "cm_id = 1")
    assert (r["first_seen_at"], r["last_seen_at"], r["changed_at"], r["gone_at"]) == (T1, T1, T1, None)

    s = save_rows(db, "lesson_topic", [topic(1, "Дроби")], observed_at=T2, scope=scope, complete=True)
    assert s.unchanged == 1
    r = row(db, "lesson_topic", "cm_id = 1")
    assert (r["first_seen_at"], r["last_seen_at"], r["changed_at"]) == (T1, T2, T1)

    s = save_rows(db, "lesson_topic", [topic(1, "Обыкновенные дроби")], observed_at=T3, scope=scope, complete=True)
    assert s.changed == 1
    r = row(db, "lesson_topic", "cm_id = 1")
    assert (r["topic"], r["changed_at"], r["last_seen_at"]) == ("Обыкновенные дроби", T3, T3)

    # another lesson appears, the first one disappears
    s = save_rows(db, "lesson_topic", [topic(2, "Степени")], observed_at=T4, scope=scope, complete=True)
    assert (s.new, s.gone) == (1, 1)
    r = row(db, "lesson_topic", "cm_id = 1")
    assert r["gone_at"] == T4
    assert db.execute("SELECT count(*) FROM lesson_topic").fetchone()[0] == 2  # never deleted

    t5 = "2026-11-25T16:05:00"
    s = save_rows(
        db,
        "lesson_topic",
        [topic(1, "Обыкновенные дроби"), topic(2, "Степени")],
        observed_at=t5,
        scope=scope,
        complete=True,
    )
    assert (s.reappeared, s.unchanged) == (1, 1)
    r = row(db, "lesson_topic", "cm_id = 1")
    assert (r["gone_at"], r["changed_at"], r["first_seen_at"]) == (None, t5, T1)

    ops = [o for (o,) in db.execute("SELECT op FROM change_log WHERE row_key = '[1]' ORDER BY id")]
    assert ops == ["insert", "change", "gone", "reappear"]
    old, new = db.execute("SELECT old, new FROM change_log WHERE op = 'change'").fetchone()
    assert json.loads(old) == {"topic": "Дроби"} and json.loads(new) == {"topic": "Обыкновенные дроби"}

    # the history answers "present, and with which value, at time T?"
    assert not present_at(db, "lesson_topic", [1], "2026-11-23T16:04:59")
    assert present_at(db, "lesson_topic", [1], T1)
    assert value_at(db, "lesson_topic", [1], "topic", T2) == "Дроби"
    assert value_at(db, "lesson_topic", [1], "topic", T3) == "Обыкновенные дроби"
    assert not present_at(db, "lesson_topic", [1], T4)
    assert value_at(db, "lesson_topic", [1], "topic", T4) is None
    assert present_at(db, "lesson_topic", [1], t5)


def test_partial_read_never_marks_gone(db: Database) -> None:
    save_rows(
        db, "staff", [{"id": 1, "name": "А", "email": None}, {"id": 2, "name": "Б", "email": None}], observed_at=T1
    )
    s = save_rows(db, "staff", [{"id": 2, "name": "Б", "email": None}], observed_at=T2)
    assert s.gone == 0
    assert db.execute("SELECT count(*) FROM staff WHERE gone_at IS NULL").fetchone()[0] == 2


def test_type_drift_is_not_a_change(db: Database) -> None:
    """Ids as numeric strings, marks as numbers or strings, booleans: the same value, no spurious history."""
    mark = {"assignment_id": 5, "student_id": 9, "sg_id": 10, "term_id": 3, "mark": 5, "duty": False}
    save_rows(db, "mark", [mark], observed_at=T1)
    drifted = {"assignment_id": "5", "student_id": "9", "sg_id": "10", "term_id": "3", "mark": "5", "duty": 0}
    s = save_rows(db, "mark", [drifted], observed_at=T2)
    assert s.unchanged == 1
    assert row(db, "mark", "assignment_id = 5")["mark"] == "5"


def test_composite_keys_lookup_in_chunks(db: Database) -> None:
    rows = [
        {"class_meeting_id": cm, "student_id": st_, "sg_id": 1, "term_id": 3, "reason": "ОТ"}
        for cm in range(30)
        for st_ in range(30)
    ]
    assert save_rows(db, "attendance", rows, observed_at=T1).new == 900
    rows[0] = {**rows[0], "reason": "Б"}
    s = save_rows(db, "attendance", rows, observed_at=T2)
    assert (s.changed, s.unchanged, s.new) == (1, 899, 0)


def test_empty_remote_guard(db: Database) -> None:
    scope = {"sg_id": 10}
    save_rows(db, "lesson_topic", [topic(1, "Дроби"), topic(2, "Степени")], observed_at=T1, scope=scope, complete=True)
    with pytest.raises(EmptyUnitError, match="2 записей") as exc:
        save_rows(db, "lesson_topic", [], observed_at=T2, scope=scope, complete=True)
    assert "--accept-empty" in str(exc.value)
    assert db.execute("SELECT count(*) FROM lesson_topic WHERE gone_at IS NULL").fetchone()[0] == 2
    s = save_rows(db, "lesson_topic", [], observed_at=T2, scope=scope, complete=True, allow_empty=True)
    assert s.gone == 2
    # an empty unit that never had data is fine
    assert save_rows(db, "lesson_topic", [], observed_at=T2, scope={"sg_id": 99}, complete=True).written == 0


def test_rows_outside_scope_and_unknown_columns_are_rejected(db: Database) -> None:
    with pytest.raises(ValueError, match="вне области"):
        save_rows(db, "lesson_topic", [topic(1, "x", sg=11)], observed_at=T1, scope={"sg_id": 10})
    with pytest.raises(ValueError, match="неизвестные столбцы"):
        save_rows(db, "staff", [{"id": 1, "name": "x", "email": None, "salary": 1}], observed_at=T1)
    with pytest.raises(ValueError, match="нет столбцов"):
        save_rows(db, "staff", [{"id": 1}], observed_at=T1)


def test_unit_commits_rows_observation_and_cursor_together(db: Database) -> None:
    with unit(db, "journal", {"sg_id": 10, "term_id": 3}, observed_at=T1) as u:
        u.save("lesson_topic", [topic(1, "Дроби")], scope={"sg_id": 10}, complete=True)
        u.cursor = T1
    assert get_cursor(db, "journal", {"term_id": 3, "sg_id": 10}) == T1
    assert db.execute("SELECT resource, observed_at FROM observation").fetchall() == [("journal", T1)]

    # a failure inside the unit loses the unit, and only the unit
    with pytest.raises(RuntimeError), unit(db, "journal", {"sg_id": 10, "term_id": 3}, observed_at=T2) as u:
        u.save("lesson_topic", [topic(1, "ИЗМЕНЕНО"), topic(2, "Новая")], scope={"sg_id": 10}, complete=True)
        u.cursor = T2
        raise RuntimeError("connection reset")
    assert get_cursor(db, "journal", {"sg_id": 10, "term_id": 3}) == T1
    assert db.execute("SELECT topic FROM lesson_topic").fetchall() == [("Дроби",)]
    assert db.execute("SELECT count(*) FROM observation").fetchone()[0] == 1
    assert db.execute("SELECT count(*) FROM change_log").fetchone()[0] == 1


def test_one_writer_one_reader_in_wal(tmp_path: Path) -> None:
    """A reader sees a consistent snapshot while a writer is inside a unit; it never blocks."""
    path = tmp_path / "c.db"
    writer = open_cache(path)
    reader = open_cache(path)
    save_rows(writer, "staff", [{"id": 1, "name": "А", "email": None}], observed_at=T1)
    inside = threading.Event()
    release = threading.Event()
    errors: list[BaseException] = []

    def write() -> None:
        try:
            w = open_cache(path)
            with unit(w, "staff", None, observed_at=T2) as u:
                u.save("staff", [{"id": i, "name": f"N{i}", "email": None} for i in range(1, 2001)], complete=True)
                inside.set()
                release.wait(10)
            w.close()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    t = threading.Thread(target=write)
    t.start()
    assert inside.wait(10)
    started = time.monotonic()
    assert reader.execute("SELECT count(*) FROM staff").fetchone()[0] == 1  # old snapshot, not blocked
    assert time.monotonic() - started < 1
    release.set()
    t.join(10)
    assert not errors
    assert reader.execute("SELECT count(*) FROM staff").fetchone()[0] == 2000


def test_background_reads_share_one_snapshot_on_their_own_connection_and_fall_back_to_the_caller(
    tmp_path: Path,
) -> None:
    """The worker reads the cache file on a connection of its own (a temp table of the caller's is not there),
    the named reads one after another in one read transaction, whatever the path (Cyrillic, spaces, «#»); a read
    it cannot do, and a database without a file, are read on the caller's connection."""
    folder = tmp_path / "Кэш школы #1"
    folder.mkdir(mode=0o700)
    db = open_cache(folder / "кэш.db")
    save_rows(db, "staff", [{"id": i, "name": f"N{i}", "email": None} for i in range(1, 6)], observed_at=T1)
    db.execute('CREATE TEMP TABLE "only_here" ("x")')
    db.execute('INSERT INTO "only_here" VALUES (7)')
    reads = BackgroundReads(
        db,
        {
            "ids": ('SELECT group_concat("id") FROM "staff" WHERE "id" > ?', [2]),
            "here": ('SELECT max("x") FROM "only_here"', []),  # the worker fails: the caller reads it
            "broken": ("SELECT no_such_column FROM staff", []),
            "count": ('SELECT count(*) FROM "staff"', []),
        },
    )
    assert reads.take("count") == 5 and reads.take("ids") == "3,4,5" and reads.take("here") == 7
    workers = [t for t in threading.enumerate() if t.name.startswith("cache-read")]
    for t in workers:
        t.join(5)
    assert not any(t.is_alive() for t in workers)  # the worker ends with its last read
    with pytest.raises(sqlite3.OperationalError):  # an error of the read itself shows, from the caller's read
        reads.take("broken")
    memory = Database(memory=True)
    memory.execute('CREATE TABLE "t" ("x")')
    memory.execute('INSERT INTO "t" VALUES (1), (2)')
    assert BackgroundReads(memory, {"total": ('SELECT sum("x") FROM "t"', [])}).take("total") == 3


def test_background_reads_see_one_snapshot(tmp_path: Path) -> None:
    """A write committed while the worker is between two reads is in neither: they share one read transaction."""
    db = open_cache(tmp_path / "cache.db")
    save_rows(db, "staff", [{"id": 1, "name": "N1", "email": None}], observed_at=T1)
    slow = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000000) SELECT count(*) FROM n"
    reads = BackgroundReads(
        db,
        {
            "first": ('SELECT count(*) FROM "staff"', []),
            "slow": (slow, []),
            "second": ('SELECT count(*) FROM "staff"', []),
        },
    )
    assert reads.take("first") == 1
    save_rows(db, "staff", [{"id": i, "name": f"N{i}", "email": None} for i in (1, 2)], observed_at=T2)
    assert reads.take("slow") == 5000000
    assert reads.take("second") == 1  # the snapshot of the first read, not the write made since


# --- property: the history reconstructs every snapshot it was fed -------------------------------

snapshots = st.lists(
    st.dictionaries(st.integers(1, 8), st.sampled_from(["Дроби", "Степени", "урок", None]), max_size=8),
    min_size=1,
    max_size=7,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seq=snapshots)
def test_history_reconstructs_each_observation(
    tmp_path_factory: pytest.TempPathFactory, seq: list[dict[int, str | None]]
) -> None:
    db = open_cache(tmp_path_factory.mktemp("h") / "c.db")
    times = [f"2026-11-{10 + i:02d}T16:05:00" for i in range(len(seq))]
    for snap, t in zip(seq, times, strict=True):
        save_rows(
            db,
            "lesson_topic",
            [topic(cm, text) for cm, text in snap.items()],
            observed_at=t,
            scope={"sg_id": 10},
            complete=True,
            allow_empty=True,
        )
    for snap, t in zip(seq, times, strict=True):
        for cm in range(1, 9):
            assert present_at(db, "lesson_topic", [cm], t) == (cm in snap)
            if cm in snap:
                assert value_at(db, "lesson_topic", [cm], "topic", t) == snap[cm]
    db.close()
