"""Imports go one way: asurso_sync -> rules -> cache; asurso_sync -> adapters; nothing imports asurso_sync."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = {
    "cache": {"asurso_sync", "rules", "adapters"},
    "rules": {"asurso_sync", "adapters"},
    "adapters": {"asurso_sync", "rules", "cache"},
}


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_does_not_import_upwards(package: str) -> None:
    offenders = []
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"no modules found in {package}"
    for file in files:
        bad = imported_packages(file) & FORBIDDEN[package]
        if bad:
            offenders.append(f"{file.relative_to(ROOT)} imports {sorted(bad)}")
    assert not offenders, "\n".join(offenders)


def test_checker_catches_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "m.py"
    bad.write_text("from asurso_sync.config import Config\nimport rules.engine\n", encoding="utf-8")
    assert imported_packages(bad) == {"asurso_sync", "rules"}


# --- no import cycles inside a package, lazy (function-level) imports included ----------------------

PACKAGES = ("asurso_sync", "rules", "cache", "adapters")


def import_graph(root: Path = ROOT, packages: tuple[str, ...] = PACKAGES) -> dict[str, set[str]]:
    """Module -> the project modules it imports anywhere in its body (top level or inside a function)."""
    files = {module_name_in(root, f): f for p in packages for f in sorted((root / p).rglob("*.py"))}
    graph: dict[str, set[str]] = {}
    for name, file in files.items():
        package = name if file.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in _runtime_nodes(ast.parse(file.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets.update(_known(alias.name, files) for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - (node.level - 1)]
                    base = ".".join([*anchor, base] if base else anchor)
                for alias in node.names:
                    full = f"{base}.{alias.name}"
                    targets.add(full if full in files else _known(base, files))
        graph[name] = {t for t in targets if t and t != name}
    return graph


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node that can run, lazy imports inside functions included; ``if TYPE_CHECKING:`` blocks (never run)
    are left out."""
    found: list[ast.AST] = []
    todo: list[ast.AST] = [tree]
    while todo:
        node = todo.pop()
        found.append(node)
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                todo.extend(child.orelse)
                continue
            todo.append(child)
    return found


def module_name_in(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _known(name: str, files: dict[str, Path]) -> str:
    """The longest prefix of ``name`` that is a project module ('' for outside modules)."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in files:
            return candidate
        parts.pop()
    return ""


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles() -> None:
    assert cycles(import_graph()) == []


def test_cycle_finder_sees_lazy_imports(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("", encoding="utf-8")
    (pkg / "a.py").write_text("from pkg.b import x\n", encoding="utf-8")
    (pkg / "b.py").write_text("def x():\n    from . import a\n    return a\n", encoding="utf-8")
    (pkg / "c.py").write_text("import json\nfrom pkg import a\n", encoding="utf-8")
    typing_only = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.c import y\n"
    (pkg / "d.py").write_text(typing_only + "from pkg import c\n", encoding="utf-8")
    graph = import_graph(tmp_path, ("pkg",))
    assert graph["pkg.c"] == {"pkg.a"}
    assert graph["pkg.d"] == {"pkg.c"}  # the TYPE_CHECKING import never runs
    assert cycles(graph) == [["pkg.a", "pkg.b"]]


# --- the application reads the mirror only through cache/ ---------------------------------------------


def mirror_sql(text: str, tables: set[str]) -> list[str]:
    """Table names that ``text`` reads or writes with SQL (FROM/JOIN/INTO/UPDATE/TABLE, quoted or not)."""
    pattern = re.compile(r'\b(?:FROM|JOIN|INTO|UPDATE|TABLE)\s+"?([A-Za-z_][A-Za-z0-9_]*)"?', re.IGNORECASE)
    return sorted({m.group(1) for m in pattern.finditer(text) if m.group(1) in tables})


def test_the_application_holds_no_sql_against_the_mirror(tmp_path: Path) -> None:
    from cache import open_cache

    db = open_cache(tmp_path / "c.db")
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    db.close()
    assert {"class_meeting", "observation", "outbox"} <= tables
    offenders = {
        str(f.relative_to(ROOT)): found
        for f in sorted((ROOT / "asurso_sync").rglob("*.py"))
        if (found := mirror_sql(f.read_text(encoding="utf-8"), tables))
    }
    assert offenders == {}


def test_sql_finder_sees_quoted_and_plain_names() -> None:
    tables = {"student", "class_meeting"}
    assert mirror_sql('rows(db, \'SELECT "id" FROM "student"\')', tables) == ["student"]
    assert mirror_sql("select 1 from class_meeting cm join student s", tables) == ["class_meeting", "student"]
    assert mirror_sql("Записей в таблице: from the student's point of view", tables) == []


# --- the repository explains itself: docs/ is cited, the research folder outside the clone never is ----------


RESEARCH = re.compile(r"\.\./shared|shared/docs")  # the team's research folder: beside the clone, not in it


def test_nothing_cites_the_research_folder_and_cited_docs_exist() -> None:
    outside, missing = [], []
    suffixes = {".py", ".md", ".toml", ".html", ".txt", ".sh"}
    for f in sorted(ROOT.rglob("*")):
        rel = f.relative_to(ROOT)
        if not f.is_file() or f.suffix not in suffixes or rel.parts[0] in (".git", ".venv") or "venv" in rel.parts[0]:
            continue
        text = f.read_text(encoding="utf-8", errors="replace")
        if RESEARCH.search(text) and rel != Path(__file__).relative_to(ROOT):
            outside.append(str(rel))
        for m in re.finditer(r"\bdocs/([\w.-]+\.md)", text):
            if not (ROOT / "docs" / m.group(1)).exists():
                missing.append(f"{rel}: docs/{m.group(1)}")
    assert outside == [] and missing == []
