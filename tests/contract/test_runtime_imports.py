"""The hand-written runtime under generated/ stays below it: its imports run one way."""

from __future__ import annotations

import ast
from pathlib import Path

import contract_runtime

PACKAGE = Path(contract_runtime.__file__).parent


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            found.add(node.module)
    return found


def test_contract_runtime_imports_neither_generated_nor_service() -> None:
    modules = sorted(PACKAGE.glob("*.py"))
    assert len(modules) >= 5
    for path in modules:
        roots = {name.split(".")[0] for name in imported_modules(path)}
        assert not roots & {"generated", "service", "tests"}, (path.name, roots)


def test_generated_code_takes_its_runtime_from_contract_runtime() -> None:
    generated = PACKAGE.parent / "generated"
    users = {
        path.name
        for path in generated.rglob("*.py")
        if any(name.startswith("contract_runtime") for name in imported_modules(path))
    }
    assert {"router.py", "emitter.py", "schemas.py", "rooms.py", "client.py"} <= users
    assert not list(generated.rglob("*runtime*.py"))
