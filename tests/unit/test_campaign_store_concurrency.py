"""Several dialers claiming from one campaign on PostgreSQL: row locks that skip what another
holds (``FOR UPDATE SKIP LOCKED``), so no lead is claimed twice and no claim waits on another."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

import psycopg
import pytest
from pg_server import PgServer

from dialer.campaign.model import CampaignSpec, Lead, Limits, Outcome
from dialer.campaign.store import AttemptResult, CampaignStore

NOON = datetime(2026, 11, 21, 12, 0, tzinfo=ZoneInfo("Asia/Kolkata")).timestamp()


@pytest.fixture
def pg_url(pg_server: PgServer) -> str:
    return pg_server.fresh_url()


def seeded(url: str, leads: int, max_attempts: int = 1) -> CampaignStore:
    store = CampaignStore(url)
    store.create_campaign(
        CampaignSpec("c1", limits=Limits(max_attempts=max_attempts, max_attempts_per_day=1)),
        NOON,
    )
    store.add_leads("c1", [Lead(f"98000{i:05d}") for i in range(leads)], NOON)
    return store


def test_four_dialers_claiming_at_once_claim_every_lead_exactly_once(pg_url: str) -> None:
    seeded(pg_url, 200).close()
    stores = [CampaignStore(pg_url) for _ in range(4)]
    claimed: list[list[int]] = [[] for _ in stores]
    errors: list[BaseException] = []
    start = threading.Barrier(len(stores))

    def dial(i: int) -> None:
        try:
            start.wait()
            while (claim := stores[i].claim_next("c1", NOON, batch=5)) is not None:
                claimed[i].append(claim.lead_id)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=dial, args=(i,)) for i in range(len(stores))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    counts = Counter(lead for mine in claimed for lead in mine)
    assert len(counts) == 200 and set(counts.values()) == {1}  # every lead, exactly once
    attempts = stores[0].attempts("c1")
    assert len(attempts) == 200 and len({a["lead_id"] for a in attempts}) == 200
    assert set(stores[0].lead_states("c1").values()) == {"dialing"}
    for store in stores:
        store.close()


def test_a_claim_skips_the_lead_another_dialer_holds_instead_of_waiting(pg_url: str) -> None:
    seeded(pg_url, 2).close()
    # a claim that waited for a lock would fail after 5 s here instead of hanging the test
    other = CampaignStore(f"{pg_url}?options=-c%20lock_timeout%3D5000")
    first_id = min(int(x["id"]) for x in other.leads("c1"))
    with psycopg.connect(pg_url) as held:  # another dialer, mid-claim on the first lead
        held.execute("SELECT id FROM leads WHERE id = %s FOR UPDATE", (first_id,))
        claim = other.claim_next("c1", NOON)
        assert claim is not None and claim.lead_id != first_id
        assert other.claim_next("c1", NOON) is None  # the held lead is skipped, not waited for
    again = other.claim_next("c1", NOON)  # released: now it is claimed
    assert again is not None and again.lead_id == first_id
    other.close()


def test_the_compliance_checks_hold_across_dialers(
    new_store_url: Callable[[], str],
) -> None:
    """The attempt limit is read in the claim's transaction, with the lead locked: a lead
    settled by one dialer and claimed by another is never dialled past its limit."""
    url = new_store_url()
    a = seeded(url, 1, max_attempts=2)
    b = CampaignStore(url)
    first = a.claim_next("c1", NOON)
    assert first is not None and b.claim_next("c1", NOON) is None  # in flight on a
    a.finish_attempt(first.call_id, AttemptResult(Outcome.BUSY, "busy"), NOON + 1)
    # retried after the busy delay; today's limit (1 a day) makes it wait for tomorrow
    assert b.claim_next("c1", NOON + 10_000) is None
    assert b.leads("c1")[0]["due_at"] > NOON + 10_000
    a.close()
    b.close()
