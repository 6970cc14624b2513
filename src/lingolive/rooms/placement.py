"""Which worker process owns a room (``--workers N``): a stable hash of the room id.

Every worker computes the same answer without talking to the others, so any worker that
receives a room's offer knows where to relay it (docs/scaling.md).
"""

from __future__ import annotations

import hashlib


def owner(room_id: str, workers: int) -> int:
    digest = hashlib.sha256(room_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % max(1, workers)
