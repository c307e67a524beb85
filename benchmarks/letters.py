"""Reading the letters as their readers get them: the text part of each message the SMTP server received.

The term benchmark measures letters only from what was really sent, so that its figures stay true whatever builds
the letters: a section is a heading line «TITLE — N …», its items are the remark numbers in brackets under it
(«[TML001 · 63d50e89]», or «[63d50e89]» in the block of late entries), and the header line's numbers
(«Новых: 5 · не устранено …: 2 · устранено за неделю: 1») are compared with the sections they count.

Tasks and records (ruling R22): a section whose heading says nothing is left to fix («исправлять нечего», «внесено
позже срока») holds records; an item of a rule in ``RECORD_RULES`` is a record wherever it stands (a code entered late
can never be fixed, R22). Every other listed item is a task. **Hook:** when findings carry their own task/record
property, the letter is expected to show it by its sections, and this reading follows without change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import parseaddr

# R22 names «a code entered late» among the records; the letters of today still list ATT003 as a task
RECORD_RULES = frozenset({"ATT003"})

# a section heading: «НОВЫЕ ЗА НЕДЕЛЮ — 5», «ВНЕСЕНО ПОЗЖЕ СРОКА — 2 урока (…)», «Внесено позже срока — исправлять
# нечего — 2» (any case, dashes inside); items and the header line start otherwise
_HEADING = re.compile(r"^([А-ЯЁ][А-Яа-яЁё ,.«»()/\-—]*?[А-Яа-яЁё)»])\s+—\s+(\d+)")
# one line, one item (R24): «[ATT002 · 7fa5c516, 00e8388a]» names the line's findings; the first stands for it
_ITEM = re.compile(r"\[(?:([A-Z]{3}\d{3}(?:,\s*[A-Z]{3}\d{3})*)\s*·\s*)?([0-9a-f]{8})(?:,\s*[0-9a-f]{8})*\]")
_MORE = re.compile(r"^- и ещё (\d+)")  # «- и ещё 2 — в приложении …»: listed, not cut
# a header number: «Новых: 3», «внесено позже срока (исправлять нечего): 2»
_PAIR = re.compile(r"([А-Яа-яЁё][А-Яа-яЁё ()]*?):\s*(\d+)")
_CHIEF = re.compile(r"^КЛАССНОЕ РУКОВОДСТВО")
_CAPS = re.compile(r"^[А-ЯЁ]{2,}[ ,]+[А-ЯЁ]{2,}")  # a heading without a number closes the section before it


@dataclass
class Item:
    ref: str
    rules: tuple[str, ...]
    kind: str  # task | record | resolved
    section: str
    chief: bool


@dataclass
class Section:
    title: str
    declared: int
    kind: str  # new | open | record | resolved | other
    chief: bool
    items: list[Item] = field(default_factory=list)
    numbers: list[int] = field(default_factory=list)  # «- name: N» lines (the deputy's per-teacher counts)
    more: int = 0  # «и ещё N — в приложении»


@dataclass
class Letter:
    to: str
    subject: str
    reply_to: str
    text: str
    header: dict[str, int]
    sections: list[Section]

    @property
    def items(self) -> list[Item]:
        return [i for s in self.sections for i in s.items]

    @property
    def tasks(self) -> list[Item]:
        return [i for i in self.items if i.kind == "task"]

    @property
    def records(self) -> list[Item]:
        return [i for i in self.items if i.kind == "record"]

    def mismatches(self) -> list[str]:
        """Every number of the letter that disagrees with the items listed under it (ruling R24)."""
        out = []
        for s in self.sections:
            listed = (len(s.items) if s.items or not s.numbers else sum(s.numbers)) + s.more
            if listed != s.declared:
                out.append(f"«{s.title}»: {s.declared}, перечислено {listed}")
        if self.header:
            out += self._header_mismatches()
        return out

    def _header_mismatches(self) -> list[str]:
        count = {
            k: sum(len(s.items) for s in self.sections if s.kind == k) for k in ("new", "open", "record", "resolved")
        }
        count["other"] = sum(len(s.items) for s in self.sections if s.kind == "other")
        out = []
        has_record = any(_label(k) == "record" for k in self.header)
        for label, n in self.header.items():
            kind = _label(label)
            if kind is None:
                continue
            if kind == "new":
                expected = count["new"] + count["other"] + (0 if has_record else count["record"])
            else:
                expected = count[kind]
            if n != expected:
                out.append(f"«{label}: {n}», в разделах {expected}")
        return out


def _label(label: str) -> str | None:
    """The kind of sections a header number counts, from its words."""
    low = label.casefold()
    if "не устран" in low:
        return "open"
    if "устран" in low:
        return "resolved"
    if "нечего" in low or "позже срока" in low or "запис" in low:
        return "record"
    if "нов" in low or "задач" in low:
        return "new"
    return None


def _section_kind(title: str) -> str:
    t = title.casefold()
    if "нечего" in t or "позже срока" in t:
        return "record"
    if "не устран" in t:
        return "open"
    if "устран" in t:
        return "resolved"
    if "нов" in t or "не заполнен" in t:
        return "new"
    return "other"


def text_of(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    return str(body.get_content()) if body is not None else ""


def read(raw: bytes, *, header_line: bool = True) -> Letter:
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return parse(
        text_of(message),
        to=parseaddr(str(message.get("To", "")))[1].casefold(),
        subject=str(message.get("Subject", "")),
        reply_to=parseaddr(str(message.get("Reply-To", "")))[1].casefold(),
        header_line=header_line,
    )


def parse(text: str, *, to: str = "", subject: str = "", reply_to: str = "", header_line: bool = True) -> Letter:
    """The letter's header numbers and sections with their items (the footer after «--» is left out).
    ``header_line``: read the numbers of the line before the first section (a teacher's letter; the deputy's
    summary counts other things there)."""
    header: dict[str, int] = {}
    sections: list[Section] = []
    chief = False
    current: Section | None = None
    for line in text.split("\n"):
        if line.strip() == "--":
            break
        if _CHIEF.match(line):
            chief, current = True, None
            continue
        heading = _HEADING.match(line)
        if heading:
            title = heading.group(1).strip()
            current = Section(title, int(heading.group(2)), _section_kind(title), chief)
            sections.append(current)
            continue
        if _CAPS.match(line):
            current = None
            continue
        if current is None:
            if header_line and not sections and not header and ":" in line:
                found = {label.strip(): int(n) for label, n in _PAIR.findall(line)}
                if any(_label(k) for k in found):
                    header = found
            continue
        for rules, ref in _ITEM.findall(line):
            codes = tuple(c.strip() for c in rules.split(",")) if rules else ()
            if current.kind == "resolved":
                kind = "resolved"
            elif current.kind == "record" or (codes and set(codes) <= RECORD_RULES):
                kind = "record"
            else:
                kind = "task"
            current.items.append(Item(ref, codes, kind, current.title, chief))
        if _ITEM.search(line):
            continue
        more = _MORE.match(line.strip())
        if more:
            current.more += int(more.group(1))
            continue
        number = re.match(r"^- .+:\s*(\d+)\s*$", line.strip())
        if number:
            current.numbers.append(int(number.group(1)))
        elif re.match(r"^- .+:(\s*[A-Z]{3}\d{3} × \d+,?)+\s*$", line.strip()):  # «- name: TML001 × 3, TML002 × 1»
            current.numbers.append(sum(int(n) for n in re.findall(r" × (\d+)", line)))
    return Letter(to, subject, reply_to, text, header, sections)


__all__ = ["RECORD_RULES", "Item", "Letter", "Section", "parse", "read", "text_of"]
