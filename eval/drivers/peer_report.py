"""Figures of the peers benchmark: one row per system from its fresh-process measurements,
ratios to the best peer, the issue's targets, and the table as text or Markdown."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from eval.metrics import hit_at_k, ndcg_at_k, percentile

OURS = "snapsearch"
# figure -> True when lower is better
FIGURES: dict[str, bool] = {
    "cold_start_s": True, "p50_ms": True, "p95_ms": True, "rss_ready_mb": True,
    "index_mb": True, "ndcg@10": False,
}
# figures compared only with peers that answer in the same mode (latency and quality)
SAME_MODE = ("p50_ms", "p95_ms", "ndcg@10")
HEAD = {"cold_start_s": "cold s", "p50_ms": "p50 ms", "p95_ms": "p95 ms",
        "rss_ready_mb": "RSS MB", "index_mb": "index MB", "ndcg@10": "nDCG@10"}


def is_ours(name: str) -> bool:
    return name == OURS or name.startswith(OURS + "-")


def median(xs: Sequence[float]) -> float:
    return float(statistics.median(xs)) if xs else float("nan")


def summarize(
    mode: str, measurements: Sequence[Mapping[str, Any]], gains: Mapping[str, Mapping[str, float]],
    index_bytes: int,
) -> dict[str, Any]:
    """One system's row: medians over its fresh-process repeats; quality from the first run
    (the ranking is deterministic; ``ranking_stable`` says whether every repeat agreed)."""
    first = measurements[0]["runs"]
    judged = [r for r in first if gains.get(r["id"])]
    rel = {r["id"]: {d for d, g in gains[r["id"]].items() if g > 0} for r in judged}
    p50s = [percentile([r["ms"] for r in m["runs"]], 50) for m in measurements]
    p95s = [percentile([r["ms"] for r in m["runs"]], 95) for m in measurements]
    return {
        "mode": mode,
        "repeats": len(measurements),
        "cold_start_s": round(median([m["cold_start_s"] for m in measurements]), 3),
        "cold_start_s_each": [round(m["cold_start_s"], 3) for m in measurements],
        "p50_ms": round(median(p50s), 2),
        "p95_ms": round(median(p95s), 2),
        "p50_ms_each": [round(x, 2) for x in p50s],
        "rss_ready_mb": round(median([m["rss_mb"] for m in measurements]), 1),
        "rss_peak_mb": round(max(m["rss_peak_mb"] for m in measurements), 1),
        "index_mb": round(index_bytes / 1e6, 1),
        "index_bytes": index_bytes,
        "ndcg@10": round(statistics.fmean(ndcg_at_k(r["ids"], gains[r["id"]], 10)
                                          for r in judged), 4) if judged else None,
        "hit@10": round(statistics.fmean(hit_at_k(r["ids"], rel[r["id"]], 10)
                                         for r in judged), 4) if judged else None,
        "queries": len(first),
        "judged": len(judged),
        "phases_s": {k: round(median([m["phases_s"][k] for m in measurements]), 3)
                     for k in measurements[0]["phases_s"]},
        "load_1min": [m.get("load_1min") for m in measurements],
        "ranking_stable": all([r["ids"] for r in m["runs"]] == [r["ids"] for r in first]
                              for m in measurements),
    }


def _best(
    rows: Mapping[str, Mapping[str, Any]], figure: str, mode: str | None
) -> tuple[str, float] | None:
    lower = FIGURES[figure]
    cands = [(name, float(r[figure])) for name, r in rows.items()
             if not is_ours(name) and isinstance(r.get(figure), int | float)
             and (mode is None or r["mode"] == mode)]
    if not cands:
        return None
    return (min if lower else max)(cands, key=lambda c: c[1])


def ratios(rows: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each of our rows against the best peer, figure by figure: ``{figure: {"ratio", "peer",
    "peer_value"}}`` (ratio = ours / best peer's; latency and quality only against peers of the
    same mode, None when no peer answers that mode)."""
    out: dict[str, dict[str, Any]] = {}
    for name, row in rows.items():
        if not is_ours(name):
            continue
        out[name] = {}
        for figure in FIGURES:
            best = _best(rows, figure, row["mode"] if figure in SAME_MODE else None)
            value = row.get(figure)
            if best is None or not isinstance(value, int | float) or best[1] == 0:
                out[name][figure] = None
                continue
            out[name][figure] = {"ratio": round(float(value) / best[1], 3), "peer": best[0],
                                 "peer_value": best[1]}
    return out


