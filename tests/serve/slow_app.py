"""A server whose searches for a query starting with "slow" take ``SLOW_S`` seconds (default 2),
for the shutdown and worker tests, which run it as a process:

    python -m tests.serve.slow_app        (SNAPSEARCH_* settings from the environment)
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from starlette.applications import Starlette

from serve.app import create_app
from serve.runner import run
from snapsearch.format.model import HashingEncoder
from snapsearch.settings import ServeSettings, load_settings


class SlowEncoder(HashingEncoder):
    def encode(self, texts: Sequence[str], **kw: Any) -> np.ndarray:
        if any(t.startswith("slow") for t in texts):
            time.sleep(float(os.environ.get("SLOW_S", "2")))
        return super().encode(texts, **kw)


def slow_app(settings: ServeSettings) -> Starlette:
    return create_app(settings, encoder_factory=lambda snapshot: SlowEncoder(
        snapshot.manifest.model.dim))


if __name__ == "__main__":
    sys.exit(run(load_settings(ServeSettings), app_factory=slow_app))
