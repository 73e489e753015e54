"""A two-collection store for the lookup, multi-collection, context, exclusion and feedback
tests: ``parts`` (300 sample parts plus every 10 kΩ resistor of the sample, ±1 % and ±5 %) and
``notes`` (a few text records with dates and licences), built with the real writer and the
HashingEncoder."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipelines.feedback.priors import FeedbackVotes
from pipelines.fetch import fetch_source
from pipelines.transform.build import BuildOptions, BuildResult, CollectionSpec, build_snapshot
from snapsearch.format.model import HashingEncoder
from snapsearch.settings import SAMPLE_SOURCE

T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
TEN_K = ("C17414", "C17902", "C25725", "C25744", "C25804", "C29718", "C103914", "C119347",
         "C560415", "C2991718")  # every 10 kΩ resistor of the sample
TEN_K_5PCT = ("C25725", "C29718", "C103914", "C560415")
NOTES: list[dict[str, Any]] = [
    {"_id": "n1", "title": "Decoupling capacitors",
     "text": "Place a 100nF ceramic capacitor next to every power pin of the microcontroller, "
             "as close to the pin as the layout allows, with a short return to ground.",
     "created_at": "2024-01-10", "licence": "CC-BY-4.0"},
    {"_id": "n2", "title": "Pull-up resistors",
     "text": "An open-drain I2C bus needs pull-up resistors, often 4.7k at 100 kHz and 2.2k at "
             "400 kHz; a 10k resistor is too weak for long buses.",
     "created_at": "2024-03-02", "licence": "CC-BY-4.0"},
    {"_id": "n3", "title": "Crystal load capacitance",
     "text": "Choose the load capacitors from the crystal's rated load capacitance and the "
             "stray capacitance of the board.", "created_at": "2023-11-20",
     "licence": "proprietary"},
    {"_id": "n4", "title": "Thermal relief",
     "text": "Thermal relief spokes make hand soldering of ground pads possible.",
     "licence": "CC-BY-4.0"},
    {"_id": "n5", "title": "LDO dropout",
     "text": "A low dropout regulator such as the AMS1117 needs its input above the output plus "
             "the dropout voltage at the load current.", "created_at": "2024-04-28",
     "licence": "non-commercial"},
]


def sample_parts(n: int = 300) -> list[dict[str, Any]]:
    with gzip.open(SAMPLE_SOURCE, "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    return rows[:n] + [r for r in rows[n:] if r["lcsc"] in TEN_K]


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records),
                    encoding="utf-8")
    return path


def sources(base: Path, parts: list[dict[str, Any]] | None = None,
            notes: list[dict[str, Any]] | None = None) -> tuple[Path, Path]:
    return (write_jsonl(base / "src" / "parts.jsonl", parts if parts is not None
                        else sample_parts()),
            write_jsonl(base / "src" / "notes.jsonl", notes if notes is not None else NOTES))


def build_two(
    root: Path, parts: Path, notes: Path, *, options: BuildOptions | None = None,
    feedback: FeedbackVotes | None = None, now: datetime = T0,
) -> BuildResult:
    specs = [CollectionSpec("parts", "parts", fetch_source(str(parts), root, now=lambda: now)),
             CollectionSpec("notes", "text", fetch_source(str(notes), root, now=lambda: now))]
    return build_snapshot(root, specs, HashingEncoder(64), options or BuildOptions(), now=now,
                          feedback=feedback)
