"""Shared fixtures: small real part files, the fake encoder, snapshots built with the real
writer."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipelines.fetch import fetch_source
from pipelines.settings import SAMPLE_SOURCE, Settings
from pipelines.transform.build import BuildResult, CollectionSpec, build_options, build_snapshot
from snapfmt.model import HashingEncoder

# parts every small fixture contains (queries in tests refer to them)
ANCHOR_PARTS = ("C25744", "C6186", "C1525", "C14663")


def sample_records(n: int = 300) -> list[dict]:
    """The first ``n`` parts of the bundled sample plus the anchor parts (deterministic)."""
    with gzip.open(SAMPLE_SOURCE, "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    picked = rows[:n] + [r for r in rows[n:] if r["lcsc"] in ANCHOR_PARTS]
    return picked


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8"
    )
    return path


@pytest.fixture(scope="session")
def hash_encoder() -> HashingEncoder:
    return HashingEncoder()


@pytest.fixture
def parts_file(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "parts.jsonl", sample_records())


def build_from(source: Path, root: Path, encoder: object, *, kind: str = "parts",
               collection: str = "parts", settings: Settings | None = None) -> BuildResult:
    """Fetch + build through the real pipeline functions."""
    s = settings or Settings()
    raw = fetch_source(str(source), root)
    return build_snapshot(root, [CollectionSpec(collection, kind, raw)], encoder,  # type: ignore[arg-type]
                          build_options(s))


@pytest.fixture
def built(tmp_path: Path, parts_file: Path, hash_encoder: HashingEncoder) -> Iterator[BuildResult]:
    yield build_from(parts_file, tmp_path / "store", hash_encoder)
