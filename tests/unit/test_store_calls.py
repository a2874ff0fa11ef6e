"""dialer.store_calls: store calls on worker threads, in order, errors surfaced or counted,
drained on close; inline mode on the loop."""

from __future__ import annotations

import asyncio
import logging
import threading
from types import SimpleNamespace

import pytest

from dialer.store_calls import ENV, POOL_SIZE, StoreCalls


class Store:
    """A stand-in store: records which thread ran each call, in what order."""

    def __init__(self, dialect: str = "sqlite") -> None:
        self.db = SimpleNamespace(dialect=dialect)
        self.seen: list[tuple[str, int]] = []
        self.gate = threading.Event()
        self.gate.set()

    def write(self, key: str) -> str:
        self.gate.wait(5)
        self.seen.append((key, threading.get_ident()))
        return key.upper()

    def fail(self, why: str) -> None:
        raise ValueError(why)


async def test_calls_run_off_the_loop_one_thread_per_sqlite_store_in_order() -> None:
    calls = StoreCalls(inline=False)
    a, b = Store(), Store()
    loop_thread = threading.get_ident()
    a.gate.clear()  # a's worker blocks on its first call: the rest queue behind it
    for i in range(5):
        calls.submit(a.write, f"q{i}")
    waiting = asyncio.ensure_future(calls.run(a.write, "awaited"))
    assert await calls.run(b.write, "b") == "B"  # another store: its own worker, not blocked
    assert not waiting.done()
    a.gate.set()
    assert await waiting == "AWAITED"
    assert [k for k, _ in a.seen] == ["q0", "q1", "q2", "q3", "q4", "awaited"]
    threads = {t for _, t in a.seen}
    assert len(threads) == 1 and loop_thread not in threads
    assert b.seen[0][1] not in threads | {loop_thread}
    assert calls.threads() == 2
    await calls.close()


async def test_a_postgresql_store_gets_a_pool_and_one_call_keeps_its_lane() -> None:
    calls = StoreCalls(inline=False)
    pg = Store("postgresql")
    for i in range(20):
        calls.submit(pg.write, f"c1-{i}", lane="c1")
    await asyncio.gather(*(calls.run(pg.write, f"x{i}") for i in range(8)))
    await calls.flush()
    assert calls.threads() == POOL_SIZE
    lane = [(k, t) for k, t in pg.seen if k.startswith("c1-")]
    assert [k for k, _ in lane] == [f"c1-{i}" for i in range(20)]  # in order
    assert len({t for _, t in lane}) == 1  # on one worker
    assert len({t for _, t in pg.seen}) > 1  # the other calls are spread
    await calls.close()


async def test_an_awaited_call_raises_what_the_store_raised() -> None:
    calls = StoreCalls(inline=False)
    with pytest.raises(ValueError, match="locked"):
        await calls.run(Store().fail, "locked")
    assert calls.failed == 0  # the caller got it: not counted as a lost queued write
    await calls.close()


async def test_a_queued_call_that_fails_is_logged_and_counted_and_the_queue_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls = StoreCalls(inline=False)
    store = Store()
    with caplog.at_level(logging.ERROR, logger="dialer.store_calls"):
        calls.submit(store.fail, "disk full")
        calls.submit(store.write, "after")
        await calls.flush()
    assert calls.failed == 1 and calls.queued == 2
    assert "Store.fail failed: ValueError: disk full" in caplog.text
    assert [k for k, _ in store.seen] == ["after"]
    await calls.close()


async def test_close_drains_what_is_queued() -> None:
    calls = StoreCalls(inline=False)
    store = Store()
    store.gate.clear()
    for i in range(10):
        calls.submit(store.write, str(i))
    assert calls.pending == 10
    closing = asyncio.ensure_future(calls.close())
    await asyncio.sleep(0)
    assert not closing.done()  # waits for the queue
    store.gate.set()
    await closing
    assert [k for k, _ in store.seen] == [str(i) for i in range(10)]
    assert calls.pending == 0 and calls.threads() == 0
    assert await calls.run(store.write, "later") == "LATER"  # a later call starts a worker
    await calls.close()


async def test_inline_mode_runs_on_the_loop_thread(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(ENV, "inline")
    calls = StoreCalls()
    assert calls.inline
    store = Store()
    assert await calls.run(store.write, "a") == "A"
    assert calls.submit(store.write, "b") is None  # has run already
    with caplog.at_level(logging.ERROR, logger="dialer.store_calls"):
        calls.submit(store.fail, "boom")
    with pytest.raises(ValueError):
        await calls.run(store.fail, "boom")
    assert {t for _, t in store.seen} == {threading.get_ident()}
    assert calls.failed == 1 and "Store.fail failed" in caplog.text
    assert calls.threads() == 0
    await calls.close()
    monkeypatch.delenv(ENV)
    assert not StoreCalls().inline
