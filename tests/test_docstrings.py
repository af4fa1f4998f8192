"""Every public definition of the SDK says what it is: modules, classes, functions and methods."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).parents[1] / "src" / "pressure_sdk"


def undocumented(root: Path) -> list[str]:
    """``path:line name`` of each public module, class, function or method without a docstring."""
    missing: list[str] = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        where = path.relative_to(root)
        if not ast.get_docstring(tree) and path.stat().st_size:
            missing.append(f"{where}:1 (module)")

        def visit(node: ast.AST, prefix: str, where: Path = where) -> None:
            for child in ast.iter_child_nodes(node):
                if not isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                    continue
                if child.name.startswith("_"):
                    continue
                if not ast.get_docstring(child):
                    missing.append(f"{where}:{child.lineno} {prefix}{child.name}")
                if isinstance(child, ast.ClassDef):  # methods, not functions nested in functions
                    visit(child, f"{prefix}{child.name}.")

        visit(tree, "")
    return missing


def test_the_checker_finds_what_lacks_a_docstring(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text(
        '"""A module."""\n\n'
        "def public(): pass\n\n"
        "def _private(): pass\n\n"
        'class Thing:\n    """Documented."""\n\n    def method(self): pass\n\n    def _hidden(self): pass\n\n'
        'def outer():\n    """Documented."""\n\n    def inner(): pass\n'
    )
    (tmp_path / "bare.py").write_text("X = 1\n")
    assert undocumented(tmp_path) == ["bare.py:1 (module)", "m.py:3 public", "m.py:10 Thing.method"]


def test_every_public_definition_has_a_docstring() -> None:
    missing = undocumented(SRC)
    assert not missing, f"{len(missing)} public definitions without a docstring:\n" + "\n".join(missing)
