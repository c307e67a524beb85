"""The directory of teacher addresses (CSV or TOML): who gets which list at which e-mail address."""

from __future__ import annotations

import csv
import io
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from asurso_sync.remarks.errors import RemarksError

_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
_ID_COLS = ("id", "teacher_id", "код", "ид")
_NAME_COLS = ("name", "teacher", "фио", "учитель", "сотрудник")
_MAIL_COLS = ("email", "e-mail", "mail", "почта", "адрес", "электронная почта")


def normalize_name(name: str) -> str:
    return " ".join(name.replace("ё", "е").replace("Ё", "Е").split()).casefold()


@dataclass
class Directory:
    by_id: dict[int, str] = field(default_factory=dict)
    by_name: dict[str, str] = field(default_factory=dict)

    def find(self, teacher_id: int, name: str, server_email: str | None = None) -> str | None:
        return self.by_id.get(teacher_id) or self.by_name.get(normalize_name(name)) or server_email or None

    def add(self, key: str, email: str, where: str) -> None:
        email = email.strip()
        if not _EMAIL.match(email):
            raise RemarksError(f"{where}: «{email}» — не адрес электронной почты")
        key = key.strip()
        if key.isdigit():
            self.by_id[int(key)] = email
        elif key:
            self.by_name[normalize_name(key)] = email


def load_directory(path: Path | None) -> Directory:
    """Teacher → e-mail from a CSV (columns: id and/or ФИО, e-mail; ``;`` or ``,``) or TOML (``[teachers]``
    table of "ФИО" or "id" = "адрес") file. Errors name the file and the line."""
    directory = Directory()
    if path is None:
        return directory
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise RemarksError(f"справочник адресов {path} ([mail] directory) не читается: {exc.strerror}") from None
    text = raw.decode("utf-8-sig", errors="replace")
    if path.suffix.lower() == ".toml":
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise RemarksError(f"справочник адресов {path}: ошибка TOML: {exc}") from None
        table = data.get("teachers", data)
        if not isinstance(table, dict):
            raise RemarksError(f"справочник адресов {path}: ожидается таблица [teachers] «ФИО или id» = «адрес»")
        for key, value in table.items():
            if not isinstance(value, str):
                raise RemarksError(f"справочник адресов {path}, ключ «{key}»: адрес должен быть строкой")
            directory.add(str(key), value, f"справочник адресов {path}, ключ «{key}»")
        return directory
    delimiter = ";" if text.count(";") >= text.count(",") else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    header = [h.strip().casefold() for h in next(reader, [])]
    cols = {
        "id": next((i for i, h in enumerate(header) if h in _ID_COLS), None),
        "name": next((i for i, h in enumerate(header) if h in _NAME_COLS), None),
        "mail": next((i for i, h in enumerate(header) if h in _MAIL_COLS), None),
    }
    if cols["mail"] is None or (cols["id"] is None and cols["name"] is None):
        raise RemarksError(
            f"справочник адресов {path}: в первой строке нужны заголовки столбцов — «ФИО» (или «id») и «email»"
        )
    for line_no, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        mail_col = cols["mail"]
        email = row[mail_col] if len(row) > mail_col else ""
        if not email.strip():  # a teacher whose address is not known yet (the template leaves it blank)
            continue
        where = f"справочник адресов {path}, строка {line_no}"
        for col in (cols["id"], cols["name"]):
            if col is not None and len(row) > col and row[col].strip():
                directory.add(row[col], email, where)
    return directory


def directory_template(teachers: list[tuple[int, str]], existing: Path | None = None) -> tuple[bytes, int]:
    """A CSV for Excel (UTF-8 with BOM, «;») listing ``teachers`` as id;ФИО;email with the address left blank.
    When ``existing`` is given, its text is kept as it is and only teachers it does not name are appended.
    Returns the bytes and how many teachers were added."""
    known = load_directory(existing) if existing is not None else Directory()
    listed: set[int] = set()
    names: set[str] = set()
    head = ""
    if existing is not None:
        head = existing.read_bytes().decode("utf-8-sig")
        for row in csv.reader(io.StringIO(head), delimiter=";" if head.count(";") >= head.count(",") else ","):
            for cell in row:
                if cell.strip().isdigit():
                    listed.add(int(cell.strip()))
                names.add(normalize_name(cell))
    missing = [
        (i, n)
        for i, n in teachers
        if i not in listed and i not in known.by_id and normalize_name(n) not in names | set(known.by_name)
    ]
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=";", lineterminator="\r\n")
    if not head:
        writer.writerow(["id", "ФИО", "email"])
    elif not head.endswith(("\n", "\r")):
        buf.write("\r\n")
    for teacher_id, name in missing:
        writer.writerow([teacher_id, name, ""])
    return ("\ufeff" + head + buf.getvalue()).encode("utf-8"), len(missing)
