"""Helpers for tests and benchmarks that drive the emulator over real sockets.

* :class:`SimClient`: the REST API with Basic auth; returns ``(status, envelope)``.
* :class:`HttpEventSink`: an HTTP server on 127.0.0.1 that records Exotel's event POSTs
  (headers included) and can be told to fail the first N attempts.
* :class:`GrpcEventSink`: the same for ``TriggerCallbackEvent`` over gRPC.
* :class:`FakeBotServer`: a tiny WebSocket bot server: records everything Exotel sends and lets
  the test send media, marks and clears.

Use them as ``async with``; all bind port 0 on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import aiohttp
import grpc
import numpy as np
from aiohttp import web
from google.protobuf import json_format
from websockets.asyncio.server import Server, ServerConnection, serve

from exotel_sim.audio import to_wire
from exotel_sim.config import CustomerProfile, SimConfig
from protos import exotel_events_pb2, exotel_events_pb2_grpc


class SimClient:
    """Calls the emulator's REST API (``api_base`` from ``SimServer.api_base``)."""

    def __init__(self, api_base: str, key: str, token: str) -> None:
        self.api_base = api_base
        self._auth = {"Authorization": aiohttp.encode_basic_auth(key, token)}
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> SimClient:
        self._session = aiohttp.ClientSession(headers=self._auth)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()

    async def call(self, method: str, path: str, body: Any = None,
                   raw: bytes | None = None) -> tuple[int, dict[str, Any]]:
        assert self._session is not None
        kwargs: dict[str, Any] = {"data": raw} if raw is not None else {"json": body}
        async with self._session.request(method, self.api_base + path, **kwargs) as resp:
            return resp.status, await resp.json(content_type=None)

    async def create_leg(self, contact_uri: str, endpoint: str, **extra: Any) -> str:
        status, body = await self.call("POST", "/legs", {
            "contact_uri": contact_uri, "exophone": "+918000000000",
            "leg_event_endpoint": endpoint, **extra,
        })
        if status != 202:
            raise AssertionError(f"create leg: {status} {body}")
        sid: str = body["response"]["data"]["leg_sid"]
        return sid

    async def action(self, leg_sid: str, name: str, body: Any = None) -> tuple[int, Any]:
        return await self.call("POST", f"/legs/{leg_sid}/actions/{name}", body)

    async def settled_events(self, query: str = "", wait_s: float = 10.0) -> list[Any]:
        """``GET /sim/events?{query}`` once no event is pending delivery any more."""
        async def _wait() -> list[Any]:
            while True:
                body = await self.inspect(f"/events?{query}")
                if not body["pending"]:
                    return list(body["events"])
                await asyncio.sleep(0.02)
        return await asyncio.wait_for(_wait(), wait_s)

    async def inspect(self, path: str) -> Any:
        """GET ``/sim{path}`` (the inspection API, JSON)."""
        assert self._session is not None
        base = self.api_base.split("/v2/")[0]
        async with self._session.get(f"{base}/sim{path}") as resp:
            resp.raise_for_status()
            return await resp.json()


@dataclass
class ReceivedEvent:
    payload: dict[str, Any]
    headers: dict[str, str]

    @property
    def name(self) -> str:
        return str(self.payload["event_name"])


@dataclass
class _Waiters:
    events: list[ReceivedEvent] = field(default_factory=list)
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def add(self, event: ReceivedEvent) -> None:
        async with self.changed:
            self.events.append(event)
            self.changed.notify_all()

    async def wait_for(self, pred: Callable[[ReceivedEvent], bool],
                       wait_s: float = 10.0) -> ReceivedEvent:
        async def _wait() -> ReceivedEvent:
            async with self.changed:
                while True:
                    for event in self.events:
                        if pred(event):
                            return event
                    await self.changed.wait()
        return await asyncio.wait_for(_wait(), wait_s)

    def names(self, leg_sid: str | None = None) -> list[str]:
        return [e.name for e in self.events
                if leg_sid is None or e.payload["data"].get("leg_sid") == leg_sid]


