"""Event intake: Exotel's callbacks over gRPC (``TriggerCallbackEvent``) or HTTP(S) POST.

:class:`EventIntake` is the transport-free part: :meth:`EventIntake.submit` parses one body,
de-duplicates and reorders (:class:`~dialer.sequencer.EventSequencer`) and hands each event
to the ``sink`` callback. ``submit`` does no I/O and never awaits, so both servers acknowledge
as soon as it returns. Malformed bodies raise :class:`~dialer.errors.MalformedEvent` (counted);
a sink that raises is logged and counted, never propagated to Exotel.

Servers (bind 127.0.0.1 port 0 in tests; :attr:`endpoint` gives the URL to hand to Exotel):

* :class:`HttpIntakeServer` -- aiohttp; ``POST {path}`` with the JSON body; optional Basic auth
  (401 without it); 200 ``{"ok": true}`` on accept, 400 on malformed JSON or event (Exotel does
  not retry 4xx), 413 above ``max_body`` bytes.
* :class:`GrpcIntakeServer` -- grpc.aio, the ``ExotelCallbackService`` of
  ``protos/exotel_events.proto``; malformed events get ``INVALID_ARGUMENT``, bad auth
  ``UNAUTHENTICATED``.

Start the one matching the configured endpoint with :func:`start_intake`.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

import grpc
from aiohttp import web
from google.protobuf import json_format

from dialer.errors import MalformedEvent
from dialer.events import ExotelEvent, parse_event
from dialer.sequencer import EventSequencer
from protos import exotel_events_pb2 as _pb2
from protos import exotel_events_pb2_grpc

pb2: Any = _pb2  # generated code carries no type information

log = logging.getLogger(__name__)

EventSink = Callable[[ExotelEvent], None]
DEFAULT_MAX_BODY = 64 * 1024


@dataclass(slots=True)
class IntakeStats:
    received: int = 0
    malformed: int = 0
    unauthorized: int = 0
    delivered: int = 0
    sink_errors: int = 0


class EventIntake:
    """Parse, de-duplicate, reorder and deliver. One per dialer."""

    def __init__(self, sink: EventSink, sequencer: EventSequencer | None = None) -> None:
        self.sink = sink
        self.sequencer = sequencer or EventSequencer()
        self.stats = IntakeStats()
        self.last_receive = 0.0

    def submit(self, body: Any) -> int:
        """Take one event body; return how many events were delivered to the sink now."""
        self.stats.received += 1
        self.last_receive = time.monotonic()
        try:
            event = parse_event(body)
        except MalformedEvent:
            self.stats.malformed += 1
            raise
        delivered = 0
        for ev in self.sequencer.accept(event):
            delivered += 1
            try:
                self.sink(ev)
            except Exception:
                self.stats.sink_errors += 1
                log.exception("event %s (%s) could not be handled", ev.event_sid, ev.name)
        self.stats.delivered += delivered
        return delivered


def _check_basic(header: str | None, expected: str) -> bool:
    """True when ``header`` is ``Basic base64(expected)`` (``expected`` is ``user:password``)."""
    if not expected:
        return True
    if not header or not header.startswith("Basic "):
        return False
    try:
        given = base64.b64decode(header[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return False
    return hmac.compare_digest(given, expected)


class IntakeServer(Protocol):
    endpoint: str

    async def start(self) -> None: ...
    async def stop(self) -> None: ...


class HttpIntakeServer:
    """aiohttp webhook for Exotel's JSON POST events."""

    def __init__(
        self,
        intake: EventIntake,
        host: str = "127.0.0.1",
        port: int = 0,
        path: str = "/exotel/events",
        *,
        auth: str = "",
        scheme: str = "http",
        public_endpoint: str = "",
        max_body: int = DEFAULT_MAX_BODY,
    ) -> None:
        self.intake = intake
        self.host, self.port, self.path = host, port, path or "/"
        self._auth = auth
        self._scheme = scheme
        self._public = public_endpoint
        self._max_body = max_body
        self._runner: web.AppRunner | None = None
        self.endpoint = ""

    def app(self) -> web.Application:
        app = web.Application(client_max_size=self._max_body)
        app.router.add_post(self.path, self._handle)
        return app

    async def start(self) -> None:
        """Bind and serve; sets :attr:`endpoint` (with the real port)."""
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        if sockets:
            self.port = sockets[0].getsockname()[1]
        self.endpoint = self._public or f"{self._scheme}://{self.host}:{self.port}{self.path}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.Response:
        if not _check_basic(request.headers.get("Authorization"), self._auth):
            self.intake.stats.unauthorized += 1
            return web.json_response({"ok": False, "error": "unauthorized"}, status=401)
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            self.intake.stats.malformed += 1
            return web.json_response({"ok": False, "error": "body too large"}, status=413)
        try:
            body = json.loads(raw)
        except ValueError:
            self.intake.stats.received += 1
            self.intake.stats.malformed += 1
            log.warning("event POST with a body that is not JSON (%d bytes)", len(raw))
            return web.json_response({"ok": False, "error": "body is not JSON"}, status=400)
        try:
            self.intake.submit(body)
        except MalformedEvent as exc:
            log.warning("malformed event: %s", exc)
            return web.json_response({"ok": False, "error": str(exc)}, status=400)
        return web.json_response({"ok": True})


