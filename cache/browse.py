"""Describing the mirror to a person browsing it with datasette (or any SQLite viewer).

The views of migration 0017 give lessons, marks, attendance and findings with names; the metadata built here titles
every table and view in Russian (the table docs of :mod:`cache.schema`), says what the history columns mean, and
tells datasette which column names a row (``label_column``). Datasette reads it with ``--metadata FILE``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cache.files import write_private_bytes
from cache.schema import ENTITIES, HISTORY_COLUMNS

VIEWS: dict[str, str] = {
    "уроки": "Уроки журнала с классом, предметом, учителем, темой и домашним заданием (сейчас в журнале).",
    "отметки": "Отметки с именем ученика, классом, предметом, датой и видом работы (сейчас в журнале).",
    "посещаемость": "Отметки о посещаемости с именем ученика, уроком и причиной (сейчас в журнале).",
    "замечания": "Замечания последних проверок: правило, важность, состояние, класс, учитель, номер из письма.",
}

HISTORY_TEXT = {
    "first_seen_at": "Когда строка впервые прочитана с сервера (время сервера).",
    "last_seen_at": "Когда строка прочитана в последний раз.",
    "changed_at": "Когда в последний раз изменились её данные.",
    "gone_at": "Когда сервер перестал её возвращать (строки не удаляются); пусто — есть в журнале сейчас.",
}

# the column that names a row when another table points at it
LABELS = {"staff": "name", "student": "full_name", "school_class": "name", "subject": "name", "subject_group": "name"}

# the program's own tables, not the journal's
OWN = {
    "sync_run": "Синхронизации: вид, начало, конец, итог.",
    "observation": "Прочитанные части журнала (единицы синхронизации) и время чтения.",
    "change_log": "Изменения строк зеркала: что было и что стало.",
    "audit_log": "Журнал действий программы и пользователей (152-ФЗ).",
    "check_run": "Проверки журнала: период, правила, итоги.",
    "finding": "Замечания проверок (технический вид; удобнее представление «замечания»).",
    "waiver": "Исключения: принятые замечания с причиной и сроком.",
    "outbox": "Очередь писем: кому, за какую неделю, состояние отправки.",
    "remark_week": "Какие замечания вошли в списки какой недели.",
    "purge_log": "Удаления устаревших персональных данных.",
    "purge_aggregate": "Обезличенные итоги по удалённым данным.",
    "access_log": "Отчёт о доступе к журналу: кто и когда вносил записи.",
    "sync_state": "Курсоры синхронизации.",
}


def datasette_metadata(school: str, database: str = "cache") -> dict[str, Any]:
    """Datasette metadata for the cache file named ``database`` (its stem: «cache» for cache.db)."""
    tables: dict[str, Any] = {}
    for name, entity in ENTITIES.items():
        item: dict[str, Any] = {
            "description": entity.doc,
            "columns": {c: HISTORY_TEXT[c] for c in HISTORY_COLUMNS},
        }
        if name in LABELS:
            item["label_column"] = LABELS[name]
        tables[name] = item
    for name, text in OWN.items():
        tables[name] = {"description": text}
    for name, text in VIEWS.items():
        tables[name] = {"description": text}
    return {
        "title": f"Зеркало электронного журнала — {school}",
        "description": (
            "Кэш asurso-sync: копия журнала АСУ РСО с историей. Удобнее всего начать с представлений «уроки», "
            "«отметки», «посещаемость» и «замечания». Содержит персональные данные обучающихся (152-ФЗ): не "
            "открывайте datasette для других компьютеров сети."
        ),
        "databases": {database: {"tables": tables}},
    }


def write_browse_metadata(cache_path: Path, school: str, target: Path | None = None) -> Path:
    """Write the metadata beside the cache (``cache.metadata.json``, or ``target``); returns its path."""
    target = target or cache_path.with_name(f"{cache_path.stem}.metadata.json")
    text = json.dumps(datasette_metadata(school, cache_path.stem), ensure_ascii=False, indent=1)
    write_private_bytes(target, text.encode("utf-8"))
    return target


def datasette_command(cache_path: Path, metadata: Path) -> str:
    return f"datasette {cache_path} --metadata {metadata}"
