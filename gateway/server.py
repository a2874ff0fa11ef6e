"""The gateway's WebSocket server: Exotel streams at ``/stream/{adapter}``, plus HTTP GETs.

Routes (one listening socket; each TCP connection is a :class:`gateway.wire.WebSocketWire`
driving websockets' sans-I/O server protocol):

* ``/stream/{adapter}`` - a bidirectional Exotel stream served by the named bot adapter;
  the query may carry ``sample-rate`` (8000/16000/24000); other parameters arrive via Exotel
  in ``start.custom_parameters``.
* ``GET /healthz``, ``GET /readyz`` - JSON (:mod:`voxgate_shared.health`): live; ready while
  listening and not shutting down (else 503).
* ``GET /metrics`` - Prometheus text (see :mod:`gateway.metrics`).
* ``GET /url/{adapter}`` - the dynamic-URL endpoint for the Voicebot applet: answers
  ``{"url": "wss://.../stream/{adapter}?..."}`` (``sample-rate`` and ``vx_*`` query
  parameters are carried over).

With ``auth_user``/``auth_password`` set, ``/stream`` and ``/url`` need HTTP Basic
credentials (Exotel sends ``wss://KEY:TOKEN@host/...`` as an ``Authorization`` header),
compared in constant time; a failure gets ``401`` before any upgrade.

Use it as ``async with GatewayServer(config) as server:``; leaving the block shuts down
gracefully: stop accepting, let live calls finish up to ``shutdown_deadline``, then close
the rest with 1001.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import ipaddress
import json
import logging
import ssl
from collections import Counter
from collections.abc import Callable, Mapping
from http import HTTPStatus
from types import TracebackType
from urllib.parse import parse_qsl, urlencode, urlsplit

from websockets.datastructures import Headers
from websockets.http11 import Request, Response

import gateway
from bot_adapters.contract import AdapterFactory, BotAdapter
from bot_adapters.registry import AdapterLoadError, UnknownAdapter, load_adapter
from gateway.batching import LoopBatcher
from gateway.config import GatewayConfig
from gateway.connection import StreamConnection, worth_logging
from gateway.control import ControlHook, RecordingControlHook
from gateway.errors import CloseCode
from gateway.metrics import GatewayMetrics
from gateway.wire import MessageSink, WebSocketWire
from voxgate_shared import health, logs
from voxgate_shared.control import VX_CALL, split_vx_call
from voxgate_shared.prom import CONTENT_TYPE

log = logging.getLogger(__name__)

STREAM_PREFIX = "/stream/"
URL_PREFIX = "/url/"


CLOSE_TIMEOUT = 2.0  # seconds a peer gets to finish the closing handshake
MAX_ADAPTER_NAME = 64  # longer /stream/{name}s are unknown without a lookup
MISSES_KEPT = 256  # unknown adapter names remembered (no entry-point rescan per call)


def _respond(wire: WebSocketWire, status: HTTPStatus, body: str, content_type: str) -> Response:
    response = wire.protocol.reject(status, body)
    del response.headers["Content-Type"]
    response.headers["Content-Type"] = content_type
    return response


def _log_fields(conn: StreamConnection) -> dict[str, str | None]:
    """``stream_sid``, ``leg_sid`` (Exotel's call sid) and the dialer's ``call_id`` of a stream,
    as far as its ``start`` told them (voxgate_shared.logs)."""
    info = conn.session.info
    if info is None:
        return {"stream_sid": conn.session.protocol.stream_sid}
    call_id = split_vx_call(info.custom_parameters.get(VX_CALL, ""))[0]
    return {"stream_sid": info.stream_sid, "leg_sid": info.call_sid, "call_id": call_id}


def _decrement(counts: Counter[str], key: str) -> None:
    counts[key] -= 1
    if counts[key] <= 0:
        del counts[key]


def _raising(exc: Exception) -> AdapterFactory:
    """A factory that fails with ``exc`` (an adapter that is unknown or failed to load)."""

    def factory(options: Mapping[str, str]) -> BotAdapter:
        raise exc

    return factory


class GatewayServer:
    """The media plane's server (see the module docstring)."""

    def __init__(
        self,
        config: GatewayConfig,
        control_hook: ControlHook | None = None,
        *,
        adapters: Mapping[str, AdapterFactory] | None = None,
        wrap_adapter: Callable[[AdapterFactory], AdapterFactory] | None = None,
    ) -> None:
        """``adapters`` adds (or overrides) factories by name besides the installed entry
        points, e.g. for tests; ``wrap_adapter`` wraps every factory, given or installed, when
        its first call starts (an installed adapter is loaded then too, so a broken package
        fails only its own calls); ``control_hook`` defaults to a :class:`RecordingControlHook`."""
        self.config = config
        self.control_hook: ControlHook = control_hook or RecordingControlHook()
        self.metrics = GatewayMetrics()
        self._given: dict[str, AdapterFactory] = dict(adapters or {})
        self._wrap = wrap_adapter
        self._factories: dict[str, AdapterFactory] = {}  # resolved on first use
        self._misses: dict[str, Exception] = {}  # names that failed to resolve, oldest first
        # Connections not yet streaming (handshake, or upgraded and awaiting start), by wire:
        # the source IP; and every connection's source IP (for the per-IP caps).
        self._pending: dict[WebSocketWire, str] = {}
        self._pending_by_ip: Counter[str] = Counter()
        self._source: dict[WebSocketWire, str] = {}
        self._open_by_ip: Counter[str] = Counter()
        self._exempt = [ipaddress.ip_network(n, strict=False) for n in config.ip_limit_exempt]
        self._server: asyncio.Server | None = None
        self._wires: set[WebSocketWire] = set()
        self._calls: set[asyncio.Task[None]] = set()
        self._connections: set[StreamConnection] = set()
        self._no_connections = asyncio.Event()
        self._no_connections.set()
        self._watchdog: asyncio.Task[None] | None = None
        self.batcher: LoopBatcher | None = None  # with config.batch_ms
        self._expected_auth: bytes | None = None
        if config.auth_user is not None and config.auth_password is not None:
            self._expected_auth = f"{config.auth_user}:{config.auth_password}".encode()

    # ---- lifecycle -----------------------------------------------------------------------
    async def start(self) -> None:
        """Bind and start serving."""
        if self._server is not None:
            raise RuntimeError("gateway already started")
        cfg = self.config
        context: ssl.SSLContext | None = None
        if cfg.ssl_certfile and cfg.ssl_keyfile:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(cfg.ssl_certfile, cfg.ssl_keyfile)
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: WebSocketWire(
                self,
                max_size=cfg.max_message_bytes,
                handshake_timeout=cfg.handshake_timeout,
                close_timeout=CLOSE_TIMEOUT,
            ),
            cfg.host,
            cfg.port,
            ssl=context,
        )
        if cfg.batch_ms:
            self.batcher = LoopBatcher(cfg.batch_ms / 1000)
        self._watchdog = asyncio.create_task(self._watch_idle(), name="gateway-idle-watchdog")
        log.info("gateway listening on %s (core: %s)", self.base_url, gateway.CORE)

    async def stop(self) -> None:
        """Graceful shutdown: stop accepting, wait for live calls up to the shutdown
        deadline, close the rest with 1001, wait for every handler to return."""
        server = self._server
        if server is None:
            return
        server.close()  # stop accepting
        if self._connections:
            log.info(
                "gateway stopping: %d live streams, waiting up to %.1f s",
                len(self._connections), self.config.shutdown_deadline,
            )
            try:
                async with asyncio.timeout(self.config.shutdown_deadline):
                    await self._no_connections.wait()
            except TimeoutError:
                for conn in list(self._connections):
                    conn.end(CloseCode.GOING_AWAY, "gateway shutting down")
        if self._calls:
            await asyncio.gather(*self._calls, return_exceptions=True)
        for wire in list(self._wires):  # HTTP requests and handshakes still in flight
            wire.close(CloseCode.GOING_AWAY, "gateway shutting down")
        for wire in list(self._wires):
            await wire.wait_closed()
        await server.wait_closed()
        if self.batcher is not None:
            self.batcher.stop()
        if self._watchdog is not None:
            self._watchdog.cancel()
            try:
                await self._watchdog
            except asyncio.CancelledError:
                pass
        self._server = None
        log.info("gateway stopped")

    async def serve_forever(self) -> None:
        """Serve until cancelled (then shut down gracefully)."""
        if self._server is None:
            await self.start()
        try:
            await asyncio.Event().wait()
        finally:
            await self.stop()

    async def __aenter__(self) -> GatewayServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # ---- addresses -----------------------------------------------------------------------
    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("gateway not started")
        for sock in self._server.sockets or ():
            port: int = sock.getsockname()[1]
            return port
        raise RuntimeError("gateway has no listening socket")

    @property
    def base_url(self) -> str:
        """``ws://host:port`` (``wss`` with TLS) of this server."""
        host = self.config.host
        if host in ("", "0.0.0.0", "::"):
            host = "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        scheme = "wss" if self.config.ssl_certfile else "ws"
        return f"{scheme}://{host}:{self.port}"

    def stream_url(self, adapter: str, **query: object) -> str:
        """The URL Exotel (or the emulator) streams to for ``adapter``; keyword arguments
        become query parameters (pass ``**{"sample-rate": 16000}`` for the rate)."""
        url = f"{self.base_url}{STREAM_PREFIX}{adapter}"
        if query:
            url += "?" + urlencode({k: str(v) for k, v in query.items()})
        return url

    @property
    def active_streams(self) -> int:
        return len(self._connections)

    @property
    def open_connections(self) -> int:
        """TCP connections the server holds (streams, handshakes, closing ones)."""
        return len(self._wires)

    # ---- HTTP side -----------------------------------------------------------------------
    def _authorized(self, headers: Headers) -> bool:
        expected = self._expected_auth
        if expected is None:
            return True
        value = headers.get("Authorization", "")
        scheme, _, token = value.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            given = base64.b64decode(token.strip(), validate=True)
        except (binascii.Error, ValueError):
            return False
        return hmac.compare_digest(given, expected)

    # ---- the wires' host (gateway.wire.WireHost) ------------------------------------------
    def wire_opened(self, wire: WebSocketWire) -> None:
        """A TCP connection was accepted: counted as pending (until its stream starts), or
        aborted at once over a cap (``max_pending``, ``max_pending_per_ip``,
        ``max_connections_per_ip``)."""
        self._wires.add(wire)
        cfg = self.config
        ip = self._source_ip(wire)
        limited = not self._is_exempt(ip)
        refused = ""
        if len(self._pending) >= cfg.max_pending:
            refused = "pending"
        elif limited and self._pending_by_ip[ip] >= cfg.max_pending_per_ip:
            refused = "pending_per_ip"
        elif limited and 0 < cfg.max_connections_per_ip <= self._open_by_ip[ip]:
            refused = "per_ip"
        if refused:
            self.metrics.refused_connections[refused] += 1
            if worth_logging(self.metrics.refused_connections[refused]):
                log.warning("refused a connection from %s: %s cap reached (%d so far)", ip,
                            refused, self.metrics.refused_connections[refused])
            wire.close(CloseCode.GOING_AWAY)  # still connecting: aborts the TCP connection
            return
        self._source[wire] = ip
        self._open_by_ip[ip] += 1
        self._pending[wire] = ip
        self._pending_by_ip[ip] += 1

    def wire_lost(self, wire: WebSocketWire) -> None:
        self._wires.discard(wire)
        self._release(wire)
        ip = self._source.pop(wire, None)
        if ip is not None:
            _decrement(self._open_by_ip, ip)

    def _release(self, wire: WebSocketWire) -> None:
        """The connection is no longer pending (its stream started, or it ended)."""
        ip = self._pending.pop(wire, None)
        if ip is not None:
            _decrement(self._pending_by_ip, ip)

    def _stream_started(self, conn: StreamConnection) -> None:
        self._release(conn.wire)

    @staticmethod
    def _source_ip(wire: WebSocketWire) -> str:
        transport = wire.transport
        peer = transport.get_extra_info("peername") if transport is not None else None
        if isinstance(peer, tuple) and peer:
            return str(peer[0])
        return ""

    def _is_exempt(self, ip: str) -> bool:
        if not self._exempt:
            return False
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return False
        return any(address in net for net in self._exempt)

    def respond(self, wire: WebSocketWire, request: Request) -> Response | None:
        """Route an HTTP request: a response, or None to upgrade it (``/stream/...``)."""
        parts = urlsplit(request.path)
        path = parts.path
        if path in health.PATHS:  # JSON (voxgate_shared.health); ready: listening, not stopping
            server = self._server
            reason = None if server is not None and server.is_serving() else "shutting down"
            status, text = (health.live("gateway", None) if path == health.HEALTHZ
                            else health.ready("gateway", None, reason))
            return _respond(wire, HTTPStatus(status), text + "\n", "application/json")
        if path == "/metrics":
            return _respond(
                wire, HTTPStatus.OK, self.metrics.render(), CONTENT_TYPE,
            )
        is_stream = path.startswith(STREAM_PREFIX) and len(path) > len(STREAM_PREFIX)
        is_url = path.startswith(URL_PREFIX) and len(path) > len(URL_PREFIX)
        if not (is_stream or is_url):
            return wire.protocol.reject(HTTPStatus.NOT_FOUND, "not found\n")
        if not self._authorized(request.headers):
            self.metrics.auth_failures += 1
            log.warning("refused %s: bad or missing credentials", path)
            response = wire.protocol.reject(HTTPStatus.UNAUTHORIZED, "unauthorized\n")
            response.headers["WWW-Authenticate"] = 'Basic realm="voxgate"'
            return response
        if is_url:
            return self._dynamic_url(wire, path[len(URL_PREFIX) :], parts.query)
        if len(self._connections) >= self.config.max_streams:
            self.metrics.rejected_busy += 1
            log.warning("refused %s: %d streams open (max_streams)", path, len(self._connections))
            return wire.protocol.reject(HTTPStatus.SERVICE_UNAVAILABLE, "too many streams\n")
        return None

    def _dynamic_url(self, wire: WebSocketWire, adapter: str, query: str) -> Response:
        base = (self.config.public_url or self.base_url).rstrip("/")
        keep = {
            k: v for k, v in parse_qsl(query) if k == "sample-rate" or k.startswith("vx_")
        }
        url = f"{base}{STREAM_PREFIX}{adapter}"
        if keep:
            url += "?" + urlencode(keep)
        return _respond(wire, HTTPStatus.OK, json.dumps({"url": url}), "application/json")

    # ---- streams -------------------------------------------------------------------------
    def _factory(self, name: str) -> AdapterFactory:
        """The factory for ``name``; raises UnknownAdapter or AdapterLoadError. A name that
        failed is remembered (up to MISSES_KEPT names), so a stream of unknown names does not
        rescan the installed entry points on the event loop each time."""
        factory = self._factories.get(name)
        if factory is None:
            miss = self._misses.get(name)
            if miss is not None:
                raise miss
            if len(name) > MAX_ADAPTER_NAME:
                raise UnknownAdapter(name[:MAX_ADAPTER_NAME] + "...", sorted(self._factories))
            try:
                factory = self._given.get(name) or load_adapter(name)
            except (UnknownAdapter, AdapterLoadError) as exc:
                if len(self._misses) >= MISSES_KEPT:
                    del self._misses[next(iter(self._misses))]
                self._misses[name] = exc
                raise
            if self._wrap is not None:
                factory = self._wrap(factory)
            self._factories[name] = factory
        return factory

    def stream_opened(self, wire: WebSocketWire, request: Request) -> MessageSink | None:
        """An upgraded ``/stream/{adapter}``: build the call's driver and start its task
        (tracked in ``_calls``, awaited on shutdown); or close at once with 4004 (bad
        ``sample-rate``). An adapter that is unknown or fails to load gets a driver too, whose
        factory raises: it waits for ``start`` to name the call, reports ``bot_failed`` to the
        dialer, logs the call and closes with 4005/4006 (see :mod:`gateway.connection`)."""
        parts = urlsplit(request.path)
        name = parts.path[len(STREAM_PREFIX) :]
        try:
            factory = self._factory(name)
        except (UnknownAdapter, AdapterLoadError) as exc:
            factory = _raising(exc)
        url_rate: int | None = None
        for key, value in parse_qsl(parts.query):
            if key == "sample-rate":
                try:
                    url_rate = int(value)
                except ValueError:
                    self.metrics.protocol_errors["unsupported_format"] += 1
                    self.metrics.closes[CloseCode.UNSUPPORTED_FORMAT] += 1
                    wire.close(CloseCode.UNSUPPORTED_FORMAT, "bad sample-rate")
                    return None
        conn = StreamConnection(
            wire,
            name,
            factory,
            self.config,
            self.metrics,
            self.control_hook,
            url_sample_rate=url_rate,
            adapter_options=self.config.options_for(name),
        )
        conn.on_started = self._stream_started
        self._connections.add(conn)
        self._no_connections.clear()
        if self.batcher is not None and len(self._connections) >= self.config.batch_min_streams:
            self.batcher.start()
        task = asyncio.get_running_loop().create_task(self._serve(conn))
        self._calls.add(task)
        task.add_done_callback(self._calls.discard)
        return conn

    async def _serve(self, conn: StreamConnection) -> None:
        logs.bind_source(lambda: _log_fields(conn))  # JSON logs: this stream's sids, its call
        try:
            await conn.run()
        finally:
            self._connections.discard(conn)
            if not self._connections:
                self._no_connections.set()
            if self.batcher is not None and len(self._connections) < self.config.batch_min_streams:
                self.batcher.stop()

    async def _watch_idle(self) -> None:
        """One timer for all streams: close streams that sent nothing for ``idle_timeout``,
        or no ``start`` within ``start_timeout`` of the upgrade (what came before, such as
        ``connected``, does not count), and cancel adapter hooks that overran
        ``adapter_deadline``. How late it wakes is the event loop's lag (a stalled loop delays
        every call's audio), kept in the metrics."""
        cfg = self.config
        idle = cfg.idle_timeout
        period = min(0.25, idle / 4, cfg.adapter_deadline / 4, cfg.start_timeout / 4)
        loop = asyncio.get_running_loop()
        metrics = self.metrics
        while True:
            due = loop.time() + period
            await asyncio.sleep(period)
            now = loop.time()
            metrics.loop_lag(now - due)
            limit = now - idle
            start_limit = now - cfg.start_timeout
            for conn in list(self._connections):
                try:
                    if conn.ending:  # closing already: counted and logged once
                        continue
                    conn.check_deadline(now)
                    if conn.session.info is None and conn.opened_at < start_limit:
                        metrics.protocol_errors["no_start"] += 1
                        if worth_logging(metrics.protocol_errors["no_start"]):
                            log.warning("stream from %s: no start within %.1f s, closing (%d "
                                        "so far)", self._source.get(conn.wire, "-"),
                                        cfg.start_timeout, metrics.protocol_errors["no_start"])
                        conn.end(CloseCode.IDLE_TIMEOUT, "no start")
                    elif conn.last_rx < limit:
                        log.warning("stream %s: idle for %.1f s, closing", conn.stream_sid, idle)
                        metrics.protocol_errors["idle"] += 1
                        conn.end(CloseCode.IDLE_TIMEOUT, "idle timeout")
                except Exception:  # a bug here must not stop the watchdog for every call
                    log.exception("watchdog failed on stream %s", conn.stream_sid)
