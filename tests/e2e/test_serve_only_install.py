"""The serve-only install: `pip install .` into a clean virtualenv (no torch, no dagster) answers
queries from a snapshot the full install built (`snapsearch query`, `verify`, `status`, and
`snapsearch serve` over a socket).

Needs a package index (PyPI in CI); skipped, saying so, only when none answers. hnswlib builds
from source the first time (about a minute; pip caches the wheel)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from snapsearch.format import layout

pytestmark = [pytest.mark.e2e, pytest.mark.model]

REPO = Path(__file__).resolve().parents[2]
SOURCES = ("pyproject.toml", "README.md", "snapsearch", "serve", "eval", "pipelines")
PIP_TIMEOUT_S = 900


def _clean_env() -> dict[str, str]:
    """The environment without this venv or the repository on the path."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV") and not k.startswith("SNAPSEARCH_")}
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if not p.startswith(sys.prefix)
    )
    return env


def _index_reachable(python: Path) -> str | None:
    """None when pip can reach a package index, else why not."""
    out = subprocess.run(
        [str(python), "-m", "pip", "download", "--no-deps", "--dest", str(python.parent.parent
         / "probe"), "--disable-pip-version-check", "--quiet", "typer"],
        capture_output=True, text=True, timeout=180, env=_clean_env(),
    )
    return None if out.returncode == 0 else (out.stderr.strip().splitlines() or ["?"])[-1]


@pytest.fixture(scope="module")
def serve_only(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """bin/ of a clean virtualenv with `pip install .` (a copy of the sources) in it."""
    tmp = tmp_path_factory.mktemp("serve-only")
    src = tmp / "src"
    src.mkdir()
    for name in SOURCES:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(path, src / name)
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, env=_clean_env())
    python = venv / "bin" / "python"
    why = _index_reachable(python)
    if why is not None:
        pytest.skip(f"no package index reachable: cannot install the serve-only set ({why})")
    out = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(src)],
        capture_output=True, text=True, timeout=PIP_TIMEOUT_S, env=_clean_env(), cwd=tmp,
    )
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    return venv / "bin"


def _run(bin_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(bin_dir / args[0]), *args[1:]], capture_output=True, text=True, timeout=300,
        env=_clean_env(), cwd=bin_dir.parent,
    )


def test_the_serve_only_install_has_no_torch_or_dagster(serve_only: Path) -> None:
    code = ("import importlib.util as u; "
            "print([m for m in ('torch', 'transformers', 'sentence_transformers', 'dagster', "
            "'onnxruntime', 'tokenizers', 'hnswlib') if u.find_spec(m) is None])")
    out = _run(serve_only, "python", "-c", code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "['torch', 'transformers', 'sentence_transformers', 'dagster']"


def test_query_verify_status_answer_from_a_full_install_snapshot(
    serve_only: Path, real_store: Path
) -> None:
    out = _run(serve_only, "snapsearch", "query", "--root", str(real_store), "--json",
               "--limit", "5", "10k 0402 resistor 1%")
    assert out.returncode == 0, out.stderr
    hits = json.loads(out.stdout)["hits"]
    assert "C25744" in [h["id"] for h in hits]
    out = _run(serve_only, "snapsearch", "verify", str(real_store / layout.CURRENT))
    assert out.returncode == 0, out.stderr
    assert "query encoder: onnx" in out.stdout
    out = _run(serve_only, "snapsearch", "status", "--root", str(real_store), "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["current"]


def test_serve_answers_over_http(serve_only: Path, real_store: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [str(serve_only / "snapsearch"), "serve", "--root", str(real_store), "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=_clean_env(),
        cwd=serve_only.parent,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        r = httpx.post(f"{url}/v1/search", json={"query": "AMS1117-3.3", "limit": 3}, timeout=10)
        assert r.status_code == 200, r.text
        assert r.json()["hits"][0]["id"] == "C6186"
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout:
            proc.stdout.close()
