"""Typed progress events: one class per kind, the flow's notifications all typed, the pool
change an explicit command, the greeting waits fed by types."""

from __future__ import annotations

import ast
import asyncio
import inspect
from pathlib import Path

import pytest
from test_dialer_flow import AGENT, CUST, act, lc

import dialer.progress as progress
from dialer.flows import (
    AgentOffered,
    AgentOnCall,
    CallFlow,
    FlowSettings,
    LegCreated,
    Notify,
    PlaceCall,
    Transfer,
)
from dialer.greeting_waits import GreetingWaits
from dialer.progress import (
    KINDS,
    BotConnected,
    Ended,
    ProgressEvent,
    Queued,
    TransferForecast,
    UnknownProgressKind,
    from_notification,
)

CLASSES = [c for _, c in inspect.getmembers(progress, inspect.isclass)
           if issubclass(c, ProgressEvent) and c is not ProgressEvent]

DETAILS = {"placed": "+911", "live": "amd_human", "bot_connected": "greeting",
           "escalated": "dtmf", "queued": "sales,hindi", "agent_reserved": "a1",
           "agent_ringing": "a1", "agent_answered": "a1", "bridged": "a1",
           "escalation_failed": "no_agent:skill", "bot_reentries_exhausted": "1",
           "bot_failed": "adapter_error:on_audio", "hangup_requested": "entered:42",
           "ended": "no_answer", "agent_freed": "a1", "transfer_forecast": "20 0.8"}


def test_one_class_per_kind() -> None:
    kinds = [c.kind for c in CLASSES]
    assert len(kinds) == len(set(kinds)) == len(KINDS) and set(kinds) == KINDS
    for cls in CLASSES:
        assert cls.__dataclass_params__.frozen and hasattr(cls, "__slots__")  # type: ignore[attr-defined]


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_kind_round_trips(kind: str) -> None:
    detail = DETAILS.get(kind, "")
    ev = from_notification(kind, "c1", detail, 5.0)
    assert (type(ev).kind, ev.kind, ev.call_id, ev.at, ev.detail) == (kind, kind, "c1", 5.0, detail)


def test_typed_fields() -> None:
    assert from_notification("transfer_forecast", "c1", "20 0.8") == TransferForecast(
        "c1", 0.0, 20.0, 0.8)
    assert from_notification("queued", "c1", "sales,hindi") == Queued("c1", 0.0, ("sales", "hindi"))
    assert from_notification("bot_connected", "c1", "") == BotConnected("c1", 0.0, False)
    assert TransferForecast("c1", 0.0, 0.0, 0.0).detail == "0 0"  # a withdrawn forecast


def test_unknown_kind_and_bad_detail_are_refused() -> None:
    with pytest.raises(UnknownProgressKind, match="no progress event of kind 'nope'"):
        from_notification("nope", "c1")
    with pytest.raises(ValueError):
        from_notification("transfer_forecast", "c1", "soon")


def test_every_kind_the_flow_notifies_is_typed() -> None:
    """Every Notify("...") literal in the flow's modules names a progress class."""
    from dialer.flows.outcome import REENTRIES_EXHAUSTED

    seen = {REENTRIES_EXHAUSTED}
    for path in Path("dialer/flows").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and getattr(node.func, "id", "") == "Notify"
                    and node.args and isinstance(node.args[0], ast.Constant)):
                seen.add(str(node.args[0].value))
    assert len(seen) >= 16 and seen <= KINDS


def test_the_agent_answering_is_an_explicit_pool_command() -> None:
    flow = CallFlow("c1", "+911", settings=FlowSettings(greeting_text="Hi"))
    flow.handle(PlaceCall(), 0.0)
    flow.handle(LegCreated("customer", CUST), 0.1)
    flow.handle(lc("leg_answered"), 0.2)
    flow.handle(act("stream_started"), 0.3)
    flow.handle(Transfer("dtmf"), 1.0)
    flow.handle(AgentOffered("a1", "+9199"), 1.1)
    flow.handle(LegCreated("agent", AGENT, "a1"), 1.2)
    out = flow.handle(lc("leg_answered", AGENT), 2.0)
    assert AgentOnCall("a1") in out and Notify("agent_answered", "a1") in out
    assert out.index(AgentOnCall("a1")) == out.index(Notify("agent_answered", "a1")) + 1


async def test_greeting_waits_take_typed_events() -> None:
    waits = GreetingWaits()
    waiter = asyncio.ensure_future(waits.wait("c1", limit=5.0))
    await asyncio.sleep(0)
    waits(from_notification("bot_audio_ok", "c1"))
    assert await waiter and waits.released("c1")
    waits(Ended("c1", 0.0, "bot_completed"))
    assert not waits.released("c1")
