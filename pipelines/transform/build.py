"""Build one immutable snapshot directory from raw versions."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol

from pipelines.publish.runlock import run_lock
from snapsearch.format import faults, layout, links
from snapsearch.format.errors import SnapshotError
from snapsearch.format.hashing import sha256_text
from snapsearch.format.manifest import (
    FusionSettings,
    HnswSettings,
    Manifest,
    SourceEntry,
    read_manifest,
)
from snapsearch.format.model import Encoder
from snapsearch.format.writer import SnapshotWriter
from snapsearch.kinds import get_kind
from snapsearch.settings import PipelineSettings

from .embed_cache import EmbeddingCache, embed_with_cache
from .records import check_reject_rate, parse_records

Log = Callable[[str], None]


class RawFileLike(Protocol):
    name: str
    sha256: str
    bytes: int
    path: Path


class RawVersionLike(Protocol):
    source: str
    digest: str
    files: Sequence[RawFileLike]


@dataclass(frozen=True)
class CollectionSpec:
    name: str
    kind: str
    raw: RawVersionLike


@dataclass(frozen=True)
class BuildOptions:
    hnsw: HnswSettings = HnswSettings()
    fusion: FusionSettings = FusionSettings()
    max_reject_rate: float = 0.01
    batch_size: int = 64
    tokenizer: str | None = None  # None: each record kind's own
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass
class BuildResult:
    snapshot_id: str
    path: Path
    manifest: Manifest
    records: int
    rejects: int
    reused: int
    encoded: int
    timings: dict[str, float]


def build_options(s: PipelineSettings) -> BuildOptions:
    return BuildOptions(
        hnsw=s.hnsw, fusion=s.fusion, max_reject_rate=s.max_reject_rate,
        batch_size=s.batch_size, tokenizer=s.tokenizer, settings=s.build_fingerprint(),
    )


def builder_version() -> str:
    try:
        return metadata.version("snapsearch")
    except metadata.PackageNotFoundError:  # running from a source tree
        return "0+unknown"


def inputs_digest(specs: Sequence[CollectionSpec], options: BuildOptions, model_fp: str) -> str:
    """Everything that decides the snapshot's bytes: raw digests, settings, model, kind versions."""
    payload = {
        "format": 1,
        "collections": [
            {
                "name": s.name, "kind": s.kind, "kind_version": get_kind(s.kind).version,
                "raw": s.raw.digest,
            }
            for s in specs
        ],
        "hnsw": options.hnsw.model_dump(),
        "fusion": options.fusion.model_dump(),
        "max_reject_rate": options.max_reject_rate,
        "model": model_fp,
        **({"tokenizer": options.tokenizer} if options.tokenizer else {}),
    }
    return sha256_text(json.dumps(payload, sort_keys=True))


def current_inputs_digest(root: Path) -> str | None:
    """The inputs digest of the snapshot `current` points at; None when none or unreadable."""
    current = links.current_dir(root)
    if current is None:
        return None
    try:
        return read_manifest(current).inputs_digest
    except SnapshotError:
        return None


def build_snapshot(
    root: Path,
    specs: Sequence[CollectionSpec],
    encoder: Encoder,
    options: BuildOptions,
    *,
    now: datetime | None = None,
    log: Log = lambda _m: None,
    progress: Callable[[int, int], None] | None = None,
) -> BuildResult:
    """Parse, embed (with the cache), index and write a snapshot; atomic: all or nothing."""
    if not specs:
        raise SnapshotError("nothing to build: no collections configured")
    built = (now or datetime.now(UTC)).astimezone(UTC)
    pin = encoder.pin
    digest = inputs_digest(specs, options, pin.fingerprint)
    snapshot_id = layout.new_snapshot_id(built, digest)
    root.mkdir(parents=True, exist_ok=True)
    with run_lock(root):  # a build dir is a leftover to anyone else only once its builder died
        return _build(root, specs, encoder, options, built, digest, snapshot_id, log, progress)


def _build(
    root: Path, specs: Sequence[CollectionSpec], encoder: Encoder, options: BuildOptions,
    built: datetime, digest: str, snapshot_id: str, log: Log,
    progress: Callable[[int, int], None] | None,
) -> BuildResult:
    pin = encoder.pin
    timings: dict[str, float] = {"parse_s": 0.0, "encode_s": 0.0, "index_s": 0.0}
    reused = encoded = records = rejects = 0
    sources: list[SourceEntry] = []
    cache = EmbeddingCache(root)
    try:
        with SnapshotWriter(root, snapshot_id) as writer:
            faults.point("build.started")
            for spec in specs:
                kind = get_kind(spec.kind)
                t0 = time.perf_counter()
                parsed = parse_records([(f.path, f.name) for f in spec.raw.files], kind)
                check_reject_rate(parsed, options.max_reject_rate, spec.raw.source)
                timings["parse_s"] += time.perf_counter() - t0
                log(
                    f"{spec.name}: {len(parsed.rows)} records, {len(parsed.rejects)} rejected "
                    f"of {parsed.total}"
                )
                vectors, stats = embed_with_cache(
                    [r.text for r in parsed.rows], encoder, cache,
                    batch_size=options.batch_size, progress=progress,
                )
                timings["encode_s"] += stats.encode_seconds
                faults.point("build.encoded")
                log(
                    f"{spec.name}: embeddings reused {stats.reused}, encoded {stats.encoded}"
                    + (
                        f" ({stats.repeated} texts repeat another record's)"
                        if stats.repeated
                        else ""
                    )
                )
                t0 = time.perf_counter()
                writer.write_collection(
                    spec.name,
                    kind.collection_info(len(parsed.rows), len(parsed.rejects), options.tokenizer),
                    parsed.rows, vectors, options.hnsw, parsed.rejects,
                )
                timings["index_s"] += time.perf_counter() - t0
                reused += stats.reused
                encoded += stats.encoded
                records += len(parsed.rows)
                rejects += len(parsed.rejects)
                for f in spec.raw.files:
                    sources.append(
                        SourceEntry(name=f"{spec.name}:{f.name}", uri=spec.raw.source,
                                    sha256=f.sha256, bytes=f.bytes,
                                    records=parsed.total if len(spec.raw.files) == 1 else 0)
                    )
            faults.point("build.written")
            t0 = time.perf_counter()
            manifest = writer.finish(
                {
                    "built_at": built.isoformat().replace("+00:00", "Z"),
                    "builder_version": builder_version(),
                    "inputs_digest": digest,
                    "sources": sources,
                    "model": pin,
                    "hnsw": options.hnsw,
                    "fusion": options.fusion,
                    "settings": options.settings,
                }
            )
            timings["seal_s"] = time.perf_counter() - t0
            faults.point("build.sealed")  # renamed into place; no gate report yet
    finally:
        cache.close()
    return BuildResult(
        snapshot_id=snapshot_id, path=root / snapshot_id, manifest=manifest, records=records,
        rejects=rejects, reused=reused, encoded=encoded, timings=timings,
    )
