"""Event delivery as Exotel does it: HTTPS JSON POST or gRPC ``TriggerCallbackEvent``.

Call :meth:`Delivery.emit` when an event happens. Events of one channel (a leg or a bridge) go
out in order, each after the configured event latency. HTTP(S): Exotel's headers
(``User-Agent: Exotel-Hermix/..``, ``X-Exotel-Event-Sid``, ``X-Exotel-Request-Id:
<event_sid>-<attempt>``, optional Basic auth), a 1 s timeout and up to 3 attempts on 408, 429,
5xx or connection errors. gRPC: ``protos.exotel_events_pb2_grpc`` with the same payload, the
same headers as metadata and the same retry rule (UNAVAILABLE, DEADLINE_EXCEEDED,
RESOURCE_EXHAUSTED, INTERNAL, UNKNOWN). The test switches ``duplicate_probability`` and
``reorder`` deliver an event twice or swap neighbouring events of a channel. Every delivery is
recorded (bounded) for ``GET /sim/events``.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import random
import ssl
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

import aiohttp
import grpc
from google.protobuf import struct_pb2

from exotel_sim.config import SimConfig
from exotel_sim.events import Event
from exotel_sim.tasks import SimClock, TaskSet
from exotel_sim.urls import redact
from protos import exotel_events_pb2, exotel_events_pb2_grpc

log = logging.getLogger("exotel_sim.delivery")

USER_AGENT = "Exotel-Hermix/1.0 (exotel_sim)"
RETRY_HTTP = frozenset({408, 429}) | frozenset(range(500, 600))
RETRY_GRPC = frozenset({
    grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN,
})


@dataclass(slots=True)
class DeliveryRecord:
    """One event and what happened to it."""

    event: Event
    emitted_ms: float
    attempts: list[dict[str, Any]] = field(default_factory=list)
    outcome: str = "pending"  # pending | delivered | failed
    duplicate: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "event_sid": self.event.event_sid,
            "event_name": self.event.name,
            "endpoint": self.event.endpoint,
            "channel": self.event.channel,
            "emitted_ms": round(self.emitted_ms),
            "attempts": self.attempts,
            "outcome": self.outcome,
            "duplicate": self.duplicate,
            "payload": self.event.payload,
        }


@dataclass(slots=True)
class _Channel:
    queue: deque[tuple[float, DeliveryRecord]] = field(default_factory=deque)
    running: bool = False


class Delivery:
    """Ordered per-channel event delivery with retries; start with :meth:`start`."""

    def __init__(self, config: SimConfig, clock: SimClock, tasks: TaskSet) -> None:
        self.config = config
        self.clock = clock
        self.tasks = tasks
        self.rng = random.Random(f"{config.seed}:delivery")
        self.records: deque[DeliveryRecord] = deque(maxlen=config.max_events_kept)
        self.counts = {"emitted": 0, "delivered": 0, "failed": 0, "retries": 0, "duplicates": 0,
                       "lost": 0}
        self._channels: dict[str, _Channel] = {}
        self._session: aiohttp.ClientSession | None = None
        self._grpc: dict[str, tuple[grpc.aio.Channel, Any]] = {}

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.config.http_timeout_s),
            connector=aiohttp.TCPConnector(limit=200, ssl=self._tls_context()),
        )

    def _tls_context(self) -> ssl.SSLContext:
        """Certificates are checked (as Exotel does) against the system's CAs and
        ``tls_ca_file``; ``tls_verify = false`` checks nothing (https only; gRPC always checks)."""
        context = ssl.create_default_context(cafile=self.config.tls_ca_file or None)
        if not self.config.tls_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("Delivery.start() was not awaited")
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
        for channel, _ in self._grpc.values():
            await channel.close()
        self._grpc.clear()

    def pending(self) -> int:
        """Events not yet delivered or given up."""
        return sum(len(c.queue) + (1 if c.running else 0) for c in self._channels.values())

    def emit(self, event: Event) -> DeliveryRecord:
        """Queue ``event`` for delivery after the event latency, in order within its channel."""
        record = DeliveryRecord(event, self.clock.now_ms())
        self.records.append(record)
        self.counts["emitted"] += 1
        if not event.endpoint:
            record.outcome = "no_endpoint"
            return record
        channel = self._channels.setdefault(event.channel, _Channel())
        channel.queue.append((record.emitted_ms + self.config.event_latency_ms, record))
        if not channel.running:
            channel.running = True
            self.tasks.spawn(self._worker(event.channel, channel), f"deliver:{event.channel}")
        return record

    async def _worker(self, name: str, channel: _Channel) -> None:
        try:
            while channel.queue:
                due, record = channel.queue.popleft()
                await self.clock.sleep_until(due)
                if self.config.reorder and channel.queue:
                    # Test switch: the next event of this channel overtakes this one.
                    channel.queue.appendleft((due, record))
                    due, record = channel.queue[1]
                    del channel.queue[1]
                    await self.clock.sleep_until(due)
                if record.event.name in self.config.lost_events or (
                        self.config.loss_probability > 0
                        and self.rng.random() < self.config.loss_probability):
                    record.outcome = "lost"  # harsh option: lost for good, never attempted
                    self.counts["lost"] += 1
                    continue
                await self._deliver(record, first_attempt=1)
                if record.outcome == "delivered" and self.config.duplicate_probability > 0 \
                        and self.rng.random() < self.config.duplicate_probability:
                    dup = DeliveryRecord(record.event, self.clock.now_ms(), duplicate=True)
                    self.records.append(dup)
                    self.counts["duplicates"] += 1
                    await self._deliver(dup, first_attempt=len(record.attempts) + 1)
        finally:
            channel.running = False
            if not channel.queue:
                self._channels.pop(name, None)

    async def _deliver(self, record: DeliveryRecord, first_attempt: int) -> None:
        event = record.event
        scheme = urlsplit(event.endpoint).scheme
        attempts = self.config.delivery_attempts if not record.duplicate else 1
        for n in range(attempts):
            attempt = first_attempt + n
            if n:
                self.counts["retries"] += 1
                await asyncio.sleep(self.config.retry_backoff_ms * n / 1000)
            if scheme in ("grpc", "grpcs"):
                ok, retry, status = await self._grpc_once(event, attempt)
            else:
                ok, retry, status = await self._http_once(event, attempt)
            record.attempts.append(
                {"attempt": attempt, "at_ms": round(self.clock.now_ms()), "status": status}
            )
            if ok:
                record.outcome = "delivered"
                self.counts["delivered"] += 1
                return
            if not retry:
                break
        record.outcome = "failed"
        self.counts["failed"] += 1
        log.warning("event %s %s to %s failed after %d attempt(s)", event.name,
                    event.event_sid, redact(event.endpoint), len(record.attempts))

    def _headers(self, event: Event, attempt: int) -> dict[str, str]:
        headers = {
            "User-Agent": USER_AGENT,
            "X-Exotel-Event-Sid": event.event_sid,
            "X-Exotel-Request-Id": f"{event.event_sid}-{attempt}",
        }
        parts = urlsplit(event.endpoint)
        if parts.username is not None and parts.scheme in ("grpc", "grpcs"):
            # a shared secret in the URL's user part (percent-encoded): a bearer token
            secret = unquote(parts.username) + (
                "" if parts.password is None else ":" + unquote(parts.password))
            headers["Authorization"] = f"Bearer {secret}"
            return headers
        auth = (
            (unquote(parts.username), unquote(parts.password or ""))
            if parts.username is not None else self.config.event_auth
        )
        if auth:
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode("ascii")
            headers["Authorization"] = f"Basic {token}"
        return headers

    async def _http_once(self, event: Event, attempt: int) -> tuple[bool, bool, str]:
        parts = urlsplit(event.endpoint)
        url = event.endpoint
        if parts.username:
            netloc = parts.hostname or ""
            if parts.port:
                netloc += f":{parts.port}"
            url = parts._replace(netloc=netloc).geturl()
        try:
            async with self.session.post(
                url, json=dict(event.payload), headers=self._headers(event, attempt)
            ) as resp:
                await resp.read()
                ok = 200 <= resp.status < 300
                return ok, resp.status in RETRY_HTTP, str(resp.status)
        except TimeoutError:
            return False, True, "timeout"
        except aiohttp.ClientError as exc:
            return False, True, f"error: {type(exc).__name__}"

    def _stub(self, endpoint: str) -> Any:
        parts = urlsplit(endpoint)
        host = f"[{parts.hostname}]" if ":" in (parts.hostname or "") else parts.hostname
        target = f"{host}:{parts.port}"
        key = f"{parts.scheme}://{target}"
        if key not in self._grpc:
            if parts.scheme == "grpcs":
                roots = None
                if self.config.tls_ca_file:
                    with open(self.config.tls_ca_file, "rb") as fh:
                        roots = fh.read()
                channel = grpc.aio.secure_channel(
                    target, grpc.ssl_channel_credentials(root_certificates=roots))
            else:
                channel = grpc.aio.insecure_channel(target)
            stub = exotel_events_pb2_grpc.ExotelCallbackServiceStub(channel)
            self._grpc[key] = (channel, stub)
        return self._grpc[key][1]

    async def _grpc_once(self, event: Event, attempt: int) -> tuple[bool, bool, str]:
        payload = event.payload
        message = exotel_events_pb2.CallbackEvent(  # type: ignore[attr-defined]
            event_sid=payload["event_sid"],
            event_type=payload["event_type"],
            event_name=payload["event_name"],
            event_timestamp=payload["event_timestamp"] or "",
            action_sid=payload["action_sid"],
            action_custom_parameter=payload["action_custom_parameter"],
        )
        event_data = struct_pb2.Struct()
        event_data.update(payload["event_data"])
        data = struct_pb2.Struct()
        data.update(payload["data"])
        message.event_data.CopyFrom(event_data)
        message.data.CopyFrom(data)
        metadata = tuple((k.lower(), v) for k, v in self._headers(event, attempt).items()
                         if k != "User-Agent")
        try:
            await self._stub(event.endpoint).TriggerCallbackEvent(
                message, timeout=self.config.http_timeout_s, metadata=metadata
            )
        except grpc.aio.AioRpcError as exc:
            return False, exc.code() in RETRY_GRPC, f"grpc {exc.code().name}"
        return True, False, "grpc OK"
