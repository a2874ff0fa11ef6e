"""The demo's world and summary (the run itself is exercised by `make demo`)."""

from __future__ import annotations

import pytest

from dialer.campaign.progress import CampaignSnapshot
from dialer.errors import ConfigError
from dialer.records import CallRecord
from voxgate.demo_cli import (
    KINDS,
    build_world,
    demo_campaign,
    parse_params,
    percentile,
    summary,
)


def test_world_is_seeded_and_mixed() -> None:
    a = build_world(40, 3, 1, seed=7)
    b = build_world(40, 3, 1, seed=7)
    assert a.kinds == b.kinds and len(a.numbers) == 40 == len(set(a.numbers))
    assert set(a.kinds) <= set(KINDS) and len(set(a.kinds)) >= 4
    assert [nailed for _, _, nailed in a.agents] == [True, False, False]
    assert set(a.sim.customers) == set(a.numbers)
    assert {n for _, n, _ in a.agents} == set(a.sim.agents)
    assert build_world(40, 3, 1, seed=8).kinds != a.kinds


def test_summary_counts_and_latencies() -> None:
    recs = [
        CallRecord("c1", "+1", "bot_first", disposition="agent_handled", answered=True,
                   escalated=True, bridged=True, agent_nailed=True, recording_url="http://r",
                   latencies={"answer_to_stream": 50.0, "escalation_to_bridge": 45.0}),
        CallRecord("c2", "+2", "bot_first", disposition="busy"),
    ]
    text = summary(recs, 12.0, "/tmp/x.db")
    assert "2 calls in 12.0s" in text and "agent_handled" in text and "busy" in text
    assert "answered 1, escalated 1, bridged 1 (nailed 1), abandoned 0, with recording 1" in text
    assert "escalation -> bridge" in text and "agent ring time" not in text
    assert percentile([1, 2, 3, 4, 100], 0.5) == 3 and percentile([5], 0.95) == 5


def test_world_leads_and_campaign_are_seeded() -> None:
    a = build_world(12, 2, 1, seed=3)
    b = build_world(12, 2, 1, seed=3)
    assert a.leads == b.leads and len(a.leads) == 12
    assert [lead.phone for lead in a.leads] == list(a.numbers)
    assert all(lead.name and lead.custom["plan"] for lead in a.leads)
    assert [lead.custom["kind"] for lead in a.leads] == list(a.kinds)
    spec = demo_campaign(a, "scripted", 8)
    assert spec.mode == "bot_first" and spec.pacer == "bot_first"
    assert spec.stream_params == ("name", "plan") and spec.limits.max_lines == 8
    assert spec.window.describe() == ("00:00", "24:00")  # the demo runs at any hour
    assert set(spec.retry) == {"busy", "no_answer"} and spec.limits.max_attempts == 2
    assert [(agent.id, agent.nailed) for agent in spec.agents] == [
        (agent_id, nailed) for agent_id, _, nailed in a.agents
    ]
    assert [agent.nailed for agent in spec.agents] == [True, False]


def test_summary_has_campaign_figures() -> None:
    snap = CampaignSnapshot("demo", "running", 60.0, leads=30, done=30, pending=0,
                            in_flight=0, attempts=36, answered=22, escalated=8, bridged=7,
                            abandoned=1, abandon_rate_24h=1 / 22, abandon_rate_30d=1 / 22,
                            occupancy=0.4)
    text = summary([], 60.0, "/tmp/x.db", snap)
    assert "campaign demo: 30/30 leads done in 36 attempts" in text
    assert "abandoned 1 (abandonment 4.5% of live answers); agent occupancy 40%" in text


def test_call_params_parse_and_are_checked() -> None:
    assert parse_params(["plan=gold", "name=Asha Rao=1"]) == {"plan": "gold", "name": "Asha Rao=1"}
    with pytest.raises(ConfigError, match="NAME=VALUE"):
        parse_params(["plan"])
