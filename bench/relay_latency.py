"""Latency the relay adapter adds per audio chunk, on loopback.

Two paths to the same echo bot (``bot_adapters.relay.testbots``, mode ``echo``), one chunk
every ``--interval-ms``:

* direct: a plain WebSocket client sends a ready-made media frame and waits for the echo;
* relay: ``RelayAdapter.on_audio(pcm)`` to the moment the echoed audio reaches
  ``CallControl.play`` (encode, queue, send, bot, receive, decode: both directions).

Prints p50/p99 of both round trips and the difference (what the relay adds per chunk, both
directions together), plus the pure codec cost per chunk. Run:

    .venv/bin/python bench/relay_latency.py [--dialect twilio|exotel] [--chunks 400]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from websockets.asyncio.client import connect

from bot_adapters.contract import CallInfo, PlayedPosition
from bot_adapters.relay import RelayAdapter
from bot_adapters.relay.dialects import Dialect, StreamEncoder, decode_bot_message
from bot_adapters.relay.testbots import DialectTestBot
from bot_adapters.testing import default_call_info


class TimingCall:
    """The least CallControl: timestamps each ``play``."""

    def __init__(self, info: CallInfo) -> None:
        self._info = info
        self.arrivals: asyncio.Queue[float] = asyncio.Queue()

    @property
    def info(self) -> CallInfo:
        return self._info

    @property
    def sample_rate(self) -> int:
        return 8000

    def play(self, pcm: bytes, label: str | None = None) -> None:
        self.arrivals.put_nowait(time.perf_counter())

    def mark(self, label: str) -> None:
        pass

    def clear(self) -> PlayedPosition:
        return PlayedPosition(None, 0, 0)

    async def hangup(self, reason: str = "bot_hangup") -> None:
        pass

    async def transfer(self, reason: str, skills: Sequence[str] = ()) -> None:
        pass


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def direct(
    url: str, dialect: Dialect, pcm: bytes, chunks: int, interval: float
) -> list[float]:
    enc = StreamEncoder(dialect, default_call_info())
    rtts: list[float] = []
    async with connect(url, compression=None) as ws:
        await ws.send(enc.connected())
        await ws.send(enc.start())
        for _ in range(chunks):
            frame = enc.media(pcm)
            t0 = time.perf_counter()
            await ws.send(frame)
            await ws.recv()
            rtts.append(time.perf_counter() - t0)
            await asyncio.sleep(interval)
    return rtts


async def relayed(
    url: str, dialect: Dialect, pcm: bytes, chunks: int, interval: float, warmup: int = 50
) -> list[float]:
    relay = RelayAdapter(
        {
            "url": url,
            "dialect": dialect.name,
            "encoding": dialect.encoding,
            "answer_deadline_ms": "600000",
        }
    )
    call = TimingCall(default_call_info())
    await relay.on_start(call)
    rtts: list[float] = []
    await asyncio.sleep(0.2)  # connected
    for _ in range(chunks + warmup):
        t0 = time.perf_counter()
        await relay.on_audio(pcm)
        t1 = await call.arrivals.get()
        rtts.append(t1 - t0)
        await asyncio.sleep(interval)
    await relay.on_stop("callended")
    return rtts[warmup:]


def codec_cost(dialect: Dialect, pcm: bytes, rounds: int = 2000) -> float:
    enc = StreamEncoder(dialect, default_call_info())
    reply = json.dumps(
        {"event": "media", "media": {"payload": base64.b64encode(dialect.to_wire(pcm)).decode()}}
    )
    t0 = time.perf_counter()
    for _ in range(rounds):
        enc.media(pcm)
        decode_bot_message(reply, dialect)
    return (time.perf_counter() - t0) / rounds


async def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dialect", choices=["twilio", "exotel"], default="twilio")
    parser.add_argument("--chunks", type=int, default=400)
    parser.add_argument("--chunk-ms", type=int, default=20)
    parser.add_argument("--interval-ms", type=float, default=20)
    args = parser.parse_args(argv)
    dialect = Dialect(args.dialect)  # default encoding: mu-law 8 kHz
    if args.dialect == "exotel":
        dialect = Dialect("exotel", "pcm16", 8000)
    pcm = (b"\x10\x02\xf0\xfd" * 4000)[: 8000 * 2 * args.chunk_ms // 1000]
    interval = args.interval_ms / 1000
    async with DialectTestBot(dialect.name, mode="echo", encoding=dialect.encoding) as bot:
        await direct(bot.url, dialect, pcm, 50, interval)  # warm up
        base = await direct(bot.url, dialect, pcm, args.chunks, interval)
        relay = await relayed(bot.url, dialect, pcm, args.chunks, interval)
    ms = 1000.0
    print(
        f"relay latency, {args.dialect} dialect ({dialect.encoding} {dialect.sample_rate} Hz), "
        f"{args.chunks} chunks of {args.chunk_ms} ms every {args.interval_ms:g} ms, loopback"
    )
    for name, rtts in (("direct round trip ", base), ("relay round trip  ", relay)):
        print(f"  {name} p50 {pct(rtts, 0.5) * ms:6.3f} ms  p99 {pct(rtts, 0.99) * ms:6.3f} ms")
    print(
        f"  added by the relay p50 {(pct(relay, 0.5) - pct(base, 0.5)) * ms:6.3f} ms  "
        f"p99 {(pct(relay, 0.99) - pct(base, 0.99)) * ms:6.3f} ms  (both directions)"
    )
    print(
        f"  mean added {(statistics.fmean(relay) - statistics.fmean(base)) * ms:.3f} ms; "
        f"codec encode+decode per chunk {codec_cost(dialect, pcm) * 1e6:.1f} us"
    )
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
