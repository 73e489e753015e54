"""Put the links and the publish log back in agreement after a publish or rollback was killed.

A move is: flip ``previous`` to the old current, flip ``current`` to the new one, append the
event to the log. A kill leaves one of two states, and the log proves what it was before:

- killed between the flips: ``previous == current``. The last logged event moved current to
  where it still is, and ``previous`` was that event's ``from`` (none for the first publish):
  ``previous`` is put back.
- killed after the flips, before the log: ``current`` is not where the last event left it and
  ``previous`` is. The move happened; a ``repair`` event records it.

Anything else that does not match the log is reported and left alone. The caller holds the
store lock.
"""

from __future__ import annotations

import logging
from pathlib import Path

from snapsearch.format import layout, links

from .events import Now, PublishEvent, append_event, read_publish_log, stamp

log = logging.getLogger(__name__)


def repair_links(root: Path, *, now: Now | None = None) -> str | None:
    """Repair what a killed move left (see the module's words); returns what was done, or None
    when the links and the log agree or the log cannot prove the earlier state."""
    current, previous = links.current_id(root), links.previous_id(root)
    if current is None:
        return None
    events = read_publish_log(root)
    last = events[-1] if events else None
    logged_to = last.to_id if last else None
    if previous == current:
        if logged_to != current:
            return None  # the log does not say how we got here
        before = last.from_id if last else None
        if before is None:
            (root / layout.PREVIOUS).unlink()
            note = f"previous pointed at current {current} after an interrupted move; removed"
        elif before != current and (root / before).is_dir():
            links.flip(root, layout.PREVIOUS, before)
            note = (f"previous pointed at current {current} after an interrupted move; "
                    f"put back to {before} (from the publish log)")
        else:
            return None
        log.warning(note)
        return note
    if current != logged_to and previous == logged_to:
        note = "links moved by a publish or rollback killed before it logged; logged now"
        append_event(root, PublishEvent(stamp(now), "repair", previous, current, None, note))
        log.warning("%s: %s -> %s", note, previous, current)
        return f"{note}: {previous or '-'} -> {current}"
    return None

