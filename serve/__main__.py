"""``python -m serve``: serve the published snapshot (settings from SNAPSEARCH_* variables).

Exits non-zero when the snapshot cannot be served (missing, corrupt, or built with another
model): uvicorn stops when the lifespan fails.
"""

from __future__ import annotations

import sys

from pydantic import ValidationError


def main() -> int:
    from .settings import ServeSettings, settings_error_line

    try:
        settings = ServeSettings()
    except ValidationError as exc:
        print(settings_error_line(exc), file=sys.stderr)
        return 2

    import uvicorn

    from .app import create_app
    from .logging import configure_logging

    configure_logging(settings.log_level)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        lifespan="on",
        access_log=False,  # snapsearch.access writes one structured line per request
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
