"""Exotel's callbacks over gRPC: ``TriggerCallbackEvent`` of ``protos/exotel_events.proto``
into an :class:`~dialer.intake.EventIntake` (see :mod:`dialer.intake`: the same checks, counters
and answers as the HTTP intake). Its own module so that a dialer taking its events over HTTP
never loads gRPC and protobuf (:func:`dialer.intake_server.make_intake_server` imports it)."""

from __future__ import annotations

import logging
import socket
from typing import Any

import grpc
from google.protobuf import json_format

from dialer.errors import ConfigError, MalformedEvent
from dialer.event_endpoint import EventEndpoint
from dialer.intake import (
    DEFAULT_MAX_BODY,
    AuthFailureLog,
    EventIntake,
    bind_error,
    credentials_ok,
    public_url,
    server_tls_context,
)
from protos import exotel_events_pb2 as _pb2
from protos import exotel_events_pb2_grpc

__all__ = ["GrpcIntakeServer", "callback_to_dict"]

pb2: Any = _pb2  # generated code carries no type information

log = logging.getLogger("dialer.intake")


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
        self.failures = AuthFailureLog(intake.stats)

    async def TriggerCallbackEvent(  # name fixed by the proto
        self, request: Any, context: grpc.aio.ServicerContext[Any, Any]
    ) -> Any:
        if self.auth:
            meta = {k.lower(): v for k, v in (context.invocation_metadata() or ())}
            header = meta.get("authorization")
            header = header if isinstance(header, str) else None
            if not credentials_ok(header, self.auth):
                self.failures.failed("gRPC", context.peer() or "", header is not None)
                await context.abort(grpc.StatusCode.UNAUTHENTICATED, "bad credentials")
        try:
            self.intake.submit(callback_to_dict(request))
        except MalformedEvent as exc:
            log.warning("malformed gRPC event: %s", exc)
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        return pb2.CallbackAck(ok=True, message="")


class GrpcIntakeServer:
    """grpc.aio server implementing ``TriggerCallbackEvent`` (TLS when given cert and key)."""

    def __init__(
        self,
        intake: EventIntake,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        auth: str = "",
        plan: EventEndpoint | None = None,
        certfile: str = "",
        keyfile: str = "",
    ) -> None:
        self.intake = intake
        self.host, self.port = host, port
        self._auth = auth
        self._plan = plan
        self._cert = (certfile, keyfile) if certfile else None
        self._server: grpc.aio.Server | None = None
        self.endpoint = ""

    async def start(self) -> None:
        """Bind and serve; a bind failure raises :class:`IntakeBindError`, a bad certificate
        :class:`ConfigError`."""
        credentials = None
        if self._cert is not None:
            server_tls_context(*self._cert)  # a clear error for a bad pair, before gRPC's
            key = _read_pem(self._cert[1], "event_keyfile")
            chain = _read_pem(self._cert[0], "event_certfile")
            credentials = grpc.ssl_server_credentials([(key, chain)])
        server = grpc.aio.server(
            options=[("grpc.max_receive_message_length", DEFAULT_MAX_BODY),
                     ("grpc.so_reuseport", 0)]
        )
        exotel_events_pb2_grpc.add_ExotelCallbackServiceServicer_to_server(  # type: ignore[no-untyped-call]
            _Servicer(self.intake, self._auth), server
        )
        address = f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"
        if self.port:
            _probe_bind(self.host, self.port)  # gRPC's own failure comes with C-core log lines
        try:
            if credentials is None:
                port = server.add_insecure_port(address)
            else:
                port = server.add_secure_port(address, credentials)
        except RuntimeError as exc:  # grpc's "Failed to bind to address ..."
            raise bind_error(self.host, self.port, _first_line(exc)) from None
        if not port:
            raise bind_error(self.host, self.port, "gRPC could not bind it")
        self.port = port
        await server.start()
        self._server = server
        scheme = "grpcs" if credentials is not None else "grpc"
        self.endpoint = public_url(self._plan, f"{scheme}://{self.host}:{self.port}", self.port)

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop(grace=0.5)
            self._server = None


def _read_pem(path: str, what: str) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError as exc:
        raise ConfigError(f"{what} {path}: {exc.strerror or exc}") from None


def _probe_bind(host: str, port: int) -> None:
    """Raise :class:`~dialer.intake.IntakeBindError` when ``host:port`` cannot be bound (in
    use, not an address of this host): gRPC's own failure comes with C-core log lines."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, addr = infos[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(addr)
    except OSError as exc:
        raise bind_error(host, port, exc.strerror or exc) from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
