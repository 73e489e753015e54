"""eval is a library below pipelines (metrics, suite, compliance, harness, needs, suite builder);
only the drivers (``eval.drivers``) and the CLI (``eval.__main__``) may build through pipelines."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.test_import_boundaries import loaded_after

EVAL = Path(__file__).resolve().parents[2] / "eval"
LIBRARY = sorted(p for p in EVAL.glob("*.py") if p.stem not in {"__init__", "__main__"})
ABOVE_THE_LIBRARY = ("pipelines", "eval.drivers", "eval.__main__", "snapsearch.cli", "serve")


def imported_names(path: Path) -> list[str]:
    """Every module ``path`` imports, at the top or inside a function (relative ones resolved)."""
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = "eval." * (node.level > 0) + (node.module or "")
            names += [base.rstrip("."), *(f"{base}.{a.name}".lstrip(".") for a in node.names)]
    return names


def test_library_modules_import_nothing_above_them() -> None:
    assert {p.stem for p in LIBRARY} >= {"metrics", "suite", "compliance", "harness"}
    for path in LIBRARY:
        wrong = [n for n in imported_names(path)
                 if any(n == above or n.startswith(f"{above}.") for above in ABOVE_THE_LIBRARY)]
        assert wrong == [], f"eval/{path.name} imports {wrong}"


def test_package_init_imports_nothing() -> None:
    assert imported_names(EVAL / "__init__.py") == []


def test_importing_the_library_loads_no_pipelines_or_dagster() -> None:
    modules = [f"eval.{p.stem}" for p in LIBRARY]
    assert loaded_after(modules, ["pipelines", "dagster", "eval.drivers"]) == []
