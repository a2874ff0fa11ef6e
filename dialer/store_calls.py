"""Store calls off the event loop: :class:`StoreCalls` runs a store's methods on worker threads.

In the one-process wiring the dialer's event loop also serves every media stream, so a store
commit (``synchronous=FULL``: an fsync) run on it stalls every call's audio. Coroutines hand
their store calls to :class:`StoreCalls` instead::

    claim = await calls.run(store.claim_next, campaign, now, owner=owner)   # result awaited
    calls.submit(records.save_live, call_id, state)                       # queued

- **one worker thread per SQLite store** (SQLite serialises writers anyway, and a connection is
  then used by one thread at a time), a small pool of workers for a store whose
  ``db.dialect`` is ``"postgresql"``; every job of a store with one worker runs in submission
  order (FIFO), and on a pool the jobs of one ``lane`` (a call id) go to the same worker, so the
  writes of one call keep their order;
- :meth:`StoreCalls.run` awaits the result (a claim is committed before its dial) and raises
  what the method raised;
- :meth:`StoreCalls.submit` queues a write whose result nobody needs (``save_live``): its errors
  are logged and counted (:attr:`StoreCalls.failed`), never lost silently, and
  :meth:`StoreCalls.flush`/:meth:`StoreCalls.close` wait for it;
- ``inline`` (``VOXGATE_STORE_CALLS=inline``): every call runs on the loop, as before this module
  existed; for measuring (``bench/loop_lag.py``), not for production; also on a loop that asks
  for it (``store_calls_inline``: the tests' virtual-time loop, :mod:`dialer.virtual_time`);
- :meth:`StoreCalls.close` drains what is queued, then stops the workers.

Synchronous code not on a loop (CLI commands, reports) calls its store directly.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import threading
from collections.abc import Callable
from typing import Any, TypeVar

log = logging.getLogger(__name__)

__all__ = ["ENV", "POOL_SIZE", "StoreCalls"]

T = TypeVar("T")

ENV = "VOXGATE_STORE_CALLS"  # "inline": store calls on the event loop (the bench's baseline)
POOL_SIZE = 4  # workers for a PostgreSQL store


def _store_of(method: Callable[..., Any]) -> object:
    """The store a bound method belongs to (its worker's key); a plain function: itself."""
    return getattr(method, "__self__", method)


def _workers_for(store: object) -> int:
    """A pool for a store on PostgreSQL (its :class:`~dialer.db.Database`'s ``dialect``), else
    one worker (SQLite, or a store that does not say)."""
    holders = [store] + [getattr(store, n, None) for n in ("db", "_db", "database", "_database")]
    return POOL_SIZE if any(getattr(h, "dialect", None) == "postgresql" for h in holders) else 1


class StoreCalls:
    """Runs store methods on worker threads (see the module docstring)."""

    def __init__(self, *, inline: bool | None = None) -> None:
        self.inline = os.environ.get(ENV, "") == "inline" if inline is None else inline
        self.failed = 0  # queued calls that raised (each logged)
        self.queued = 0  # queued calls submitted
        self._workers: dict[int, tuple[object, list[concurrent.futures.ThreadPoolExecutor]]] = {}
        self._pending: set[concurrent.futures.Future[Any]] = set()
        self._next = 0
        self._lock = threading.Lock()

    # --- workers ---------------------------------------------------------------------------
    def _worker(self, method: Callable[..., Any], lane: str | None) -> concurrent.futures.Executor:
        store = _store_of(method)
        with self._lock:
            entry = self._workers.get(id(store))
            if entry is None:
                n = _workers_for(store)
                entry = (store, [concurrent.futures.ThreadPoolExecutor(
                    1, thread_name_prefix=f"store-{type(store).__name__}-{i}") for i in range(n)])
                self._workers[id(store)] = entry  # the store is kept: its id stays its own
            pool = entry[1]
            if len(pool) == 1:
                return pool[0]
            if lane is not None:
                return pool[hash(lane) % len(pool)]
            self._next = (self._next + 1) % len(pool)
            return pool[self._next]

    def _on_loop(self) -> bool:
        """Whether calls run inline now: the mode, a loop that asks for it, or no loop running
        (synchronous code: nothing to keep free)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return True
        return self.inline or bool(getattr(loop, "store_calls_inline", False))

    def threads(self) -> int:
        """How many worker threads were started."""
        return sum(len(pool) for _, pool in self._workers.values())

    # --- calls -----------------------------------------------------------------------------
    async def run(self, method: Callable[..., T], *args: Any, lane: str | None = None,
                  **kwargs: Any) -> T:
        """``method(*args, **kwargs)`` on its store's worker; its result (or its exception)."""
        if self._on_loop():
            return method(*args, **kwargs)
        future = self._worker(method, lane).submit(method, *args, **kwargs)
        return await asyncio.wrap_future(future)

    def submit(self, method: Callable[..., object], *args: Any, lane: str | None = None,
               **kwargs: Any) -> concurrent.futures.Future[Any] | None:
        """Queue ``method(*args, **kwargs)`` on its store's worker, nobody waiting for it: an
        error is logged and counted in :attr:`failed`. Returns the job's future (``None``
        inline: it has run already), for a caller that wants to know when it is done."""
        self.queued += 1
        if self._on_loop():
            try:
                method(*args, **kwargs)
            except Exception:
                self._failed(method)
            return None
        future = self._worker(method, lane).submit(method, *args, **kwargs)
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(lambda f: self._done(method, f))
        return future

    def _done(self, method: Callable[..., object], future: concurrent.futures.Future[Any]) -> None:
        with self._lock:
            self._pending.discard(future)
        if not future.cancelled() and future.exception() is not None:
            exc = future.exception()
            self._failed(method, exc)

    def _failed(self, method: Callable[..., object], exc: BaseException | None = None) -> None:
        with self._lock:
            self.failed += 1
        name = getattr(method, "__qualname__", repr(method))
        if exc is None:
            log.exception("queued store call %s failed", name)
        else:
            log.error("queued store call %s failed: %s: %s", name, type(exc).__name__, exc,
                      exc_info=exc)

    @property
    def pending(self) -> int:
        """Queued calls not finished yet."""
        with self._lock:
            return len(self._pending)

    async def flush(self) -> None:
        """Wait until every call queued so far has run (errors are counted, not raised)."""
        with self._lock:
            pending = list(self._pending)
        if pending:
            await asyncio.wait([asyncio.wrap_future(f) for f in pending])

    async def close(self) -> None:
        """Drain the queued calls, then stop the workers (idempotent; a later call starts a
        worker again)."""
        await self.flush()
        with self._lock:
            pools = [ex for _, pool in self._workers.values() for ex in pool]
            self._workers.clear()
        for executor in pools:
            executor.shutdown(wait=False)  # drained: nothing left to wait for
