"""Import boundaries: serve never pulls in dagster or the pipelines; the format package is
dagster-free; torch loads only when the real encoder is built."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

SERVE_MODULES = [
    "serve", "serve.app", "serve.errors", "serve.metrics", "serve.logging", "serve.__main__",
    "snapsearch.settings", "snapsearch.search.engine", "snapsearch.search.types",
    "snapsearch.kinds.parts.query", "snapsearch.search.fusion",
]
SNAPFMT_MODULES = sorted(
    f"snapsearch.format.{p.stem}" for p in (REPO / "snapsearch" / "format").glob("*.py")
    if p.stem != "__init__"
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


def test_snapfmt_imports_no_dagster() -> None:
    assert SNAPFMT_MODULES
    watch = ["dagster", "pipelines", "torch"]
    assert loaded_after(["snapsearch.format", *SNAPFMT_MODULES], watch) == []
