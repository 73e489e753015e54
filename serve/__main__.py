"""``python -m serve``: serve the published snapshot (settings from SNAPSEARCH_* variables).

``run(settings)`` is the one way the server starts, here and in ``snapsearch serve``: logging
configured from the settings, uvicorn on their host and port (queries are encoded by the encoder
each snapshot carries), in one process or ``SNAPSEARCH_WORKERS`` of them under a small supervisor
process (``serve.runner``, which also drains on SIGTERM; ``serve.supervisor``).
Exits non-zero when the settings are invalid (2) or the snapshot cannot be served (missing,
corrupt, or built with another model: 3 from one process, 1 from the supervisor of several).
"""

from __future__ import annotations

import sys
from pathlib import Path

from snapsearch.settings import ServeSettings, SettingsError, load_settings


def prehash_current(root: Path) -> None:
    """Hash the files of the snapshot ``current`` points at in the background while the web
    stack is imported (the holder's verification then takes those digests): ~0.2 s off a
    start on two cores, no check skipped. Nothing when there is no snapshot yet."""
    from snapsearch.format.links import current_dir
    from snapsearch.format.verify import prehash

    target = current_dir(root)
    if target is not None:
        prehash(target)


def run(settings: ServeSettings) -> int:
    """Serve ``<settings.root>/current`` until stopped; the exit status (0: a clean stop).

    With several workers this process becomes the supervisor (``serve.supervisor``, exec'd: the
    same pid without the modules loaded so far, the settings' pydantic included), so it never
    returns; its workers import the app."""
    if settings.workers > 1:
        from .supervisor import exec_supervisor, plan

        exec_supervisor(plan(settings, "serve.runner:worker", settings))
    if settings.verify_checksums:
        prehash_current(settings.root)
    from .runner import run as run_server

    return run_server(settings)


def main() -> int:
    try:
        settings = load_settings(ServeSettings)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return run(settings)


if __name__ == "__main__":
    sys.exit(main())
