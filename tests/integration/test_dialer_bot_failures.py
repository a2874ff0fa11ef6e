"""A failing bot reaches the dialer, end to end (emulator + gateway + dialer on loopback): the
customer gets the stream fallback (an agent, or the goodbye message) at once, and the failure
is on record (failure, escalation reason or disposition, timeline, progress, exports). Also a
bot's hang-up reason, kept in the record. Both control wirings (direct, HTTP control API)."""

from __future__ import annotations

import asyncio
import csv
import io
import time
from collections.abc import Mapping
from typing import Any

import pytest
from gateway_helpers import Crasher
from test_dialer_flows import HangupBot

from bot_adapters.contract import BotAdapter, CallControl
from dialer.config import DialerConfig
from dialer.records import CallRecord, csv_text
from dialer.service import CallRequest, ProgressEvent
from exotel_sim.config import AgentProfile, CustomerProfile, SimConfig
from gateway.config import GatewayConfig
from voxgate.wiring import LocalStack

CUSTOMER = "+919900000011"
AGENT = "+919800000011"


class Blocks(BotAdapter):
    """Holds the event loop for 0.8 s in ``on_start`` (a synchronous model call, say)."""

    def __init__(self, options: Mapping[str, str]) -> None:
        pass

    async def on_start(self, call: CallControl) -> None:
        time.sleep(0.8)  # noqa: ASYNC251 (the bug under test)


def cannot_build(options: Mapping[str, str]) -> BotAdapter:
    raise FileNotFoundError("model file missing")


ADAPTERS: dict[str, Any] = {
    "raises": Crasher, "blocks": Blocks, "unbuildable": cannot_build, "hangsup": HangupBot,
}


async def run_call(bot: str, *, control: str = "direct", agents: bool = True,
                   **dialer: Any) -> tuple[CallRecord, list[ProgressEvent], LocalStack]:
    customer = CustomerProfile(outcome="answer", ring_ms=(100, 100)).with_script(
        "pause 300", "say cust_hello", "wait 5000", "hangup")
    sim = SimConfig(
        rest_latency_ms=5, event_latency_ms=5, setup_ms=20, customers={CUSTOMER: customer},
        agents={AGENT: AgentProfile(answer_ms=300, talk_ms=800)},
    )  # fmt: skip
    gateway = GatewayConfig(port=0, adapter_deadline=0.5,
                            adapter_options={"raises": {"raise_in": "on_audio"}})
    events: list[ProgressEvent] = []
    async with LocalStack(
        DialerConfig(**dialer), sim_config=sim, gateway_config=gateway,
        control=control, adapters=ADAPTERS,  # type: ignore[arg-type]
    ) as st:  # fmt: skip
        st.dialer.subscribe(events.append)
        if agents:
            st.dialer.add_agent("a1", AGENT)
        handle = await st.dialer.place_call(CallRequest(CUSTOMER, bot=bot))
        async with asyncio.timeout(15):
            record = await handle.wait()
    return record, [e for e in events if e.call_id == record.call_id], st


def ms(record: CallRecord, name: str) -> float:
    return dict(record.timeline)[name]


@pytest.mark.slow(5)
@pytest.mark.parametrize("control", ["direct", "http"])
async def test_a_bot_that_raises_hands_the_customer_to_an_agent(control: str) -> None:
    record, events, st = await run_call("raises", control=control)
    assert (record.disposition, record.escalation_reason, record.failure) == (
        "agent_handled", "bot_failed", "adapter_error:on_audio"), record
    assert record.bridged and record.agent_id == "a1"
    # the agent is asked for the moment the bot fails: no wait for a stream timeout
    assert ms(record, "escalation_requested") - ms(record, "bot_failed") < 50
    assert ("bot_failed", "adapter_error:on_audio") in [(e.kind, e.detail) for e in events]
    assert st.dialer.stats.bot_failures == 1
    assert st.gateway is not None and st.gateway.metrics.bot_failures == {"adapter_error": 1}
    row = next(csv.DictReader(io.StringIO(csv_text([record]))))
    assert (row["failure"], row["escalation_reason"]) == ("adapter_error:on_audio", "bot_failed")


async def test_a_bot_that_raises_with_the_hangup_fallback_is_a_bot_failed_call() -> None:
    record, _, st = await run_call("raises", stream_fallback="hangup")
    assert (record.disposition, record.failure) == ("bot_failed", "adapter_error:on_audio")
    assert not record.escalated and "goodbye_completed" in dict(record.timeline)
    assert st.dialer.stats.dispositions == {"bot_failed": 1}  # /metrics, by disposition


@pytest.mark.slow(5)
async def test_a_bot_that_cannot_be_built_gets_the_fallback_without_a_second_stream() -> None:
    record, _, _ = await run_call("unbuildable", control="http")
    assert (record.disposition, record.failure) == ("agent_handled", "adapter_init:init")
    names = [name for name, _ in record.timeline]
    assert "stream_requested_2" not in names  # no retry of a bot that cannot start
    assert ms(record, "escalation_requested") - ms(record, "answered") < 1500


async def test_an_unknown_bot_gets_the_fallback_at_once() -> None:
    record, _, st = await run_call("no_such_bot", agents=False, stream_fallback="hangup")
    assert (record.disposition, record.failure) == ("bot_failed", "adapter_init:unknown")
    assert ms(record, "bot_failed") - ms(record, "answered") < 1500
    assert st.gateway is not None and st.gateway.metrics.closes == {4005: 1}


@pytest.mark.slow(5)
async def test_a_bot_that_blocks_the_loop_is_ended_and_the_customer_gets_an_agent() -> None:
    record, _, st = await run_call("blocks")
    assert (record.disposition, record.failure) == ("agent_handled", "adapter_blocked:on_start")
    assert st.gateway is not None and st.gateway.metrics.adapter_errors == {"blocked": 1}


@pytest.mark.parametrize("control", ["direct", "http"])
async def test_the_bots_hangup_reason_is_on_record(control: str) -> None:
    record, events, st = await run_call("hangsup", control=control)
    assert (record.disposition, record.hangup_reason) == ("bot_completed", "bot_done")
    assert ("hangup_requested", "bot_done") in [(e.kind, e.detail) for e in events]
    stored = st.dialer.store.get(record.call_id)
    assert stored is not None and stored.hangup_reason == "bot_done"
    row = next(csv.DictReader(io.StringIO(csv_text([record]))))
    assert row["hangup_reason"] == "bot_done"