def targets(corpora: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Issue 9's targets that this run measures (where it measured what they need). The ones it
    cannot judge (extra workers, cutovers, SIGTERM, nDCG@10 "unchanged") are other benchmarks'."""
    out: list[dict[str, Any]] = []

    def add(target: str, value: float, limit: float, **extra: Any) -> None:
        out.append({"target": target, "value": value, "limit": limit, "met": value <= limit,
                    **extra})

    def ratio(corpus: str, figure: str) -> dict[str, Any] | None:
        r = corpora.get(corpus, {}).get("ratios", {}).get(OURS, {})
        return r.get(figure) if isinstance(r, dict) else None

    parts = corpora.get("parts-25k", {})
    ours = parts.get("systems", {}).get(OURS)
    cold = ratio("parts-25k", "cold_start_s")
    if cold:
        add("cold start (spawn -> first answer), 25k parts, <= 0.3x the best peer",
            cold["ratio"], 0.3, peer=cold["peer"])
    if ours:
        add("cold start, 25k parts, <= 1.5 s", ours["cold_start_s"], 1.5)
        add("RSS when ready, 25k parts, <= 250 MB", ours["rss_ready_mb"], 250.0)
        add("in-process hybrid p50 (uncached; the suite's queries without filters), 25k parts, "
            "<= 6 ms", ours["p50_ms"], 6.0)
    http = parts.get("http") or {}
    if "cold_start_s" in http:
        add("snapsearch serve: spawn -> first HTTP answer, 25k parts, <= 1.5 s",
            http["cold_start_s"], 1.5)
        add("snapsearch serve: RSS when ready, 25k parts, <= 250 MB", http["rss_ready_mb"], 250.0)
    p50 = ratio("scifact", "p50_ms")
    if p50:
        add("in-process hybrid p50, SciFact, <= 0.7x the best hybrid peer", p50["ratio"], 0.7,
            peer=p50["peer"])
    return out


def _cell(row: Mapping[str, Any], figure: str, ratio: Mapping[str, Any] | None) -> str:
    value = row.get(figure)
    if not isinstance(value, int | float):
        return "-"
    text = f"{value:.3f}" if figure == "ndcg@10" else f"{value:.2f}" if value < 100 else \
        f"{value:.0f}"
    if ratio and ratio.get(figure):
        text += f" ({ratio[figure]['ratio']:.2f}x)"
    return text


def text_table(corpus: Mapping[str, Any]) -> str:
    rows, rat = corpus["systems"], corpus.get("ratios", {})
    width = {f: 17 for f in FIGURES}
    lines = [f"{'system':<20}{'mode':<8}" + "".join(f"{HEAD[f]:>{width[f]}}" for f in FIGURES)]
    for name, row in rows.items():
        lines.append(f"{name:<20}{row['mode']:<8}" + "".join(
            f"{_cell(row, f, rat.get(name)):>{width[f]}}" for f in FIGURES))
    http = corpus.get("http")
    if http and "error" in http:
        lines.append(f"snapsearch serve: no HTTP figures: {http['error']}")
    elif http:
        lines.append(f"snapsearch serve: cold start (spawn -> first HTTP answer) "
                     f"{http['cold_start_s']:.2f} s, RSS ready {http['rss_ready_mb']:.0f} MB")
        for c, lv in http["levels"].items():
            lines.append(f"  HTTP hybrid, concurrency {c:>2}: p50 {lv['p50_ms']:.1f} ms, "
                         f"p95 {lv['p95_ms']:.1f} ms, {lv['qps']:.1f} QPS, "
                         f"{lv['errors']} errors of {lv['requests']}")
    return "\n".join(lines)


def markdown_table(corpus: Mapping[str, Any]) -> str:
    rows, rat = corpus["systems"], corpus.get("ratios", {})
    head = ["system", "mode", "cold start s", "p50 ms", "p95 ms", "RSS ready MB", "index MB",
            "nDCG@10"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, row in rows.items():
        cells = [f"**{name}**" if is_ours(name) else name, row["mode"]]
        cells += [_cell(row, f, rat.get(name)).replace("x)", "×)") for f in FIGURES]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def markdown_http(corpus: Mapping[str, Any]) -> str:
    """`snapsearch serve` over loopback HTTP, one row per concurrency ("" when not measured)."""
    http = corpus.get("http")
    if not http:
        return ""
    if "error" in http:
        return f"snapsearch serve: no HTTP figures ({http['error']})"
    lines = [f"`snapsearch serve`, hybrid over loopback HTTP: spawn -> first answer "
             f"{http['cold_start_s']:.2f} s, RSS when ready {http['rss_ready_mb']:.0f} MB "
             f"(medians of {len(http['cold_start_s_each'])} fresh servers, one per concurrency)",
             "", "| concurrency | requests | errors | p50 ms | p95 ms | QPS | RSS after MB |",
             "|---|---|---|---|---|---|---|"]
    for c, lv in http["levels"].items():
        lines.append(f"| {c} | {lv['requests']} | {lv['errors']} | {lv['p50_ms']:.1f} | "
                     f"{lv['p95_ms']:.1f} | {lv['qps']:.1f} | {lv.get('rss_after_mb', 0):.0f} |")
    return "\n".join(lines)
