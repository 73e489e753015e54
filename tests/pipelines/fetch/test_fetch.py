"""Fetch stage: local files, directories and HTTP into the content-addressed raw cache."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from pipelines.fetch import RawVersion, fetch_source, read_fetch_manifest
from snapsearch.format import layout
from snapsearch.format.errors import SourceError
from snapsearch.format.hashing import sha256_bytes

URL = "https://data.example.test/exports/parts-3k.jsonl.gz"
T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
T1 = datetime(2024, 5, 2, 12, 0, 0, tzinfo=UTC)


def clock(moment: datetime) -> Callable[[], datetime]:
    return lambda: moment


def no_sleep(_: float) -> None:
    pass


def objects(root: Path) -> list[Path]:
    d = layout.raw_objects_dir(root)
    return sorted(d.iterdir()) if d.exists() else []


def fetch_url(root: Path, handler: Callable[[httpx.Request], httpx.Response], **kw) -> RawVersion:
    kw.setdefault("sleep", no_sleep)
    return fetch_source(URL, root, transport=httpx.MockTransport(handler), **kw)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "snapshots"


# --- local files ------------------------------------------------------------------------------


def test_local_file_first_fetch_is_new(tmp_path: Path, root: Path) -> None:
    src = tmp_path / "parts.jsonl"
    src.write_bytes(b'{"id": 1}\n{"id": 2}\n')

    v = fetch_source(str(src), root, now=clock(T0))

    assert v.new is True
    assert v.source == str(src)
    assert v.fetched_at == "2024-05-01T12:00:00Z"
    (f,) = v.files
    assert f.name == "parts.jsonl"
    assert f.sha256 == sha256_bytes(src.read_bytes())
    assert f.bytes == src.stat().st_size
    assert f.path == layout.raw_object_path(root, f.sha256)
    assert f.path.read_bytes() == src.read_bytes()
    lines = layout.fetch_manifest_path(root).read_text().splitlines()
    assert len(lines) == 1
    entry = json.loads(lines[0])
    assert entry["digest"] == v.digest
    assert entry["files"] == [{"name": "parts.jsonl", "sha256": f.sha256, "bytes": f.bytes}]
    assert (entry["sha256"], entry["bytes"]) == (f.sha256, f.bytes)
    assert entry["etag"] is None and entry["last_modified"] is None
    assert not [p for p in objects(root) if p.name.startswith(layout.TMP_PREFIX)]


def test_unchanged_local_file_writes_nothing(tmp_path: Path, root: Path) -> None:
    src = tmp_path / "parts.jsonl"
    src.write_bytes(b'{"id": 1}\n')
    first = fetch_source(str(src), root, now=clock(T0))
    manifest_before = layout.fetch_manifest_path(root).read_bytes()

    again = fetch_source(str(src), root, now=clock(T1))

    assert again.new is False
    assert again.digest == first.digest
    assert again.fetched_at == first.fetched_at
    assert again.files == first.files
    assert layout.fetch_manifest_path(root).read_bytes() == manifest_before
    assert len(read_fetch_manifest(root)) == 1


def test_changed_local_file_is_a_new_version(tmp_path: Path, root: Path) -> None:
    src = tmp_path / "parts.jsonl"
    src.write_bytes(b'{"id": 1}\n')
    first = fetch_source(str(src), root, now=clock(T0))
    src.write_bytes(b'{"id": 1}\n{"id": 2}\n')

    second = fetch_source(str(src), root, now=clock(T1))

    assert second.new is True
    assert second.digest != first.digest
    assert [e["digest"] for e in read_fetch_manifest(root)] == [first.digest, second.digest]
    assert first.files[0].path.is_file() and second.files[0].path.is_file()


def test_large_file_round_trips_through_chunks(tmp_path: Path, root: Path) -> None:
    src = tmp_path / "big.jsonl.gz"
    data = bytes(range(256)) * (3 * 4096 + 7)  # ~3 MiB, not a multiple of the chunk size
    src.write_bytes(data)

    (f,) = fetch_source(str(src), root).files

    assert f.bytes == len(data)
    assert f.sha256 == sha256_bytes(data)
    assert f.path.read_bytes() == data


def test_existing_object_is_never_rewritten(tmp_path: Path, root: Path) -> None:
    (tmp_path / "a.jsonl").write_bytes(b"same\n")
    (tmp_path / "b.jsonl").write_bytes(b"same\n")
    (fa,) = fetch_source(str(tmp_path / "a.jsonl"), root).files
    stat_before = fa.path.stat()

    (fb,) = fetch_source(str(tmp_path / "b.jsonl"), root).files

    assert fb.path == fa.path
    assert fb.path.stat().st_ino == stat_before.st_ino
    assert fb.path.stat().st_mtime_ns == stat_before.st_mtime_ns
    assert len(objects(root)) == 1
    assert len(read_fetch_manifest(root)) == 2  # two sources, one object


def test_directory_digest_is_stable_and_independent_of_creation_order(
    tmp_path: Path, root: Path
) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    (one / "a.jsonl").write_bytes(b"A\n")
    (one / "b.csv").write_bytes(b"id\n1\n")
    (two / "b.csv").write_bytes(b"id\n1\n")
    (two / "a.jsonl").write_bytes(b"A\n")
    (two / "notes.txt").write_bytes(b"ignored\n")
    (two / ".hidden.jsonl").write_bytes(b"ignored\n")

    v1 = fetch_source(str(one), root)
    v2 = fetch_source(str(two), root)
    v1_again = fetch_source(str(one), root)

    assert [f.name for f in v1.files] == ["a.jsonl", "b.csv"]
    assert [f.name for f in v2.files] == ["a.jsonl", "b.csv"]
    assert v1.digest == v2.digest
    assert v1_again.new is False and v1_again.digest == v1.digest
    entry = read_fetch_manifest(root)[0]
    assert [f["name"] for f in entry["files"]] == ["a.jsonl", "b.csv"]


def test_directory_takes_every_data_suffix(tmp_path: Path, root: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for name in ["d.jsonl.gz", "c.json", "b.csv", "a.jsonl", "e.parquet", "f.gz"]:
        (src / name).write_bytes(name.encode())

    v = fetch_source(str(src), root)

    assert [f.name for f in v.files] == ["a.jsonl", "b.csv", "c.json", "d.jsonl.gz"]


def test_missing_path_is_a_source_error(tmp_path: Path, root: Path) -> None:
    missing = tmp_path / "nope.jsonl"
    with pytest.raises(SourceError, match="does not exist") as err:
        fetch_source(str(missing), root)
    assert str(missing) in str(err.value)
    assert err.value.fix
    assert read_fetch_manifest(root) == []


def test_empty_directory_is_a_source_error(tmp_path: Path, root: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("not data")
    with pytest.raises(SourceError, match="no data files") as err:
        fetch_source(str(empty), root)
    assert str(empty) in str(err.value)
    assert err.value.fix


def test_unsupported_scheme_is_a_source_error(root: Path) -> None:
    with pytest.raises(SourceError, match="unsupported scheme 'ftp'") as err:
        fetch_source("ftp://example.test/parts.jsonl", root)
    assert "ftp://example.test/parts.jsonl" in str(err.value)
    assert "http(s)" in (err.value.fix or "")


def test_negative_retries_rejected(tmp_path: Path, root: Path) -> None:
    with pytest.raises(ValueError, match="retries"):
        fetch_source(str(tmp_path), root, retries=-1)


# --- HTTP -------------------------------------------------------------------------------------


def test_http_200_then_304_reuses_cached_version(root: Path) -> None:
    body = b'{"id": 1}\n'
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.headers.get("If-None-Match") == '"v1"':
            return httpx.Response(304, headers={"ETag": '"v1"'})
        headers = {"ETag": '"v1"', "Last-Modified": "Wed, 01 May 2024 10:00:00 GMT"}
        return httpx.Response(200, content=body, headers=headers)

    first = fetch_url(root, handler, now=clock(T0))
    second = fetch_url(root, handler, now=clock(T1))

    assert first.new is True
    assert first.etag == '"v1"'
    assert first.last_modified == "Wed, 01 May 2024 10:00:00 GMT"
    (f,) = first.files
    assert f.name == "parts-3k.jsonl.gz"
    assert f.path.read_bytes() == body
    assert "If-None-Match" not in seen[0].headers
    assert seen[1].headers["If-None-Match"] == '"v1"'
    assert seen[1].headers["If-Modified-Since"] == "Wed, 01 May 2024 10:00:00 GMT"
    assert second.new is False
    assert second.digest == first.digest
    assert second.fetched_at == first.fetched_at == "2024-05-01T12:00:00Z"
    assert second.files == first.files
    entries = read_fetch_manifest(root)
    assert len(entries) == 1
    assert entries[0]["etag"] == '"v1"' and entries[0]["sha256"] == f.sha256


def test_http_200_with_same_bytes_is_unchanged(root: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"same\n")

    first = fetch_url(root, handler)
    second = fetch_url(root, handler)

    assert (first.new, second.new) == (True, False)
    assert len(read_fetch_manifest(root)) == 1
    assert len(objects(root)) == 1


def test_http_retries_503_then_succeeds(root: Path) -> None:
    calls: list[int] = []
    sleeps: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) <= 2:
            return httpx.Response(503)
        return httpx.Response(200, content=b"ok\n")

    v = fetch_url(root, handler, retries=3, sleep=sleeps.append)

    assert v.new is True
    assert v.files[0].path.read_bytes() == b"ok\n"
    assert len(calls) == 3
    assert sleeps == [0.5, 1.0]


def test_http_connect_error_is_retried(root: Path) -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) == 1:
            raise httpx.ConnectError("connection refused", request=request)
        return httpx.Response(200, content=b"ok\n")

    assert fetch_url(root, handler, retries=1).new is True
    assert len(calls) == 2


def test_http_404_is_a_source_error_and_leaves_nothing(root: Path) -> None:
    calls: list[int] = []
    sleeps: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(404, content=b"not here")

    with pytest.raises(SourceError) as err:
        fetch_url(root, handler, retries=3, sleep=sleeps.append)

    message = str(err.value)
    assert URL in message and "404" in message and "Not Found" in message
    assert err.value.fix
    assert len(calls) == 1 and sleeps == []  # 4xx is not retried
    assert read_fetch_manifest(root) == []
    assert not layout.fetch_manifest_path(root).exists()
    assert objects(root) == []


def test_http_timeouts_exhaust_retries(root: Path) -> None:
    calls: list[int] = []
    sleeps: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        raise httpx.ReadTimeout("timed out", request=request)

    with pytest.raises(SourceError, match="timed out") as err:
        fetch_url(root, handler, retries=2, timeout_s=0.1, sleep=sleeps.append)

    assert URL in str(err.value)
    assert "3 attempts" in str(err.value)
    assert "SNAPSEARCH_FETCH_RETRIES" in (err.value.fix or "")
    assert len(calls) == 3 and sleeps == [0.5, 1.0]
    assert read_fetch_manifest(root) == []
    assert objects(root) == []


def test_http_5xx_exhausted_names_status(root: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502)

    with pytest.raises(SourceError, match="in 2 attempts: HTTP 502 Bad Gateway"):
        fetch_url(root, handler, retries=1)


def test_http_304_with_missing_cache_object_refetches(root: Path) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if "If-None-Match" in request.headers:
            return httpx.Response(304)
        return httpx.Response(200, content=b"ok\n", headers={"ETag": '"v1"'})

    first = fetch_url(root, handler)
    first.files[0].path.unlink()

    second = fetch_url(root, handler)

    assert "If-None-Match" not in seen[1].headers
    assert second.new is False and second.digest == first.digest
    assert second.files[0].path.read_bytes() == b"ok\n"


def test_http_gz_with_content_encoding_is_kept_compressed(root: Path) -> None:
    payload = gzip.compress(b'{"id": 1}\n')

    def handler(request: httpx.Request) -> httpx.Response:
        headers = {"Content-Encoding": "gzip"}
        return httpx.Response(200, stream=httpx.ByteStream(payload), headers=headers)

    (f,) = fetch_url(root, handler).files

    assert f.path.read_bytes() == payload


def test_http_url_without_file_name_is_download(root: Path) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=b"x"))
    v = fetch_source("https://data.example.test/", root, transport=transport)
    assert v.files[0].name == "download"
