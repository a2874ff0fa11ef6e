"""The campaign store's claims and settles with few statements (issue 17, bench/store_load.py):
the campaign's settings parsed once per stored text, and a change by any dialer applied at the
next claim; today's attempts counted for each lead's own local day; a claim and a settle send a
handful of statements (PostgreSQL: two round trips each). On SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from dialer.campaign.model import CallingWindow, CampaignSpec, Lead, Limits, Outcome
from dialer.campaign.store import AttemptResult, CampaignStore, Lease, campaigns
from dialer.db import Connection

NOON = datetime(2026, 11, 21, 12, 0, tzinfo=ZoneInfo("Asia/Kolkata")).timestamp()
BUSY = AttemptResult(Outcome.BUSY, "busy")


def spec(**kwargs: Any) -> CampaignSpec:
    settings: dict[str, Any] = {
        "limits": Limits(max_attempts=5, max_attempts_per_day=3),
        "retry": {"busy": 1.0},
    }
    settings.update(kwargs)
    return CampaignSpec("c1", **settings)


def test_settings_parsed_once_and_a_change_by_another_dialer_applies_at_once(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    parsed: list[str] = []
    real = campaigns.campaign_from_dict

    def counting(data: Any) -> CampaignSpec:
        parsed.append(data["name"])
        return real(data)

    monkeypatch.setattr(campaigns, "campaign_from_dict", counting)
    campaigns._parsed.cache_clear()
    store, other = CampaignStore(store_url), CampaignStore(store_url)
    try:
        store.create_campaign(spec(), NOON)
        store.add_leads("c1", [Lead(f"98000000{i:02d}") for i in range(4)], NOON)
        for _ in range(3):
            claim = store.claim_next("c1", NOON)
            assert claim is not None
            store.finish_attempt(claim.call_id, BUSY, NOON)
        assert parsed == ["c1"]  # three claims and three settles: parsed once

        # another dialer narrows the window to 14:00-20:00: this store's next claim obeys it
        other.create_campaign(spec(window=CallingWindow(time(14), time(20))), NOON)
        assert store.claim_next("c1", NOON) is None
        opens = datetime(2026, 11, 21, 14, 0, tzinfo=ZoneInfo("Asia/Kolkata")).timestamp()
        untried = [lead["due_at"] for lead in store.leads("c1") if lead["attempts"] == 0]
        assert untried == [opens]  # the one lead due was moved to the window's opening
        assert parsed == ["c1", "c1"]

        # changed back through this store: the retried leads are dialled at noon again
        store.create_campaign(spec(), NOON)
        assert store.claim_next("c1", NOON + 2) is not None
    finally:
        store.close()
        other.close()


def test_todays_attempts_counted_on_each_leads_own_local_day(store_url: str) -> None:
    """The campaign's zone (UTC+14) and the lead's (UTC-11) are on different dates: the lead's
    daily limit counts its attempts on its own day, whichever zone the previous claim saw."""
    at = datetime(2026, 11, 21, 6, 30, tzinfo=ZoneInfo("UTC")).timestamp()  # both 19:30-20:30
    store = CampaignStore(store_url)
    try:
        store.create_campaign(
            spec(
                timezone="Pacific/Kiritimati",
                limits=Limits(max_attempts=5, max_attempts_per_day=1),
            ),
            at,
        )
        store.add_leads(
            "c1",
            [
                Lead("9800000001", timezone="Pacific/Pago_Pago", priority=10),
                Lead("9800000002"),
            ],
            at,
        )
        first = store.claim_next("c1", at)
        assert first is not None and first.lead_id == 1
        store.finish_attempt(first.call_id, BUSY, at)  # due again in 1 s
        second = store.claim_next("c1", at + 0.5)  # the campaign's zone, the other date
        assert second is not None and second.lead_id == 2
        store.finish_attempt(second.call_id, AttemptResult(Outcome.COMPLETED, "sale"), at)
        assert store.claim_next("c1", at + 2) is None  # one attempt today on its own day
        lead = next(r for r in store.leads("c1") if r["id"] == 1)
        tomorrow_9 = datetime(2026, 11, 21, 9, 0, tzinfo=ZoneInfo("Pacific/Pago_Pago"))
        assert lead["state"] == "pending" and lead["due_at"] == tomorrow_9.timestamp()
        assert lead["attempts"] == 1
    finally:
        store.close()


def test_a_claim_and_a_settle_send_a_handful_of_statements(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Claim: BEGIN, the settings, the due lead (with today's attempts and its do-not-call
    flag), the member check, the writes as one statement on PostgreSQL, COMMIT; settle: BEGIN,
    the attempt with its lead and settings, the writes, COMMIT. It was 9 and 10 before."""
    store = CampaignStore(store_url)
    try:
        store.create_campaign(spec(), NOON)
        store.add_leads("c1", [Lead("9800000001"), Lead("9800000002")], NOON)
        store.add_dnc(["9800000003"], NOON)
        store.join("c1", Lease.here(owner="d1"), NOON)
        warm = store.claim_next("c1", NOON, owner="d1")  # the campaign's zone seen once
        assert warm is not None
        store.finish_attempt(warm.call_id, BUSY, NOON)
        sent: list[str] = []
        real = Connection.execute

        def counting(self: Connection, sql: str, params: Any = ()) -> Any:
            sent.append(sql)
            return real(self, sql, params)

        monkeypatch.setattr(Connection, "execute", counting)
        claim = store.claim_next("c1", NOON, owner="d1")
        assert claim is not None
        claimed = len(sent)
        store.finish_attempt(claim.call_id, BUSY, NOON)
        settled = len(sent) - claimed
        writes = 1 if store.dialect == "postgresql" else 2  # the attempt and the lead
        assert claimed == 5 + writes, sent
        assert settled == 3 + (1 if store.dialect == "postgresql" else 3), sent
    finally:
        store.close()
