"""Load bench: N concurrent Exotel-like streams at real-time pace against the echo adapter.

Starts ``voxgate gateway`` as its own process (VAD on), drives N streams from one or more
client processes, and prints the gateway process's CPU per stream, streams per core,
p50/p99 turnaround, frames lost, bit-exactness and RSS per stream.

The clients are lean on purpose (raw sockets, their own framing, one scheduler per process
rather than a timer and tasks per stream): on a 2-core machine they share the cores with the
gateway, and a websockets client per stream cost as much CPU as the gateway it loaded, which
capped the streams one machine could drive at about 450. With these, 1,000 streams fit.

Turnaround is what the gateway adds beyond what the chunk rules force it to hold: for each
echoed chunk, arrival time minus the send time of the inbound chunk that completed it.

    .venv/bin/python bench/gateway_load.py --streams 200 --seconds 20
    .venv/bin/python bench/gateway_load.py --streams 100 --encoding mulaw --chunk-ms 20
    .venv/bin/python bench/gateway_load.py --streams 200 --profile /tmp/gw.prof
    .venv/bin/python bench/gateway_load.py --streams 300 --seconds 10 --compare 3
    .venv/bin/python bench/gateway_load.py --streams 1000 --seconds 15 --clients 2 \
        --batch-ms 5 --pin

``--pin`` gives the gateway CPU 0 to itself and the clients the others, as a production gateway
has its cores to itself; unpinned, the clients' bursts preempt it. On a virtual machine the
hypervisor can still stop a CPU for tens of milliseconds: the report shows that *steal* and how
many quarter-seconds of the steady state held a slow chunk, to tell such stalls from a slow
gateway.

``--compare N`` alternates N runs of the gateway with N of ``--baseline`` (a bare websockets
echo server on the same event loop) and prints each run's CPU per stream-second and p99 and
the medians: the machine is shared, so single runs spread; alternating spreads the noise
over both sides.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import heapq
import json
import multiprocessing as mp
import os
import random
import re
import resource
import statistics
import struct
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pybase64  # noqa: E402
from websockets.speedups import apply_mask  # noqa: E402

import audio_fixtures  # noqa: E402
from gateway.audio import pcm16_to_mulaw  # noqa: E402

CLK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid: int) -> float:
    """User+system CPU seconds of a process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK


def proc_run_delay(pid: int) -> float:
    """Seconds the process's threads have waited on a run queue for a CPU (schedstat)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return total / 1e9


def cpu_steal() -> list[float]:
    """Seconds each CPU of this (virtual) machine has lost to the hypervisor so far."""
    with open("/proc/stat") as stat:
        return [int(line.split()[8]) / CLK for line in stat
                if line.startswith("cpu") and not line.startswith("cpu ")]


def gateway_lag(url: str) -> tuple[float, int]:
    """The gateway's worst loop stall so far and its count of wake-ups over 20 ms late."""
    base = url.split("/stream/")[0].replace("ws://", "http://")
    worst, late = 0.0, 0
    with urllib.request.urlopen(base + "/metrics", timeout=10) as response:
        for text in response.read().decode().splitlines():
            if text.startswith("voxgate_gateway_loop_lag_max_seconds"):
                worst = float(text.split(" ")[-1])
            elif text.startswith("voxgate_gateway_loop_lags_over_20ms_total"):
                late = int(float(text.split(" ")[-1]))
    return worst, late


def proc_rss_kb(pid: int) -> int:
    match = re.search(r"VmRSS:\s+(\d+)", Path(f"/proc/{pid}/status").read_text())
    return int(match.group(1)) if match else 0


