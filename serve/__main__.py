"""``python -m serve``: serve the published snapshot (settings from SNAPSEARCH_* variables).

``run(settings)`` is the one way the server starts, here and in ``snapsearch serve``: logging
configured from the settings, uvicorn on their host and port (queries are encoded by the encoder
each snapshot carries).
Exits non-zero when the settings are invalid (2) or the snapshot cannot be served (missing,
corrupt, or built with another model: uvicorn stops when the lifespan fails).
"""

from __future__ import annotations

import logging
import sys

from snapsearch.settings import ServeSettings, SettingsError, load_settings


def run(settings: ServeSettings) -> None:
    """Serve ``<settings.root>/current`` until stopped."""
    import uvicorn

    from .app import create_app
    from .logging import SERVE_LOGGER, configure_logging

    configure_logging(settings.log_level)
    logging.getLogger(SERVE_LOGGER).info(
        "serving %s at http://%s:%d", settings.root / "current", settings.host, settings.port
    )
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        lifespan="on",
        access_log=False,  # snapsearch.access writes one structured line per request
    )


def main() -> int:
    try:
        settings = load_settings(ServeSettings)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    run(settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
