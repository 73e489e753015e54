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

from pipelines.feedback.priors import FeedbackVotes, compute_priors
from pipelines.publish.runlock import run_lock
from snapsearch.format import faults, layout, links
from snapsearch.format.errors import SnapshotError
from snapsearch.format.hashing import sha256_text
from snapsearch.format.manifest import (
    SCHEMA_VERSION,
    ExclusionInfo,
    FusionSettings,
    HnswSettings,
    Manifest,
    PriorsInfo,
    SourceEntry,
    read_manifest,
)
from snapsearch.format.model import Encoder
from snapsearch.format.priors import write_priors
from snapsearch.format.writer import SnapshotWriter
from snapsearch.kinds import get_kind
from snapsearch.search.exclusion import Rule
from snapsearch.settings import PipelineSettings

from .embed_cache import EmbeddingCache, embed_with_cache
from .exclusions import apply_exclusions
from .export import query_encoder_files
from .records import Limits, check_reject_rate, parse_records

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
    limits: Limits = Limits()  # what one raw record may hold
    settings: dict[str, Any] = field(default_factory=dict)
    exclusions: tuple[Rule, ...] = ()  # records they hold for are not indexed
    collection_weights: dict[str, float] = field(default_factory=dict)
    prior_boost: float = 0.05  # the most a feedback prior moves a record's score


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
        batch_size=s.batch_size, tokenizer=s.tokenizer,
        limits=Limits(max_record_bytes=s.max_record_bytes, max_field_chars=s.max_field_chars),
        settings=s.build_fingerprint(),
        exclusions=tuple(s.exclusion_rules()), collection_weights=dict(s.collection_weights),
        prior_boost=s.prior_boost,
    )


def builder_version() -> str:
    try:
        return metadata.version("snapsearch")
    except metadata.PackageNotFoundError:  # running from a source tree
        return "0+unknown"


def inputs_digest(
    specs: Sequence[CollectionSpec], options: BuildOptions, model_fp: str,
    feedback: FeedbackVotes | None = None,
) -> str:
    """Everything that decides the snapshot's bytes: raw digests, settings, model, kind versions,
    and (only when set) exclusion rules, collection weights and the feedback read."""
    payload = {
        "format": SCHEMA_VERSION,  # the manifest schema (3: sealed, carries its query encoder)
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
        "limits": [options.limits.max_record_bytes, options.limits.max_field_chars],
        "model": model_fp,
        **({"tokenizer": options.tokenizer} if options.tokenizer else {}),
        **({"exclusions": [r.describe() for r in options.exclusions]}
           if options.exclusions else {}),
        **({"collection_weights": options.collection_weights}
           if options.collection_weights else {}),
        **({"feedback": {"sha256": feedback.sha256, "prior_boost": options.prior_boost}}
           if feedback is not None and not feedback.empty else {}),
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
    feedback: FeedbackVotes | None = None,
) -> BuildResult:
    """Parse, exclude, embed (with the cache), index and write a snapshot, with the priors of
    ``feedback`` when it holds events; atomic: all or nothing."""
    if not specs:
        raise SnapshotError("nothing to build: no collections configured")
    built = (now or datetime.now(UTC)).astimezone(UTC)
    pin = encoder.pin
    digest = inputs_digest(specs, options, pin.fingerprint, feedback)
    snapshot_id = layout.new_snapshot_id(built, digest)
    root.mkdir(parents=True, exist_ok=True)
    with run_lock(root):  # a build dir is a leftover to anyone else only once its builder died
        return _build(
            root, specs, encoder, options, built, digest, snapshot_id, log, progress, feedback
        )


def _build(
    root: Path, specs: Sequence[CollectionSpec], encoder: Encoder, options: BuildOptions,
    built: datetime, digest: str, snapshot_id: str, log: Log,
    progress: Callable[[int, int], None] | None, feedback: FeedbackVotes | None,
) -> BuildResult:
    timings: dict[str, float] = {"parse_s": 0.0, "encode_s": 0.0, "index_s": 0.0}
    reused = encoded = records = rejects = 0
    sources: list[SourceEntry] = []
    excluded: dict[str, dict[str, int]] = {}
    present: dict[str, set[str]] = {}
    cache = EmbeddingCache(root)
    try:
        with SnapshotWriter(root, snapshot_id) as writer:
            faults.point("build.started")
            for spec in specs:
                kind = get_kind(spec.kind)
                t0 = time.perf_counter()
                parsed = parse_records(
                    [(f.path, f.name) for f in spec.raw.files], kind, options.limits
                )
                check_reject_rate(parsed, options.max_reject_rate, spec.raw.source)
                timings["parse_s"] += time.perf_counter() - t0
                log(
                    f"{spec.name}: {len(parsed.rows)} records, {len(parsed.rejects)} rejected "
                    f"of {parsed.total}"
                )
                if options.exclusions:
                    parsed.rows, excluded[spec.name] = apply_exclusions(
                        parsed.rows, options.exclusions
                    )
                    log(f"{spec.name}: excluded by rule {excluded[spec.name]}; "
                        f"{len(parsed.rows)} records indexed")
                present[spec.name] = {r.id for r in parsed.rows}
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
            extra: dict[str, Any] = {}
            if options.exclusions:
                extra["exclusions"] = ExclusionInfo(
                    rules=[r.describe() for r in options.exclusions], excluded=excluded
                )
            if options.collection_weights:
                extra["collection_weights"] = dict(sorted(options.collection_weights.items()))
            if feedback is not None and not feedback.empty:
                extra["priors"] = _bake_priors(writer.path, feedback, present, options, log)
            t0 = time.perf_counter()
            query = query_encoder_files(encoder, root, log=log)
            for name, source in query.files.items():
                writer.add_file(name, source)
            timings["query_encoder_s"] = time.perf_counter() - t0
            faults.point("build.written")
            t0 = time.perf_counter()
            manifest = writer.finish(
                {
                    "built_at": built.isoformat().replace("+00:00", "Z"),
                    "builder_version": builder_version(),
                    "inputs_digest": digest,
                    "sources": sources,
                    "model": query.pin,
                    "hnsw": options.hnsw,
                    "fusion": options.fusion,
                    "settings": options.settings,
                    **extra,
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


def _bake_priors(
    snapshot_dir: Path, feedback: FeedbackVotes, present: dict[str, set[str]],
    options: BuildOptions, log: Log,
) -> PriorsInfo:
    """Write priors.json from the votes naming records of this snapshot; the manifest's record."""
    priors = compute_priors(feedback, present)
    write_priors(snapshot_dir, priors.records)
    log(f"priors: {feedback.events} feedback events, {priors.used} votes on records of this "
        f"snapshot, {sum(len(r) for r in priors.records.values())} records with a prior")
    return PriorsInfo(
        log_sha256=feedback.sha256, log_bytes=feedback.bytes, events=feedback.events,
        events_used=priors.used, records={c: len(r) for c, r in priors.records.items()},
        collections=priors.collections, max_boost=options.prior_boost,
    )
