"""Exotel's side of a stream: connect to the bot's WebSocket and speak the protocol at real time.

One :class:`StreamClient` per ``start_stream``, run as a task of its leg (:meth:`run`):
connect (Basic auth from the URL's user info becomes an ``Authorization`` header), send
``connected`` and ``start`` (custom parameters from the URL's query), report
``stream_started``. Then the shared :class:`~exotel_sim.pacer.MediaPacer` calls
:meth:`StreamClient.pace` to send the customer's audio every 20 ms (mu-law) or 100 ms (PCM)
on an absolute schedule, recording how late each chunk went out; the receiver plays the
bot's chunks into the customer's ear (:class:`~exotel_sim.streamproto.Playout`) and handles
``mark`` and ``clear``; the marker echoes marks when they fall due. A malformed bot message
is logged and counted, never fatal. :meth:`request_stop` (stop_stream or hang-up) sends
``stop`` and closes.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import ssl
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import aiohttp
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
from websockets.protocol import State

from exotel_sim.audio import from_wire, mix, rms, to_wire, wire_duration_ms
from exotel_sim.errors import BadRequest
from exotel_sim.requests import StartStream, StreamFormat, parse_content_type, stream_url_params
from exotel_sim.streamproto import (
    BotClear,
    BotMark,
    BotMedia,
    Playout,
    ProtocolError,
    StreamCodec,
    client_text_frame,
    parse_bot_message,
)
from exotel_sim.urls import redact, split_auth

if TYPE_CHECKING:
    from exotel_sim.core import SimCore as Sim
    from exotel_sim.leg import Leg

log = logging.getLogger("exotel_sim.stream")

OPEN_TIMEOUT_S = 10.0
MAX_STREAM_S = 3600.0  # a stream session lasts at most 60 minutes
CLOSE_TIMEOUT_S = 2.0  # a bot that never answers our close frame is dropped after this
MAX_MESSAGE_BYTES = 1 << 20
SILENCE_RMS = 60  # bot chunks quieter than this are not "heard" on the timeline
FRAME_BYTES = {"mulaw": 160, "pcm16": 320}
LOGGED_ERRORS_MAX = 5
MAX_SEND_BUFFER = 256 * 1024  # bytes queued towards a bot that does not read


class StreamClient:
    """One stream of one leg; create, then run :meth:`run` as a leg task."""

    def __init__(
        self, sim: Sim, leg: Leg, cmd: StartStream, action_sid: str, param: str, stream_sid: str
    ) -> None:
        self.sim = sim
        self.leg = leg
        self.cmd = cmd
        self.fmt = cmd.fmt
        self.action_sid = action_sid
        self.param = param
        self.stream_sid = stream_sid
        self.task: asyncio.Task[Any] | None = None
        self.url = cmd.url
        self._target(cmd.url, cmd.fmt, cmd.custom_parameters)
        self.playout = Playout()
        self.state = "connecting"
        self.stop_reason = ""
        self.stop_action: tuple[str, str] = ("", "")
        self._stopping = asyncio.Event()
        self._mark_wake = asyncio.Event()
        self._ws: ClientConnection | None = None
        self.started_ms: float | None = None
        self.ended_ms: float | None = None
        self.counts: dict[str, int] = {
            "sent_chunks": 0, "dropped_chunks": 0, "bot_chunks": 0, "marks": 0, "clears": 0,
            "dtmf": 0, "bad_messages": 0, "short_chunks": 0, "ignored_media": 0}
        self._next_due = 0.0
        self._first_window = 0.0
        self.bot_ms = 0.0
        self.error = ""

    def _target(self, url: str, fmt: StreamFormat,
                params: tuple[tuple[str, str], ...]) -> None:
        """Where and how to stream (set again once a dynamic URL is resolved)."""
        self.url = url
        self.fmt = fmt
        self.chunk_ms = fmt.chunk_ms
        self.codec = StreamCodec(
            stream_sid=self.stream_sid, call_sid=self.leg.sid,
            account_sid=self.sim.config.account_sid, from_number=self.leg.req.exophone,
            to_number=self.leg.req.contact_uri, fmt=fmt, custom_parameters=dict(params),
        )
        chunk = bytes(fmt.bytes_per_ms * fmt.chunk_ms)
        if fmt.encoding == "mulaw":
            chunk = b"\xff" * len(chunk)
        self._silence_b64 = base64.b64encode(chunk).decode("ascii")

    def _tls(self, url: str) -> ssl.SSLContext | None:
        """The TLS context for a ``wss://`` URL (unverified when ``tls_verify`` is off)."""
        if urlsplit(url).scheme != "wss":
            return None
        context = ssl.create_default_context()
        if not self.sim.config.tls_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    async def _resolve(self) -> None:
        """The dynamic form: GET the http(s) URL, which answers ``{"url": "wss://..."}``.
        Raises ``ValueError`` when it does not."""
        url, headers = split_auth(self.url)
        try:
            async with self.sim.delivery.session.get(url, headers=headers) as resp:
                if resp.status != 200:
                    raise ValueError(f"GET {redact(url)} answered {resp.status}")
                body = await resp.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, json.JSONDecodeError) as exc:
            raise ValueError(f"GET {redact(url)} failed: {type(exc).__name__}") from exc
        target = body.get("url") if isinstance(body, dict) else None
        if not isinstance(target, str):
            raise ValueError(f"GET {redact(url)} gave no url")
        try:
            params, rate = stream_url_params(target)
            fmt = parse_content_type(self.cmd.content_type, rate)
        except BadRequest as exc:
            raise ValueError(exc.message) from exc
        self._target(target, fmt, params)

    @property
    def bidirectional(self) -> bool:
        return self.cmd.direction == "bidirectional"

    def request_stop(self, reason: str, action_sid: str = "", param: str = "") -> None:
        """Stop the stream (``stopped`` for stop_stream, ``callended`` on hang-up)."""
        if not self.stop_reason:
            self.stop_reason = reason
            self.stop_action = (action_sid, param)
        self._stopping.set()
        self._mark_wake.set()

    def summary(self) -> dict[str, Any]:
        return {
            "stream_sid": self.stream_sid, "url": redact(self.url),
            "direction": self.cmd.direction, "encoding": self.fmt.encoding,
            "sample_rate": self.fmt.sample_rate, "state": self.state,
            "stop_reason": self.stop_reason, "error": self.error,
            "started_ms": None if self.started_ms is None else round(self.started_ms),
            "ended_ms": None if self.ended_ms is None else round(self.ended_ms),
            "bot_ms": round(self.bot_ms),
            **self.counts,
        }

    async def run(self) -> None:
        """Connect, stream until stopped or closed by the bot, then report the end."""
        sim, leg = self.sim, self.leg
        try:
            try:
                if urlsplit(self.url).scheme in ("http", "https"):
                    await self._resolve()
                url, headers = split_auth(self.url)
                ws = await connect(
                    url, additional_headers=headers, open_timeout=OPEN_TIMEOUT_S,
                    max_size=MAX_MESSAGE_BYTES, compression=None, ping_interval=None,
                    close_timeout=CLOSE_TIMEOUT_S, ssl=self._tls(url),
                    # Exotel connects to the URL itself, through no proxy of ours (and
                    # reading the environment's proxies costs each connect a lot)
                    proxy=None,
                )
            except (OSError, InvalidHandshake, InvalidURI, TimeoutError, ValueError) as exc:
                self.error = f"{type(exc).__name__}: {exc}"
                self.state = "failed"
                sim.stats.count("stream_connect_failures")
                log.warning("stream %s of leg %s: connect failed: %s", self.stream_sid,
                            leg.sid, self.error)
                sim.leg_event(leg, "stream_stopped", {
                    "stream_sid": self.stream_sid, "status": "failed", "reason": self.error,
                }, self.action_sid, self.param)
                return
            self._ws = ws
            if self._stopping.is_set():  # stopped or hung up while connecting
                await ws.close()
                return
            try:
                await ws.send(self.codec.connected())
                await ws.send(self.codec.start())
                self.started_ms = sim.clock.now_ms()
                self.state = "streaming"
                sim.note(leg, f"stream {self.stream_sid} started")
                sim.leg_event(leg, "stream_started", {
                    "stream_sid": self.stream_sid, "url": redact(self.url),
                    "direction": self.cmd.direction, "content_type": self.cmd.content_type,
                }, self.action_sid, self.param)
                await self._serve(ws)
            except ConnectionClosed:
                pass
            finally:
                await ws.close()
        finally:
            if self.state != "failed":
                self.report_stopped()
            sim.stream_ended(leg, self)

    def report_stopped(self) -> None:
        """The stream is over for the customer: cut unplayed bot audio and emit
        ``stream_stopped`` (once). The engine calls it before ``leg_terminated`` on hang-up."""
        if self.state in ("stopped", "failed"):
            return
        self.state = "stopped"
        self.ended_ms = self.sim.clock.now_ms()
        reason = self.stop_reason or "bot_closed"
        action_sid, param = self.stop_action
        self.sim.leg_event(self.leg, "stream_stopped", {
            "stream_sid": self.stream_sid, "status": "stopped", "reason": reason,
        }, action_sid or self.action_sid, param or self.param)
        # What was queued but not yet played is not heard once the stream ends.
        self.leg.timeline.cut("stream", self.ended_ms, self.stream_sid)

    async def _serve(self, ws: ClientConnection) -> None:
        """Stream until stop is requested or the bot closes; the pacer sends the media."""
        assert self.started_ms is not None
        self._next_due = self.sim.pacer.add(self, self.started_ms)
        self._first_window = self._next_due - self.chunk_ms
        receiver = asyncio.ensure_future(self._receive(ws))
        marker = asyncio.ensure_future(self._marks(ws))
        stopping = asyncio.ensure_future(self._stopping.wait())
        try:
            done, _ = await asyncio.wait({receiver, stopping}, timeout=MAX_STREAM_S,
                                         return_when=asyncio.FIRST_COMPLETED)
            if not done:  # Exotel ends a stream after 60 minutes
                self.request_stop("stopped")
            self.sim.pacer.remove(self)
            if self.stop_reason and not receiver.done():
                with contextlib.suppress(ConnectionClosed):
                    await ws.send(self.codec.stop(self.stop_reason))
        finally:
            self.sim.pacer.remove(self)
            marker.cancel()
            stopping.cancel()
            await ws.close()
            receiver.cancel()
            await asyncio.gather(receiver, marker, stopping, return_exceptions=True)

    async def pace(self, now_ms: float) -> None:
        """Send the customer's audio chunks due by ``now_ms`` (called by the pacer)."""
        ws = self._ws
        if ws is None or self._stopping.is_set() or self.state != "streaming":
            return
        fmt, leg, chunk_ms = self.fmt, self.leg, self.chunk_ms
        lag = self.sim.stats.lag
        while self._next_due <= now_ms:
            due = self._next_due
            self._next_due += chunk_ms
            lag.record(self.sim.clock.now_ms() - due, chunk_ms)  # when it actually goes out
            window_start = due - chunk_ms
            timestamp = round(window_start - self._first_window)
            if ws.transport.get_write_buffer_size() > MAX_SEND_BUFFER:
                self.counts["dropped_chunks"] += 1  # the bot is not reading: do not pile up
                continue
            pieces = [] if leg.muted else _overlapping(leg.timeline.mouth_audio,
                                                       window_start, due)
            if pieces:
                pcm = mix(pieces, window_start, due)
                msg = self.codec.media(to_wire(pcm, fmt.encoding, fmt.sample_rate), timestamp)
            else:
                msg = self.codec.media_b64(self._silence_b64, timestamp)
            try:
                await _send_fast(ws, msg)
            except ConnectionClosed:
                self._stopping.set()
                return
            self.counts["sent_chunks"] += 1
            now_ms = self.sim.clock.now_ms()

    def pacer_failed(self, exc: BaseException) -> None:
        self.error = f"{type(exc).__name__}: {exc}"
        self._stopping.set()

    async def _receive(self, ws: ClientConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for raw in ws:
                self._on_message(raw)

    def _on_message(self, raw: str | bytes) -> None:
        clock, leg, fmt = self.sim.clock, self.leg, self.fmt
        try:
            msg = parse_bot_message(raw)
        except ProtocolError as exc:
            self.counts["bad_messages"] += 1
            self.sim.stats.count("stream_bad_messages")
            if self.counts["bad_messages"] <= LOGGED_ERRORS_MAX:
                log.warning("stream %s: bad message from bot: %s", self.stream_sid, exc)
            return
        now = clock.now_ms()
        if not self.bidirectional:
            self.counts["ignored_media"] += 1
            return
        if isinstance(msg, BotMedia):
            payload = msg.payload
            if not payload:
                return
            dur = wire_duration_ms(len(payload), fmt.encoding, fmt.sample_rate)
            short = len(payload) % FRAME_BYTES[fmt.encoding] != 0
            if short:
                self.counts["short_chunks"] += 1
                self.sim.stats.count("stream_short_chunks")
            start, end = self.playout.add_media(now, dur, 20.0 if short else 0.0)
            self.counts["bot_chunks"] += 1
            self.bot_ms += dur
            pcm = from_wire(payload, fmt.encoding, fmt.sample_rate)
            if rms(pcm) >= SILENCE_RMS:
                leg.timeline.hear("stream", self.stream_sid, start, end, pcm, merge=True)
        elif isinstance(msg, BotMark):
            self.playout.add_mark(now, msg.name)
            self._mark_wake.set()
        elif isinstance(msg, BotClear):
            self.counts["clears"] += 1
            keep_until = self.playout.clear(now)
            leg.timeline.cut("stream", keep_until, self.stream_sid)
            self._mark_wake.set()

    async def _marks(self, ws: ClientConnection) -> None:
        """Echo each mark when the audio queued before it has played."""
        clock = self.sim.clock
        while not self._stopping.is_set():
            due = self.playout.next_mark_due()
            self._mark_wake.clear()
            if due is None:
                await self._mark_wake.wait()
                continue
            wait_s = (due - clock.now_ms()) / 1000
            if wait_s > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._mark_wake.wait(), wait_s)
                continue
            for name in self.playout.due_marks(clock.now_ms()):
                await ws.send(self.codec.mark(name))
                self.counts["marks"] += 1

    async def send_dtmf(self, digit: str) -> None:
        """The customer pressed ``digit`` (bidirectional streams only)."""
        ws = self._ws
        if ws is None or self.state != "streaming" or not self.bidirectional:
            return
        with contextlib.suppress(ConnectionClosed):
            await ws.send(self.codec.dtmf(digit))
            self.counts["dtmf"] += 1


async def _send_fast(ws: ClientConnection, msg: str) -> None:
    """``ws.send(msg)``, but when the connection is open and idle the frame is written
    straight to the transport (the pacer bounds the write buffer itself); otherwise the
    library's normal path."""
    if ws.protocol.state is State.OPEN and ws.send_in_progress is None:
        ws.transport.write(client_text_frame(msg))
    else:
        await ws.send(msg)


def _overlapping(pieces: list[Any], start: float, end: float) -> list[Any]:
    """The last few pieces that overlap ``[start, end)`` (speech is appended in time order)."""
    out = []
    for piece in reversed(pieces[-4:]):
        if piece.start_ms < end and piece.end_ms > start:
            out.append(piece)
    return out
