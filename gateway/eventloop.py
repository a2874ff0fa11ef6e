"""The event loop the gateway process runs on: uvloop when installed, else asyncio's own.

uvloop (libuv) does the socket reads, writes and polling in C, which is most of what a
gateway full of idle-but-streaming calls spends its time on (see README, gateway, Load).
It is an optional dependency (not on Windows); without it the stdlib loop serves the same.
Call :func:`run` once, from the process's entry point, instead of ``asyncio.run``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def uvloop_available() -> bool:
    """True when ``uvloop`` can be imported."""
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return False
    return True


def run(main: Coroutine[Any, Any, T], *, use_uvloop: bool = True) -> T:
    """``asyncio.run(main)``, on uvloop if ``use_uvloop`` and it is installed."""
    if use_uvloop:
        try:
            import uvloop
        except ImportError:
            pass
        else:
            result: T = uvloop.run(main)
            return result
    return asyncio.run(main)
