"""Event intake: Exotel's callbacks over gRPC (``TriggerCallbackEvent``) or HTTP(S) POST.

:class:`EventIntake` is the transport-free part: :meth:`EventIntake.submit` parses one body,
de-duplicates and reorders (:class:`~dialer.sequencer.EventSequencer`) and hands each event
to the ``sink`` callback. ``submit`` does no I/O and never awaits, so both servers acknowledge
as soon as it returns. Malformed bodies raise :class:`~dialer.errors.MalformedEvent` (counted);
a sink that raises is logged and counted, never propagated to Exotel.

Servers (what they bind and the public URL come from :mod:`dialer.event_endpoint`;
:attr:`endpoint` is the URL to hand to Exotel, credentials included: redact it in logs):

* :class:`HttpIntakeServer` -- aiohttp, HTTPS with a TLS context (``event_certfile``); ``POST
  {path}`` with the JSON body; with credentials set, ``Authorization: Basic`` (or ``Bearer``)
  must match or the answer is 401; 200 ``{"ok": true}`` on accept, 400 on malformed JSON or
  event (Exotel does not retry 4xx), 413 above ``max_body`` bytes.
* :class:`~dialer.intake_grpc.GrpcIntakeServer` (its own module: gRPC is loaded only when
  used) -- grpc.aio (TLS server credentials with ``event_certfile``), the
  ``ExotelCallbackService`` of ``protos/exotel_events.proto``; ``authorization: Bearer
  <secret>`` (or Basic) metadata, else ``UNAUTHENTICATED``; malformed events get
  ``INVALID_ARGUMENT``.

Credentials are compared in constant time on bytes (non-ASCII gives a 401, never an error);
refusals are counted (``IntakeStats.unauthorized``, metric ``events_unauthorized_total``) and
logged at most once a minute (:class:`AuthFailureLog`). A bind failure raises
:class:`IntakeBindError` (one line). Build the server for a config with
:func:`make_intake_server` (``config.event_plan``).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from aiohttp import web

from dialer.errors import ConfigError, MalformedEvent
from dialer.event_endpoint import EventEndpoint
from dialer.events import ExotelEvent, parse_event
from dialer.sequencer import EventSequencer

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


AUTH_LOG_EVERY = 60.0  # seconds between two log lines about failed event authentication


def credentials_ok(header: str | None, expected: str) -> bool:
    """True when ``header`` is ``Basic base64(expected)`` or ``Bearer expected``.

    Compared in constant time on bytes (UTF-8), so any header, non-ASCII included, is a plain
    yes or no (never an exception). ``expected`` empty: no authentication."""
    if not expected:
        return True
    if not header:
        return False
    raw = header.encode("utf-8", "surrogateescape")
    scheme, _, value = raw.strip().partition(b" ")
    want = expected.encode("utf-8")
    if scheme.lower() == b"basic":
        try:
            given = base64.b64decode(value.strip(), validate=True)
        except (binascii.Error, ValueError):
            return False
        return hmac.compare_digest(given, want)
    if scheme.lower() == b"bearer":
        return hmac.compare_digest(value.strip(), want)
    return False


class AuthFailureLog:
    """Counts failed authentications and logs them at most once per ``every`` seconds (the
    first at once, later ones with how many were left unlogged), so a flood of bad posts costs
    no log volume."""

    def __init__(self, stats: IntakeStats, every: float = AUTH_LOG_EVERY) -> None:
        self.stats = stats
        self.every = every
        self._last = float("-inf")
        self._quiet = 0

    def failed(self, transport: str, peer: str, has_header: bool) -> None:
        self.stats.unauthorized += 1
        now = time.monotonic()
        if now - self._last < self.every:
            self._quiet += 1
            return
        more = f" ({self._quiet} more since the last report)" if self._quiet else ""
        self._last, self._quiet = now, 0
        log.warning("event %s from %s refused: %s credentials%s", transport, peer or "?",
                    "wrong" if has_header else "no", more)


class IntakeServer(Protocol):
    endpoint: str

    async def start(self) -> None: ...
    async def stop(self) -> None: ...


class IntakeBindError(OSError):
    """The intake could not listen (port in use, address not on this host): one line."""


def bind_error(host: str, port: int, why: object) -> IntakeBindError:
    return IntakeBindError(
        f"cannot listen for Exotel events on {host}:{port} (VOXGATE_EVENT_LISTEN / "
        f"event_endpoint): {why}"
    )


def server_tls_context(certfile: str, keyfile: str) -> ssl.SSLContext:
    """The HTTPS intake's TLS context; :class:`ConfigError` for a missing or bad cert/key."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(certfile, keyfile)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"event_certfile/event_keyfile ({certfile}, {keyfile}): cannot load them: {exc}"
        ) from None
    return context


def public_url(plan: EventEndpoint | None, default: str, port: int) -> str:
    """The URL for Exotel; logs the plan's warnings (no credentials, credentials in clear)."""
    if plan is None:
        return default
    for warning in plan.warnings:
        log.warning("%s", warning)
    return plan.public_url(port)


class HttpIntakeServer:
    """aiohttp webhook for Exotel's JSON POST events (HTTPS when given a TLS context)."""

    def __init__(
        self,
        intake: EventIntake,
        host: str = "127.0.0.1",
        port: int = 0,
        path: str = "/exotel/events",
        *,
        auth: str = "",
        plan: EventEndpoint | None = None,
        tls: ssl.SSLContext | None = None,
        max_body: int = DEFAULT_MAX_BODY,
    ) -> None:
        self.intake = intake
        self.host, self.port, self.path = host, port, path or "/"
        self._auth = auth
        self._plan = plan
        self._tls = tls
        self._max_body = max_body
        self._runner: web.AppRunner | None = None
        self._failures = AuthFailureLog(intake.stats)
        self.endpoint = ""

    def app(self) -> web.Application:
        app = web.Application(client_max_size=self._max_body)
        app.router.add_post(self.path, self._handle)
        return app

    async def start(self) -> None:
        """Bind and serve; sets :attr:`endpoint` (with the real port). A bind failure raises
        :class:`IntakeBindError`."""
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, ssl_context=self._tls)
        try:
            await site.start()
        except OSError as exc:
            await self._runner.cleanup()
            self._runner = None
            raise bind_error(self.host, self.port, exc.strerror or exc) from None
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        if sockets:
            self.port = sockets[0].getsockname()[1]
        scheme = "https" if self._tls is not None else "http"
        self.endpoint = public_url(self._plan, f"{scheme}://{self.host}:{self.port}{self.path}",
                                self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.Response:
        header = request.headers.get("Authorization")
        if not credentials_ok(header, self._auth):
            self._failures.failed("POST", request.remote or "", header is not None)
            return web.json_response({"ok": False, "error": "unauthorized"}, status=401,
                                     headers={"WWW-Authenticate": 'Basic realm="events"'})
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
