"""Structured logs: one JSON object per line.

``snapsearch.access`` writes one line per request; its fields travel on the record as
``record.fields`` (and, JSON-encoded, as the message, so any formatter shows them).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

ACCESS_LOGGER = "snapsearch.access"
SERVE_LOGGER = "snapsearch.serve"


def access_log(fields: dict[str, Any]) -> None:
    logging.getLogger(ACCESS_LOGGER).info(
        json.dumps(fields, separators=(",", ":"), default=str), extra={"fields": fields}
    )


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat().replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            out.update(fields)
        else:
            out["message"] = record.getMessage()
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, separators=(",", ":"), default=str)


def configure_logging(level: str) -> None:
    """JSON lines on stderr for the ``snapsearch`` loggers (used by ``python -m serve``)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger("snapsearch")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False
