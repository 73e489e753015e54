"""The layers are a contract: import-linter's layers and forbidden contracts (pyproject.toml,
[tool.importlinter]) hold for the tree, and they catch a wrong import planted in a copy of it —
at module level or hidden inside a function."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("snapsearch", "serve", "eval", "pipelines")
LINT = Path(sys.executable).with_name("lint-imports")


def lint(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT), "--no-cache"], cwd=root, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(root)},
    )


def test_the_tree_keeps_every_contract() -> None:
    out = lint(REPO)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert "0 broken" in out.stdout


@pytest.fixture(scope="module")
def copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tree")
    for pkg in PACKAGES:
        shutil.copytree(REPO / pkg, root / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    return root


PLANTED = [
    # (module file, line planted, the contract that must break, the edge it names)
    ("snapsearch/format/layout.py", "import serve.app\n", "layers",
     "snapsearch.format.layout -> serve.app"),
    ("snapsearch/kinds/base.py",
     "def _hidden() -> None:\n    from snapsearch.search import engine  # noqa\n",
     "layers", "snapsearch.kinds.base -> snapsearch.search.engine"),
    ("eval/metrics.py", "def _hidden() -> None:\n    import pipelines.job  # noqa\n",
     "layers", "eval.metrics -> pipelines.job"),
    ("serve/routes/search.py", "import dagster  # noqa\n", "dagster",
     "serve.routes.search -> dagster"),
    ("snapsearch/format/model.py", "def _hidden() -> None:\n    import torch  # noqa\n",
     "torch", "snapsearch.format.model -> torch"),
    ("snapsearch/search/engine.py",
     "def _hidden() -> None:\n    import sentence_transformers  # noqa\n",
     "torch", "snapsearch.search.engine -> sentence_transformers"),
]


@pytest.mark.parametrize(("module", "line", "contract", "edge"), PLANTED,
                         ids=[p[3] for p in PLANTED])
def test_a_planted_wrong_import_breaks_a_contract(
    copy: Path, module: str, line: str, contract: str, edge: str
) -> None:
    path = copy / module
    original = path.read_text(encoding="utf-8")
    path.write_text(original + "\n\n" + line, encoding="utf-8")
    try:
        out = lint(copy)
    finally:
        path.write_text(original, encoding="utf-8")
    assert out.returncode == 1, out.stdout[-3000:]
    assert "BROKEN" in out.stdout and contract in out.stdout.lower()
    assert edge in out.stdout
