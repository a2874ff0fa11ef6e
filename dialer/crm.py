"""Push call records to a CRM webhook: HMAC-signed, retried with backoff, never lost.

Records reach the CRM through the store's outbox (:class:`~dialer.records.RecordStore`): the
record and its outbox row are written together, and :class:`CrmPusher` delivers due rows.
A restart simply finds the pending rows again. Run :meth:`CrmPusher.run` as one task of the
dialer; call :meth:`CrmPusher.wake` after queueing so it does not wait for its poll interval.

Each POST carries the record JSON as the body and::

    X-Voxgate-Timestamp: <unix seconds>
    X-Voxgate-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>

A 2xx marks the row delivered; anything else (or a connection error) retries after
``base * 2**attempts`` seconds (capped at ``max_backoff``, 5 minutes, with jitter) for as long as
the row is younger than ``max_age`` (24 hours: a CRM outage of a day loses nothing), then the
row is ``dead`` (counted, logged, kept; :meth:`RecordStore.requeue_dead
<dialer.records.RecordStore.requeue_dead>` queues the dead rows again).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import random
import time
from dataclasses import dataclass

import aiohttp

from dialer.records import RecordStore
from dialer.store_calls import StoreCalls
from voxgate_shared.redact import redact_text

log = logging.getLogger(__name__)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Voxgate-Signature`` value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    """What a CRM does to check a push (constant-time compare)."""
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


@dataclass(slots=True)
class CrmStats:
    delivered: int = 0
    failed_attempts: int = 0
    dead: int = 0


class CrmPusher:
    """Delivers the outbox of ``store`` to ``url``."""

    def __init__(
        self,
        store: RecordStore,
        url: str,
        secret: str,
        *,
        timeout: float = 5.0,
        base_backoff: float = 1.0,
        max_backoff: float = 300.0,
        max_age: float = 86_400.0,
        max_attempts: int | None = None,
        poll_interval: float = 1.0,
        calls: StoreCalls | None = None,
    ) -> None:
        if not url:
            raise ValueError("CrmPusher needs a URL")
        self.store = store
        self.calls = calls or StoreCalls()  # the outbox's reads and writes, off the loop
        self.url = url
        self._secret = secret
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._base = base_backoff
        self._max_backoff = max_backoff
        self._max_age = max_age
        self._max_attempts = max_attempts
        self._poll = poll_interval
        self._wake = asyncio.Event()
        self.stats = CrmStats()

    def wake(self) -> None:
        """New rows are queued: deliver now rather than at the next poll."""
        self._wake.set()

    async def run(self) -> None:
        """Deliver due rows until cancelled."""
        async with aiohttp.ClientSession(timeout=self._timeout) as session:
            while True:
                await self.push_due(session)
                nxt = await self.calls.run(self.store.next_push_at)
                wait = self._poll if nxt is None else min(self._poll, max(0.0, nxt - time.time()))
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=max(wait, 0.01))
                except TimeoutError:
                    pass

    async def push_due(self, session: aiohttp.ClientSession) -> int:
        """One pass over the due rows; returns how many were delivered."""
        delivered = 0
        due = await self.calls.run(self.store.due_pushes, time.time())
        for row_id, call_id, body, attempts, queued_at in due:
            error = await self._post(session, body.encode())
            if not error:
                await self.calls.run(self.store.push_done, row_id)
                self.stats.delivered += 1
                delivered += 1
                continue
            self.stats.failed_attempts += 1
            delay = min(self._max_backoff, self._base * (2 ** min(attempts, 30)))
            delay = delay / 2 + random.uniform(0, delay / 2)
            now = time.time()
            give_up = (0 < queued_at <= now - self._max_age) or (
                self._max_attempts is not None and attempts + 1 >= self._max_attempts
            )
            await self.calls.run(self.store.push_failed, row_id, error, now + delay, give_up)
            if give_up:
                self.stats.dead += 1
                log.error("CRM push of call %s given up after %d attempts over %.0f s: %s",
                          call_id, attempts + 1, now - queued_at if queued_at else 0, error)
            else:
                log.warning("CRM push of call %s failed (%s); retry in %.1fs",
                            call_id, error, delay)
        return delivered

    async def _post(self, session: aiohttp.ClientSession, body: bytes) -> str:
        ts = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "X-Voxgate-Timestamp": ts,
            "X-Voxgate-Signature": sign(self._secret, ts, body),
        }
        try:
            async with session.post(self.url, data=body, headers=headers) as resp:
                if 200 <= resp.status < 300:
                    return ""
                return f"HTTP {resp.status}"
        except (aiohttp.ClientError, TimeoutError) as exc:
            # kept in the database and logged: an invalid URL's error quotes it, credentials too
            return redact_text(f"{type(exc).__name__}: {exc}")
