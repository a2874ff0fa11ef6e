"""Answer the gateway's ``greeting_wait``: which calls may let their bot speak.

A bot-first call's greeting (``start_say``/``start_play``) and its stream start together; the
runner publishes :class:`~dialer.progress.BotAudioOk` once Exotel confirmed the greeting's
stop (or at once for a call without a greeting). :class:`GreetingWaits` is a progress listener
that remembers those calls (until :class:`~dialer.progress.Ended`) and lets a control request
wait for one, bounded. The gateway holds the bot's first audio until the wait returns
(:mod:`gateway.greeting_gate`), in every wiring.
"""

from __future__ import annotations

import asyncio
import contextlib

from dialer.progress import BOT_AUDIO_OK, BotAudioOk, Ended, ProgressEvent

__all__ = ["BOT_AUDIO_OK", "WAIT_LIMIT", "GreetingWaits"]

WAIT_LIMIT = 3.0
"""The longest a ``greeting_wait`` is kept open by the dialer (the gateway gives up sooner)."""


class GreetingWaits:
    """Subscribe it to the dialer's progress events; ``await wait(call_id)``."""

    def __init__(self) -> None:
        self._released: set[str] = set()
        self._waiters: dict[str, asyncio.Event] = {}
        self.timeouts = 0

    def __call__(self, event: ProgressEvent) -> None:
        if not event.call_id:
            return
        if isinstance(event, BotAudioOk):
            self._released.add(event.call_id)
            waiter = self._waiters.pop(event.call_id, None)
            if waiter is not None:
                waiter.set()
        elif isinstance(event, Ended):
            self._released.discard(event.call_id)
            waiter = self._waiters.pop(event.call_id, None)
            if waiter is not None:
                waiter.set()  # nothing to wait for any more

    def released(self, call_id: str) -> bool:
        return call_id in self._released

    async def wait(self, call_id: str, limit: float = WAIT_LIMIT) -> bool:
        """Return once the call's bot may speak (True), or after ``limit`` s (False)."""
        if call_id in self._released:
            return True
        waiter = self._waiters.setdefault(call_id, asyncio.Event())
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(limit):
                await waiter.wait()
                return True
        self.timeouts += 1
        return False
