"""The corruption drill (issue 11): damage a published snapshot every way we can think of and
check that each damage is refused by the three doors a snapshot goes through:

- ``verify``: ``verify_snapshot(checksums=True, gates="passed")`` (what `snapsearch verify`,
  publish and rollback run) raises, and its message names the damaged file;
- ``serve``: the server's ``SnapshotHolder.open`` (what start-up and a reload run before the
  server is ready on a snapshot) raises;
- ``rollback``: ``pipelines.publish.rollback`` to the damaged snapshot raises and ``current``
  does not move.

The damages: every byte of ``manifest.json``, its seal and the gate report (the sweep: each byte
changed in turn, two ways), bytes of every data file (sampled, or all), truncation
(to nothing, to half, one byte short), deletion of each file, extra files (at the top, in a
subdirectory), and edited manifest values written back in the writer's own format.

``build_drill_store`` makes the store: two snapshots of the bundled sample's first records
built, gated and published through the pipeline's own functions with the hashing encoder; the
older one (``previous``) is the one damaged. Each damage is undone before the next.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pipelines.fetch import fetch_source
from pipelines.publish import publish, rollback
from pipelines.transform.build import BuildOptions, CollectionSpec, build_snapshot
from pipelines.validate.gates import run_gates
from serve.holder import SnapshotHolder
from serve.metrics import Metrics
from snapsearch.format import layout, links
from snapsearch.format.errors import SnapshotError
from snapsearch.format.gates import gate_report_path
from snapsearch.format.model import HashingEncoder
from snapsearch.format.verify import verify_snapshot
from snapsearch.settings import GateSettings, ServeSettings

CHECKS = ("verify", "serve", "rollback")
T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
Undo = Callable[[], None]


@dataclass
class Outcome:
    kind: str  # flip, truncate, delete, extra, edit
    target: str  # the damaged file (relative to the snapshot; the report: _gates/<id>.json)
    detail: str  # offset, new size, edited field...
    refused: dict[str, bool] = field(default_factory=dict)
    named: bool = False  # verify's message names the damaged file
    messages: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(self.refused.get(c, False) for c in CHECKS) and self.named


@dataclass
class DrillStore:
    root: Path
    target: Path  # the damaged snapshot (previous)
    current: str

    @property
    def report(self) -> Path:
        return gate_report_path(self.target)


def build_drill_store(work: Path, records: int = 300, dim: int = 64) -> DrillStore:
    """Two snapshots built, gated and published; the first (``previous``) is the target."""
    import gzip

    from snapsearch.settings import SAMPLE_SOURCE

    root = work / "store"
    with gzip.open(SAMPLE_SOURCE, "rt", encoding="utf-8") as f:
        lines = [ln for ln in f if ln.strip()]
    encoder = HashingEncoder(dim)
    ids = []
    for i, chunk in enumerate((lines[:records], lines[records : 2 * records])):
        src = work / f"src{i}" / "parts.jsonl"
        src.parent.mkdir(parents=True, exist_ok=True)
        src.write_text("".join(chunk), encoding="utf-8")
        now = T0 + timedelta(minutes=i)
        raw = fetch_source(str(src), root, now=lambda now=now: now)
        built = build_snapshot(root, [CollectionSpec("parts", "parts", raw)], encoder,
                               BuildOptions(), now=now)
        report = run_gates(built.path, encoder, GateSettings(latency_queries=5),
                           suite_path=None, baseline_dir=None, now=now)
        if not report.passed:
            raise SnapshotError(f"drill store: gates failed: {report.summary()}")
        publish(root, built.snapshot_id)
        ids.append(built.snapshot_id)
    return DrillStore(root, root / ids[0], ids[1])


# -- damages: each yields (kind, target, detail) after applying it, and is undone after --------


def _restore_bytes(path: Path) -> Undo:
    data = path.read_bytes()
    return lambda: path.write_bytes(data)


def _other_byte(b: int) -> list[int]:
    """Replacements for a byte: the lowest bit flipped and, for a digit or hex letter, another
    one (what a damaged hash or number looks like)."""
    out = [b ^ 0x01]
    if chr(b) in "0123456789abcdef" and (b ^ 0x01) not in b"0123456789abcdef":
        out.append(ord("0") if b != ord("0") else ord("1"))
    return out


def _offsets(size: int, samples: int | None) -> list[int]:
    """Every offset (``samples`` None), or that many spread evenly, first and last included."""
    if samples is None or size <= samples:
        return list(range(size))
    if samples <= 1:
        return [size - 1]
    return sorted({round(i * (size - 1) / (samples - 1)) for i in range(samples)})


def damages(store: DrillStore, *, data_samples: int | None = 64,
            sweep_samples: int | None = None) -> Iterator[tuple[str, str, str, Undo]]:
    """Every damage, applied; the caller checks it, then calls the returned undo.
    ``sweep_samples``: bytes of the manifest, seal and report changed (None: every one);
    ``data_samples``: bytes of each data file (None: every one)."""
    snap = store.target
    manifest = json.loads((snap / layout.MANIFEST).read_text(encoding="utf-8"))
    data_files = sorted(manifest["files"])
    sealed = [layout.MANIFEST, layout.SEAL]
    report_name = f"{layout.GATES_DIR}/{snap.name}{layout.GATE_REPORT_SUFFIX}"
    targets = {name: snap / name for name in [*sealed, *data_files]} | {report_name: store.report}

    # byte sweeps: the manifest, its seal and the report fully; data files sampled
    for name, path in targets.items():
        data = path.read_bytes()
        undo = _restore_bytes(path)
        full = name in sealed or name == report_name
        offsets = _offsets(len(data), sweep_samples if full else data_samples)
        for i in offsets:
            for new in _other_byte(data[i]) if full else [data[i] ^ 0xFF]:
                damaged = bytearray(data)
                damaged[i] = new
                path.write_bytes(bytes(damaged))
                yield "flip", name, f"byte {i}: {data[i]:#04x} -> {new:#04x}", undo
    # truncation and deletion of every file
    for name, path in targets.items():
        data = path.read_bytes()
        for size in sorted({0, len(data) // 2, max(len(data) - 1, 0)}):
            path.write_bytes(data[:size])
            yield "truncate", name, f"{len(data)} -> {size} bytes", _restore_bytes_of(path, data)
        path.unlink()
        yield "delete", name, "removed", _restore_bytes_of(path, data)
    # extra files
    for extra in ("stray.bin", "gates.json", "sub/stray.bin", f"{layout.SQLITE}-journal"):
        p = snap / extra
        p.parent.mkdir(exist_ok=True)
        p.write_bytes(b"x")
        yield "extra", extra, "added", _remove(p, snap)
    # edited values, written back in the writer's own format (the seal left as it was)
    for where, value in _EDITS:
        path = snap / layout.MANIFEST
        undo = _restore_bytes(path)
        edited = json.loads(path.read_text(encoding="utf-8"))
        node = edited
        for key in where[:-1]:
            node = node[key] if not key.startswith("*") else next(iter(node.values()))
        last = where[-1] if not where[-1].startswith("*") else next(iter(node))
        node[last] = value(node[last])
        path.write_text(json.dumps(edited, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        yield "edit", layout.MANIFEST, ".".join(where) + f" = {node[last]!r}", undo


def _restore_bytes_of(path: Path, data: bytes) -> Undo:
    return lambda: path.write_bytes(data)


def _remove(path: Path, snap: Path) -> Undo:
    def undo() -> None:
        path.unlink()
        if path.parent != snap and not any(path.parent.iterdir()):
            path.parent.rmdir()
    return undo


_EDITS: list[tuple[tuple[str, ...], Callable[[Any], Any]]] = [
    (("fusion", "method"), lambda v: "rrf" if v == "convex" else "convex"),
    (("fusion", "alpha"), lambda v: round(1.0 - v + 0.1, 2)),
    (("fusion", "candidates"), lambda v: v // 2),
    (("hnsw", "ef_search"), lambda v: 10),
    (("hnsw", "space"), lambda v: "l2"),
    (("collections", "*", "lexical_fields", "*"), lambda v: v * 10),
    (("collections", "*", "tokenizer"), lambda v: "unicode61"),
    (("model", "weights_sha256", "*"), lambda v: "0" * 64),
    (("model", "canary", "decimals"), lambda v: v + 1),
    (("files", "*", "sha256"), lambda v: "0" * 64),
    (("snapshot_id",), lambda v: v[:-1] + ("0" if v[-1] != "0" else "1")),
    (("schema_version",), lambda v: v + 1),
]


# -- the three doors ------------------------------------------------------------------------


def _refused(fn: Callable[[], object]) -> tuple[bool, str]:
    try:
        fn()
    except SnapshotError as exc:
        return True, exc.message
    return False, ""


def check(store: DrillStore, holder: SnapshotHolder, kind: str, target: str,
          detail: str) -> Outcome:
    out = Outcome(kind, target, detail)
    ok, msg = _refused(lambda: verify_snapshot(store.target, checksums=True, gates="passed"))
    out.refused["verify"], out.messages["verify"] = ok, msg
    out.named = ok and Path(target).name in msg
    ok, msg = _refused(lambda: holder.open(store.target).snapshot.close())
    out.refused["serve"], out.messages["serve"] = ok, msg
    ok, msg = _refused(lambda: rollback(store.root))
    if not ok or links.current_id(store.root) != store.current:  # it moved: put it back
        links.move_current(store.root, store.target.name, store.current)
        ok = False
    out.refused["rollback"], out.messages["rollback"] = ok, msg
    return out


def run_drill(store: DrillStore, *, data_samples: int | None = 64,
              sweep_samples: int | None = None, progress: Callable[[int], None] | None = None,
              ) -> list[Outcome]:
    """Apply every damage, check the three doors, undo; the outcomes in order."""
    settings = ServeSettings(root=store.root, reload_poll_s=0, verify_checksums=True)
    dim = json.loads((store.target / layout.MANIFEST).read_text())["model"]["dim"]
    holder = SnapshotHolder(settings, lambda: HashingEncoder(dim), Metrics())
    verify_snapshot(store.target, checksums=True, gates="passed")  # sound before
    outcomes = []
    for kind, target, detail, undo in damages(store, data_samples=data_samples,
                                               sweep_samples=sweep_samples):
        try:
            outcomes.append(check(store, holder, kind, target, detail))
        finally:
            undo()
        if progress:
            progress(len(outcomes))
    verify_snapshot(store.target, checksums=True, gates="passed")  # and sound after
    return outcomes


def summarize(outcomes: list[Outcome], seconds: float) -> dict[str, Any]:
    """Per damage kind and target: cases, refused by each door, named; and the failures."""
    rows: dict[tuple[str, str], dict[str, int]] = {}
    for o in outcomes:
        if o.kind == "extra":
            target = "extra files"
        elif o.target in (layout.MANIFEST, layout.SEAL):
            target = o.target
        elif o.target.startswith(layout.GATES_DIR):
            target = "gate report"
        else:
            target = "data files"
        empty = {"cases": 0, "named": 0, **dict.fromkeys(CHECKS, 0)}
        row = rows.setdefault((o.kind, target), empty)
        row["cases"] += 1
        row["named"] += o.named
        for c in CHECKS:
            row[c] += o.refused.get(c, False)
    total = len(outcomes)
    failures = [asdict(o) for o in outcomes if not o.ok]
    return {
        "cases": total,
        "refused_pct": {c: round(100 * sum(o.refused.get(c, False) for o in outcomes) / total, 3)
                        for c in CHECKS} if total else {},
        "named_pct": round(100 * sum(o.named for o in outcomes) / total, 3) if total else 0.0,
        "all_refused_pct": round(100 * sum(o.ok for o in outcomes) / total, 3) if total else 0.0,
        "rows": [{"kind": k, "target": t, **r} for (k, t), r in rows.items()],
        "failures": failures[:50],
        "failure_count": len(failures),
        "seconds": round(seconds, 1),
    }


def drill(work: Path, *, records: int = 300, data_samples: int | None = 64,
          sweep_samples: int | None = None,
          progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Build a drill store under ``work`` and run the whole drill on it; the summary."""
    store = build_drill_store(work, records)
    t0 = time.perf_counter()
    outcomes = run_drill(store, data_samples=data_samples, sweep_samples=sweep_samples,
                         progress=progress)
    summary = summarize(outcomes, time.perf_counter() - t0)
    summary["snapshot_bytes"] = {p.name: p.stat().st_size for p in sorted(store.target.iterdir())}
    shutil.rmtree(work / "store", ignore_errors=True)
    return summary
