"""snapsearch as a peer: the eval snapshot in a store of its own, searched in-process as
`snapsearch query` does (open read-only, the snapshot's own ONNX query encoder with its pin
checked, SearchEngine): no torch at query time, as in serve.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from eval.drivers.peer_files import read_meta
from snapsearch.format import links
from snapsearch.format.links import resolve_current
from snapsearch.format.model_query import open_query_encoder
from snapsearch.format.reader import open_snapshot
from snapsearch.search.engine import SearchEngine
from snapsearch.search.types import Mode, SearchRequest

MODES: tuple[Mode, ...] = ("hybrid", "vector", "lexical")


def store_of(index_dir: Path) -> Path:
    """The store root `snapsearch serve --root` takes (its `current` is the eval snapshot)."""
    return index_dir / "store"


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)  # snapshot files are immutable: a hard link is a free copy
    except OSError:
        shutil.copy2(src, dst)


def build(corpus: Path, index_dir: Path, model_dir: Path) -> dict[str, object]:
    """The eval snapshot in a store of its own, validated as the pipeline's validate stage does
    (the gates, with the corpus's suite when it has one), so `snapsearch serve` will serve it."""
    from pipelines.transform.encoder import settings_encoder
    from pipelines.validate.gates import run_gates
    from snapsearch.settings import PipelineSettings, load_settings

    meta = read_meta(corpus)
    snapshot = Path(str(meta["snapshot"]))
    store = store_of(index_dir)
    store.mkdir(parents=True, exist_ok=True)
    dest = store / snapshot.name
    if not dest.exists():
        shutil.copytree(snapshot, dest, copy_function=_link_or_copy)
    suite = meta.get("suite")
    settings = load_settings(PipelineSettings)
    report = run_gates(dest, settings_encoder(settings), settings.gates,
                       suite_path=Path(str(suite)) if suite else None)
    links.flip(store, "current", snapshot.name)
    return {"snapshot": snapshot.name, "gates_passed": report.passed,
            "gates": {n: {"passed": g.passed, "description": g.description}
                      for n, g in report.gates.items()}}


class SnapsearchIndex:
    def __init__(self, index_dir: Path, mode: Mode) -> None:
        self.mode = mode
        self.snap = open_snapshot(resolve_current(store_of(index_dir)))
        encoder = None
        if mode != "lexical":  # checks the files' sha256 and the pin's canary
            encoder = open_query_encoder(self.snap.path, self.snap.manifest.model)
        self.engine = SearchEngine(self.snap, encoder)

    def search(self, text: str, k: int) -> list[str]:
        req = SearchRequest(query=text[:512] or "?", limit=k, mode=self.mode)
        return [h.id for h in self.engine.search(req).hits]

    def close(self) -> None:
        self.snap.close()


def open_index(index_dir: Path, model_dir: Path, mode: str) -> SnapsearchIndex:
    if mode not in MODES:
        raise ValueError(f"snapsearch answers {', '.join(MODES)}, not {mode!r}")
    return SnapsearchIndex(index_dir, mode)  # type: ignore[arg-type]
