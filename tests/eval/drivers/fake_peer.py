"""A fake peer for the protocol tests: word-overlap ranking over the exported texts, no model.

It prints to stdout while opening (as libraries do) to prove the protocol survives that, and
fails on demand (``FAKE_PEER_FAIL=open``) to prove a failure reaches the parent with its reason.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from eval.drivers.peer_files import read_docs

MODES = ("hybrid", "vector")


def build(corpus: Path, index_dir: Path, model_dir: Path) -> dict[str, object]:
    ids, texts, _ = read_docs(corpus)
    (index_dir / "index.json").write_text(json.dumps({"ids": ids, "texts": texts}))
    return {"fake": True}  # facts a build reports travel in its "built" event


class FakeIndex:
    def __init__(self, index_dir: Path) -> None:
        data = json.loads((index_dir / "index.json").read_text())
        pairs = zip(data["ids"], data["texts"], strict=True)
        self.docs = [(i, set(t.lower().split())) for i, t in pairs]

    def search(self, text: str, k: int) -> list[str]:
        words = set(text.lower().split())
        ranked = sorted(self.docs, key=lambda d: (-len(words & d[1]), d[0]))
        return [i for i, _ in ranked[:k]]


def open_index(index_dir: Path, model_dir: Path, mode: str) -> FakeIndex:
    print("a library chatting on stdout")  # must not break the protocol
    if os.environ.get("FAKE_PEER_FAIL") == "open":
        raise RuntimeError("cannot open the fake index")
    return FakeIndex(index_dir)