def callback_to_dict(msg: Any) -> dict[str, Any]:
    """The HTTPS-form dict of a gRPC ``CallbackEvent`` (the only place that knows the proto)."""
    return {
        "event_sid": msg.event_sid,
        "event_type": msg.event_type,
        "event_name": msg.event_name,
        "event_timestamp": msg.event_timestamp,
        "action_sid": msg.action_sid,
        "action_custom_parameter": msg.action_custom_parameter,
        "event_data": json_format.MessageToDict(msg.event_data),
        "data": json_format.MessageToDict(msg.data),
    }


class _Servicer(exotel_events_pb2_grpc.ExotelCallbackServiceServicer):
    def __init__(self, intake: EventIntake, auth: str) -> None:
        self.intake = intake
        self.auth = auth

    async def TriggerCallbackEvent(  # name fixed by the proto
        self, request: Any, context: grpc.aio.ServicerContext[Any, Any]
    ) -> Any:
        if self.auth:
            meta = {k.lower(): v for k, v in (context.invocation_metadata() or ())}
            header = meta.get("authorization")
            if not _check_basic(header if isinstance(header, str) else None, self.auth):
                self.intake.stats.unauthorized += 1
                await context.abort(grpc.StatusCode.UNAUTHENTICATED, "bad credentials")
        try:
            self.intake.submit(callback_to_dict(request))
        except MalformedEvent as exc:
            log.warning("malformed gRPC event: %s", exc)
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        return pb2.CallbackAck(ok=True, message="")


class GrpcIntakeServer:
    """grpc.aio server implementing ``TriggerCallbackEvent``."""

    def __init__(
        self,
        intake: EventIntake,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        auth: str = "",
        public_endpoint: str = "",
    ) -> None:
        self.intake = intake
        self.host, self.port = host, port
        self._auth = auth
        self._public = public_endpoint
        self._server: grpc.aio.Server | None = None
        self.endpoint = ""

    async def start(self) -> None:
        server = grpc.aio.server(
            options=[("grpc.max_receive_message_length", DEFAULT_MAX_BODY)]
        )
        exotel_events_pb2_grpc.add_ExotelCallbackServiceServicer_to_server(  # type: ignore[no-untyped-call]
            _Servicer(self.intake, self._auth), server
        )
        self.port = server.add_insecure_port(f"{self.host}:{self.port}")
        await server.start()
        self._server = server
        self.endpoint = self._public or f"grpc://{self.host}:{self.port}"

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop(grace=0.5)
            self._server = None


def make_intake_server(
    intake: EventIntake, endpoint: str, *, auth: str = "", public_endpoint: str = ""
) -> HttpIntakeServer | GrpcIntakeServer:
    """The server for ``endpoint`` (``grpc://host:port`` or ``http(s)://host:port/path``).

    The dialer listens on the endpoint's host and port (0: any free port); ``public_endpoint``
    overrides what is told to Exotel (behind NAT or a TLS proxy)."""
    parts = urlsplit(endpoint)
    host = parts.hostname or "127.0.0.1"
    port = parts.port or 0
    if parts.scheme == "grpc":
        return GrpcIntakeServer(intake, host, port, auth=auth, public_endpoint=public_endpoint)
    if parts.scheme in ("http", "https"):
        # TLS is terminated in front of us for https endpoints; we serve plain HTTP.
        return HttpIntakeServer(
            intake, host, port, parts.path or "/exotel/events", auth=auth,
            scheme="http", public_endpoint=public_endpoint,
        )
    raise ValueError(f"unsupported event endpoint {endpoint!r}")
