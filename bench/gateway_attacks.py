"""Attack bench (issue 14 items 3, 4, 11): the gateway as its own process, each attack beside
one healthy real-time stream, with the gateway's RSS and the healthy stream's frames.

* ``flood``: one stream sends ``--flood`` messages (3,000) whose unknown event names are unique
  and ``--name-kb`` (150) KB long. Before the bounds every name was kept and logged: +435 MB.
* ``nostart``: ``--nostart`` (3,000) connections upgrade and then send only
  ``{"event":"connected"}`` every 2 s, never ``start``. Before the start deadline and the
  pending caps they held their slots past four idle timeouts and a real stream got 503. The
  gateway runs with ``--ip-limit-exempt none`` so its per-IP caps apply to this loopback test.
  During the attack a fresh real stream is opened too (it must get through).
* ``drip``: CPU of the pure frame parser for a 1 MB frame fed 100 bytes per read, beside the
  old ``buf + data`` re-buffering (quadratic), in-process.

For each attack: the gateway's RSS before and after (and its peak, VmHWM), and the healthy
stream's 100 ms frames sent, echoed back and lost (the echo adapter returns every byte).

    .venv/bin/python bench/gateway_attacks.py                 # all three
    .venv/bin/python bench/gateway_attacks.py flood --flood 1000
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from websockets.asyncio.client import ClientConnection, connect  # noqa: E402
from websockets.exceptions import ConnectionClosed  # noqa: E402

from gateway.frames import OP_BINARY, FrameParser  # noqa: E402

CHUNK = 1600  # 100 ms of PCM16 at 8 kHz
HANDSHAKE = (
    b"GET /stream/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
    b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Sec-WebSocket-Version: 13\r\n\r\n"
)
CONNECTED = b'{"event":"connected"}'


def start_message(sid: str) -> str:
    return json.dumps({
        "event": "start", "stream_sid": sid,
        "start": {"stream_sid": sid, "call_sid": f"CA-{sid}",
                  "media_format": {"encoding": "audio/x-raw", "sample_rate": "8000"}},
    })


def media_message(pcm: bytes) -> str:
    return json.dumps({"event": "media", "media": {"payload": base64.b64encode(pcm).decode()}})


def masked(opcode: int, payload: bytes) -> bytes:
    """A client frame with an all-zero mask (valid, and free to build)."""
    n = len(payload)
    if n < 126:
        head = bytes((0x80 | opcode, 0x80 | n))
    else:
        head = bytes((0x80 | opcode, 0x80 | 126)) + n.to_bytes(2, "big")
    return head + b"\0\0\0\0" + payload


def rss_kb(pid: int, field: str = "VmRSS") -> int:
    match = re.search(rf"{field}:\s+(\d+)", Path(f"/proc/{pid}/status").read_text())
    return int(match.group(1)) if match else 0


class Gateway:
    """``python -m gateway.cli`` on an ephemeral port, logs at WARNING."""

    def __init__(self, root: Path | None, *extra: str) -> None:
        """``root``: another checkout's gateway (run without ``extra``, for a before/after)."""
        env = {**os.environ, "VOXGATE_LOG_LEVEL": "WARNING"}
        cmd = [sys.executable, "-m", "gateway.cli", "--port", "0", *(extra if not root else ())]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True, cwd=root or ROOT, env=env)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        match = re.search(r"listening on (ws://\S+)", line)
        if not match:
            raise SystemExit(f"gateway did not start: {line!r}")
        self.base = match.group(1)
        self.port = int(self.base.rsplit(":", 1)[1])

    def rss_mb(self) -> float:
        return rss_kb(self.proc.pid) / 1024

    def peak_mb(self) -> float:
        return rss_kb(self.proc.pid, "VmHWM") / 1024

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=15)