def speech_buffer(rate: int, seconds: float) -> bytes:
    """Customer-like audio: fixture speech and pauses, looped to ``seconds``."""
    names = ["cust_hello", "cust_yes", "cust_no", "cust_human"]
    suffix = "" if rate == 8000 else "_16k"
    parts: list[bytes] = []
    for name in names:
        parts.append(audio_fixtures.load(name + suffix).pcm)
        parts.append(bytes(rate * 2 // 2))  # 500 ms pause
    one = b"".join(parts)
    need = int(rate * 2 * seconds)
    return (one * (need // len(one) + 1))[:need]


@dataclass
class StreamStats:
    sent: int = 0
    received: int = 0
    mismatched: bool = False
    close_code: int | None = None
    turnaround_ms: list[float] = field(default_factory=list)
    arrived: list[float] = field(default_factory=list)  # when each turnaround was measured


class ClientStream(asyncio.Protocol):
    """One Exotel-like stream on a raw socket: it frames (masked, as a client must) and
    parses WebSocket frames itself, and is paced by the process's one scheduler instead of a
    timer and two tasks per stream, so that a client process costs far less CPU than the
    server it loads (a websockets client per stream cost about as much as the gateway)."""

    def __init__(self, sid: str, host: str, path: str, wire: bytes, chunk: int,
                 measure_from: float, stats: StreamStats) -> None:
        self.sid, self.host, self.path = sid, host, path
        self.wire, self.chunk, self.measure_from, self.stats = wire, chunk, measure_from, stats
        self.transport: asyncio.Transport | None = None
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.buf = b""
        self.upgraded = False
        self.close_sent = False
        self.send_times: list[float] = []
        self.seq = 1

    # ---- sending ---------------------------------------------------------------------------
    def send_text(self, text: str) -> None:
        payload = text.encode()
        n = len(payload)
        if n < 126:
            head = bytes((0x81, 0x80 | n))
        elif n < 65536:
            head = struct.pack("!BBH", 0x81, 0x80 | 126, n)
        else:
            head = struct.pack("!BBQ", 0x81, 0x80 | 127, n)
        mask = random.randbytes(4)
        assert self.transport is not None
        self.transport.write(head + mask + apply_mask(payload, mask))

    def send_media(self, payload_b64: str, offset: int) -> None:
        self.seq += 1
        seq = self.seq
        self.send_times.append(time.monotonic())
        self.send_text(
            f'{{"event":"media","sequence_number":"{seq}","stream_sid":"{self.sid}",'
            f'"media":{{"chunk":"{seq}","timestamp":"{offset}","payload":"{payload_b64}"}}}}'
        )
        self.stats.sent = offset + self.chunk

    def close(self) -> None:
        if not self.close_sent and self.transport is not None:
            self.close_sent = True
            mask = random.randbytes(4)
            self.transport.write(bytes((0x88, 0x82)) + mask + apply_mask(b"\x03\xe8", mask))

    # ---- receiving -------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        key = base64.b64encode(random.randbytes(16)).decode()
        self.transport.write(
            f"GET {self.path} HTTP/1.1\r\nHost: {self.host}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )

    def data_received(self, data: bytes) -> None:
        buf = self.buf + data if self.buf else data
        if not self.upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                self.buf = buf
                return
            if not buf.startswith(b"HTTP/1.1 101"):
                self.opened.set_exception(RuntimeError(buf[:end].decode(errors="replace")))
                return
            self.upgraded = True
            self.opened.set_result(None)
            buf = buf[end + 4 :]
        pos, size = 0, len(buf)
        while size - pos >= 2:
            b0, n = buf[pos], buf[pos + 1] & 0x7F
            head = pos + 2
            if n == 126:
                if size - pos < 4:
                    break
                n, head = (buf[pos + 2] << 8) | buf[pos + 3], pos + 4
            elif n == 127:
                if size - pos < 10:
                    break
                n, head = int.from_bytes(buf[pos + 2 : pos + 10], "big"), pos + 10
            if head + n > size:
                break
            self.frame(b0 & 0x0F, buf[head : head + n])
            pos = head + n
        self.buf = buf[pos:]

    def frame(self, opcode: int, payload: bytes) -> None:
        if opcode == 0x1:
            if not payload.startswith(b'{"event":"media"'):
                return
            now = time.monotonic()
            at = payload.index(b'"payload":"') + 11
            data = pybase64.b64decode(payload[at : payload.index(b'"', at)])
            stats = self.stats
            start = stats.received
            end = start + len(data)
            if self.wire[start:end] != data:
                stats.mismatched = True
            stats.received = end
            index = (end - 1) // self.chunk
            if now >= self.measure_from and index < len(self.send_times):
                stats.turnaround_ms.append((now - self.send_times[index]) * 1000)
                stats.arrived.append(now)
        elif opcode == 0x8:
            self.stats.close_code = struct.unpack("!H", payload[:2])[0] if payload else 1005
            self.close()
            assert self.transport is not None
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(exc or ConnectionError("closed before the upgrade"))
        if not self.closed.done():
            self.closed.set_result(None)


def client_process(args: dict[str, Any], first: int, count: int, out: Any) -> None:
    async def main() -> list[StreamStats]:
        loop = asyncio.get_running_loop()
        rate, chunk_ms, encoding = args["rate"], args["chunk_ms"], args["encoding"]
        pcm = speech_buffer(rate, args["seconds"] + 5)
        wire = pcm16_to_mulaw(pcm) if encoding == "audio/x-mulaw" else pcm
        chunk = rate * chunk_ms // 1000 * (1 if encoding == "audio/x-mulaw" else 2)
        payloads = [
            base64.b64encode(wire[i : i + chunk]).decode() for i in range(0, len(wire), chunk)
        ]
        url = urllib.parse.urlsplit(args["url"])
        path = url.path + (f"?{url.query}" if url.query else "")
        t0, chunk_s = args["t0"], chunk_ms / 1000
        stop_at = t0 + args["ramp"] + args["seconds"]
        stats = [StreamStats() for _ in range(count)]
        streams: list[ClientStream] = []
        fmt = {"encoding": encoding, "sample_rate": str(rate), "bit_rate": "16"}
        due: list[tuple[float, int, int]] = []  # (send at, stream, offset): one scheduler

        async def open_stream(i: int) -> None:
            """Open stream i at its place in the ramp, as calls arrive one by one; its
            chunks are then due every chunk_s from a random phase."""
            opens_at = t0 + args["ramp"] * (first + i) / args["streams"]
            await asyncio.sleep(max(0.0, opens_at - time.monotonic()))
            sid = f"MZ{first + i:06d}"
            _, stream = await loop.create_connection(
                lambda: ClientStream(
                    sid, url.netloc, path, wire, chunk, args["measure_from"], stats[i]),
                url.hostname, url.port,
            )
            await stream.opened
            stream.send_text('{"event":"connected"}')
            stream.send_text(json.dumps({
                "event": "start", "sequence_number": "1", "stream_sid": sid,
                "start": {"stream_sid": sid, "call_sid": "CA" + sid, "account_sid": "AC1",
                          "from": "+911", "to": "+912", "custom_parameters": {},
                          "media_format": fmt},
            }))
            streams.append(stream)
            heapq.heappush(due, (time.monotonic() + random.random() * chunk_s, len(streams) - 1, 0))

        openers = [asyncio.ensure_future(open_stream(i)) for i in range(count)]
        tick = args["tick_ms"] / 1000
        ended = 0
        while ended < count:
            if not due:
                for opener in openers:  # a stream that could not open would never end
                    if opener.done() and opener.exception() is not None:
                        raise RuntimeError("a stream did not open") from opener.exception()
                await asyncio.sleep(0.01)
                continue
            at, i, offset = due[0]
            delay = at - time.monotonic()
            if delay > tick:  # a stream that opens meanwhile waits at most 10 ms for this
                await asyncio.sleep(min(delay - tick / 2, 0.01))
                continue
            heapq.heappop(due)
            if at < stop_at and offset + chunk <= len(wire):
                streams[i].send_media(payloads[offset // chunk], offset)
                heapq.heappush(due, (at + chunk_s, i, offset + chunk))
            else:
                ended += 1
        await asyncio.gather(*openers)
        await asyncio.sleep(0.5)  # let the last echoes arrive
        for stream in streams:
            stream.send_text(json.dumps({"event": "stop", "stream_sid": stream.sid,
                                         "stop": {"reason": "callended"}}))
        await asyncio.wait([asyncio.ensure_future(s.closed) for s in streams], timeout=10)
        return stats

    from gateway.eventloop import run

    stats = run(main(), use_uvloop=True)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    out.send((stats, usage.ru_utime + usage.ru_stime))


def serve_baseline(use_uvloop: bool) -> None:
    """A bare websockets server echoing every message unchanged: the floor that websockets,
    asyncio and the kernel cost on this machine, for comparison (``--baseline``)."""
    from websockets.asyncio.server import ServerConnection, serve

    async def echo(ws: ServerConnection) -> None:
        async for message in ws:
            if '"media"' in message:
                await ws.send(message)

    async def main() -> None:
        async with serve(echo, "127.0.0.1", 0, compression=None, ping_interval=None) as server:
            port = next(iter(server.sockets)).getsockname()[1]
            print(f"gateway listening on ws://127.0.0.1:{port}", flush=True)
            await asyncio.Event().wait()

    from gateway.eventloop import run

    run(main(), use_uvloop=use_uvloop)


def compare(rounds: int, argv: list[str]) -> int:
    """Alternate gateway and baseline runs of this script (``--compare``)."""
    i = argv.index("--compare")
    argv = argv[:i] + argv[i + 2 :]
    figures: dict[str, list[tuple[float, float]]] = {"gateway": [], "baseline": []}
    for n in range(rounds):
        for side in ("gateway", "baseline"):
            cmd = [sys.executable, __file__, *argv] + (["--baseline"] if side == "baseline" else [])
            out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT).stdout
            cpu = re.search(r"\(([\d.]+) ms CPU per stream-second\)", out)
            p99 = re.search(r"p99 ([\d.]+) ms", out)
            lost = re.search(r"frames lost\s+(\d+)", out)
            if not (cpu and p99 and lost):
                print(f"run {n + 1} {side}: no figures\n{out}", file=sys.stderr)
                return 1
            figures[side].append((float(cpu.group(1)), float(p99.group(1))))
            note = "  NOT SUSTAINED" if "NOT SUSTAINED" in out else ""
            print(f"run {n + 1} {side:8} {cpu.group(1)} ms CPU per stream-second, "
                  f"p99 {p99.group(1)} ms, {lost.group(1)} frames lost{note}", flush=True)
    med = {k: (statistics.median(c for c, _ in v), statistics.median(p for _, p in v))
           for k, v in figures.items()}
    for side, (cpu_med, p99_med) in med.items():
        print(f"median {side:8} {cpu_med:.3f} ms CPU per stream-second "
              f"({1000 / cpu_med:.0f} streams per core), p99 {p99_med:.2f} ms")
    print(f"gateway / baseline CPU: {med['gateway'][0] / med['baseline'][0]:.2f}")
    return 0


def slow_windows(stats: list[StreamStats], start: float) -> tuple[int, int]:
    """How many quarter-second windows of the steady state held a turnaround over 20 ms, of
    how many: tells a few stalls (of the gateway, or of the VM) from a slow gateway."""
    slow: set[int] = set()
    seen: set[int] = set()
    for s in stats:
        for at, ms in zip(s.arrived, s.turnaround_ms, strict=True):
            window = int((at - start) * 4)
            seen.add(window)
            if ms > 20:
                slow.add(window)
    return len(slow), len(seen)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--streams", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=20.0, help="steady-state length")
    ap.add_argument("--ramp", type=float, default=5.0, help="seconds to open all streams")
    ap.add_argument("--chunk-ms", type=int, default=100)
    ap.add_argument("--encoding", choices=["pcm", "mulaw"], default="pcm")
    ap.add_argument("--rate", type=int, default=8000)
    ap.add_argument("--clients", type=int, default=1, help="client processes")
    ap.add_argument("--tick-ms", type=float, default=2.0,
                    help="a client sends each chunk up to this early, to wake up less often "
                         "(0: each chunk at its exact time; costs the clients twice the CPU)")
    ap.add_argument("--no-vad", action="store_true")
    ap.add_argument("--batch-ms", type=float, default=0.0,
                    help="the gateway's --batch-ms (batched loop turns; 0 = off)")
    ap.add_argument("--gc-off", action="store_true", help="gateway without cyclic GC")
    ap.add_argument("--no-uvloop", action="store_true",
                    help="gateway (and baseline) on asyncio's own loop even with uvloop installed")
    ap.add_argument("--profile", default=None, help="run the gateway under cProfile, save here")
    ap.add_argument("--baseline", action="store_true",
                    help="run against a bare websockets echo server instead of the gateway")
    ap.add_argument("--compare", type=int, default=0, metavar="N",
                    help="alternate N gateway runs with N baseline runs; print medians")
    ap.add_argument("--pin", action="store_true",
                    help="the gateway alone on CPU 0, the clients on the other CPUs (the gateway "
                         "gets a core of its own, as in production)")
    ap.add_argument("--serve-baseline", action="store_true", help=argparse.SUPPRESS)
    opts = ap.parse_args()
    if opts.serve_baseline:
        serve_baseline(not opts.no_uvloop)
        return 0
    if opts.compare:
        return compare(opts.compare, [a for a in sys.argv[1:] if a != "--baseline"])

    encoding = "audio/x-mulaw" if opts.encoding == "mulaw" else "audio/x-raw"
    cmd = [sys.executable]
    if opts.profile:
        cmd += ["-m", "cProfile", "-o", opts.profile]
    if opts.gc_off:
        cmd += ["-c", "import gc, runpy, sys; gc.disable(); sys.argv[0] = 'gateway';"
                " runpy.run_module('gateway.cli', run_name='__main__')"]
    else:
        cmd += ["-m", "gateway.cli"]
    cmd += ["--port", "0", "--idle-timeout", "60"]
    if opts.no_vad:
        cmd.append("--no-vad")
    if opts.batch_ms:
        cmd += ["--batch-ms", str(opts.batch_ms)]
    if opts.no_uvloop:
        cmd.append("--no-uvloop")
    if opts.baseline:
        cmd = [sys.executable, __file__, "--serve-baseline"]
        if opts.no_uvloop:
            cmd.append("--no-uvloop")
    env = dict(os.environ, VOXGATE_LOG_LEVEL="WARNING")
    gw = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=ROOT, env=env)
    assert gw.stdout is not None
    if opts.pin:
        os.sched_setaffinity(gw.pid, {0})
        os.sched_setaffinity(0, set(range(1, os.cpu_count() or 2)))  # clients inherit it
    line = gw.stdout.readline()
    match = re.search(r"listening on (ws://\S+)", line)
    if not match:
        print(f"gateway did not start: {line!r}", file=sys.stderr)
        gw.kill()
        return 1
    url = match.group(1) + "/stream/echo"
    if opts.rate != 8000:
        url += f"?sample-rate={opts.rate}"
    time.sleep(0.5)
    rss_base = proc_rss_kb(gw.pid)

    t0 = time.monotonic() + 1.0
    measure_from = t0 + opts.ramp + 1.0
    args = {
        "url": url, "rate": opts.rate, "chunk_ms": opts.chunk_ms, "encoding": encoding,
        "seconds": opts.seconds, "ramp": opts.ramp, "streams": opts.streams, "t0": t0,
        "measure_from": measure_from, "tick_ms": opts.tick_ms,
    }
    procs = []
    per = -(-opts.streams // opts.clients)
    for c in range(opts.clients):
        first = c * per
        count = min(per, opts.streams - first)
        if count <= 0:
            break
        parent, child = mp.Pipe(duplex=False)
        p = mp.Process(target=client_process, args=(args, first, count, child))
        p.start()
        procs.append((p, parent))

    # Measure the gateway over the steady state only.
    time.sleep(max(0.0, measure_from - time.monotonic()))
    lag0 = None if opts.baseline else gateway_lag(url)
    steal0 = cpu_steal()
    cpu0, wall0, wait0 = proc_cpu(gw.pid), time.monotonic(), proc_run_delay(gw.pid)
    rss_peak = rss_base
    measure_end = measure_from + opts.seconds - 1.5
    while time.monotonic() < measure_end:
        time.sleep(0.5)
        rss_peak = max(rss_peak, proc_rss_kb(gw.pid))
    cpu1, wall1, wait1 = proc_cpu(gw.pid), time.monotonic(), proc_run_delay(gw.pid)
    steal = [(b - a) * 1000 for a, b in zip(steal0, cpu_steal(), strict=True)]
    lag1 = None if opts.baseline else gateway_lag(url)

    stats: list[StreamStats] = []
    client_cpu = 0.0
    for p, parent in procs:
        got, cpu = parent.recv()
        stats.extend(got)
        client_cpu += cpu
        p.join()
    load = os.getloadavg()
    gw.terminate()
    gw.wait(timeout=30)

    cores = (cpu1 - cpu0) / (wall1 - wall0)
    turn = [t for s in stats for t in s.turnaround_ms]
    chunk = opts.rate * opts.chunk_ms // 1000 * (1 if opts.encoding == "mulaw" else 2)
    frame = opts.rate // 50 * (1 if opts.encoding == "mulaw" else 2)
    hold = 1 if opts.encoding == "mulaw" else -(-3200 // frame) * frame  # may stay held
    lost_frames = sum(max(0, s.sent - s.received - (hold if s.received else 0)) // frame
                      for s in stats)
    if opts.baseline:
        print("BASELINE: bare websockets echo server, not the gateway")
    from gateway import CORE
    from gateway.eventloop import uvloop_available

    loop_name = "uvloop" if uvloop_available() and not opts.no_uvloop else "asyncio"
    batching = f"batched turns {opts.batch_ms:g} ms" if opts.batch_ms else "no batching"
    print(f"streams            {opts.streams} ({opts.encoding}, {opts.rate} Hz, "
          f"{opts.chunk_ms} ms chunks, VAD {'off' if opts.no_vad else 'on'}, {batching}, "
          f"{opts.clients} client process(es), server on {loop_name}"
          f"{'' if opts.baseline else ', core ' + CORE}{', pinned' if opts.pin else ''})")
    print(f"measured           {wall1 - wall0:.1f} s steady state")
    print(f"gateway CPU        {cores * 100:.1f} % of one core "
          f"({cores / opts.streams * 1e6 / 1000:.3f} ms CPU per stream-second)")
    if cores > 0:
        print(f"streams per core   {opts.streams / cores:.0f}")
    print(f"turnaround         p50 {percentile(turn, 0.5):.2f} ms  p99 "
          f"{percentile(turn, 0.99):.2f} ms  max {max(turn, default=float('nan')):.2f} ms "
          f"({len(turn)} chunks)")
    print(f"frames lost        {lost_frames} (of {sum(s.sent for s in stats) // frame} sent)")
    print(f"bit-exact streams  {sum(not s.mismatched for s in stats)}/{len(stats)}")
    print(f"RSS                base {rss_base / 1024:.1f} MB, peak {rss_peak / 1024:.1f} MB, "
          f"{(rss_peak - rss_base) / max(1, opts.streams):.1f} KB per stream")
    windows = slow_windows(stats, measure_from)
    print(f"slow moments       {windows[0]} of {windows[1]} quarter-seconds held a turnaround "
          "over 20 ms")
    print(f"gateway CPU wait   {(wait1 - wait0) / (wall1 - wall0) * 1000:.1f} ms per second "
          "runnable but waiting for a CPU (steady state)")
    print("hypervisor steal   " + ", ".join(f"CPU {i} {ms:.0f} ms" for i, ms in enumerate(steal))
          + " (steady state: time the VM's CPUs did not run at all)")
    if max(steal, default=0.0) >= 20:
        print(f"DISTURBED: the hypervisor took {max(steal):.0f} ms from a CPU of this VM in the "
              "steady state; the turnarounds include those stalls (the clients' too)")
    if lag0 is not None and lag1 is not None:
        print(f"gateway loop lag   {lag1[1] - lag0[1]} wake-ups > 20 ms late in the steady state "
              f"(worst stall of the whole run {lag1[0] * 1000:.0f} ms)")
    print(f"clients            {client_cpu:.1f} s CPU in all (whole run); machine load "
          f"average {load[0]:.2f} (other work shares these cores)")
    behind = lost_frames > 0 or percentile(turn, 0.5) > 2 * opts.chunk_ms
    if behind:
        print("NOT SUSTAINED: the streams fell behind real time (frames still unanswered at the "
              "end, or p50 turnaround over two chunks); the CPU figures above are then not a "
              "per-stream cost. Check the loop lag and the machine's load.")
    closes: dict[Any, int] = {}
    for s in stats:
        closes[s.close_code] = closes.get(s.close_code, 0) + 1
    print(f"close codes        {closes}")
    del chunk
    return 0


if __name__ == "__main__":
    sys.exit(main())
