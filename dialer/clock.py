"""The default :class:`~dialer.ports.Clock`: the running event loop's clock."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from dialer.ports import Timer


class LoopClock:
    """``loop.time()`` and ``loop.call_later``: real time on asyncio's loop, virtual time on
    :class:`dialer.testing.VirtualTimeLoop`."""

    def now(self) -> float:
        return asyncio.get_running_loop().time()

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        return asyncio.get_running_loop().call_later(delay, callback)
