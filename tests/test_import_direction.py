"""Imports go one way: asurso_sync -> rules -> cache; asurso_sync -> adapters; nothing imports asurso_sync."""

from __future__ import annotations

import ast
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
