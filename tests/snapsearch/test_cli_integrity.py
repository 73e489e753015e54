"""The command line over the integrity findings of issue 11: `snapsearch verify` checks the seal
and the gate report; a damaged source ends `snapsearch run` with one line; a source URL's
secrets appear in no artifact, log or response."""

from __future__ import annotations

import base64
import gzip
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from serve.app import create_app
from snapsearch.cli import EXIT_FAILED
from snapsearch.format import layout
from snapsearch.format.model import HashingEncoder
from snapsearch.settings import ServeSettings
from tests.conftest import Build, sample_records, write_jsonl
from tests.snapsearch.test_cli import invoke

USER, PASSWORD, TOKEN = "bob", "hunter2-pw", "t0k3n-s3cret"


# -- verify -------------------------------------------------------------------------------------


def test_verify_requires_a_passing_gate_report(tmp_path: Path, build: Build) -> None:
    root = tmp_path / "store"
    sid = build(root, publish=False)  # built, never validated
    result = invoke("verify", root / sid, "--no-model")
    assert result.exit_code == EXIT_FAILED
    assert "has no gate report" in result.stderr and f"_gates/{sid}.json" in result.stderr
    ok = invoke("verify", root / sid, "--no-model", "--no-gates")
    assert ok.exit_code == 0, ok.output
    assert "sealed manifest" in ok.stdout


def test_verify_names_an_edited_manifest(tmp_path: Path, build: Build) -> None:
    root = tmp_path / "store"
    sid = build(root)
    manifest = root / sid / layout.MANIFEST
    manifest.write_text(manifest.read_text().replace('"alpha": 0.5', '"alpha": 0.9'))
    result = invoke("verify", root / sid, "--no-model")
    assert result.exit_code == EXIT_FAILED
    assert "manifest.json: sha256 differs from its seal" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_verify_names_a_forged_gate_report(tmp_path: Path, build: Build) -> None:
    root = tmp_path / "store"
    sid = build(root)
    report = layout.gate_report_path(root, sid)
    report.write_text(report.read_text().replace("recall@10 vs exact", "recall@10 vs EXACT"))
    result = invoke("verify", root / sid, "--no-model")
    assert result.exit_code == EXIT_FAILED
    assert f"gate report {report}" in result.stderr and "differs from its seal" in result.stderr


# -- a damaged source: one line, no traceback ------------------------------------------------


def test_a_truncated_gzip_source_ends_run_with_one_line(tmp_path: Path) -> None:
    data = gzip.compress(b"".join(json.dumps(r).encode() + b"\n" for r in sample_records()))
    src = tmp_path / "cut.jsonl.gz"
    src.write_bytes(data[: len(data) // 2])
    result = invoke("run", "--root", tmp_path / "store", "--source", src, "--suite", "none")
    assert result.exit_code == EXIT_FAILED, result.output
    assert "Aborted" not in result.output and "Traceback" not in result.output
    (line,) = [x for x in result.stderr.splitlines() if x.startswith("error:")]
    assert "cut.jsonl.gz: the gzip stream is truncated or damaged" in line


# -- secrets: a source URL with credentials and a token --------------------------------------


class _Parts(BaseHTTPRequestHandler):
    body = b""

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        auth = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        if self.headers.get("Authorization") != auth or f"token={TOKEN}" not in self.path:
            self.send_response(401)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def secret_url(tmp_path: Path) -> Iterator[str]:
    _Parts.body = write_jsonl(tmp_path / "p.jsonl", sample_records()).read_bytes()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Parts)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield (f"http://{USER}:{PASSWORD}@127.0.0.1:{server.server_address[1]}/parts.jsonl"
               f"?token={TOKEN}&X-Amz-Signature={TOKEN}&page=1")
    finally:
        server.shutdown()
        server.server_close()


def _everything_written(root: Path) -> str:
    return "\n".join(
        p.read_bytes().decode("utf-8", "replace") for p in sorted(root.rglob("*"))
        if p.is_file() and p.suffix in (".json", ".jsonl", ".sha256", "")
        and layout.CACHE_DIR not in p.parts
    )


def test_a_secret_source_url_is_recorded_nowhere(tmp_path: Path, secret_url: str,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    root = tmp_path / "store"
    result = invoke("run", "--root", root, "--source", secret_url, "--suite", "none")
    assert result.exit_code == 0, result.output
    client_settings = ServeSettings(root=root, reload_poll_s=0)
    app = create_app(client_settings, encoder_factory=lambda _s: HashingEncoder(64))
    with TestClient(app) as client:
        snapshot = client.get("/v1/snapshot").text
    places = {
        "the run's output": result.output, "the logs": caplog.text,
        "the store's files": _everything_written(root), "GET /v1/snapshot": snapshot,
    }
    for where, text in places.items():
        for secret in (PASSWORD, TOKEN, f"{USER}:"):
            assert secret not in text, f"{secret!r} leaked into {where}"
    manifest = json.loads((root / layout.CURRENT / layout.MANIFEST).read_text())
    (source,) = manifest["sources"]
    assert source["uri"].startswith("http://***@127.0.0.1:")
    assert source["uri"].endswith("/parts.jsonl?token=***&X-Amz-Signature=***&page=1")
    assert json.loads(snapshot)["manifest"]["sources"][0]["uri"] == source["uri"]


def test_the_snapshot_endpoint_shows_no_local_paths_unless_configured(
    tmp_path: Path, build: Build
) -> None:
    root = tmp_path / "store"
    build(root)
    for show, expect_path in ((False, False), (True, True)):
        settings = ServeSettings(root=root, reload_poll_s=0, show_paths=show)
        with TestClient(create_app(settings, encoder_factory=lambda _s: HashingEncoder(64))) as c:
            body = c.get("/v1/snapshot").text
        assert (str(tmp_path) in body) is expect_path, body[:500]
        uri = json.loads(body)["manifest"]["sources"][0]["uri"]
        assert uri.endswith("parts.jsonl")
        assert uri.startswith("…/") is not show
