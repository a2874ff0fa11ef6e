"""The agent desk's dispositions in the campaign database, on SQLite and PostgreSQL (issue 18),
and the campaign file's disposition codes."""

from __future__ import annotations

import pytest

from dialer.campaign.model import (
    DEFAULT_DISPOSITIONS,
    CampaignError,
    CampaignSpec,
    Lead,
    Outcome,
    campaign_from_toml,
)
from dialer.campaign.store import CampaignStore
from dialer.campaign.store.desk import DeskDispositions
from dialer.campaign.store.types import AttemptResult
from dialer.db import applied_versions, open_db
from dialer.db.cli import plans
from dialer.db.copy import copy_database

NOON = 1_700_000_000.0 + 6.5 * 3600  # a weekday, inside 09:00-21:00 in Asia/Kolkata


def test_a_disposition_is_stored_with_its_agent_and_notes(store_url: str) -> None:
    store = CampaignStore(store_url)
    try:
        store.create_campaign(CampaignSpec("c1", dispositions=("sale", "no_sale")), NOON)
        store.add_leads("c1", [Lead("+919812345678", name="Asha")], NOON)
        claim = store.claim_next("c1", NOON)
        assert claim is not None
        with store._database.connection() as conn:  # the store's open applied the desk's
            assert applied_versions(conn, "desk") == {1}
        desk = DeskDispositions(store._database)
        assert desk.get(claim.call_id) is None
        desk.save(claim.call_id, "a1", "no_sale", "asked to call later", NOON + 60)
        # the call settles after the agent's disposition: both stay
        store.finish_attempt(claim.call_id, AttemptResult(Outcome.COMPLETED,
                                                          disposition="completed"), NOON + 61)
        row = desk.get(claim.call_id)
        assert row is not None
        assert (row.campaign, row.lead_id, row.agent_id, row.code, row.notes) == (
            "c1", claim.lead_id, "a1", "no_sale", "asked to call later")
        desk.save(claim.call_id, "a1", "sale", "", NOON + 70)  # changed: replaced
        again = DeskDispositions(store._database).get(claim.call_id)
        assert again is not None and (again.code, again.notes, again.at) == ("sale", "", NOON + 70)
        with pytest.raises(CampaignError, match="no campaign attempt"):
            desk.save("nope", "a1", "sale", "", NOON)
    finally:
        store.close()


def test_the_campaign_file_names_its_codes() -> None:
    spec = campaign_from_toml('name = "c"\ndispositions = ["sale", "callback"]\n')
    assert spec.dispositions == ("sale", "callback")
    assert campaign_from_toml('name = "c"\n').dispositions == DEFAULT_DISPOSITIONS
    for bad in ('[]', '["a b"]', '["x", "x"]', '"sale"'):
        with pytest.raises(CampaignError, match="dispositions"):
            campaign_from_toml(f'name = "c"\ndispositions = {bad}\n')


def test_the_store_keeps_a_campaigns_codes(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = CampaignStore(str(tmp_path / "c.db"))
    try:
        store.create_campaign(CampaignSpec("c1", dispositions=("sale", "no_sale")), NOON)
        store.create_campaign(CampaignSpec("c2"), NOON)
        assert store.campaign("c1").dispositions == ("sale", "no_sale")
        assert store.campaign("c2").dispositions == DEFAULT_DISPOSITIONS
    finally:
        store.close()


def test_db_copy_takes_the_desks_dispositions(tmp_path, store_url: str) -> None:  # type: ignore[no-untyped-def]
    src = str(tmp_path / "src.db")
    store = CampaignStore(src)
    try:
        store.create_campaign(CampaignSpec("c1"), NOON)
        store.add_leads("c1", [Lead("+919812345678")], NOON)
        claim = store.claim_next("c1", NOON)
        assert claim is not None
        DeskDispositions(store._database).save(claim.call_id, "a1", "sale", "ok", NOON)
    finally:
        store.close()
    source, target = open_db(src, read_only=True), open_db(store_url)
    try:
        copied = dict(copy_database(source, target, plans()))
    finally:
        source.close()
        target.close()
    assert copied["agent_dispositions"] == 1
    copy = CampaignStore(store_url)
    try:
        row = DeskDispositions(copy._database).get(claim.call_id)
        assert row is not None and (row.agent_id, row.code, row.notes) == ("a1", "sale", "ok")
    finally:
        copy.close()
