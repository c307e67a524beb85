"""The tables of an HTML page, read in one pass of the standard library's tokenizer (``html.parser``).

The access report is a page of tables and nothing else is read from it: its rows' cells as text, which table is
``table.table-print``, and the page's text (for «Нет данных»). Building BeautifulSoup's whole tree for that cost a
full sync a third of its CPU (a year's report is megabytes of ``<td>``); this reader keeps no tree, only the tables,
and reads a page several times faster with the same tokenizer. What it returns is what BeautifulSoup with
``html.parser`` returns for the same questions (``tests/test_access_log.py`` compares the two on generated pages):

- an end tag closes the most recently opened element of its name and everything opened after it; an end tag with
  no open element of its name is ignored; void elements (``<br>``, ``<img>``, …) never hold anything;
- a table's rows are all its ``<tr>`` descendants, nested tables' rows included, in document order; a row's cells
  all its ``<td>``/``<th>`` descendants (``Tag.find_all``);
- a cell's text is its strings, comments and the content of ``<script>``, ``<style>``, ``<template>``, ``<rt>`` and
  ``<rp>`` left out (``Tag.get_text``), whitespace collapsed to single spaces;
- character references are decoded as HTML5 says (``html.unescape``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

_VOID = frozenset({
    "area", "base", "basefont", "bgsound", "br", "col", "command", "embed", "frame", "hr", "image", "img", "input",
    "isindex", "keygen", "link", "menuitem", "meta", "nextid", "param", "source", "spacer", "track", "wbr",
})  # fmt: skip
_HIDDEN = frozenset({"script", "style", "template", "rt", "rp"})  # their strings are not text (BeautifulSoup's)
_CELLS = frozenset({"td", "th"})


@dataclass
class Table:
    classes: frozenset[str]
    rows: list[list[str]] = field(default_factory=list)  # each row's cells' text


@dataclass
class Page:
    tables: list[Table]  # in document order, nested ones too
    strings: list[str]  # the page's text strings, each stripped, empty ones left out

    @property
    def text(self) -> str:
        return " ".join(self.strings)


class _Open:
    """An element on the open-elements stack: its name, and for a table, row or cell what it collects."""

    __slots__ = ("cell", "cells", "name", "table")

    def __init__(self, name: str) -> None:
        self.name = name
        self.table: Table | None = None  # a table's
        self.cells: list[_Cell] | None = None  # a row's
        self.cell: _Cell | None = None  # a cell's


class _Cell:
    __slots__ = ("end", "start")

    def __init__(self, start: int) -> None:
        self.start = start
        self.end: int | None = None  # None while open (and for a cell never closed: to the page's end)


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[_Open] = []
        self.tables: list[Table] = []
        self.table_rows: list[tuple[Table, list[_Cell]]] = []  # (table, row) for every table a row is inside
        self.strings: list[str] = []
        self.pending: list[str] = []  # data since the last markup: one string, as BeautifulSoup joins it
        self.hidden = 0  # open elements whose strings are not text

    def flush(self) -> None:
        if self.pending:
            text = "".join(self.pending).strip()
            self.pending.clear()
            if text and not self.hidden:
                self.strings.append(text)

    def handle_data(self, data: str) -> None:
        self.pending.append(data)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.flush()
        if tag in _VOID:
            return
        element = _Open(tag)
        if tag == "table":
            value = dict(attrs).get("class") or ""
            element.table = Table(frozenset(value.split()))
            self.tables.append(element.table)
        elif tag == "tr":
            element.cells = []
            for e in self.stack:
                if e.table is not None:
                    self.table_rows.append((e.table, element.cells))
        elif tag in _CELLS:
            element.cell = _Cell(len(self.strings))
            for e in self.stack:
                if e.cells is not None:
                    e.cells.append(element.cell)
        elif tag in _HIDDEN:
            self.hidden += 1
        self.stack.append(element)

    def handle_endtag(self, tag: str) -> None:
        self.flush()
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i].name == tag:
                for element in self.stack[i:]:
                    self._close(element)
                del self.stack[i:]
                return

    def _close(self, element: _Open) -> None:
        if element.cell is not None:
            element.cell.end = len(self.strings)
        elif element.name in _HIDDEN:
            self.hidden -= 1

    def handle_comment(self, data: str) -> None:
        self.flush()

    def handle_decl(self, decl: str) -> None:
        self.flush()

    def handle_pi(self, data: str) -> None:
        self.flush()

    def unknown_decl(self, data: str) -> None:
        self.flush()
        if data.upper().startswith("CDATA["):  # BeautifulSoup's CData: a string of the text
            self.pending.append(data[len("CDATA[") :])
            self.flush()


def read_tables(html: str) -> Page:
    """The page's tables (each row's cells' text) and its text, in one pass."""
    reader = _Reader()
    reader.feed(html)
    reader.close()
    reader.flush()
    strings = reader.strings

    def text(cell: _Cell) -> str:
        end = len(strings) if cell.end is None else cell.end
        return " ".join(" ".join(strings[cell.start : end]).split())

    for table, cells in reader.table_rows:
        table.rows.append([text(c) for c in cells])
    return Page(reader.tables, strings)
