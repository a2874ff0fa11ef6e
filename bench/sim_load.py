"""Load benchmark of exotel_sim: N concurrent answered legs, each with a live stream.

Does the emulator keep media at real-time pace? Every outbound media chunk has a due time on
an absolute schedule (grid tick of 20 ms mu-law / 100 ms PCM); the emulator records how late
each one went out. This script dials ``--legs`` customers through the REST API (40 ms REST
latency, 20 ms event latency), starts a stream on each to a bot in a separate process, lets
them run ``--seconds`` and prints, per window and overall, the lag figures, the pace (chunks
sent / chunks due) and the CPU used by the emulator's and the bot's processes. Bots:
``echo`` (sends the audio back in 200 ms chunks, so both directions are loaded), ``sink``
(parses, does not answer), ``null`` (discards the bytes unparsed: the emulator's sending
alone), ``gateway`` (voxgate's gateway with its echo adapter).

    .venv/bin/python bench/sim_load.py --legs 500 --seconds 20 --format mulaw
    .venv/bin/python bench/sim_load.py --legs 500 --seconds 20 --format pcm16 --bot gateway

Falling behind real time shows as lag above one chunk period (``late_chunks``) and a pace
below 1.0. The machine is shared: note the load average printed with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import json
import multiprocessing as mp
import os
import sys
import time
from collections.abc import Awaitable, Callable
from multiprocessing.connection import Connection
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from exotel_sim.config import CustomerProfile, SimConfig  # noqa: E402
from exotel_sim.server import SimServer  # noqa: E402
from exotel_sim.testing import SimClient  # noqa: E402


def _bot_process(conn: Connection, bot: str, batch: int) -> None:
    """The bot side in its own process: ``echo`` (every ``batch`` media messages go back as
    one, like a bot answering in 200 ms chunks), ``sink`` (listens only) or ``gateway``
    (voxgate's gateway with its echo adapter); plus an HTTP event sink."""
    from aiohttp import web
    from websockets.asyncio.server import ServerConnection, serve
    from websockets.exceptions import ConnectionClosed

    async def handler(ws: ServerConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            await serve_one(ws)

    async def serve_one(ws: ServerConnection) -> None:
        stream_sid = ""
        held: list[bytes] = []
        async for raw in ws:
            if bot == "echo" and '"media"' in raw[:40]:
                held.append(base64.b64decode(json.loads(raw)["media"]["payload"]))
                if len(held) >= batch:
                    payload = base64.b64encode(b"".join(held)).decode()
                    held.clear()
                    await ws.send(f'{{"event":"media","stream_sid":"{stream_sid}",'
                                  f'"media":{{"payload":"{payload}"}}}}')
            elif '"start"' in raw[:40]:
                stream_sid = json.loads(raw)["stream_sid"]

    async def events(request: web.Request) -> web.Response:
        await request.read()
        return web.Response()

    async def main() -> None:
        app = web.Application()
        app.router.add_post("/events", events)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        http_port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        if bot == "null":
            server_null = await asyncio.get_running_loop().create_server(
                _NullBot, "127.0.0.1", 0, backlog=1024)
            port = server_null.sockets[0].getsockname()[1]
            conn.send((f"ws://127.0.0.1:{port}/stream", http_port))
            await asyncio.Event().wait()
        if bot == "gateway":
            from gateway.config import GatewayConfig
            from gateway.server import GatewayServer

            async with GatewayServer(GatewayConfig(port=0)) as gw:
                conn.send((gw.stream_url("echo"), http_port))
                await asyncio.Event().wait()
        server = await serve(handler, "127.0.0.1", 0, compression=None, max_queue=64)
        ws_port = server.sockets[0].getsockname()[1]
        conn.send((f"ws://127.0.0.1:{ws_port}/stream", http_port))
        await asyncio.Event().wait()

    asyncio.run(main())


class _NullBot(asyncio.Protocol):
    """Accepts the WebSocket handshake, then discards every byte: measures the emulator's
    sending alone, with (almost) no cost on the receiving side. It never answers a close
    frame; the emulator gives up on it after its close timeout."""

    GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.head = b""
        self.open = False

    def data_received(self, data: bytes) -> None:
        if self.open:
            return
        self.head += data
        if b"\r\n\r\n" not in self.head:
            return
        lines = self.head.split(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")
        key = next(line.split(":", 1)[1].strip() for line in lines
                   if line.lower().startswith("sec-websocket-key:"))
        accept = base64.b64encode(hashlib.sha1((key + self.GUID).encode()).digest()).decode()
        self.transport.write(
            ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
             f"Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n").encode())
        self.open = True


async def _until(check: Callable[[], Awaitable[bool]], wait_s: float = 120.0) -> None:
    """Poll ``check`` every 200 ms until it holds; raises ``TimeoutError`` after ``wait_s``."""
    for _ in range(int(wait_s / 0.2)):
        if await check():
            return
        await asyncio.sleep(0.2)
    raise TimeoutError("the load did not ramp up in time")


async def _answered(client: SimClient, n: int) -> bool:
    return len((await client.inspect("/legs?state=answered"))["legs"]) >= n


async def _streaming(client: SimClient, n: int) -> bool:
    return int((await client.inspect("/stats"))["active_streams"]) >= n


async def _gather_limited(n: int, coros: list[Any]) -> list[Any]:
    sem = asyncio.Semaphore(n)

    async def one(c: Any) -> Any:
        async with sem:
            return await c

    return await asyncio.gather(*(one(c) for c in coros))


async def run(args: argparse.Namespace) -> dict[str, Any]:
    parent, child = mp.get_context("spawn").Pipe()
    proc = mp.get_context("spawn").Process(
        target=_bot_process, args=(child, args.bot, args.echo_batch), daemon=True)
    proc.start()
    url, http_port = parent.recv()
    silent = CustomerProfile(outcome="answer", ring_ms=(200, 2000), scripts=((),),
                             patience_ms=0)
    config = SimConfig(
        seed=args.seed, rest_latency_ms=40, event_latency_ms=20, rate_limit_per_s=0,
        channel_limit=args.legs + 10, stream_throttle=args.legs + 10,
        default_customer=silent,
    )
    content_type = ("audio/x-mulaw;rate=8000" if args.format == "mulaw"
                    else "audio/x-raw;rate=8000")
    chunk_ms = 20 if args.format == "mulaw" else 100
    report: dict[str, Any] = {"legs": args.legs, "format": args.format, "bot": args.bot,
                              "echo_batch": args.echo_batch}
    try:
        async with SimServer(config) as server, \
                SimClient(server.api_base, server.api_key, server.api_token) as client:
            endpoint = f"http://127.0.0.1:{http_port}/events"
            t0 = time.monotonic()
            sids = await _gather_limited(50, [
                client.create_leg(f"+9190{n:08d}", endpoint) for n in range(args.legs)])
            await _until(lambda: _answered(client, args.legs))
            results = await _gather_limited(50, [
                client.action(sid, "start_stream", {"url": url, "content_type": content_type})
                for sid in sids])
            assert all(status == 202 for status, _ in results), results[:3]
            await _until(lambda: _streaming(client, args.legs))
            report["ramp_s"] = round(time.monotonic() - t0, 1)
            await asyncio.sleep(1.0)  # let every stream reach its steady pace
            await client.inspect("/stats?reset=1")
            sent_before = _sent(server)
            start = time.monotonic()
            windows = []
            cpu = (_cpu_s(os.getpid()), _cpu_s(proc.pid or 0), start)
            cpu_sim, cpu_bot = [], []
            while (elapsed := time.monotonic() - start) < args.seconds:
                await asyncio.sleep(min(args.window, args.seconds - elapsed))
                stats = await client.inspect("/stats?reset=1")
                windows.append(stats["lag"])
                now = (_cpu_s(os.getpid()), _cpu_s(proc.pid or 0), time.monotonic())
                cpu_sim.append((now[0] - cpu[0]) / (now[2] - cpu[2]))
                cpu_bot.append((now[1] - cpu[1]) / (now[2] - cpu[2]))
                cpu = now
                print(f"  t={time.monotonic() - start:5.1f}s streams={stats['active_streams']} "
                      f"lag p50={stats['lag']['p50_ms']}ms p99={stats['lag']['p99_ms']}ms "
                      f"max={stats['lag']['max_ms']}ms late={stats['lag']['late_chunks']}"
                      f"/{stats['lag']['chunks']}  cpu sim={cpu_sim[-1]:.0%} "
                      f"bot={cpu_bot[-1]:.0%}", flush=True)
            duration = time.monotonic() - start
            sent = _sent(server) - sent_before
            due = args.legs * duration * 1000 / chunk_ms
            chunks = sum(w["chunks"] for w in windows)
            report.update({
                "seconds": round(duration, 1),
                "chunks_sent": sent,
                "chunks_due": round(due),
                "pace": round(sent / due, 4),
                "lag_p50_ms_worst_window": max(w["p50_ms"] for w in windows),
                "lag_p99_ms_worst_window": max(w["p99_ms"] for w in windows),
                "lag_max_ms": max(w["max_ms"] for w in windows),
                "late_chunks": sum(w["late_chunks"] for w in windows),
                "late_fraction": round(sum(w["late_chunks"] for w in windows) / max(chunks, 1),
                                       5),
                "dropped_chunks": sum(
                    leg.stream.counts["dropped_chunks"] for leg in server.sim.legs.values()
                    if leg.stream is not None),
                "bot_chunks_received": sum(
                    leg.stream.counts["bot_chunks"] for leg in server.sim.legs.values()
                    if leg.stream is not None),
                "chunk_ms": chunk_ms,
                "sim_cpu_max": round(max(cpu_sim), 2),
                "bot_cpu_max": round(max(cpu_bot), 2),
            })
            await _gather_limited(50, [client.action(sid, "hangup") for sid in sids])
    finally:
        proc.terminate()
        proc.join(5)
    return report


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) used so far by process ``pid`` (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _sent(server: SimServer) -> int:
    return sum(leg.stream.counts["sent_chunks"] for leg in server.sim.legs.values()
               if leg.stream is not None)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--legs", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--window", type=float, default=5.0)
    parser.add_argument("--format", choices=("mulaw", "pcm16"), default="mulaw")
    parser.add_argument("--bot", choices=("echo", "sink", "null", "gateway"), default="echo",
                        help="echo (default), sink (parses, no answer), null (discards bytes "
                             "unparsed) or voxgate's gateway (echo adapter)")
    parser.add_argument("--echo-batch", type=int, default=10,
                        help="echo: media messages sent back as one (10 x 20 ms = 200 ms)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    report = asyncio.run(run(args))
    report["load_average_1m"] = round(os.getloadavg()[0], 2)
    report["cpus"] = os.cpu_count()
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
