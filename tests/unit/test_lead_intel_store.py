"""Lead intelligence in the campaign store (issue 19), on SQLite and PostgreSQL: SLA deadlines
go first, a withdrawn lead is never claimed (one being dialled ends at its settle), the model's
rank orders only legal leads, a CSV re-import upserts, and the pickup model is persisted."""

from __future__ import annotations

from typing import Any

import pytest

from dialer.campaign.lead_model import MIN_ATTEMPTS, CampaignModel
from dialer.campaign.lead_updates import FieldError, LeadUpdate, parse_patch, split_row
from dialer.campaign.leads_csv import parse_leads
from dialer.campaign.model import CampaignSpec, Lead, Limits, Outcome, campaign_from_toml
from dialer.campaign.store import CampaignStore
from dialer.campaign.store.intel import LeadIntelStore
from dialer.campaign.store.types import AttemptResult
from dialer.db import applied_versions

NOON = 1_700_000_000.0 + 6.5 * 3600  # a weekday, inside 09:00-21:00 in Asia/Kolkata
PHONES = [f"+9198123456{i:02d}" for i in range(6)]


def _store(url: str, **spec: object) -> tuple[CampaignStore, LeadIntelStore]:
    store = CampaignStore(url)
    store.create_campaign(CampaignSpec("c1", **spec), NOON)  # type: ignore[arg-type]
    store.add_leads("c1", [Lead(p) for p in PHONES[:4]], NOON)
    return store, LeadIntelStore(store._database)


def _claimed(store: CampaignStore, now: float = NOON) -> list[str]:
    out = []
    while (claim := store.claim_next("c1", now)) is not None:
        out.append(claim.phone)
    return out


def test_deadlines_due_soon_go_first_then_priority(store_url: str) -> None:
    store, intel = _store(store_url)
    try:
        with store._database.connection() as conn:
            assert applied_versions(conn, "leads") == {1}
        intel.patch("c1", PHONES[0], LeadUpdate(priority=5), NOON)
        intel.patch("c1", PHONES[3], LeadUpdate(call_by=NOON + 600), NOON)  # due soon
        intel.patch("c1", PHONES[2], LeadUpdate(call_by=NOON + 300), NOON)  # sooner
        intel.patch("c1", PHONES[1], LeadUpdate(call_by=NOON + 86_400), NOON)  # can wait
        assert _claimed(store) == [PHONES[2], PHONES[3], PHONES[0], PHONES[1]]
    finally:
        store.close()


def test_a_far_deadline_goes_first_once_the_refresh_finds_it_due_soon(store_url: str) -> None:
    store, intel = _store(store_url)
    try:
        intel.patch("c1", PHONES[3], LeadUpdate(call_by=NOON + 3000), NOON)
        assert intel.next_leads("c1", NOON, 1)[0].phone == PHONES[0]
        intel.refresh("c1", NOON + 2400, None)
        assert _claimed(store, NOON + 2400)[0] == PHONES[3]
    finally:
        store.close()


def test_withdrawn_leads_are_never_claimed(store_url: str) -> None:
    store, intel = _store(store_url)
    try:
        first = store.claim_next("c1", NOON)
        assert first is not None and first.phone == PHONES[0]
        assert intel.withdraw("c1", PHONES[0]) == "dialing"  # finishes its call
        assert intel.withdraw("c1", PHONES[1]) == "pending"
        assert intel.withdraw("c1", "+919999999999") is None
        store.finish_attempt(first.call_id, AttemptResult(Outcome.NO_ANSWER, "no_answer"), NOON)
        states = store.lead_states("c1")
        assert states[PHONES[0]] == states[PHONES[1]] == "done"  # a no-answer would retry
        assert _claimed(store, NOON + 86_400) == [PHONES[2], PHONES[3]]
        assert {r["phone"]: r["final_reason"] for r in store.leads("c1")}[PHONES[1]] == \
            "withdrawn"
    finally:
        store.close()


