"""Build an evaluation snapshot through the normal pipeline code (fetch + transform functions)."""

from __future__ import annotations

from pathlib import Path

from pipelines.fetch import fetch_source
from pipelines.progress import make_progress
from pipelines.transform.build import CollectionSpec, build_options, build_snapshot, inputs_digest
from snapsearch.format import layout
from snapsearch.format.model import Encoder
from snapsearch.format.model_query import open_query_encoder
from snapsearch.format.reader import Snapshot
from snapsearch.settings import Collection, PipelineSettings


def build_eval_snapshot(
    source: Path, root: Path, kind: str, collection: str, encoder: Encoder,
    settings: PipelineSettings | None = None,
    log: callable = print,  # type: ignore[valid-type]
) -> Path:
    """Fetch ``source`` into ``root`` and build a snapshot of it (reusing an identical one)."""
    s = settings or PipelineSettings()
    raw = fetch_source(str(source), root)
    specs = [CollectionSpec(collection, kind, raw)]
    collections = [Collection(name=collection, kind=kind, source=str(source))]
    options = build_options(s.model_copy(update={"collections": collections}))
    digest = inputs_digest(specs, options, encoder.pin.fingerprint)
    for d in reversed(layout.list_snapshot_dirs(root)):
        if layout.parse_snapshot_id(d.name).matches(digest):
            log(f"reusing snapshot {d.name} (same inputs)")
            return d
    result = build_snapshot(
        root, specs, encoder, options, log=log, progress=make_progress("encode", log)
    )
    log(f"built {result.snapshot_id}: {result.records} records ({result.reused} embeddings reused, "
        f"{result.encoded} encoded in {result.timings['encode_s']:.1f} s)")
    return result.path


def served_encoder(snap: Snapshot, threads: int = 1) -> Encoder:
    """The query encoder the server runs for ``snap`` (its ONNX export): eval's figures come from
    the same search path as serve's, query encoding included (on ``threads`` threads: one, as
    each of a server's processes per core does, unless asked)."""
    return open_query_encoder(snap.path, snap.manifest.model, threads=threads)
