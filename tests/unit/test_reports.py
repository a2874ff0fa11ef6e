"""The campaign and agent reports (dialer.reports) against figures computed by hand from call
records and attempt rows built for the test: three agents (one with no call), escalations, a
missed agent ring, an abandoned call, a machine, a call without a record, latencies."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from dialer.reports.agents import UNATTRIBUTED, agent_report, missed_rings, talk_seconds
from dialer.reports.campaign import campaign_report
from dialer.reports.model import percentile

ZONE = "Asia/Kolkata"


def at(hour: int, minute: int = 0) -> float:
    """A dial time: ``hour:minute`` today in :data:`ZONE`."""
    return datetime(2026, 12, 7, hour, minute, tzinfo=ZoneInfo(ZONE)).timestamp()


def record(call_id: str, bot: bool = False, **fields: Any) -> dict[str, Any]:
    """A call record's JSON; ``bot``: answered, and the bot's stream started."""
    base: dict[str, Any] = {"call_id": call_id, "number": "+919800000000", "mode": "bot_first"}
    if bot:
        base |= {"answered": True,
                 "timeline": [["dial", 0.0], ["answered", 2.0], ["stream_started", 2.4]]}
    record = base | fields
    # the timelines below are written in seconds; a record keeps ms since the dial
    record["timeline"] = [[n, t * 1000.0] for n, t in record.get("timeline", ())]
    return record


RECORDS = [
    # a1: escalated, the first agent leg answered, bridged 12.5 .. 72.5 (60 s talk)
    record("r1", bot=True, escalated=True, escalation_reason="dtmf", bridged=True,
           agent_id="a1", disposition="agent_handled", agent_duration_s=65.0,
           latencies={"answer_to_stream": 300.0, "escalation_to_bridge": 2500.0},
           timeline=[["dial", 0.0], ["answered", 2.0], ["stream_started", 2.3],
                     ["escalation_requested", 10.0], ["agent_dialled", 10.1],
                     ["agent_answered", 12.0], ["bridged", 12.5], ["bridge_ended", 72.5],
                     ["ended", 73.0]]),
    # a1: escalated, one agent leg not answered (a missed ring), the second bridged 27.2 .. 57.2
    record("r2", bot=True, escalated=True, escalation_reason="bot", bridged=True,
           agent_id="a1", disposition="customer_hangup", agent_duration_s=32.0,
           latencies={"answer_to_stream": 400.0, "escalation_to_bridge": 17200.0},
           timeline=[["dial", 0.0], ["answered", 2.0], ["stream_started", 2.4],
                     ["escalation_requested", 10.0], ["agent_dialled", 10.1],
                     ["agent_failed", 25.0], ["agent_dialled", 25.5], ["agent_answered", 27.0],
                     ["bridged", 27.2], ["customer_ended", 57.2], ["ended", 57.5]]),
    # a2: escalated, bridged 8 .. 28 (20 s)
    record("r3", bot=True, escalated=True, escalation_reason="dtmf", bridged=True,
           agent_id="a2", disposition="agent_handled", agent_duration_s=25.0,
           latencies={"answer_to_stream": 350.0, "escalation_to_bridge": 800.0},
           timeline=[["dial", 0.0], ["answered", 1.0], ["stream_started", 1.35],
                     ["escalation_requested", 7.2], ["agent_dialled", 7.3],
                     ["agent_answered", 7.9], ["bridged", 8.0], ["agent_ended", 28.0]]),
    # the bot finished it alone
    record("r4", bot=True, disposition="bot_completed", hangup_reason="entered:42",
           latencies={"answer_to_stream": 500.0, "escalation_to_bridge": None}),
    # abandoned: answered by a person, nobody (bot or agent) took it
    record("r5", answered=True, abandoned=True, disposition="abandoned",
           timeline=[["dial", 0.0], ["answered", 1.0], ["abandoned", 3.0]]),
    record("r6", answered=True, machine=True, disposition="machine"),
    record("r7", disposition="no_answer"),
]


def attempt(call_id: str, claimed_at: float, live: bool = False,
            abandoned: bool = False) -> dict[str, Any]:
    return {"call_id": call_id, "claimed_at": claimed_at, "live": int(live),
            "abandoned": int(abandoned), "outcome": ""}


ATTEMPTS = [
    attempt("r1", at(10, 5), live=True), attempt("r2", at(10, 20), live=True),
    attempt("r3", at(10, 59), live=True), attempt("r4", at(11, 0), live=True),
    attempt("r5", at(11, 30), live=True, abandoned=True), attempt("r6", at(11, 40)),
    attempt("r7", at(12, 0)), attempt("r8", at(12, 5)),  # r8: the dialer died, no record
]


def test_percentile_is_nearest_rank() -> None:
    assert percentile([], 50) is None
    assert percentile([800.0, 17200.0, 2500.0], 50) == 2500.0  # rank ceil(1.5) = 2
    assert percentile([800.0, 17200.0, 2500.0], 95) == 17200.0  # rank ceil(2.85) = 3
    assert percentile([300.0, 350.0, 400.0, 500.0], 50) == 350.0  # rank 2
    assert percentile([300.0, 350.0, 400.0, 500.0], 25) == 300.0  # rank 1


def test_campaign_funnel_rates_latencies_and_abandonment_by_hour() -> None:
    report = campaign_report("c", ZONE, ATTEMPTS, RECORDS)
    funnel = {row[0]: row[1] for row in report.table("funnel").rows}
    assert funnel == {
        "dialled": 8, "answered": 6, "live": 5, "bot_handled": 4, "escalated": 3, "bridged": 3,
        "disposition:abandoned": 1, "disposition:agent_handled": 2,
        "disposition:bot_completed": 1, "disposition:customer_hangup": 1,
        "disposition:machine": 1, "disposition:no_answer": 1, "no_record": 1,
    }
    rates = {row[0]: row[1:] for row in report.table("rates").rows}
    assert rates["answer_rate"] == (0.75, 6, 8)
    assert rates["bot_containment"] == (0.25, 1, 4)  # r4 of r1..r4
    assert rates["escalation_rate"] == (0.75, 3, 4)
    assert rates["bridge_rate"] == (1.0, 3, 3)
    assert rates["abandonment"] == (0.2, 1, 5)
    latencies = {row[0]: row[1:] for row in report.table("latencies").rows}
    assert latencies["escalation_to_bridge"] == (3, 2500.0, 17200.0, 17200.0)
    assert latencies["answer_to_stream"] == (4, 350.0, 500.0, 500.0)
    assert latencies["call_ms"] == (0, None, None, None)
    hours = report.table("abandonment_by_hour").rows
    assert hours == ((10, 3, 0, 0.0), (11, 2, 1, 0.5))  # local hours in Asia/Kolkata
    funnel_chart, hour_chart = report.charts
    assert funnel_chart.values == (8.0, 6.0, 5.0, 4.0, 3.0, 3.0)
    assert (hour_chart.labels, hour_chart.values) == (("10:00", "11:00"), (0.0, 50.0))


def test_rates_with_nothing_to_count_are_empty_not_zero() -> None:
    report = campaign_report("c", ZONE, [attempt("x", at(9))], [])
    rates = {row[0]: row[1] for row in report.table("rates").rows}
    assert rates == {"answer_rate": 0.0, "bot_containment": None, "escalation_rate": None,
                     "bridge_rate": None, "abandonment": None}


def test_talk_time_and_missed_rings_from_the_timeline() -> None:
    assert [talk_seconds(r) for r in RECORDS[:4]] == [60.0, 30.0, 20.0, 0.0]
    assert [missed_rings(r) for r in RECORDS[:3]] == [0, 1, 0]


def test_agent_report_every_figure() -> None:
    report = agent_report("c", RECORDS, agents=["a1", "a2", "a3"], wrap_up_s=10.0)
    table = report.table("agents")
    rows = {row["agent"]: row for row in table.dicts()}
    assert list(rows) == ["a1", "a2", "a3", UNATTRIBUTED]
    assert rows["a1"] == {
        "agent": "a1", "calls": 2, "talk_s": 90.0, "wrap_up_s": 20.0, "aht_s": 55.0,
        "agent_leg_s": 97.0, "missed_rings": 0, "escalations_taken": 2,
        "dispositions": "agent_handled=1;customer_hangup=1", "conversions": 1,
        "conversion_rate": 0.5, "wait_p50_ms": 2500.0, "wait_p95_ms": 17200.0,
    }
    assert rows["a2"] == {
        "agent": "a2", "calls": 1, "talk_s": 20.0, "wrap_up_s": 10.0, "aht_s": 30.0,
        "agent_leg_s": 25.0, "missed_rings": 0, "escalations_taken": 1,
        "dispositions": "agent_handled=1", "conversions": 1, "conversion_rate": 1.0,
        "wait_p50_ms": 800.0, "wait_p95_ms": 800.0,
    }
    assert rows["a3"] == {
        "agent": "a3", "calls": 0, "talk_s": 0.0, "wrap_up_s": 0.0, "aht_s": None,
        "agent_leg_s": 0.0, "missed_rings": 0, "escalations_taken": 0, "dispositions": "",
        "conversions": 0, "conversion_rate": None, "wait_p50_ms": None, "wait_p95_ms": None,
    }
    assert rows[UNATTRIBUTED]["missed_rings"] == 1
    assert any("no conversion dispositions" in note for note in table.notes)
    # a campaign's own conversion codes, when given
    given = agent_report("c", RECORDS, agents=["a1"], conversions=frozenset({"customer_hangup"}))
    a1 = given.table("agents").dicts()[0]
    assert (a1["conversions"], a1["conversion_rate"]) == (1, 0.5)
    assert report.charts[0].values == (1.5, 20 / 60, 0.0)  # talk minutes per agent
