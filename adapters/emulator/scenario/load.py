"""Reading a scenario file: TOML, merged onto the default school, validated; every problem is one Russian
message naming the file, the line where it can be found, and the key."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from adapters.emulator.scenario.model import Scenario

DEFAULT_SCHOOL = "default_school.toml"
# the sections that describe the school: merged onto the default school's by name
_BY_NAME = {"staff": "name", "classes": "name", "students": "name", "groups": None}


class ScenarioError(Exception):
    """A scenario file that cannot be used; ``str()`` is the Russian message (file, line, key, what to do)."""


def default_school() -> dict[str, Any]:
    text = resources.files("adapters.emulator.scenario").joinpath(DEFAULT_SCHOOL).read_text(encoding="utf-8")
    return tomllib.loads(text)


def _group_key(item: dict[str, Any]) -> str:
    if item.get("name"):
        return str(item["name"])
    place = item.get("class") or f"{item.get('iup_grade')} ИУП"
    sub = f" ({item['subgroup']})" if item.get("subgroup") else ""
    return f"{place}/{item.get('subject')}{sub}"


def _by_key(key: str) -> Callable[[dict[str, Any]], str]:
    return lambda item: str(item.get(key))


def merge(base: dict[str, Any], case: dict[str, Any]) -> dict[str, Any]:
    """The case's school on top of the default one: list sections by name (the case's item replaces the default's
    of the same name, new ones are added), ``[school]`` key by key, ``terms`` wholesale."""
    if not case.get("school", {}).get("defaults", True):
        return case
    out = dict(case)
    school = dict(base.get("school", {}))
    school.update(case.get("school", {}))
    out["school"] = school
    if "terms" not in case and "terms" in base:
        out["terms"] = base["terms"]
    for section, key in _BY_NAME.items():
        ours = case.get(section, [])
        name_of: Callable[[dict[str, Any]], str] = _group_key if key is None else _by_key(key)
        replaced = {name_of(x) for x in ours if isinstance(x, dict)}
        kept = [x for x in base.get(section, []) if name_of(x) not in replaced]
        if kept or ours:
            out[section] = [*kept, *ours]
    return out


def load(path: Path) -> Scenario:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ScenarioError(f"{path}: файл должен быть в кодировке UTF-8") from None
    except OSError as exc:
        raise ScenarioError(f"{path}: не удалось прочитать файл ({exc.strerror})") from None
    return parse(text, str(path))


def parse(text: str, where: str) -> Scenario:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{where}: ошибка синтаксиса TOML — {_toml_ru(str(exc))}") from None
    try:
        return Scenario.model_validate(merge(default_school(), data))
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = [p for p in err["loc"] if p not in ("function-after", "function-before")]
            key = _key(loc)
            line = locate(text, loc)
            at = f", строка {line}" if line else ""
            problems.append(f"{where}{at}: ключ {key}: {_message_ru(err)}")
        raise ScenarioError("\n".join(problems)) from None


def _key(loc: list[Any]) -> str:
    out = ""
    for part in loc:
        out += f"[{part + 1}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(файл)"


def _message_ru(err: Any) -> str:
    kind, msg = err["type"], str(err["msg"])
    if kind == "extra_forbidden":
        return "неизвестный ключ (опечатка?)"
    if kind == "missing":
        return "обязательный ключ не указан"
    if kind.startswith("date") or kind.startswith("datetime"):
        return f"не дата: «{err.get('input')}» (пишите 2026-11-24)"
    if kind == "literal_error":
        expected = str(err.get("ctx", {}).get("expected", ""))
        return f"«{err.get('input')}» — допустимо: {expected}"
    if kind in ("int_parsing", "int_type"):
        return f"нужно целое число, а не «{err.get('input')}»"
    if kind in ("bool_parsing", "bool_type"):
        return "нужно true или false"
    if kind in ("string_type",):
        return "нужна строка в кавычках"
    if kind in ("list_type",):
        return "нужен список […]"
    if kind in ("greater_than_equal", "less_than_equal"):
        return f"значение вне допустимых пределов: {msg}"
    return msg.removeprefix("Value error, ")


def _toml_ru(msg: str) -> str:
    m = re.search(r"\(at line (\d+), column (\d+)\)", msg)
    where = f"строка {m.group(1)}, столбец {m.group(2)}" if m else ""
    what = msg.split(" (at line")[0]
    known = {
        "Expected newline or end of document after a statement": (
            "лишний текст после значения (неверная дата или число, забыты кавычки?)"
        ),
        "Invalid date or datetime": "неверная дата или время (пишите 2026-11-24 или 2026-11-24T16:20)",
        "Invalid value": "недопустимое значение (строки — в кавычках, даты — 2026-11-24)",
        "Invalid initial character for a key part": "недопустимый символ в начале ключа",
        "Expected '=' after a key in a key/value pair": "после ключа ожидается «=»",
        "Cannot declare": "ключ или таблица объявлены дважды",
        "Unclosed": "не закрыта кавычка или скобка",
    }
    text = next((ru for en, ru in known.items() if what.startswith(en)), what)
    return f"{where}: {text}" if where else text


def locate(text: str, loc: list[Any]) -> int | None:
    """The line (from 1) of the key a validation error names: array-of-table headers are counted for indices,
    plain keys searched after the position reached so far. None when the key is not in the file (a default)."""
    lines = text.splitlines()
    pos, path = 0, []
    found: int | None = None
    i = 0
    while i < len(loc):
        part = loc[i]
        if isinstance(part, str):
            path.append(part)
            nxt = loc[i + 1] if i + 1 < len(loc) else None
            header = re.compile(rf"^\s*\[\[\s*{re.escape('.'.join(path))}\s*\]\]")
            if isinstance(nxt, int):
                hits = [n for n in range(pos, len(lines)) if header.match(lines[n])]
                if len(hits) > nxt:
                    pos = found = hits[nxt]
                    found += 1
                    i += 2
                    continue
                inline = _find(lines, pos, part)
                return inline + 1 if inline is not None else found
            table = re.compile(rf"^\s*\[\s*{re.escape('.'.join(path))}\s*\]")
            n = next((n for n in range(pos, len(lines)) if table.match(lines[n])), None)
            if n is None:
                n = _find(lines, pos, part)
            if n is None:
                return found
            pos, found = n, n + 1
        i += 1
    return found


def _find(lines: list[str], start: int, key: str) -> int | None:
    pattern = re.compile(rf"(^|[\s{{,]){re.escape(key)}\s*=")
    return next((n for n in range(start, len(lines)) if pattern.search(lines[n])), None)