@dataclass
class Healthy:
    sent: int = 0
    received_bytes: int = 0
    close_code: int | None = None

    @property
    def received(self) -> int:
        return min(self.received_bytes // CHUNK, self.sent)  # not the flush's echo

    def line(self) -> str:
        lost = self.sent - self.received
        return (f"healthy stream: {self.sent} frames sent, {self.received} received, {lost} lost"
                f", close code {self.close_code or 'none (open)'}")


async def _echoes(ws: ClientConnection, healthy: Healthy) -> None:
    try:
        async for message in ws:
            msg = json.loads(message)
            if msg.get("event") == "media":
                healthy.received_bytes += len(base64.b64decode(msg["media"]["payload"]))
    except ConnectionClosed:
        pass
    healthy.close_code = ws.close_code


async def healthy_stream(base: str, stop: asyncio.Event, sid: str = "MZhealthy") -> Healthy:
    """One real-time stream to the echo adapter until ``stop``; then waits for its echoes."""
    healthy = Healthy()
    async with connect(f"{base}/stream/echo", ping_interval=None, compression=None) as ws:
        reader = asyncio.create_task(_echoes(ws, healthy))
        await ws.send(json.dumps({"event": "connected"}))
        await ws.send(start_message(sid))
        pcm = bytes(range(200)) * 8  # 1,600 bytes, not silence
        began = time.monotonic()
        while not stop.is_set() and healthy.close_code is None:
            await ws.send(media_message(pcm))
            healthy.sent += 1
            delay = began + healthy.sent * 0.1 - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        await ws.send(media_message(bytes(CHUNK * 3)))  # flushes the held tail
        try:
            async with asyncio.timeout(5):
                while healthy.received < healthy.sent and healthy.close_code is None:  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
        except TimeoutError:
            pass
        reader.cancel()
    return healthy


async def flood(args: argparse.Namespace) -> None:
    gw = Gateway(args.old_root)
    await asyncio.sleep(0.5)
    before = gw.rss_mb()
    stop = asyncio.Event()
    health = asyncio.create_task(healthy_stream(gw.base, stop))
    await asyncio.sleep(1)
    name = "n" * (args.name_kb * 1024)
    began = time.monotonic()
    async with connect(f"{gw.base}/stream/echo", ping_interval=None, compression=None,
                       max_size=None) as ws:
        await ws.send(start_message("MZflood"))
        for i in range(args.flood):
            await ws.send(json.dumps({"event": f"{i:06d}{name}"}))
        await ws.send(json.dumps({"event": "stop", "stop": {"reason": "callended"}}))
        try:
            await asyncio.wait_for(ws.wait_closed(), 10)
        except TimeoutError:
            pass
        code = ws.close_code
    took = time.monotonic() - began
    await asyncio.sleep(1)
    stop.set()
    healthy = await health
    after = gw.rss_mb()
    print(f"flood: {args.flood} messages with unique {args.name_kb} KB event names in "
          f"{took:.1f} s; the flooding stream closed with {code}")
    print(f"gateway RSS: {before:.1f} MB before, {after:.1f} MB after (peak {gw.peak_mb():.1f}"
          f" MB)")
    print(healthy.line())
    gw.stop()


class NoStart(asyncio.Protocol):
    """An upgraded connection that only ever sends ``connected``."""

    def __init__(self, tally: dict[str, int]) -> None:
        self.tally = tally
        self.transport: asyncio.Transport | None = None
        self.buf = b""
        self.upgraded = False
        self.done = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.transport.write(HANDSHAKE)  # type: ignore[union-attr]

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.upgraded and b"\r\n\r\n" in self.buf:
            head, _, self.buf = self.buf.partition(b"\r\n\r\n")
            self.upgraded = head.startswith(b"HTTP/1.1 101")
            self.tally["upgraded" if self.upgraded else "refused_http"] += 1
            if self.upgraded:
                self.send_connected()
        if self.upgraded and len(self.buf) >= 4 and self.buf[0] & 0x0F == 0x8:
            code = int.from_bytes(self.buf[2:4], "big")
            self.tally[f"closed_{code}"] = self.tally.get(f"closed_{code}", 0) + 1
            self.buf = b""

    def send_connected(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(masked(0x1, CONNECTED))

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.upgraded:
            self.tally["dropped_at_accept"] += 1
        if not self.done.done():
            self.done.set_result(None)


class Swarm:
    """``count`` attackers from another loopback address (127.0.0.2, so the healthy streams
    from 127.0.0.1 are another source, as Exotel is): each reconnects 1 s after it is closed
    or refused, and sends ``connected`` every 2 s while upgraded."""

    def __init__(self, port: int, count: int) -> None:
        self.port = port
        self.count = count
        self.tally = {"attempts": 0, "upgraded": 0, "refused_http": 0, "dropped_at_accept": 0,
                      "connect_failed": 0}
        self.live: list[NoStart] = []
        self.most_upgraded = 0
        self.stopping = False

    async def slot(self) -> None:
        loop = asyncio.get_running_loop()
        while not self.stopping:
            self.tally["attempts"] += 1
            try:
                _, conn = await loop.create_connection(
                    lambda: NoStart(self.tally), "127.0.0.1", self.port,
                    local_addr=("127.0.0.2", 0),
                )
            except OSError:
                self.tally["connect_failed"] += 1
                await asyncio.sleep(1)
                continue
            self.live.append(conn)
            while not conn.done.done() and not self.stopping:
                await asyncio.wait([conn.done], timeout=2)
                conn.send_connected()
            self.live.remove(conn)
            if conn.transport is not None:
                conn.transport.abort()
            await asyncio.sleep(1)

    def sample(self) -> None:
        upgraded = sum(1 for c in self.live if c.upgraded and not c.done.done())
        self.most_upgraded = max(self.most_upgraded, upgraded)


async def nostart(args: argparse.Namespace) -> None:
    gw = Gateway(args.old_root, "--ip-limit-exempt", "none", "--start-timeout",
                 str(args.start_timeout))
    await asyncio.sleep(0.5)
    before = gw.rss_mb()
    stop = asyncio.Event()
    health = asyncio.create_task(healthy_stream(gw.base, stop))
    await asyncio.sleep(1)
    swarm = Swarm(gw.port, args.nostart)
    slots = [asyncio.create_task(swarm.slot()) for _ in range(args.nostart)]
    peak = before
    late: asyncio.Task[Healthy] | None = None
    began = time.monotonic()
    while time.monotonic() - began < args.seconds:
        await asyncio.sleep(0.5)
        swarm.sample()
        peak = max(peak, gw.rss_mb())
        if late is None and time.monotonic() - began > args.seconds / 2:
            # a real call arriving in the middle of the attack must get through
            late = asyncio.create_task(healthy_stream(gw.base, stop, sid="MZlate"))
    stop.set()
    healthy = await health
    late_line = "late stream: never opened"
    if late is not None:
        try:
            late_line = "late " + (await late).line() + " (opened mid-attack)"
        except Exception as exc:
            late_line = f"late stream (opened mid-attack) refused: {exc}"
    swarm.stopping = True
    for conn in swarm.live:
        if conn.transport is not None:
            conn.transport.abort()
    await asyncio.gather(*slots, return_exceptions=True)
    await asyncio.sleep(0.5)
    after = gw.rss_mb()
    print(f"no-start: {args.nostart} attackers from 127.0.0.2, each reconnecting 1 s after a "
          f"close and sending only 'connected' every 2 s, for {args.seconds:.0f} s (start "
          f"timeout {args.start_timeout:g} s)")
    print("  " + ", ".join(f"{k} {v}" for k, v in sorted(swarm.tally.items())))
    print(f"  most attack connections upgraded and open at once: {swarm.most_upgraded}")
    print(f"gateway RSS: {before:.1f} MB before, {after:.1f} MB after (peak sampled {peak:.1f}"
          f" MB, VmHWM {gw.peak_mb():.1f} MB)")
    print(healthy.line())
    print(late_line)
    gw.stop()


def drip(args: argparse.Namespace) -> None:
    payload = bytes(1 << 20)
    frame = bytes((0x80 | OP_BINARY, 0x80 | 127)) + len(payload).to_bytes(8, "big")
    frame += b"\0\0\0\0" + payload
    pieces = [frame[i : i + args.read] for i in range(0, len(frame), args.read)]
    parser = FrameParser(2 << 20)
    t0 = time.process_time()
    for piece in pieces:
        parser.feed(piece)
    new = time.process_time() - t0
    t0 = time.process_time()
    buf = b""
    for piece in pieces:  # what the wire did before: the kept bytes re-joined on every read
        buf = buf + piece
    old = time.process_time() - t0
    print(f"drip: a 1 MB frame in {len(pieces)} reads of {args.read} bytes: frame parser "
          f"{new * 1000:.1f} ms CPU; the old buf + data re-buffering alone {old * 1000:.1f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("attack", nargs="?", choices=["flood", "nostart", "drip", "all"],
                        default="all")
    parser.add_argument("--flood", type=int, default=3000)
    parser.add_argument("--name-kb", type=int, default=150)
    parser.add_argument("--nostart", type=int, default=3000)
    parser.add_argument("--seconds", type=float, default=20.0, help="no-start attack length")
    parser.add_argument("--start-timeout", type=float, default=10.0)
    parser.add_argument("--read", type=int, default=100, help="drip: bytes per read")
    parser.add_argument(
        "--old-root", type=Path, default=None,
        help="run the gateway of another checkout (e.g. `git archive` of an older commit), "
        "with its default options, to compare",
    )
    args = parser.parse_args()
    if args.attack in ("drip", "all"):
        drip(args)
    if args.attack in ("flood", "all"):
        asyncio.run(flood(args))
    if args.attack in ("nostart", "all"):
        asyncio.run(nostart(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
