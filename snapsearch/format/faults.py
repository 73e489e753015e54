"""Named crash points for the drills: ``point(name)`` calls the installed hook, or does nothing.

The crash drills (tests/drills, bench/crash_drill.py) install a hook that ends the process at
one point (``os._exit`` in a forked child, or a pause the bench answers with ``kill -9``) and
then check that the store is sound and the next run cleans up. Production code installs none;
a point costs one global read.
"""

from __future__ import annotations

from collections.abc import Callable

Hook = Callable[[str], None]

_hook: Hook | None = None


def point(name: str) -> None:
    """A place where a crash must leave the store sound; calls the hook if one is installed."""
    if _hook is not None:
        _hook(name)


def install(hook: Hook | None) -> Hook | None:
    """Install ``hook`` (None: none); returns the one it replaced."""
    global _hook
    previous, _hook = _hook, hook
    return previous
