"""Progress reporting for long steps: a log line every 10 %, and a bar on a terminal."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

log = logging.getLogger("snapsearch")


def make_progress(label: str, emit: Callable[[str], None]) -> Callable[[int, int], None]:
    state = {"next": 0.1, "bar": None}

    def progress(done: int, total: int) -> None:
        if total <= 0:
            return
        if sys.stderr.isatty():
            from tqdm import tqdm

            if state["bar"] is None:
                state["bar"] = tqdm(total=total, desc=label, unit="rec", leave=False)
            bar = state["bar"]
            bar.update(done - bar.n)  # type: ignore[attr-defined]
            if done >= total:
                bar.close()  # type: ignore[attr-defined]
        frac = done / total
        if frac >= state["next"] or done >= total:  # type: ignore[operator]
            emit(f"{label}: {done}/{total} ({frac:.0%})")
            state["next"] = (int(frac * 10) + 1) / 10

    return progress
