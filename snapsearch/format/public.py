"""What a snapshot may tell an unauthenticated reader (the server's GET /v1/snapshot).

The manifest and the gate report, with every URL redacted (``redact``: credentials and secret
query parameters are never shown, whatever the settings) and, unless ``show_paths``, no local
file system paths: a local source is shown by its file name, and any other absolute path in a
value by its last component (``…/records.sqlite``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .gates import GateReport
from .manifest import Manifest
from .redact import redact_text, redact_url

ELIDED = "…/"
# an absolute POSIX path of two or more components inside a value (not a URL's path: those
# follow "scheme://host", excluded by the look-behind)
_ABS_PATH = re.compile(r"(?<![\w.:/~-])/(?:[^\s/'\"<>|]+/)+([^\s/'\"<>|]*)")


def hide_paths(text: str) -> str:
    """Absolute paths in ``text`` replaced by ``…/<last component>``."""
    return _ABS_PATH.sub(lambda m: ELIDED + m.group(1), text)


def _map_strings(value: Any, fn: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return fn(value)
    if isinstance(value, dict):
        return {k: _map_strings(v, fn) for k, v in value.items()}
    if isinstance(value, list):
        return [_map_strings(v, fn) for v in value]
    return value


def public_source(uri: str, *, show_paths: bool) -> str:
    """A source as shown: a URL redacted, a local path by its file name unless ``show_paths``."""
    if "://" in uri:
        return redact_url(uri)
    if show_paths:
        return uri
    name = uri.rstrip("/").rsplit("/", 1)[-1]
    return ELIDED + name if name else uri


def public_info(
    manifest: Manifest, report: GateReport | None, *, show_paths: bool = False
) -> dict[str, Any]:
    """``{"manifest": ..., "gates": ...}`` as an unauthenticated reader may see them."""
    m = manifest.model_dump(mode="json")
    for s in m.get("sources", []):
        s["uri"] = public_source(str(s["uri"]), show_paths=show_paths)

    def scrub(text: str) -> str:
        text = redact_text(text)
        return text if show_paths else hide_paths(text)

    gates = None if report is None else report.body()
    return {"manifest": _map_strings(m, scrub), "gates": _map_strings(gates, scrub)}
