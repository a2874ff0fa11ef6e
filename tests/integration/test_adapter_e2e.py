"""End to end over real sockets: the emulator's simulated customer calls through the gateway
to the scripted bot and to the relay (with external test bots), and the control hook
receives the transfer and hang-up requests."""

from __future__ import annotations

import asyncio
import re
import wave
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from peers.ports import free_port

import audio_fixtures
from bot_adapters.contract import BotAdapter
from bot_adapters.relay import RelayAdapter
from bot_adapters.relay.dialects import DialectName
from bot_adapters.relay.testbots import DialectTestBot
from bot_adapters.scripted import ScriptedBot
from exotel_sim.audio import rms
from exotel_sim.config import CustomerProfile, SimConfig
from exotel_sim.server import SimServer
from exotel_sim.stream_client import SILENCE_RMS
from exotel_sim.testing import HttpEventSink, SimClient
from gateway.config import GatewayConfig
from gateway.control import ControlRequest, RecordingControlHook
from gateway.server import GatewayServer

CUSTOMER = "+919800000001"


def audible_ms(name: str) -> int:
    """How far into fixture ``name`` its last audible 20 ms frame ends."""
    clip = audio_fixtures.load(name)
    frame = clip.sample_rate // 50 * 2
    frames = [clip.pcm[i : i + frame] for i in range(0, len(clip.pcm), frame)]
    last = max(i for i, f in enumerate(frames) if rms(f) >= SILENCE_RMS)
    return (last + 1) * 20


@dataclass
class Line:
    """One live call: emulator, gateway, the adapter instances built, the control hook."""

    sim: SimServer
    gateway: GatewayServer
    hook: RecordingControlHook
    leg_sid: str
    adapters: list[BotAdapter]

    def actions(self) -> list[ControlRequest]:
        """The bot's transfer and hang-up requests so far (forecasts left out)."""
        return [r for r in self.hook.requests if r.kind != "transfer_forecast"]

    def forecasts(self) -> list[ControlRequest]:
        return [r for r in self.hook.requests if r.kind == "transfer_forecast"]

    async def request(self, within_s: float = 10.0) -> ControlRequest:
        """The first transfer or hang-up request the bot made."""
        async with asyncio.timeout(within_s):
            while not self.actions():  # noqa: ASYNC110 - the hook keeps a plain list
                await asyncio.sleep(0.02)
        return self.actions()[0]

    async def timeline(self) -> dict[str, Any]:
        url = f"{self.sim.base_url}/sim/legs/{self.leg_sid}/timeline"
        async with aiohttp.ClientSession() as http, http.get(url) as resp:
            assert resp.status == 200
            body: dict[str, Any] = await resp.json()
            return body


@asynccontextmanager
async def line(
    adapter: str,
    factory: Callable[[Mapping[str, str]], BotAdapter],
    customer_script: list[str],
    options: Mapping[str, str] | None = None,
) -> AsyncIterator[Line]:
    """Dial the simulated customer, answer, and stream the call to ``adapter``."""
    built: list[BotAdapter] = []

    def tracked(opts: Mapping[str, str]) -> BotAdapter:
        bot = factory(opts)
        built.append(bot)
        return bot

    customer = CustomerProfile(outcome="answer", ring_ms=(50, 50), patience_ms=0)
    sim_config = SimConfig(
        rest_latency_ms=0,
        event_latency_ms=0,
        setup_ms=0,
        customers={CUSTOMER: customer.with_script(*customer_script)},
    )
    gw_config = GatewayConfig(port=0, adapter_options={adapter: dict(options or {})})
    hook = RecordingControlHook()
    async with (
        SimServer(sim_config) as sim,
        GatewayServer(gw_config, hook, adapters={adapter: tracked}) as gateway,
        HttpEventSink() as sink,
        SimClient(sim.api_base, sim.api_key, sim.api_token) as client,
    ):
        leg = await client.create_leg(CUSTOMER, sink.url)
        await sink.wait_for(lambda e: e.name == "leg_answered")
        status, _ = await client.action(
            leg,
            "start_stream",
            {"direction": "bidirectional", "url": gateway.stream_url(adapter)},
        )
        assert status == 202
        try:
            yield Line(sim, gateway, hook, leg, built)
        finally:
            await client.call("DELETE", f"/legs/{leg}")  # the customer hangs up
            async with asyncio.timeout(5):
                while gateway.active_streams:  # noqa: ASYNC110 - a counter, no event
                    await asyncio.sleep(0.02)


