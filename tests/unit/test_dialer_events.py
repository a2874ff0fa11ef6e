"""Event parsing, de-duplication and per-leg reordering (pure)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dialer.errors import MalformedEvent
from dialer.events import BridgeLifecycle, LegAction, LegLifecycle, parse_event
from dialer.sequencer import EventSequencer


def body(
    name: str, sid: str, leg: str = "L1", etype: str = "", **event_data: Any
) -> dict[str, Any]:
    if not etype:
        etype = (
            "leg_lifecycle_event" if name.startswith("leg_") or name.startswith("amd")
            else "leg_action_event"
        )
    return {
        "event_sid": sid,
        "event_type": etype,
        "event_name": name,
        "event_timestamp": "2026-11-21T09:16:16.123Z",
        "action_sid": "",
        "action_custom_parameter": "",
        "event_data": event_data,
        "data": {"leg_sid": leg, "account_sid": "AC1", "contact_uri": "+911", "custom_param": "c1"},
    }


def test_parses_leg_lifecycle() -> None:
    ev = parse_event(body("leg_terminated", "E1", terminal_status="busy"))
    assert isinstance(ev, LegLifecycle)
    assert (ev.leg_sid, ev.terminal, ev.terminal_status, ev.rank) == ("L1", True, "busy", 9)
    assert ev.data["custom_param"] == "c1"
    with pytest.raises(TypeError):
        ev.data["x"] = 1  # type: ignore[index]


def test_parses_action_and_recording_url() -> None:
    ev = parse_event(body("recording_available", "E2", url="http://r/1.wav"))
    assert isinstance(ev, LegAction) and ev.url == "http://r/1.wav"


def test_parses_bridge_event_and_bridge_action() -> None:
    b = body("bridge_created", "E3", etype="bridge_lifecycle_event")
    b["data"] = {"bridge_sid": "BR1", "leg_sids": ["L1", "L2"]}
    ev = parse_event(b)
    assert isinstance(ev, BridgeLifecycle) and ev.leg_sids == ("L1", "L2")
    rec = body("recording_available", "E4", url="http://r/2.wav")
    rec["data"] = {"bridge_sid": "BR1"}
    ev2 = parse_event(rec)
    assert isinstance(ev2, BridgeLifecycle) and ev2.url == "http://r/2.wav"


def test_amd_result() -> None:
    assert parse_event(body("amd_result_success", "E5", result="MACHINE")).amd_machine  # type: ignore[union-attr]
    assert not parse_event(body("amd_result_success", "E6", result="human")).amd_machine  # type: ignore[union-attr]


def test_numbers_become_strings() -> None:
    b = body("leg_ringing", "E7")
    b["event_timestamp"] = 1700000000
    assert parse_event(b).timestamp == "1700000000"


@pytest.mark.parametrize(
    "mutate",
    [
        lambda b: b.pop("event_sid"),
        lambda b: b.__setitem__("event_sid", ""),
        lambda b: b.__setitem__("event_type", "weird_event"),
        lambda b: b.__setitem__("event_name", ["x"]),
        lambda b: b.__setitem__("data", "nope"),
        lambda b: b.__setitem__("data", {}),
        lambda b: b.__setitem__("event_type", "bridge_lifecycle_event"),
    ],
)
def test_malformed_events(mutate: Any) -> None:
    b = body("leg_answered", "E8")
    mutate(b)
    with pytest.raises(MalformedEvent):
        parse_event(b)


def test_not_an_object() -> None:
    with pytest.raises(MalformedEvent):
        parse_event(["leg_answered"])


def test_bad_bridge_leg_list() -> None:
    b = body("bridge_created", "E9", etype="bridge_lifecycle_event")
    b["data"] = {"bridge_sid": "BR1", "leg_sids": "L1"}
    with pytest.raises(MalformedEvent):
        parse_event(b)


def ev(name: str, sid: str, leg: str = "L1") -> Any:
    return parse_event(body(name, sid, leg))


def test_duplicates_are_dropped() -> None:
    seq = EventSequencer()
    assert len(seq.accept(ev("leg_ringing", "E1"))) == 1
    assert seq.accept(ev("leg_ringing", "E1")) == []
    assert seq.stats.duplicates == 1


def test_stale_lifecycle_dropped_and_actions_held_until_answer() -> None:
    seq = EventSequencer()
    assert [e.name for e in seq.accept(ev("leg_ringing", "E1"))] == ["leg_ringing"]
    assert seq.accept(ev("stream_started", "E3")) == []  # overtook leg_answered
    out = seq.accept(ev("leg_answered", "E2"))
    assert [e.name for e in out] == ["leg_answered", "stream_started"]
    assert seq.accept(ev("leg_ringing", "E0")) == []  # late ringing is stale
    assert seq.stats.stale == 1 and seq.stats.held == 1


def test_after_terminal_only_recordings_pass() -> None:
    seq = EventSequencer()
    seq.accept(ev("leg_answered", "E1"))
    seq.accept(ev("leg_terminated", "E2"))
    assert seq.accept(ev("stream_started", "E3")) == []
    assert seq.accept(ev("leg_answered", "E4")) == []
    assert len(seq.accept(ev("recording_available", "E5"))) == 1
    assert seq.stats.after_terminal == 2


def test_held_actions_dropped_when_leg_ends() -> None:
    seq = EventSequencer(hold_limit=1)
    seq.accept(ev("leg_ringing", "E1"))
    seq.accept(ev("play_started", "E2"))
    assert seq.accept(ev("play_completed", "E3")) == []  # over the hold limit
    assert seq.stats.hold_overflow == 1
    assert [e.name for e in seq.accept(ev("leg_terminated", "E4"))] == ["leg_terminated"]
    assert seq.stats.after_terminal == 1


def test_memory_is_bounded() -> None:
    seq = EventSequencer(dedup_capacity=2, leg_capacity=2)
    for i in range(5):
        seq.accept(ev("leg_ringing", f"E{i}", f"L{i}"))
    # E0 was forgotten: accepted again (its leg was forgotten too)
    assert len(seq.accept(ev("leg_ringing", "E0", "L0"))) == 1
    seq.forget("L0")
    with pytest.raises(ValueError):
        EventSequencer(dedup_capacity=0)


def test_bridge_events_pass_once() -> None:
    seq = EventSequencer()
    b = body("bridge_terminal", "B1", etype="bridge_lifecycle_event")
    b["data"] = {"bridge_sid": "BR1"}
    e = parse_event(b)
    assert seq.accept(e) == [e] and seq.accept(e) == []


LIFECYCLE = ["leg_connecting", "leg_ringing", "leg_answered", "leg_terminated"]
ALL = [*LIFECYCLE, "stream_started", "play_completed"]


@settings(max_examples=200, deadline=None)
@given(st.permutations(ALL), st.integers(0, 2))
def test_any_arrival_order_gives_a_legal_sequence(order: list[str], dups: int) -> None:
    """Whatever order (and duplicates) Exotel delivers, the flow sees ranks that only grow,
    nothing after the terminal event, and no event twice."""
    seq = EventSequencer()
    sids = {name: f"E{i}" for i, name in enumerate(ALL)}
    out: list[Any] = []
    for name in order + order[:dups]:
        out.extend(seq.accept(ev(name, sids[name])))
    names = [e.name for e in out]
    assert len(names) == len(set(names))
    ranks = [e.rank for e in out if isinstance(e, LegLifecycle)]
    assert ranks == sorted(ranks)
    if "leg_terminated" in names:
        assert names[-1] == "leg_terminated"
    for action in ("stream_started", "play_completed"):
        if action in names:
            assert "leg_answered" in names[: names.index(action)] or (
                "leg_connecting" not in names[: names.index(action)]
                and "leg_ringing" not in names[: names.index(action)]
            )
