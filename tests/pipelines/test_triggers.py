"""The daily schedule and the source sensor, evaluated with Dagster's own test contexts
(issue 10): a schedule tick with unchanged inputs publishes nothing; the sensor asks for one run
per source change (file digest, or HTTP validators without downloading), keeps a cursor, and
both skip while a run is in progress."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from dagster import (
    DagsterInstance,
    RunRequest,
    SkipReason,
    build_schedule_context,
    build_sensor_context,
)

import pipelines.fetch.probe as probe
from pipelines.definitions import JOB_NAME, build_definitions
from pipelines.fetch.probe import probe_source
from pipelines.job import run_job
from pipelines.publish import read_publish_log, run_lock
from pipelines.resources import StoreResource
from pipelines.triggers import TRIGGER_TAG, check_sources, nightly, source_changed
from snapsearch.format import layout
from snapsearch.format.links import current_id
from snapsearch.settings import PipelineSettings
from tests.conftest import sample_records, write_jsonl


@pytest.fixture
def settings(tmp_path: Path, parts_file: Path) -> PipelineSettings:
    return PipelineSettings(root=tmp_path / "store", source=str(parts_file), suite="none",
                            encoder="hashing")


@pytest.fixture
def instance() -> Iterator[DagsterInstance]:
    with DagsterInstance.ephemeral() as inst:
        yield inst


def test_a_schedule_tick_with_unchanged_inputs_publishes_nothing(
    settings: PipelineSettings, instance: DagsterInstance
) -> None:
    first = run_job(settings)
    root = settings.root
    log_before = (root / layout.PUBLISH_LOG).read_bytes()
    dirs_before = layout.list_snapshot_dirs(root)
    store = StoreResource.of(settings)
    context = build_schedule_context(
        instance=instance, resources={"store": store},
        scheduled_execution_time=datetime(2026, 12, 2, 2, 0, tzinfo=UTC),
    )
    request = nightly(context)
    assert isinstance(request, RunRequest) and request.tags[TRIGGER_TAG] == "schedule"

    job = build_definitions(store).resolve_job_def(JOB_NAME)
    result = job.execute_in_process(instance=instance, tags=request.tags,
                                    run_config=request.run_config)
    assert result.success
    outcome = result.output_for_node("published")
    assert not outcome.published and outcome.current == first.current
    assert current_id(root) == first.current
    assert layout.list_snapshot_dirs(root) == dirs_before
    assert (root / layout.PUBLISH_LOG).read_bytes() == log_before
    assert len(read_publish_log(root)) == 1


def test_schedule_and_sensor_skip_while_a_run_is_in_progress(
    settings: PipelineSettings, instance: DagsterInstance
) -> None:
    settings.root.mkdir(parents=True)
    store = StoreResource.of(settings)
    with run_lock(settings.root, "elsewhere"):
        tick = nightly(build_schedule_context(instance=instance, resources={"store": store}))
        probe = source_changed(build_sensor_context(instance=instance, resources={"store": store}))
    for answer in (tick, probe):
        assert isinstance(answer, SkipReason)
        assert "a run is in progress" in (answer.skip_message or "")


def test_the_sensor_asks_for_one_run_per_change_of_a_file(
    settings: PipelineSettings, instance: DagsterInstance, parts_file: Path
) -> None:
    store = StoreResource.of(settings)

    def tick(cursor: str | None) -> tuple[RunRequest | SkipReason, str | None]:
        ctx = build_sensor_context(instance=instance, cursor=cursor, resources={"store": store})
        return source_changed(ctx), ctx.cursor

    fresh, cursor = tick(None)  # nothing fetched yet: a run is needed
    assert isinstance(fresh, RunRequest) and fresh.tags[TRIGGER_TAG] == "sensor"
    run_job(settings)
    # a new sensor (no cursor) compares with the version last fetched: nothing to do
    same, cursor = tick(None)
    assert isinstance(same, SkipReason) and "no source changed" in (same.skip_message or "")
    write_jsonl(parts_file, sample_records(310))
    changed, cursor = tick(cursor)
    assert isinstance(changed, RunRequest) and changed.run_key
    assert changed.tags["snapsearch/changed"] == "parts"
    again, cursor = tick(cursor)  # the change was seen: no second run for it
    assert isinstance(again, SkipReason)
    assert cursor is not None and json.loads(cursor)["parts"]["fingerprint"].startswith("digest:")


def test_the_sensor_does_not_rehash_a_file_whose_stat_is_unchanged(
    settings: PipelineSettings, parts_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = check_sources(settings, {})

    def no_hashing(_path: Path) -> str:
        raise AssertionError("hashed an unchanged file")

    monkeypatch.setattr(probe, "sha256_file", no_hashing)
    again = check_sources(settings, first.cursor)
    assert again.fingerprints == first.fingerprints


# -- HTTP sources: validators only, never the body ------------------------------------------

URL = "https://data.example/parts.jsonl"


class CountingStream(httpx.SyncByteStream):
    def __init__(self) -> None:
        self.chunks_read = 0

    def __iter__(self) -> Iterator[bytes]:
        for _ in range(1000):
            self.chunks_read += 1
            yield b"x" * 65536


def test_http_probe_uses_head_and_its_etag() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.method)
        return httpx.Response(200, headers={"ETag": '"v2"'})

    probe = probe_source(URL, transport=httpx.MockTransport(handler))
    assert probe.fingerprint == 'etag:"v2"' and seen == ["HEAD"]


def test_http_probe_without_head_asks_a_conditional_get_and_reads_no_body() -> None:
    body = CountingStream()
    seen: list[tuple[str, str | None]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.method, request.headers.get("If-None-Match")))
        if request.method == "HEAD":
            return httpx.Response(405)
        if request.headers.get("If-None-Match") == '"v1"':
            return httpx.Response(304)
        return httpx.Response(200, headers={"ETag": '"v2"'}, stream=body)

    transport = httpx.MockTransport(handler)
    assert probe_source(URL, previous='etag:"v1"', transport=transport).fingerprint == 'etag:"v1"'
    changed = probe_source(URL, previous='etag:"v0"', transport=transport)
    assert changed.fingerprint == 'etag:"v2"'
    assert seen == [("HEAD", None), ("GET", '"v1"'), ("HEAD", None), ("GET", '"v0"')]
    assert body.chunks_read <= 1  # the 64 MB body was never downloaded


def test_http_source_without_validators_cannot_be_probed(settings: PipelineSettings) -> None:
    s = settings.model_copy(update={"source": URL})
    transport = httpx.MockTransport(lambda r: httpx.Response(200))
    check = check_sources(s, {}, transport=transport)
    assert check.changed == [] and check.unknown == ["parts (sends no ETag or Last-Modified)"]


def test_http_source_changed_against_the_cursor(settings: PipelineSettings) -> None:
    s = settings.model_copy(update={"source": URL})
    etag = {"v": '"a"'}
    transport = httpx.MockTransport(lambda r: httpx.Response(200, headers={"ETag": etag["v"]}))
    first = check_sources(s, {}, transport=transport)
    assert first.changed == ["parts"]  # never fetched
    assert check_sources(s, first.cursor, transport=transport).changed == []
    etag["v"] = '"b"'
    assert check_sources(s, first.cursor, transport=transport).changed == ["parts"]


def test_an_unreachable_source_is_reported_not_raised(settings: PipelineSettings) -> None:
    s = settings.model_copy(update={"source": URL})

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    check = check_sources(s, {}, transport=httpx.MockTransport(down))
    assert check.changed == [] and "could not probe the source: ConnectError" in check.unknown[0]
