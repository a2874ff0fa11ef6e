"""The demo's world and summary (the run itself is exercised by `make demo`)."""

from __future__ import annotations

from dialer.records import CallRecord
from voxgate.demo_cli import KINDS, build_world, percentile, summary


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
