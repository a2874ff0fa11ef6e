"""What a bot developer ran into whose fix lay outside ``bot_adapters`` (gateway, dialer,
wiring), kept as tests of the behaviour a developer expects: a key's tone is not speech, a bot
that crashes gets the customer the stream fallback with the failure on record, and one broken
adapter package fails only its own calls."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import replace
from importlib.metadata import EntryPoint

import pytest

import bot_adapters.registry as registry
from bot_adapters.contract import BotAdapter, CallControl
from dialer.config import DialerConfig
from dialer.service import CallRequest
from exotel_sim.config import AgentProfile, CustomerProfile, SimConfig
from gateway.config import GatewayConfig
from voxgate.wiring import LocalStack

CUSTOMER = "+919800000001"
AGENT = "+919900000001"


def quick_sim(*script: str) -> SimConfig:
    customer = CustomerProfile(outcome="answer", ring_ms=(100, 100)).with_script(*script)
    return SimConfig(
        rest_latency_ms=0, event_latency_ms=0, setup_ms=0,
        customers={CUSTOMER: customer}, agents={AGENT: AgentProfile(answer_ms=300)},
    )  # fmt: skip


class CrashesOnAudio(BotAdapter):
    """Says hello, then raises in its 20th ``on_audio`` (a bug in the bot)."""

    def __init__(self, options: Mapping[str, str]) -> None:
        self.frames = 0

    async def on_start(self, call: CallControl) -> None:
        call.play(b"\x00\x00" * 1600, "hello")

    async def on_audio(self, pcm: bytes) -> None:
        self.frames += 1
        if self.frames == 20:
            raise RuntimeError("bot bug")


async def test_keypad_example_hangs_up_after_its_readback_on_the_emulator() -> None:
    # The keypad example reads "42" back after "#" and hangs up once it was heard. The keys'
    # tones are in the customer's audio, as on a phone line; they used to be heard as speech
    # and barge in on the readback (the example then started the entry again and never hung
    # up). The gateway's voice detection now tells key tones from speech (gateway/tones.py).
    sim = quick_sim("pause 300", "streaming 100", "dtmf 4", "wait 300", "dtmf 2", "wait 300",
                    "dtmf #", "wait 3000", "hangup")  # fmt: skip
    gateway = GatewayConfig(port=0)
    async with LocalStack(DialerConfig(), sim_config=sim, gateway_config=gateway) as st:
        handle = await st.dialer.place_call(CallRequest(CUSTOMER, bot="keypad"))
        async with asyncio.timeout(20):
            record = await handle.wait()
    assert record.disposition == "bot_completed"  # the bot hung up, not the customer


@pytest.mark.slow(5)
async def test_a_bot_that_crashes_gets_the_stream_fallback_and_a_failure_on_record() -> None:
    sim = quick_sim("pause 300", "say cust_hello", "wait 6000", "hangup")
    # the agent the call falls back to talks for 1 s (the default 25 s outlasts the timeout)
    sim = replace(sim, agents={AGENT: AgentProfile(answer_ms=300, talk_ms=1000)})
    async with LocalStack(
        DialerConfig(), sim_config=sim, gateway_config=GatewayConfig(port=0),
        adapters={"crasher": CrashesOnAudio},
    ) as st:  # fmt: skip
        st.dialer.add_agent("a1", AGENT)
        handle = await st.dialer.place_call(CallRequest(CUSTOMER, bot="crasher"))
        async with asyncio.timeout(20):
            record = await handle.wait()
    assert st.gateway is not None and st.gateway.metrics.adapter_errors["raised"] == 1
    # expected: the dialer's stream fallback (an agent by default) and the failure recorded
    assert record.disposition != "bot_completed"
    assert record.failure


async def test_one_broken_adapter_package_does_not_stop_the_others(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    points = registry._entry_points()
    broken = EntryPoint("broken", "no_such_module_for_voxgate_tests:Bot", registry.GROUP)
    monkeypatch.setattr(registry, "_entry_points", lambda: {**points, "broken": broken})
    sim = quick_sim("wait 500", "hangup")
    gateway = GatewayConfig(port=0)
    # LocalStack loads an installed adapter when its first call starts (voxgate/wiring.py),
    # so the broken package fails its own calls only.
    async with LocalStack(DialerConfig(), sim_config=sim, gateway_config=gateway) as st:
        handle = await st.dialer.place_call(CallRequest(CUSTOMER, bot="echo"))
        async with asyncio.timeout(20):
            record = await handle.wait()
        assert record.answered and "stream_started" in dict(record.timeline)
        handle = await st.dialer.place_call(CallRequest(CUSTOMER, bot="broken"))
        async with asyncio.timeout(20):
            failed = await handle.wait()
        assert st.gateway is not None and sum(st.gateway.metrics.adapter_errors.values()) == 1
    assert failed.failure == "adapter_init:load", failed  # reported to the dialer at once
