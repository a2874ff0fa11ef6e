"""The dialer's ``/readyz``: ready when it is not stopping, its record store answers, its event
intake is bound and Exotel is reachable.

Exotel's reachability is a cheap probe, cached (:class:`ExotelProbe`): ``GET /legs/<no such
leg>`` with the account's credentials. Any answer but 401/403 (credentials refused) or 5xx
counts as reachable (a 404 is the expected one); no answer within ``timeout`` does not. A
probe is sent at most once per ``ttl`` seconds however often ``/readyz`` is asked, and asks
that arrive while one is out share it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import aiohttp

from dialer.exotel_client import accounts_base

log = logging.getLogger(__name__)

PROBE_LEG = "voxgate-readyz-probe"


class ExotelProbe:
    """Is Exotel (or the emulator in its role) answering at ``api_base``? See the module
    docstring."""

    def __init__(self, api_base: str, account_sid: str, api_key: str, api_token: str, *,
                 ttl: float = 15.0, timeout: float = 3.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.url = f"{accounts_base(api_base, account_sid)}/legs/{PROBE_LEG}"
        self._headers = {"Authorization": aiohttp.encode_basic_auth(api_key, api_token)}
        self.ttl, self.timeout, self._clock = ttl, timeout, clock
        self._checked_at: float | None = None
        self._reason: str | None = None
        self._inflight: asyncio.Task[str | None] | None = None
        self.probes = 0  # requests sent (for tests and the curious)

    async def check(self) -> str | None:
        """None when reachable, else why not (cached for ``ttl`` s)."""
        now = self._clock()
        if self._checked_at is not None and now - self._checked_at < self.ttl:
            return self._reason
        if self._inflight is None:
            self._inflight = asyncio.ensure_future(self._probe())
        task = self._inflight
        try:
            reason = await asyncio.shield(task)
        finally:
            if task.done() and self._inflight is task:
                self._inflight = None
        return reason

    async def _probe(self) -> str | None:
        self.probes += 1
        reason: str | None
        try:
            async with aiohttp.ClientSession(
                headers=self._headers, timeout=aiohttp.ClientTimeout(total=self.timeout)
            ) as session, session.get(self.url) as resp:
                status = resp.status
            if status in (401, 403):
                reason = f"Exotel refused the credentials (HTTP {status})"
            elif status >= 500:
                reason = f"Exotel answered HTTP {status}"
            else:
                reason = None
        except TimeoutError:
            reason = f"Exotel unreachable: no answer in {self.timeout:g} s"
        except aiohttp.ClientError as exc:
            reason = f"Exotel unreachable: {type(exc).__name__}"
        if reason is not None and reason != self._reason:
            log.warning("readiness: %s", reason)
        self._checked_at, self._reason = self._clock(), reason
        return reason


def local_reason(dialer: object) -> str | None:
    """What keeps ``dialer`` (a :class:`dialer.service.Dialer`) from being ready, short of
    Exotel: stopping, its store closed, its intake not bound; None when nothing does."""
    if getattr(dialer, "stopping", False):
        return "stopping: no new calls"
    store = getattr(dialer, "store", None)
    if store is not None and not store.is_open():
        return "record store closed"
    server = getattr(dialer, "intake_server", None)
    if server is not None and getattr(server, "_runner", None) is None \
            and getattr(server, "_server", None) is None:
        return "event intake not bound"
    return None
