"""Barge-in latency end to end on the emulator: from the caller's speech onset to the bot's
audio stopping in the caller's ear.

Each call: the emulator dials a simulated customer, streams it through the gateway to the
scripted bot, which plays a 4 s prompt (``hold_music``: continuous, so the emulator's "bot
is talking" run has no pauses between words); the customer talks over it after a spread of
delays (``barge N cust_no``). The emulator's timeline (``/sim/legs/{sid}/timeline``, ms on its
clock) says when the customer's voice began (first 10 ms of the clip above an RMS floor) and when
the bot's audio stopped in the customer's ear; the difference is the barge-in latency. It
includes the gateway's VAD, its barge-in rule, the ``clear`` on the wire and the chunk that
was already playing (Exotel lets it finish).

Configurations (gateway chunk size / gateway barge-in minimum speech / scripted bot's
``interrupt_on``) are run one after the other; all calls of one run in parallel. Run:

    .venv/bin/python bench/bargein_latency.py [--calls 20]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

import audio_fixtures
from exotel_sim.config import CustomerProfile, SimConfig
from exotel_sim.server import SimServer
from exotel_sim.testing import HttpEventSink, SimClient
from gateway.config import GatewayConfig
from gateway.server import GatewayServer

BARGE_CLIP = "cust_no"
SCRIPT = """
[script]
start = "talk"
end_silence_ms = 300
interrupt_on = "{interrupt_on}"
[prompts]
long = "fixture:hold_music"
bye = "fixture:bot_goodbye"
[states.talk]
say = "long"
on_speech = "bye"
no_input_ms = 10000
on_no_input = "bye"
[states.bye]
say = "bye"
action = "hangup"
reason = "done"
"""


@dataclass(frozen=True)
class Setup:
    chunk_ms: int
    min_speech_ms: int
    interrupt_on: str

    def __str__(self) -> str:
        return (
            f"chunk {self.chunk_ms:3d} ms, barge-in after {self.min_speech_ms:3d} ms of speech,"
            f" bot interrupts on {self.interrupt_on}"
        )


DEFAULT_SETUPS = (
    Setup(100, 120, "barge_in"),  # the gateway's defaults
    Setup(200, 200, "barge_in"),
    Setup(100, 100, "barge_in"),
    Setup(200, 200, "speech_start"),
    Setup(60, 200, "speech_start"),
)


def voice_onset_ms(clip_name: str, floor: int = 300) -> int:
    """Where the clip's voice begins (first 10 ms frame above ``floor`` RMS)."""
    clip = audio_fixtures.load(clip_name)
    frame = clip.sample_rate // 100 * 2
    for i in range(0, len(clip.pcm), frame):
        if audioop.rms(clip.pcm[i : i + frame], 2) >= floor:
            return i // frame * 10
    return 0


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def one_call(
    client: SimClient, sink: HttpEventSink, gateway: GatewayServer, number: str
) -> str:
    leg = await client.create_leg(number, sink.url)
    await sink.wait_for(
        lambda e: e.name == "leg_answered" and e.payload["data"]["leg_sid"] == leg, 20
    )
    status, body = await client.action(
        leg, "start_stream", {"direction": "bidirectional", "url": gateway.stream_url("scripted")}
    )
    if status != 202:
        raise RuntimeError(f"start_stream: {status} {body}")
    await sink.wait_for(
        lambda e: e.name == "leg_terminated" and e.payload["data"]["leg_sid"] == leg, 30
    )
    return leg


def latency(timeline: dict[str, Any], onset_offset: int) -> float | None:
    speech = [s for s in timeline["speech"] if s["detail"] == BARGE_CLIP]
    if not speech:
        return None
    onset = speech[0]["start_ms"] + onset_offset
    for heard in timeline["heard"]:
        if heard["source"] == "stream" and heard["start_ms"] <= onset < heard["end_ms"]:
            return float(heard["end_ms"] - onset)
    return None  # the bot was not talking at the onset: not a barge-in


async def run_setup(setup: Setup, calls: int, script_dir: Path) -> list[float]:
    script = script_dir / f"bench_{setup.interrupt_on}.toml"
    script.write_text(SCRIPT.format(interrupt_on=setup.interrupt_on))
    customers = {
        f"+91990000{i:04d}": CustomerProfile(
            outcome="answer", ring_ms=(100, 100), patience_ms=0
        ).with_script(f"barge {300 + (i * 263) % 3000} {BARGE_CLIP}", "wait 1500", "hangup")
        for i in range(calls)
    }
    sim_config = SimConfig(rest_latency_ms=0, event_latency_ms=0, setup_ms=0, customers=customers)
    gw_config = GatewayConfig(
        port=0,
        chunk_target_ms=setup.chunk_ms,
        barge_in_min_speech_ms=setup.min_speech_ms,
        adapter_options={"scripted": {"script": str(script)}},
    )
    offset = voice_onset_ms(BARGE_CLIP)
    async with (
        SimServer(sim_config) as sim,
        GatewayServer(gw_config) as gateway,
        HttpEventSink() as sink,
        SimClient(sim.api_base, sim.api_key, sim.api_token) as client,
    ):
        legs = await asyncio.gather(*(one_call(client, sink, gateway, n) for n in customers))
        results: list[float] = []
        async with aiohttp.ClientSession() as http:
            for leg in legs:
                async with http.get(f"{sim.base_url}/sim/legs/{leg}/timeline") as resp:
                    value = latency(await resp.json(), offset)
                if value is not None:
                    results.append(value)
    return results


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20, help="calls per configuration")
    parser.add_argument("--chunk-ms", type=int, help="run only this gateway chunk size")
    parser.add_argument("--min-speech-ms", type=int, default=200)
    parser.add_argument("--interrupt-on", choices=["barge_in", "speech_start"])
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    setups: tuple[Setup, ...] = DEFAULT_SETUPS
    if args.chunk_ms is not None or args.interrupt_on is not None:
        setups = (Setup(args.chunk_ms or 200, args.min_speech_ms, args.interrupt_on or "barge_in"),)
    print(
        f"barge-in latency on the emulator: caller's voice onset -> bot audio stops in the "
        f"caller's ear; {args.calls} calls per line, mu-law 8 kHz"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for setup in setups:
            values = await run_setup(setup, args.calls, Path(tmp))
            if not values:
                print(f"  {setup}: no barge-in measured")
                continue
            print(
                f"  {setup}: n={len(values):2d}  p50 {pct(values, 0.5):4.0f} ms  "
                f"p95 {pct(values, 0.95):4.0f} ms  max {max(values):4.0f} ms  "
                f"mean {statistics.fmean(values):4.0f} ms"
            )
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
