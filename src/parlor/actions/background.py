"""Work started from synchronous callbacks (media events, bus handlers) that nobody awaits.

asyncio keeps only a weak reference to a task, so each is held here until it is done;
its failure is logged here, once, instead of as "exception never retrieved" whenever the
task happens to be collected.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

logger = logging.getLogger(__name__)

_running: set[asyncio.Task[Any]] = set()


def spawn(coro: Coroutine[Any, Any, Any]) -> None:
    """Run `coro` on the running loop, unawaited."""
    task = asyncio.get_running_loop().create_task(coro)
    _running.add(task)
    task.add_done_callback(_done)


def _done(task: asyncio.Task[Any]) -> None:
    _running.discard(task)
    if not task.cancelled() and task.exception() is not None:
        logger.error("background task failed", exc_info=task.exception())
