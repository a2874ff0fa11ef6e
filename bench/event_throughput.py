"""Event handling throughput of the dialer: 1,000 concurrent calls' events on one core.

A null Exotel (a separate process answering every REST call at once and logging when each
request arrived) stands in for the API, so only the dialer's work is measured. The dialer
places ``--calls`` calls (default 1,000) and then receives, for every call, ``leg_ringing``,
``leg_answered``, ``stream_started`` and ``leg_terminated`` -- each phase for all calls in one
burst. Reported:

* events per second (all events / time from the first event to the last resulting request);
* event-to-action latency: from handing an event to the intake until the request it causes
  (``start_stream`` after ``leg_answered``, ``stop_play`` after ``stream_started``) arrives at
  the null Exotel; p50/p99/max (goal p99 < 10 ms);
* CPU seconds of the dialer's process per wall second (1.0 = one core busy).

``--transport direct`` feeds the intake in-process (parsing, de-duplication, routing, flow,
commands); ``http`` POSTs each event to the dialer's webhook and ``grpc`` calls
``TriggerCallbackEvent``, from a separate sender process playing Exotel (``--in-flight``
deliveries at once).

Usage: ``.venv/bin/python bench/event_throughput.py [--calls 1000] [--transport direct|http]``
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import multiprocessing as mp
import statistics
import sys
import time
from typing import Any

import aiohttp
import grpc
from aiohttp import web
from google.protobuf import struct_pb2

from dialer.config import DialerConfig
from dialer.exotel_client import ExotelClient
from dialer.service import CallRequest, Dialer
from protos import exotel_events_pb2, exotel_events_pb2_grpc

pb2: Any = exotel_events_pb2

ACCOUNT = "ACbench"
PHASES = ("leg_ringing", "leg_answered", "stream_started", "leg_terminated")
ACTION_OF = {"leg_answered": "start_stream", "stream_started": "stop_play"}


def null_exotel(port_out: Any) -> None:
    """Subprocess: answers every Legs/Bridges call with success; logs arrivals."""
    log: list[tuple[str, str, float]] = []
    base = f"/v2/accounts/{ACCOUNT}"

    async def create_leg(request: web.Request) -> web.Response:
        body = await request.json()
        sid = "L" + body["custom_param"]
        log.append(("create_leg", sid, time.monotonic()))
        return web.json_response({"response": {"data": {"leg_sid": sid}}}, status=202)

    async def action(request: web.Request) -> web.Response:
        await request.read()
        log.append((request.match_info["action"], request.match_info["sid"], time.monotonic()))
        return web.json_response({"response": {"data": {}}}, status=202)

    async def get_leg(request: web.Request) -> web.Response:
        sid = request.match_info["sid"]
        return web.json_response({"response": {"data": {
            "leg_sid": sid, "duration": 1, "terminal_status": "completed"}}})

    async def dump(request: web.Request) -> web.Response:
        return web.json_response(log)

    async def main() -> None:
        app = web.Application()
        app.router.add_post(f"{base}/legs", create_leg)
        app.router.add_get(f"{base}/legs/{{sid}}", get_leg)
        app.router.add_post(f"{base}/legs/{{sid}}/actions/{{action}}", action)
        app.router.add_get("/_log", dump)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=4096)
        await site.start()
        port_out.send(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        await asyncio.Event().wait()

    asyncio.run(main())


class TimedClient(ExotelClient):
    """The real client, noting when each request is issued (the dialer's "action" moment)."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.issued: list[tuple[str, str, float]] = []

    async def leg_action(self, leg_sid: str, action: str,
                         body: dict[str, Any] | None = None) -> dict[str, Any]:
        self.issued.append((action, leg_sid, time.monotonic()))
        return await super().leg_action(leg_sid, action, body)


def event(name: str, leg: str, n: int) -> dict[str, Any]:
    etype = "leg_action_event" if name == "stream_started" else "leg_lifecycle_event"
    return {
        "event_sid": f"EV{n}", "event_type": etype, "event_name": name,
        "event_timestamp": "2026-11-21T09:00:00Z", "action_sid": "",
        "action_custom_parameter": "", "event_data": {},
        "data": {"leg_sid": leg, "account_sid": ACCOUNT, "contact_uri": "+91", "state": "x"},
    }


def to_message(body: dict[str, Any]) -> Any:
    """The gRPC form of an event body."""
    ed, d = struct_pb2.Struct(), struct_pb2.Struct()
    ed.update(body["event_data"])
    d.update(body["data"])
    return pb2.CallbackEvent(
        event_sid=body["event_sid"], event_type=body["event_type"],
        event_name=body["event_name"], event_timestamp=body["event_timestamp"],
        event_data=ed, data=d,
    )


def sender(conn: Any, endpoint: str, transport: str, legs: list[str], rate: float,
           in_flight: int, gap: float) -> None:
    """Subprocess playing Exotel's event delivery: every phase for every leg, at ``rate``,
    ``in_flight`` deliveries at once; sends back ``{(name, leg): send time}``."""

    async def main() -> dict[tuple[str, str], float]:
        sent: dict[tuple[str, str], float] = {}
        gate = asyncio.Semaphore(in_flight)
        channel = grpc.aio.insecure_channel(endpoint.removeprefix("grpc://"))
        stub = exotel_events_pb2_grpc.ExotelCallbackServiceStub(channel)  # type: ignore[no-untyped-call]
        async with aiohttp.ClientSession() as http:

            async def send(body: dict[str, Any]) -> None:
                try:
                    if transport == "http":
                        async with http.post(endpoint, json=body) as r:
                            assert r.status == 200
                    else:
                        assert (await stub.TriggerCallbackEvent(to_message(body))).ok
                finally:
                    gate.release()

            seq = 0
            for name in PHASES:
                t_next = time.monotonic()
                async with asyncio.TaskGroup() as tg:
                    for leg in legs:
                        seq += 1
                        await gate.acquire()
                        sent[(name, leg)] = time.monotonic()
                        tg.create_task(send(event(name, leg, seq)))
                        if rate > 0:
                            t_next += 1.0 / rate
                            ahead = t_next - time.monotonic()
                            if ahead > 0.001:
                                await asyncio.sleep(ahead)
                await asyncio.sleep(gap)
        await channel.close()
        return sent

    conn.send(asyncio.run(main()))


async def feed_direct(dialer: Dialer, legs: list[str], args: argparse.Namespace,
                      submitted: dict[tuple[str, str], float]) -> float:
    """Hand every event to the intake in-process; returns the summed submit time."""
    seq = 0
    cost = 0.0
    for name in PHASES:
        t_next = time.monotonic()
        for leg in legs:
            seq += 1
            body = event(name, leg, seq)
            submitted[(name, leg)] = time.monotonic()
            t_in = time.perf_counter()
            dialer.intake.submit(body)
            cost += time.perf_counter() - t_in
            if args.rate > 0:
                t_next += 1.0 / args.rate
                ahead = t_next - time.monotonic()
                if ahead > 0.001:
                    await asyncio.sleep(ahead)
            elif seq % args.burst == 0:
                await asyncio.sleep(0)
        await asyncio.sleep(args.gap)
    return cost


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


async def run(args: argparse.Namespace, port: int) -> None:
    endpoint = "http://127.0.0.1:0/events" if args.transport == "http" else "grpc://127.0.0.1:0"
    cfg = DialerConfig(
        api_base=f"http://127.0.0.1:{port}", account_sid=ACCOUNT, api_key="k", api_token="t",
        exophone="+918000000000", event_endpoint=endpoint, stream_url="ws://127.0.0.1:9/s",
        greeting_url="http://127.0.0.1:9/greeting.wav", stream_start_timeout=120.0,
        record_bridges=False,
    )
    n = args.calls
    submitted: dict[tuple[str, str], float] = {}
    client = TimedClient(cfg.api_base, ACCOUNT, "k", "t", connection_limit=args.connections)
    submit_cost = 0.0
    async with Dialer(cfg, client=client) as dialer, aiohttp.ClientSession() as http:
        handles = [await dialer.place_call(CallRequest(f"+9199{i:08d}", call_id=f"c{i}"))
                   for i in range(n)]
        for _ in range(600):
            if sum(1 for h in handles if h.customer_leg_sid) == n:
                break
            await asyncio.sleep(0.05)
        legs = [h.customer_leg_sid for h in handles]
        assert all(legs), "not every leg was created"
        if args.freeze_gc:
            gc.collect()
            gc.freeze()  # the 1,000 calls' long-lived objects leave the GC's young generations
        cpu0, wall0 = time.process_time(), time.monotonic()
        if args.transport == "direct":
            submit_cost = await feed_direct(dialer, legs, args, submitted)
        else:
            ctx = mp.get_context("spawn")
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=sender, args=(
                child, dialer.event_endpoint, args.transport, legs, args.rate, args.in_flight,
                args.gap))
            proc.start()
            loop = asyncio.get_running_loop()
            submitted = await loop.run_in_executor(None, parent.recv)
            await loop.run_in_executor(None, proc.join, 10)
        async with asyncio.timeout(120):
            await asyncio.gather(*(h.wait() for h in handles))
        wall = time.monotonic() - wall0
        cpu = time.process_time() - cpu0
        async with http.get(f"http://127.0.0.1:{port}/_log") as r:
            log = await r.json()
        stats = dialer.intake.stats
    phase_start = {name: min(t for (ev, _), t in submitted.items() if ev == name)
                   for name in PHASES}
    issued: dict[str, list[float]] = {a: [] for a in ACTION_OF.values()}
    for action, sid, t in client.issued:
        for ev_name, act in ACTION_OF.items():
            if action == act and (ev_name, sid) in submitted:
                issued[act].append((t - submitted[(ev_name, sid)]) * 1000.0)
    lat: dict[str, list[float]] = {a: [] for a in ACTION_OF.values()}
    last: dict[str, float] = {}
    for action, sid, t in log:
        for ev_name, act in ACTION_OF.items():
            if action == act and (ev_name, sid) in submitted:
                lat[act].append((t - submitted[(ev_name, sid)]) * 1000.0)
                last[ev_name] = max(last.get(ev_name, 0.0), t)
    mode = f"paced at {args.rate:,.0f} events/s" if args.rate > 0 else \
        "as fast as possible"
    sender_note = "" if args.transport == "direct" else \
        f" from a separate sender process, {args.in_flight} in flight"
    print(f"event_throughput: {n} concurrent calls, {len(PHASES) * n} events, transport "
          f"{args.transport}{sender_note}, {mode}")
    print(f"  delivered {stats.delivered}, malformed {stats.malformed}, "
          f"dialer unknown {dialer.stats.unknown_events}")
    for ev_name, act in ACTION_OF.items():
        values = lat[act]
        if not values:
            continue
        rate = n / (last[ev_name] - phase_start[ev_name])
        iss = issued[act]
        print(f"  {ev_name} -> {act}: {rate:,.0f} events/s handled")
        print(f"    event -> request issued by the dialer  p50={statistics.median(iss):6.2f} "
              f"p99={pct(iss, 0.99):6.2f} max={max(iss):7.2f} ms  (goal p99 < 10)")
        print(f"    event -> request arrived at Exotel     p50={statistics.median(values):6.2f} "
              f"p99={pct(values, 0.99):6.2f} max={max(values):7.2f} ms")
    if args.transport == "direct":
        per = submit_cost / (len(PHASES) * n) * 1e6
        print(f"  intake (parse, de-duplicate, order, route, queue): {per:.1f} us/event "
              f"= {1e6 / per:,.0f} events/s on one core")
    cs = client.stats
    print(f"  Exotel requests {cs.requests}, retries {cs.retries}, errors {cs.errors}")
    print(f"  dialer CPU {cpu:.2f}s over {wall:.2f}s wall ({cpu / wall:.2f} of one core)")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--calls", type=int, default=1000)
    p.add_argument("--transport", choices=("direct", "http", "grpc"), default="direct")
    p.add_argument("--rate", type=float, default=1000.0,
                   help="events per second to feed (0: as fast as possible, in bursts)")
    p.add_argument("--burst", type=int, default=50, help="with --rate 0: events per loop turn")
    p.add_argument("--freeze-gc", action="store_true",
                   help="gc.freeze() once the calls are placed (as a long-running dialer would)")
    p.add_argument("--in-flight", type=int, default=64,
                   help="http/grpc: deliveries in flight at once")
    p.add_argument("--profile", default="", help="write a cProfile of the dialer to FILE")
    p.add_argument("--connections", type=int, default=200, help="HTTP connections to Exotel")
    p.add_argument("--gap", type=float, default=0.5, help="idle seconds between phases")
    args = p.parse_args()
    logging.basicConfig(level=logging.ERROR)
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=null_exotel, args=(child,), daemon=True)
    proc.start()
    try:
        port = parent.recv()
        if args.profile:
            import cProfile

            cProfile.runctx("asyncio.run(run(args, port))", globals(), locals(), args.profile)
        else:
            asyncio.run(run(args, port))
    finally:
        proc.terminate()
        proc.join(5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