def test_rank_orders_only_legal_leads(store_url: str) -> None:
    store, intel = _store(store_url, limits=Limits(max_attempts=1))
    try:
        store.add_dnc([PHONES[3]], NOON)
        ranks = {PHONES[0]: 0.1, PHONES[1]: 0.3, PHONES[2]: 0.2, PHONES[3]: 0.9}
        assert intel.refresh("c1", NOON, lambda rows: [ranks[r.phone] for r in rows]) == 4
        # the best-ranked lead is on the do-not-call list: never chosen, whatever its score
        assert _claimed(store) == [PHONES[1], PHONES[2], PHONES[0]]
        assert store.lead_states("c1")[PHONES[3]] == "dnc"
    finally:
        store.close()


def test_csv_reimport_upserts_and_withdraws(store_url: str) -> None:
    store, intel = _store(store_url)
    try:
        text = ("phone,priority,call_by,withdraw,plan\n"
                f"{PHONES[0]},7,,,gold\n{PHONES[1]},0,,yes,\n{PHONES[4]},1,{NOON + 100:.0f},,\n")
        rows = [(lead, *split_row(dict(lead.custom), NOON)) for lead in parse_leads(text).leads]
        done = intel.upsert("c1", [(Lead(lead.phone, priority=lead.priority, custom=custom), u)
                                   for lead, custom, u in rows], NOON)
        assert (done.added, done.updated, done.withdrawn) == (1, 2, 1)
        leads = {r["phone"]: r for r in store.leads("c1")}
        assert leads[PHONES[0]]["priority"] == 7
        assert store.lead_states("c1")[PHONES[1]] == "done"
        assert _claimed(store)[:2] == [PHONES[4], PHONES[0]]  # the deadline, then priority 7
    finally:
        store.close()


def test_the_model_is_persisted_and_reloaded(store_url: str) -> None:
    store, intel = _store(store_url)
    try:
        spec = store.campaign("c1")
        model = CampaignModel.from_json(spec, intel.load_model("c1"))
        assert model.attempts == 0 and not model.active
        for i in range(MIN_ATTEMPTS):
            model.observe(i % 3, "Asia/Kolkata", {}, NOON + i, live=i % 2 == 0)
        intel.save_model("c1", model.model.to_json(), NOON)
        again = CampaignModel.from_json(spec, intel.load_model("c1"))
        assert again.attempts == MIN_ATTEMPTS and again.active
        assert again.model.to_json() == model.model.to_json()
        assert 0 < again.p_live(1, "", {}, NOON) < 1
    finally:
        store.close()


def test_bad_patches_name_their_field() -> None:
    cases: dict[str, dict[str, Any]] = {
             "priority": {"priority": "high"}, "call_by": {"call_by": NOON - 1},
             "callback_at": {"callback_at": "tomorrow"}, "colour": {"colour": "red"},
             "custom": {"custom": [1]}}
    for name, body in cases.items():
        with pytest.raises(FieldError) as caught:
            parse_patch(body, NOON)
        assert caught.value.field == name
    update = parse_patch({"call_by": "2023-11-15T12:00:00+05:30", "priority": 3}, NOON)
    assert (update.call_by, update.priority) == (1_700_029_800.0, 3)


def test_campaign_settings_for_lead_order_round_trip(store_url: str) -> None:
    spec = campaign_from_toml('name = "c2"\nlead_order = "priority"\nsegment_fields = ["plan"]\n')
    store = CampaignStore(store_url)
    try:
        store.create_campaign(spec, NOON)
        back = store.campaign("c2")
        assert (back.lead_order, back.segment_fields) == ("priority", ("plan",))
    finally:
        store.close()


def test_a_first_import_keeps_its_deadlines_apart(store_url: str) -> None:
    text = (f"phone,call_by,plan\n{PHONES[4]},,gold\n{PHONES[5]},{NOON + 200:.0f},silver\n"
            "+919812345699,next week,\n")
    parsed = parse_leads(text)
    assert [e.reason for e in parsed.errors] == [
        "call_by: not an epoch or ISO 8601 time: 'next week'"]
    store, intel = _store(store_url)
    try:
        store.add_leads("c1", parsed.leads, NOON)
        row = intel.next_leads("c1", NOON, 1, PHONES[5])[0]
        assert (row.deadline, row.custom) == (NOON + 200, {"plan": "silver"})
        assert _claimed(store)[0] == PHONES[5]  # imported last, its deadline is due soon
    finally:
        store.close()
