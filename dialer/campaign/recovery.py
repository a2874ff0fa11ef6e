"""The attempts a killed run left ``dialing``, settled when a run starts: from the dialer's call
record where the call has one (the restart reconcile has stored the calls that run left, from
Exotel's data), else as ``interrupted`` (:meth:`CampaignStore.recover`: counted, retried as a
new attempt). Never dialled again as the same attempt."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Protocol

from dialer.campaign.outcomes import attempt_result
from dialer.campaign.store import AttemptResult, CampaignStoreProtocol

if TYPE_CHECKING:
    from dialer.records import CallRecord
    from dialer.store_calls import StoreCalls

log = logging.getLogger("dialer.campaign.runner")

__all__ = ["recover", "recover_now"]


class Records(Protocol):
    def get(self, call_id: str) -> CallRecord | None: ...


def recover_now(store: CampaignStoreProtocol, records: Records, campaign: str,
                wall: float) -> None:
    """Settle them now, on this thread."""
    def lookup(call_id: str) -> AttemptResult | None:
        record = records.get(call_id)
        return attempt_result(record) if record is not None else None

    _log(campaign, *store.recover(campaign, wall, lookup))


async def recover(calls: StoreCalls, store: CampaignStoreProtocol, records: Records,
                  campaign: str, wall: float) -> None:
    """Settle them on the stores' workers: the records of the attempts left ``dialing`` are read
    first (on the records store's worker), then the attempts settled."""
    left = await calls.run(store.in_flight, campaign)
    if not left:
        return
    found = {call_id: await calls.run(records.get, call_id) for call_id in left}
    results = {c: attempt_result(r) for c, r in found.items() if r is not None}
    _log(campaign, *await calls.run(store.recover, campaign, wall, results.get))


def _log(campaign: str, found: int, lost: int) -> None:
    if found or lost:
        log.warning("campaign %s: settled %d unfinished attempts from call records, %d as "
                    "interrupted", campaign, found, lost)
