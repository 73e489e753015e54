"""What a fresh interpreter loads: serve never pulls in dagster or the pipelines; the lower
layers are dagster-free; torch loads only when the real encoder is built, never to serve (a server
answering from a snapshot with an ONNX query encoder loads onnxruntime, not torch);
``import snapsearch`` stays light. (Which module may import which is tests/test_layers.py's
import-linter contract.)"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import build_from, sample_records, write_jsonl, write_passing_gates
from tests.tiny_onnx import TinyOnnxEncoder

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


TORCH_STACK = ["torch", "transformers", "sentence_transformers", "dagster", "pipelines"]


@pytest.fixture(scope="module")
def onnx_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A published snapshot whose query encoder is an ONNX graph (tests/tiny_onnx.py)."""
    from snapsearch.format import layout, links

    tmp = tmp_path_factory.mktemp("onnx-store")
    root = tmp / "snapshots"
    result = build_from(write_jsonl(tmp / "p.jsonl", sample_records(60)), root, TinyOnnxEncoder())
    write_passing_gates(result.path)  # serve and verify refuse a snapshot that was never judged
    links.flip(root, layout.CURRENT, result.snapshot_id)
    return root


def test_serving_from_an_onnx_snapshot_loads_no_torch(onnx_store: Path) -> None:
    """The server (and `snapsearch query`) answer with the snapshot's ONNX encoder in a fresh
    interpreter; torch, transformers, sentence-transformers and dagster are never imported."""
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from starlette.testclient import TestClient\n"
        "from serve.app import create_app\n"
        "from snapsearch.settings import ServeSettings\n"
        f"app = create_app(ServeSettings(root=Path({str(onnx_store)!r}), reload_poll_s=0))\n"
        "with TestClient(app) as c:\n"
        "    r = c.post('/v1/search', json={'query': 'AMS1117-3.3 regulator', 'mode': 'vector'})\n"
        "    assert r.status_code == 200, r.text\n"
        "    assert r.json()['hits'], r.text\n"
        "from typer.testing import CliRunner\n"
        "from snapsearch.cli import app as cli\n"
        f"out = CliRunner().invoke(cli, ['query', '--root', {str(onnx_store)!r}, 'resistor'])\n"
        "assert out.exit_code == 0, out.output\n"
        f"out = CliRunner().invoke(cli, ['verify', {str(onnx_store / 'current')!r}])\n"
        "assert out.exit_code == 0 and 'query encoder: onnx' in out.output, out.output\n"
        f"print(','.join(m for m in {[*TORCH_STACK, 'onnxruntime']!r} if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().splitlines()[-1] == "onnxruntime"


def test_no_serve_module_imports_dagster_or_pipelines() -> None:
    assert loaded_after(SERVE_MODULES, TORCH_STACK) == []


def test_the_lower_layers_import_no_dagster() -> None:
    watch = ["dagster", "pipelines", "torch", "serve"]
    assert loaded_after(["snapsearch.format", *LOWER_MODULES], watch) == []


def test_the_eval_library_loads_no_pipelines_or_dagster() -> None:
    assert {"eval.metrics", "eval.suite", "eval.compliance", "eval.harness"} <= set(EVAL_LIBRARY)
    assert loaded_after(EVAL_LIBRARY, ["pipelines", "dagster", "eval.drivers"]) == []


def test_import_snapsearch_stays_light() -> None:
    watch = ["typer", "dagster", "torch", "pipelines", "serve", "snapsearch.cli", "numpy"]
    assert loaded_after(["snapsearch"], watch) == []


def test_the_supervisor_imports_no_app_stack() -> None:
    """``--workers N``'s supervisor process is ``serve.supervisor`` alone: the standard library
    and serve.logging, none of the app, the engine or the settings' pydantic (each extra worker
    then costs the worker only)."""
    watch = ["serve.app", "serve.runner", "serve.holder", "uvicorn", "starlette", "numpy",
             "onnxruntime", "pydantic", "pydantic_settings", "snapsearch.settings",
             "snapsearch.search", "snapsearch.format", "typer", "rich", *TORCH_STACK]
    assert loaded_after(["serve.supervisor"], watch) == []