def heard(timeline: dict[str, Any], source: str) -> list[dict[str, Any]]:
    return [i for i in timeline["heard"] if i["source"] == source]


def overlap_ms(a: dict[str, Any], b: dict[str, Any]) -> int:
    return max(0, int(min(a["end_ms"], b["end_ms"]) - max(a["start_ms"], b["start_ms"])))


# -- the scripted bot ---------------------------------------------------------------------


def short_prompts(folder: Path) -> None:
    """The sales prompts cut short (the conversation logic is the same, the test faster)."""
    cuts = {"greeting": 1.2, "bot_ask_interest": 1.2, "bot_reprompt": 2.0,
            "bot_transfer": 0.8, "bot_goodbye": 0.8}  # fmt: skip
    for name, seconds in cuts.items():
        clip = audio_fixtures.load(name)
        with wave.open(str(folder / f"{name}.wav"), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(clip.sample_rate)
            out.writeframes(clip.pcm[: int(clip.sample_rate * seconds) * 2])


@pytest.fixture
def quick_sales(tmp_path: Path) -> Path:
    short_prompts(tmp_path)
    sales = (Path(__file__).resolve().parents[2] / "bot_adapters/scripted/sales.toml").read_text()
    text = re.sub(r'^(\w+) = "fixture:(\w+)"$', r'\1 = "\2.wav"', sales, flags=re.M)
    text = text.replace("no_input_ms = 4000", "no_input_ms = 1000")
    text = text.replace("end_silence_ms = 400", "end_silence_ms = 300")
    script = tmp_path / "quick_sales.toml"
    script.write_text(text)
    return script


@pytest.mark.slow(5)
async def test_scripted_conversation_barge_in_silence_dtmf_transfer(quick_sales: Path) -> None:
    # The customer talks over the greeting, then stays silent through the question (the bot
    # reprompts), then presses 0 while the reprompt plays: the bot cuts it and transfers.
    customer = ["barge 400 cust_hello", "wait 3800", "dtmf 0", "wait 3000"]
    async with line("scripted", ScriptedBot, customer, {"script": str(quick_sales)}) as call:
        request = await call.request()
        assert (request.kind, request.reason, request.skills) == (
            "transfer",
            "lead_asked_for_human",
            ("sales",),
        )
        assert request.call_sid == call.leg_sid
        # the script's transfer step forecast the transfer first (sales.toml: within 4 s)
        (forecast,) = call.forecasts()
        assert (forecast.within_s, forecast.likelihood) == (4.0, 0.95)
        assert call.hook.requests.index(forecast) < call.hook.requests.index(request)
        bot = call.adapters[0]
        assert isinstance(bot, ScriptedBot)
        assert bot.engine.trace == ["greet", "ask", "human"]
        prompts = [label.split(".")[1] for label in bot.played]
        assert prompts == ["greeting", "ask", "reprompt", "transfer"]
        timeline = await call.timeline()
    stream = heard(timeline, "stream")
    speech = timeline["speech"]
    hello = next(s for s in speech if s["detail"] == "cust_hello")
    # barge-in: the greeting stopped in the customer's ear while the customer spoke
    greeting = stream[0]
    assert hello["start_ms"] < greeting["end_ms"] < hello["end_ms"]
    assert greeting["end_ms"] - greeting["start_ms"] < 1200
    # the bot waited for the customer to finish before asking
    assert all(s["start_ms"] >= hello["end_ms"] for s in stream[1:])
    # DTMF cut the reprompt short
    press = next(s for s in speech if s["detail"] == "dtmf_0")
    assert any(s["start_ms"] < press["start_ms"] < s["end_ms"] for s in stream)


@pytest.mark.slow(5)
async def test_scripted_answer_gets_goodbye_and_hangup(quick_sales: Path) -> None:
    customer = ["wait 2600", "say cust_yes", "wait 3000"]
    async with line("scripted", ScriptedBot, customer, {"script": str(quick_sales)}) as call:
        request = await call.request()
        assert (request.kind, request.reason) == ("hangup", "lead_answered")
        bot = call.adapters[0]
        assert isinstance(bot, ScriptedBot)
        assert bot.engine.trace == ["greet", "ask", "goodbye"]
        timeline = await call.timeline()
    yes = next(s for s in timeline["speech"] if s["detail"] == "cust_yes")
    goodbye = heard(timeline, "stream")[-1]
    # the bot's turn starts after the customer's (end of speech + configured silence)
    assert goodbye["start_ms"] >= yes["end_ms"] + 300
    assert not any(overlap_ms(s, yes) for s in heard(timeline, "stream"))


# -- the relay ----------------------------------------------------------------------------


@pytest.mark.parametrize("dialect", ["twilio", "exotel"])
async def test_relay_through_gateway_transfer(dialect: DialectName) -> None:
    greeting = audio_fixtures.load("bot_transfer").pcm[:8000]  # 0.5 s
    async with DialectTestBot(dialect, greeting=greeting) as bot:
        customer = ["pause 200", "say cust_hello", "dtmf 0", "wait 2000"]
        options = {"url": bot.url, "dialect": dialect}
        async with line("relay", RelayAdapter, customer, options) as call:
            request = await call.request()
            assert (request.kind, request.reason, request.skills) == (
                "transfer",
                "caller_pressed_0",
                ("sales",),
            )
            timeline = await call.timeline()
            # the emulator echoed the greeting's mark through the gateway to the bot
            assert [m["mark"]["name"] for m in bot.events("mark")] == ["greeting"]
            assert [d["dtmf"]["digit"] for d in bot.events("dtmf")] == ["0"]
            audio = bot.audio_received()
            assert len(audio) > 8000 * 2  # over a second of the customer's line
    (heard_greeting,) = heard(timeline, "stream")
    assert 400 <= heard_greeting["end_ms"] - heard_greeting["start_ms"] <= 600


async def test_relay_fallback_when_bot_is_unreachable() -> None:
    customer = ["wait 6000"]
    # a port nobody listens on (bind(0)-and-close could hand a pytest-xdist neighbour's server
    # the same port)
    options = {"url": f"ws://127.0.0.1:{free_port()}/", "fallback_skills": "support"}
    async with line("relay", RelayAdapter, customer, options) as call:
        request = await call.request()
        assert (request.kind, request.reason, request.skills) == (
            "transfer",
            "relay_unreachable",
            ("support",),
        )
        timeline = await call.timeline()
    # the caller was not left in silence: the hold message played in full before the transfer
    # (up to its last audible 20 ms frame: the emulator does not log silent chunks as heard)
    (message,) = heard(timeline, "stream")
    assert message["end_ms"] - message["start_ms"] >= audible_ms("hold_message") - 100


async def test_relay_barge_in_through_gateway_reaches_the_bot() -> None:
    greeting = audio_fixtures.load("hold_music").pcm[:24000]  # 3 s, continuous
    async with DialectTestBot("twilio", greeting=greeting) as bot:
        customer = ["barge 600 cust_no", "wait 2000"]
        options = {"url": bot.url, "dialect": "twilio"}
        async with line("relay", RelayAdapter, customer, options) as call:
            async with asyncio.timeout(10):
                while not bot.events("clear"):  # noqa: ASYNC110 - the test bot keeps a list
                    await asyncio.sleep(0.02)
            # the greeting's mark was dropped by the barge-in: Twilio hands it back at once
            async with asyncio.timeout(5):
                while not bot.events("mark"):  # noqa: ASYNC110
                    await asyncio.sleep(0.02)
            assert [m["mark"]["name"] for m in bot.events("mark")] == ["greeting"]
            timeline = await call.timeline()
    (heard_greeting,) = heard(timeline, "stream")
    no = next(s for s in timeline["speech"] if s["detail"] == "cust_no")
    assert heard_greeting["start_ms"] < no["start_ms"] < heard_greeting["end_ms"] < no["end_ms"]
    assert heard_greeting["end_ms"] - heard_greeting["start_ms"] < 3000 - 1000