class HttpEventSink(_Waiters):
    """Records event POSTs; ``fail_first`` answers 503 to that many attempts per event sid;
    ``slow_first_s`` records the first attempt of each event, then answers that late (past the
    sender's timeout, so the event is retried and arrives twice, as in production)."""

    def __init__(self, fail_first: int = 0, status: int = 200,
                 slow_first_s: float = 0.0) -> None:
        super().__init__()
        self.fail_first = fail_first
        self.slow_first_s = slow_first_s
        self.status = status
        self.attempts: dict[str, int] = {}
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def _handle(self, request: web.Request) -> web.Response:
        payload = await request.json()
        sid = payload.get("event_sid", "")
        self.attempts[sid] = self.attempts.get(sid, 0) + 1
        if self.attempts[sid] <= self.fail_first:
            return web.Response(status=503)
        await self.add(ReceivedEvent(payload, dict(request.headers)))
        if self.slow_first_s and self.attempts[sid] == 1:
            await asyncio.sleep(self.slow_first_s)
        return web.Response(status=self.status)

    async def __aenter__(self) -> HttpEventSink:
        app = web.Application()
        app.router.add_post("/events", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/events"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


class GrpcEventSink(_Waiters):
    """Records ``TriggerCallbackEvent`` calls (payload converted back to the JSON form)."""

    def __init__(self) -> None:
        super().__init__()
        self._server: grpc.aio.Server | None = None
        self.url = ""

    async def TriggerCallbackEvent(self, request: Any, context: Any) -> Any:
        payload = json_format.MessageToDict(request, preserving_proto_field_name=True)
        payload.setdefault("event_data", {})
        payload.setdefault("action_sid", "")
        payload.setdefault("action_custom_parameter", "")
        metadata = {k: v for k, v in context.invocation_metadata()}
        await self.add(ReceivedEvent(payload, metadata))
        return exotel_events_pb2.CallbackAck(ok=True)  # type: ignore[attr-defined]

    async def __aenter__(self) -> GrpcEventSink:
        self._server = grpc.aio.server()
        exotel_events_pb2_grpc.add_ExotelCallbackServiceServicer_to_server(self, self._server)
        port = self._server.add_insecure_port("127.0.0.1:0")
        await self._server.start()
        self.url = f"grpc://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._server is not None:
            await self._server.stop(None)


@dataclass
class BotCall:
    """One stream connection as the bot sees it."""

    ws: ServerConnection
    path: str
    headers: dict[str, str]  # lower-case names
    messages: list[dict[str, Any]] = field(default_factory=list)
    closed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def start(self) -> dict[str, Any]:
        return next(m for m in self.messages if m.get("event") == "start")

    @property
    def stream_sid(self) -> str:
        return str(self.start["stream_sid"])

    def of(self, event: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m.get("event") == event]

    def inbound_audio(self) -> bytes:
        return b"".join(base64.b64decode(m["media"]["payload"]) for m in self.of("media"))

    async def send_media(self, payload: bytes) -> None:
        await self.ws.send(json.dumps({"event": "media", "stream_sid": self.stream_sid,
                                       "media": {"payload": base64.b64encode(payload).decode()}}))

    async def send_mulaw(self, pcm8k: bytes, chunk_ms: int = 200) -> None:
        """Send 8 kHz PCM16 audio as mu-law media messages of ``chunk_ms`` each."""
        ulaw = to_wire(pcm8k, "mulaw", 8000)
        step = chunk_ms * 8
        for i in range(0, len(ulaw), step):
            await self.send_media(ulaw[i:i + step])

    async def send_mark(self, name: str) -> None:
        await self.ws.send(json.dumps({"event": "mark", "stream_sid": self.stream_sid,
                                       "mark": {"name": name}}))

    async def send_clear(self) -> None:
        await self.ws.send(json.dumps({"event": "clear", "streamSid": self.stream_sid}))

    async def wait_for(self, pred: Callable[[dict[str, Any]], bool],
                       wait_s: float = 10.0) -> dict[str, Any]:
        async def _wait() -> dict[str, Any]:
            while True:
                for m in self.messages:
                    if pred(m):
                        return m
                await asyncio.sleep(0.01)
        return await asyncio.wait_for(_wait(), wait_s)


class FakeBotServer:
    """A WebSocket server standing in for a bot; ``on_call`` (optional) runs per connection
    after ``start`` arrived, while messages keep being recorded."""

    def __init__(self, on_call: Callable[[BotCall], Awaitable[None]] | None = None) -> None:
        self.on_call = on_call
        self.calls: list[BotCall] = []
        self.new_call = asyncio.Event()
        self._server: Server | None = None
        self.port = 0

    def url(self, path: str = "/stream", userinfo: str = "") -> str:
        auth = f"{userinfo}@" if userinfo else ""
        return f"ws://{auth}127.0.0.1:{self.port}{path}"

    async def _handler(self, ws: ServerConnection) -> None:
        request = ws.request
        assert request is not None
        call = BotCall(ws, request.path, {k.lower(): v for k, v in request.headers.raw_items()})
        self.calls.append(call)
        self.new_call.set()

        async def reader() -> None:
            try:
                async for raw in ws:
                    call.messages.append(json.loads(raw))
            finally:
                call.closed.set()

        read_task = asyncio.ensure_future(reader())
        try:
            if self.on_call is not None:
                await call.wait_for(lambda m: m.get("event") == "start")
                await self.on_call(call)
            await read_task
        finally:
            read_task.cancel()
            await asyncio.gather(read_task, return_exceptions=True)

    async def wait_call(self, n: int = 1, wait_s: float = 10.0) -> BotCall:
        async def _wait() -> BotCall:
            while len(self.calls) < n:
                self.new_call.clear()
                await self.new_call.wait()
            return self.calls[n - 1]
        return await asyncio.wait_for(_wait(), wait_s)

    async def __aenter__(self) -> FakeBotServer:
        self._server = await serve(self._handler, "127.0.0.1", 0, compression=None)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


def fast_config(**overrides: Any) -> SimConfig:
    """A config for tests: no latency, quick dialling, customers answer after 50 ms and stay
    silent (empty script, no patience) unless a test gives them a profile."""
    values: dict[str, Any] = {
        "rest_latency_ms": 0,
        "event_latency_ms": 0,
        "setup_ms": 20,
        "retry_backoff_ms": 10,
        "default_customer": CustomerProfile(outcome="answer", ring_ms=(50, 50), scripts=((),),
                                            patience_ms=0),
    }
    values.update(overrides)
    return SimConfig(**values)


async def wait_leg_state(client: SimClient, leg_sid: str, state: str,
                         wait_s: float = 10.0) -> dict[str, Any]:
    """Poll ``GET /legs/{sid}`` until the leg reaches ``state``; returns its data."""
    async def _wait() -> dict[str, Any]:
        while True:
            status, body = await client.call("GET", f"/legs/{leg_sid}")
            data: dict[str, Any] = body["response"]["data"]
            if status == 200 and data["state"] == state:
                return data
            await asyncio.sleep(0.02)
    return await asyncio.wait_for(_wait(), wait_s)


async def wait_timeline(client: SimClient, leg_sid: str,
                        pred: Callable[[dict[str, Any]], bool],
                        wait_s: float = 10.0) -> dict[str, Any]:
    """Poll ``GET /sim/legs/{sid}/timeline`` until ``pred(timeline)``; returns it."""
    async def _wait() -> dict[str, Any]:
        while True:
            timeline: dict[str, Any] = await client.inspect(f"/legs/{leg_sid}/timeline")
            if pred(timeline):
                return timeline
            await asyncio.sleep(0.05)
    return await asyncio.wait_for(_wait(), wait_s)


def tone(ms: int, freq: float = 440.0, amplitude: int = 8000) -> bytes:
    """A loud 8 kHz PCM16 sine of ``ms`` milliseconds (stands in for speech)."""
    t = np.arange(ms * 8) / 8000
    return (np.sin(2 * np.pi * freq * t) * amplitude).astype("<i2").tobytes()
