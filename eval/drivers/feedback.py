"""A feedback round trip, measured: events -> build -> changed ranking.

1. ``run_job`` builds and publishes a snapshot (the settings' collections; the bundled sample by
   default) and an in-process server answers ``query``;
2. ``sessions`` sessions each report the record at rank ``target_rank`` as ``positive``
   (``POST /v1/feedback``, appended to the store's feedback log);
3. ``run_job`` again: the ``feedback_log`` asset reads the log, the build bakes priors into the
   new snapshot (manifest ``priors``), the quality gate checks they lower none of the suite's
   figures, and publish moves ``current``;
4. the server (reloaded) answers ``query`` again: the record's rank and score before and after.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.testclient import TestClient

from pipelines.job import run_job
from serve.app import create_app
from snapsearch.format.manifest import read_manifest
from snapsearch.settings import PipelineSettings, ServeSettings

Log = Callable[[str], None]


def _ranking(client: TestClient, query: str, collection: str, k: int) -> list[dict[str, Any]]:
    r = client.post("/v1/search", json={"query": query, "collection": collection, "limit": k,
                                        "session_id": "roundtrip-probe"})
    r.raise_for_status()
    return [{"id": h["id"], "score": h["score"], "reasons": h["reasons"]}
            for h in r.json()["hits"]]


def _rank_of(ranking: list[dict[str, Any]], rid: str) -> int | None:
    for i, h in enumerate(ranking, 1):
        if h["id"] == rid:
            return i
    return None


def feedback_round_trip(
    settings: PipelineSettings, *, query: str, target_rank: int = 5, sessions: int = 3,
    k: int = 10, log: Log = print,
) -> dict[str, Any]:
    collection = settings.collections[0].name
    serve = ServeSettings(root=settings.root, reload_poll_s=0, close_grace_s=0)
    first = run_job(settings)
    log(f"1. published {first.current} ({first.note})")
    with TestClient(create_app(serve)) as client:
        before = _ranking(client, query, collection, k)
        if len(before) < target_rank:
            raise ValueError(f"{query!r} has {len(before)} hits, fewer than rank {target_rank}")
        target = before[target_rank - 1]["id"]
        log(f"2. {query!r}: {target} at rank {target_rank}; {sessions} sessions report it "
            "positive")
        for i in range(sessions):
            r = client.post("/v1/feedback", json={
                "session_id": f"roundtrip-{i}", "collection": collection, "id": target,
                "outcome": "positive"})
            r.raise_for_status()
    second = run_job(settings)
    manifest = read_manifest(settings.root / second.current)
    log(f"3. published {second.current} ({second.note}); priors: "
        f"{manifest.priors.model_dump() if manifest.priors else None}")
    with TestClient(create_app(serve)) as client:
        after = _ranking(client, query, collection, k)
    rank_after = _rank_of(after, target)
    log(f"4. {query!r}: {target} at rank {rank_after} (was {target_rank})")
    quality = second.gates.get("quality", {})
    return {
        "query": query, "collection": collection, "target": target, "sessions": sessions,
        "rank_before": target_rank, "rank_after": rank_after,
        "score_before": before[target_rank - 1]["score"],
        "score_after": next((h["score"] for h in after if h["id"] == target), None),
        "reasons_after": next((h["reasons"] for h in after if h["id"] == target), None),
        "before": [h["id"] for h in before], "after": [h["id"] for h in after],
        "snapshot_before": first.current, "snapshot_after": second.current,
        "priors": manifest.priors.model_dump() if manifest.priors else None,
        "quality_gate": quality.get("description"),
    }
