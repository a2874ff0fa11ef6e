"""The campaign runner's shutdown: once dialling has stopped, the calls in flight finish (at
most ``drain_timeout_s``: calls still up after it are left to the dialer, which hangs them up
when it stops; their attempts are settled from the call records on the next run), what is still
up logged every minute, the heartbeat kept meanwhile."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Collection

log = logging.getLogger("dialer.campaign.runner")  # the runner's doing, logged as such

__all__ = ["drain"]

LOG_EVERY_S = 60.0


async def drain(
    campaign: str,
    live: Collection[str],
    waits: Collection[asyncio.Task[None]],
    *,
    clock: Callable[[], float],
    beat: Callable[[], Awaitable[None] | None],
    tick_s: float,
    timeout_s: float | None,
) -> None:
    """Wait until ``live`` (the call ids in flight, emptied as calls finish) is empty, calling
    ``beat`` (awaited when it returns an awaitable) each ``tick_s``; after ``timeout_s`` (on
    ``clock``) cancel the ``waits`` (the calls' tasks) and return."""
    start = clock()
    next_log = start + LOG_EVERY_S
    while live:
        now = clock()
        if timeout_s is not None and now - start >= timeout_s:
            log.warning(
                "campaign %s: %d calls still in flight after %g s, no longer waited for "
                "(their attempts are settled from the call records on the next run): %s",
                campaign,
                len(live),
                timeout_s,
                ", ".join(sorted(live)),
            )
            for task in list(waits):
                task.cancel()
            return
        if now >= next_log:
            log.info(
                "campaign %s: waiting for %d calls in flight: %s",
                campaign,
                len(live),
                ", ".join(sorted(live)),
            )
            next_log = now + LOG_EVERY_S
        beaten = beat()
        if inspect.isawaitable(beaten):
            await beaten
        await asyncio.sleep(tick_s)
