"""An asyncio event loop on virtual time, for tests (:mod:`dialer.testing`).

Whenever nothing is ready to run, the loop's clock jumps to its next timer instead of sleeping:
``asyncio.sleep``, ``asyncio.timeout``, ``loop.call_later`` and so the dialer's
:class:`~dialer.ports.Clock` (:class:`~dialer.clock.LoopClock`) all run on it, a 20 s ring
timeout costs nothing, and the order of what happens is the order of the timers.
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class _JumpingSelector:
    """The real selector, polled without blocking; when nothing is ready and a timer is due
    later, the loop's virtual clock jumps by the wait instead of sleeping."""

    def __init__(self, loop: VirtualTimeLoop) -> None:
        self._real = selectors.DefaultSelector()
        self._loop = loop

    def select(self, timeout: float | None = None) -> list[tuple[Any, int]]:
        ready = self._real.select(0)
        if ready or timeout == 0:
            return ready
        if timeout is None:  # no timer at all: only I/O can wake the loop
            return self._real.select(None)
        self._loop.advance(timeout)
        return []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An event loop on virtual time (see the module docstring). Real I/O still works, but a
    test on this loop should do none that it waits for: time jumps while it is pending."""

    # store calls run on this loop, not on worker threads (dialer.store_calls): a worker's
    # real time would pass while virtual time jumps, and a test's reads would race its writes
    store_calls_inline = True

    def __init__(self) -> None:
        self._virtual_now = 0.0
        super().__init__(_JumpingSelector(self))  # type: ignore[arg-type]

    def time(self) -> float:
        return self._virtual_now

    def advance(self, seconds: float) -> None:
        self._virtual_now += max(0.0, seconds)


def run_virtual(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to its end on a fresh :class:`VirtualTimeLoop`."""
    loop = VirtualTimeLoop()
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
