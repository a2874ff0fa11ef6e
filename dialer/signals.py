"""SIGINT and SIGTERM for the long-running commands (``voxgate dialer run``, ``voxgate
campaign run``): the first asks for a graceful stop, any later one cancels the running task."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable, Iterator


@contextlib.contextmanager
def graceful_signals(first: Callable[[str], None], again: str) -> Iterator[list[str]]:
    """While open: the first SIGINT/SIGTERM calls ``first`` with the signal's name; each later
    one prints ``again`` (``{sig}`` is the signal's name) on stderr and cancels the current task
    (its exit path still runs). Yields the names of the signals received. Outside the main
    thread (or where the loop cannot take signal handlers) nothing is installed."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    received: list[str] = []

    def handle(sig: signal.Signals) -> None:
        received.append(sig.name)
        if len(received) == 1:
            first(sig.name)
        elif task is not None:
            print(again.format(sig=sig.name), file=sys.stderr, flush=True)
            task.cancel()

    installed: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, handle, sig)
            installed.append(sig)
    try:
        yield received
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
