"""What a fresh interpreter loads: serve never pulls in dagster or the pipelines; the lower
layers are dagster-free; torch loads only when the real encoder is built; ``import snapsearch``
stays light. (Which module may import which is tests/test_layers.py's import-linter contract.)"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

SERVE_MODULES = [
    *sorted(f"serve.{p.stem}" for p in (REPO / "serve").glob("*.py") if p.stem != "__init__"),
    "serve", "snapsearch.settings", "snapsearch.search.engine", "snapsearch.search.types",
    "snapsearch.kinds.parts.query", "snapsearch.search.fusion",
]
LOWER_MODULES = sorted(
    f"snapsearch.format.{p.stem}"
    for p in (REPO / "snapsearch" / "format").glob("*.py") if p.stem != "__init__"
) + ["snapsearch.kinds", "snapsearch.search.engine", "snapsearch.search.filters"]
EVAL_LIBRARY = sorted(
    f"eval.{p.stem}" for p in (REPO / "eval").glob("*.py") if p.stem not in {"__init__", "__main__"}
)


def loaded_after(modules: list[str], watch: list[str]) -> list[str]:
    """Which of ``watch`` are in sys.modules after importing ``modules`` in a fresh interpreter."""
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        f"print(','.join(w for w in {watch!r} if w in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    return [w for w in out.stdout.strip().split(",") if w]


def test_serve_app_imports_no_pipeline_no_dagster_no_torch() -> None:
    watch = ["dagster", "pipelines", "torch", "sentence_transformers", "transformers"]
    assert loaded_after(["serve.app"], watch) == []


def test_no_serve_module_imports_dagster_or_pipelines() -> None:
    assert loaded_after(SERVE_MODULES, ["dagster", "pipelines", "torch"]) == []


def test_the_lower_layers_import_no_dagster() -> None:
    watch = ["dagster", "pipelines", "torch", "serve"]
    assert loaded_after(["snapsearch.format", *LOWER_MODULES], watch) == []


def test_the_eval_library_loads_no_pipelines_or_dagster() -> None:
    assert {"eval.metrics", "eval.suite", "eval.compliance", "eval.harness"} <= set(EVAL_LIBRARY)
    assert loaded_after(EVAL_LIBRARY, ["pipelines", "dagster", "eval.drivers"]) == []


def test_import_snapsearch_stays_light() -> None:
    watch = ["typer", "dagster", "torch", "pipelines", "serve", "snapsearch.cli", "numpy"]
    assert loaded_after(["snapsearch"], watch) == []
