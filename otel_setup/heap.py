"""Keep full garbage collections short: freeze the heap the app starts with, once.

Spans wait in the export queues for up to a few seconds, so they outlive the
young generations and reach the oldest one. Once new objects there make up a
quarter of it, CPython runs a full collection, which traverses every object the
process holds, the framework's and the app's startup heap included. On the
demo gateway at 100 requests/s that was a 60 ms pause every 13 s, on whichever
request was running. Objects alive when the app has started (modules, classes,
routes, pools) will live as long as the process. Moved to the permanent
generation with :func:`gc.freeze`, they are never traversed again, and the same
full collection takes 2 to 3 ms.

Garbage left over from startup is collected first. An object frozen here that
later becomes garbage in a reference cycle is never freed; that is the cost of
freezing, and why it happens once, at startup, and can be switched off
(``OTELPIPE_GC_FREEZE=false``).
"""

from __future__ import annotations

import gc
import logging
import threading

__all__ = ["freeze_startup_heap"]

_log = logging.getLogger(__name__)
_lock = threading.Lock()
_frozen = False


def freeze_startup_heap() -> bool:
    """Collect garbage, then freeze every object alive; only the first call in a process.

    Returns:
        Whether this call froze the heap (``False``: an earlier call did).
    """
    global _frozen
    with _lock:
        if _frozen:
            return False
        _frozen = True
    gc.collect()
    gc.freeze()
    _log.debug("froze %d objects alive at startup", gc.get_freeze_count())
    return True
