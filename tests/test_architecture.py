"""The layer rules of ``docs/architecture.md``, checked.

import-linter enforces the contracts of ``pyproject.toml`` (server → rooms → documents →
auth, and no I/O framework in the domain); the AST checks below restate the two rules
the rest of the design leans on, with messages that name the offending file and line.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOMAIN_PACKAGES = ("rooms", "documents", "auth")


def python_files(*packages: str) -> Iterator[Path]:
    for package in packages:
        yield from sorted((ROOT / package).rglob("*.py"))


def imported_modules(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """``(line, module)`` for every absolute import in ``tree``, nested ones included."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module


def test_import_contracts_hold() -> None:
    lint_imports = Path(sys.executable).parent / "lint-imports"
    if not lint_imports.exists():
        pytest.fail(f"{lint_imports} is missing: pip install -e '.[dev]'")
    result = subprocess.run(
        [str(lint_imports), "--no-cache", "--no-logo"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("package", DOMAIN_PACKAGES)
def test_domain_packages_never_import_server(package: str) -> None:
    offences = []
    for path in python_files(package):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for line, module in imported_modules(tree):
            if module == "server" or module.startswith("server."):
                offences.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert not offences, "\n".join(offences)


# Modules besides ``*/actions*`` allowed to queue broker messages: the outbox itself, the
# room log writer the actions call, sign-in sessions (revocations close sockets), and the
# draft comments (their notifications).
EMITTERS = {
    Path("auth/base.py"),
    Path("rooms/events.py"),
    Path("auth/sessions.py"),
    Path("documents/comments.py"),
}


def _may_emit(path: Path) -> bool:
    """State changes queue broker messages (``auth.base.emit``); queries and edges do not."""
    relative = path.relative_to(ROOT)
    return "actions" in relative.parts or relative.stem == "actions" or relative in EMITTERS


def test_only_actions_queue_broker_messages() -> None:
    offences = []
    for path in python_files(*DOMAIN_PACKAGES, "server"):
        if _may_emit(path):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "auth.base":
                if any(alias.name == "emit" for alias in node.names):
                    offences.append(f"{path.relative_to(ROOT)}:{node.lineno} imports emit")
            elif isinstance(node, ast.Attribute) and node.attr == "emit":
                if isinstance(node.value, ast.Name) and node.value.id == "base":
                    offences.append(f"{path.relative_to(ROOT)}:{node.lineno} uses base.emit")
    assert not offences, "\n".join(offences)
