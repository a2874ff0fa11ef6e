"""The ``relay`` bot adapter: forwards a call to an existing voice bot over WebSocket.

Registered as entry point ``relay``; options in ``bot_adapters.relay.config``. The relay plays
the telephony side of the chosen dialect (``bot_adapters.relay.dialects``) towards the external
bot: caller audio, DTMF and mark echoes go to the bot; the bot's audio, marks, clears and its
transfer/hang-up requests come back to the call.

One task per call runs the connection (started in ``on_start``, awaited in ``on_stop``); inside
it a ``TaskGroup`` holds the reader and the writer. Hooks never block on the network: they put
frames on a bounded queue (overflow is dropped and counted in :attr:`RelayAdapter.stats`).

When the external bot is unreachable, sends no audio within ``answer_deadline_ms`` (or
``reply_deadline_ms`` after the caller stops speaking), or drops the connection mid-call (any
close but a normal one, or none), the fallback runs: whatever the bot had queued is cleared, the
fallback message plays, and once the caller has heard it (or talked over it) the call is
transferred (or hung up) with reason ``relay_<cause>``.

A bot that closes the connection normally (code 1000: how pipecat's Exotel and Twilio
serializers end a call) has ended the call: by ``on_close`` (default ``hangup``) the relay
hangs up once the caller has heard what the bot sent (or talked over it), or transfers, or
runs the fallback; reason ``relay_closed``. A bot that asked for a hang-up or a transfer before
closing gets only what it asked for.

Process-wide counters (:mod:`bot_adapters.metrics`, on the gateway's ``/metrics``):
``relay_connects_total{dialect}``, ``relay_failures_total{cause}`` (unreachable, slow, dropped,
error), ``relay_fallbacks_total{reason}``, ``relay_closes_total{rule}`` (normal closes).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from bot_adapters.clips import load_clip
from bot_adapters.contract import BotAdapter, CallControl, PlayedPosition, PlayoutOverflow
from bot_adapters.metrics import counter_family
from bot_adapters.relay.config import RelayConfig
from bot_adapters.relay.dialects import (
    MAX_BOT_MESSAGE_BYTES,
    BotClear,
    BotHangup,
    BotMark,
    BotMedia,
    BotMessage,
    BotProtocolError,
    BotTransfer,
    StreamEncoder,
    decode_bot_message,
)

log = logging.getLogger(__name__)

FALLBACK_LABEL = "vx-relay-fallback"
CLOSED_LABEL = "vx-relay-closed"
"""The mark after the last audio of a bot that closed normally: heard, the call ends."""
CLOSED_REASON = "relay_closed"
NORMAL_CLOSE = 1000
STOP_FLUSH_S = 1.0
"""How long ``on_stop`` lets the writer send the ``stop`` frame before closing."""
FALLBACK_GRACE_S = 2.0
"""Extra wait for the fallback message's mark beyond its duration."""


MAX_STAT_EVENTS = 100

CONNECTS = counter_family("relay_connects_total", "Relay connections to external bots.",
                          "dialect")
FAILURES = counter_family("relay_failures_total",
                          "External bots that failed (unreachable, slow, dropped, error).",
                          "cause")
FALLBACKS = counter_family("relay_fallbacks_total", "Relay fallbacks run, by reason sent.",
                           "reason")
CLOSES = counter_family("relay_closes_total",
                        "External bots that closed normally (1000), by on_close rule.", "rule")


@dataclass(slots=True)
class RelayStats:
    """Counters for one call (read them in tests and logs); ``events`` keeps the first
    :data:`MAX_STAT_EVENTS` notable events (transfer, hang-up, barge-in, fallback)."""

    frames_to_bot: int = 0
    frames_from_bot: int = 0
    bad_frames: int = 0
    dropped_to_bot: int = 0
    dropped_from_bot: int = 0
    marks_echoed: int = 0
    events: list[str] = field(default_factory=list)

    def note(self, event: str) -> None:
        if len(self.events) < MAX_STAT_EVENTS:
            self.events.append(event)


class RelayAdapter(BotAdapter):
    """Relay one call to an external bot. ``RelayAdapter(options)`` returns the subclass whose
    ``sample_rate`` matches the configured dialect's, so the gateway resamples once."""

    sample_rate = 8000

    def __new__(cls, options: Mapping[str, str] | None = None) -> RelayAdapter:
        config = RelayConfig.from_options(options or {})
        target = _RATE_CLASSES[config.dialect.sample_rate]
        if not issubclass(target, cls):
            target = cls
        return super().__new__(target)

    def __init__(self, options: Mapping[str, str] | None = None) -> None:
        self.config = RelayConfig.from_options(options or {})
        if self.config.dialect.sample_rate != self.sample_rate:
            raise ValueError("construct relays with RelayAdapter(options)")
        self.fallback_pcm = load_clip(self.config.fallback_message, self.sample_rate)
        self.stats = RelayStats()
        self.fallback_cause: str | None = None
        self._call: CallControl | None = None
        self._encoder: StreamEncoder | None = None
        self._out: asyncio.Queue[str | None] = asyncio.Queue(self.config.max_queue)
        self._task: asyncio.Task[None] | None = None
        self._deadline: asyncio.Timeout | None = None
        self._pending_marks: list[str] = []
        self._stopping = False
        self._heard = asyncio.Event()  # the fallback message or the closing mark was heard
        self._bot_gone = False  # the bot closed normally: nothing more goes to it
        self._bot_acted = False  # the bot asked for a hang-up or a transfer itself
        self._playout_end = 0.0  # loop time when the bot's queued audio will have played

    # -- hooks (the gateway's task) --------------------------------------------------------

    async def on_start(self, call: CallControl) -> None:
        self._call = call
        self._encoder = StreamEncoder(self.config.dialect, call.info)
        self._send(self._encoder.connected())
        self._send(self._encoder.start())
        self._task = asyncio.create_task(
            self._run(), name=f"relay-{call.info.stream_sid}"
        )  # tracked: awaited in on_stop

    async def on_audio(self, pcm: bytes) -> None:
        if self._encoder is not None:
            self._send(self._encoder.media(pcm))

    async def on_dtmf(self, digit: str) -> None:
        if self._encoder is not None:
            self._send(self._encoder.dtmf(digit))

    async def on_speech_end(self) -> None:
        if self.config.reply_deadline_ms and self._deadline is not None:
            loop = asyncio.get_running_loop()
            self._deadline.reschedule(loop.time() + self.config.reply_deadline_ms / 1000)

    async def on_barge_in(self, heard: PlayedPosition) -> None:
        self.stats.note(f"barge_in:{heard.label}")
        self._playout_end = 0.0
        if {FALLBACK_LABEL, CLOSED_LABEL} & {heard.label, *heard.dropped_labels}:
            # the caller cut the last message: its mark will never come, act now
            self._heard.set()
        if self.config.forward_barge_in and self._encoder is not None:
            self._send(self._encoder.clear())
        self._marks_dropped()

    async def on_playback_finished(self, label: str) -> None:
        if label in (FALLBACK_LABEL, CLOSED_LABEL):
            self._heard.set()
        elif label in self._pending_marks and self._encoder is not None:
            self._pending_marks.remove(label)
            self._send(self._encoder.mark(label))

    async def on_stop(self, reason: str) -> None:
        self._stopping = True
        self._heard.set()  # a fallback or close waiting for its message gives up
        task = self._task
        if task is None:
            return
        if self._encoder is not None and self.fallback_cause is None and not self._bot_gone:
            self._send(self._encoder.stop(reason), force=True)
        self._send(None, force=True)
        done, _ = await asyncio.wait({task}, timeout=STOP_FLUSH_S)
        if not done:
            task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            if not task.cancelled():
                raise
        log.info(
            "relay %s stopped (%s): %d frames to bot, %d from bot, %d bad, fallback=%s",
            self.config.url,
            reason,
            self.stats.frames_to_bot,
            self.stats.frames_from_bot,
            self.stats.bad_frames,
            self.fallback_cause or "-",
        )

    # -- the connection task ---------------------------------------------------------------

    async def _run(self) -> None:
        cause: str | None
        try:
            try:
                ws = await connect(
                    self.config.url,
                    open_timeout=self.config.connect_timeout_ms / 1000,
                    max_size=MAX_BOT_MESSAGE_BYTES,
                    compression=None,
                    ping_interval=None,
                    close_timeout=STOP_FLUSH_S,
                )
            except (OSError, InvalidHandshake, InvalidURI, TimeoutError) as exc:
                log.warning("relay: bot at %s unreachable: %r", self.config.url, exc)
                cause = "unreachable"
            else:
                CONNECTS[self.config.dialect.name] += 1
                async with ws:
                    cause = await self._session(ws)
            if cause == "closed":
                await self._bot_closed()
            elif cause is not None:
                await self._fallback(cause)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("relay: connection task failed")
            await self._fallback("error")

    async def _bot_closed(self) -> None:
        """The bot closed normally: it ended the call. Act by ``on_close`` once the caller
        has heard what it sent (see the module docstring)."""
        rule = self.config.on_close
        CLOSES[rule] += 1
        self.stats.note(f"closed:{rule}")
        if self._stopping or self._bot_acted:
            return  # it asked for what it wanted before closing
        if rule == "fallback":
            await self._fallback("closed")
            return
        self._bot_gone = True
        call = self._call
        assert call is not None
        log.info("relay: bot at %s closed stream %s normally: %s", self.config.url,
                 call.info.stream_sid, rule)
        call.mark(CLOSED_LABEL)
        left = max(0.0, self._playout_end - asyncio.get_running_loop().time())
        await self._until_heard(left, "bot's last audio")
        if self._stopping:
            return
        if rule == "transfer":
            await call.transfer(CLOSED_REASON, self.config.fallback_skills)
        else:
            await call.hangup(CLOSED_REASON)

    async def _until_heard(self, audio_s: float, what: str) -> None:
        """Wait until the caller heard (or cut) the last message, ``audio_s`` long, bounded
        by its length plus :data:`FALLBACK_GRACE_S`."""
        try:
            await asyncio.wait_for(self._heard.wait(), audio_s + FALLBACK_GRACE_S)
        except TimeoutError:
            log.warning("relay: %s not confirmed heard; acting anyway", what)

    async def _session(self, ws: ClientConnection) -> str | None:
        """Run reader and writer until the call stops (``None``) or the bot fails (cause)."""
        async with asyncio.TaskGroup() as tg:
            writer = tg.create_task(self._write(ws))
            try:
                return await self._read(ws)
            finally:
                if not self._stopping:
                    writer.cancel()

    async def _write(self, ws: ClientConnection) -> None:
        while True:
            frame = await self._out.get()
            if frame is None:
                await ws.close()
                return
            try:
                await ws.send(frame)
            except ConnectionClosed:
                return  # the reader sees the close and decides
            self.stats.frames_to_bot += 1

    async def _read(self, ws: ClientConnection) -> str | None:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout_at(
                loop.time() + self.config.answer_deadline_ms / 1000
            ) as deadline:
                self._deadline = deadline
                try:
                    async for frame in ws:
                        self.stats.frames_from_bot += 1
                        await self._from_bot(frame, deadline)
                        if self._stopping:
                            deadline.reschedule(None)
                finally:
                    self._deadline = None
        except TimeoutError:
            if self._stopping:
                return None
            log.warning("relay: bot at %s too slow to answer", self.config.url)
            return "slow"
        except ConnectionClosed:
            pass
        if self._stopping:
            return None
        received = ws.protocol.close_rcvd
        if received is not None and received.code == NORMAL_CLOSE:
            return "closed"
        log.warning("relay: bot at %s dropped the connection (close code %s)", self.config.url,
                    received.code if received is not None else "none")
        return "dropped"

    async def _from_bot(self, frame: str | bytes, deadline: asyncio.Timeout) -> None:
        call = self._call
        assert call is not None
        try:
            msg: BotMessage = decode_bot_message(frame, self.config.dialect)
        except BotProtocolError as exc:
            self.stats.bad_frames += 1
            if self.stats.bad_frames <= 5:
                log.warning("relay: bad frame from bot at %s: %s", self.config.url, exc)
            return
        if self._stopping or self.fallback_cause is not None:
            return
        if isinstance(msg, BotMedia):
            deadline.reschedule(None)
            try:
                call.play(msg.pcm)
            except PlayoutOverflow:
                self.stats.dropped_from_bot += 1
            else:
                now = asyncio.get_running_loop().time()
                self._playout_end = max(now, self._playout_end) + (
                    len(msg.pcm) / (2 * self.sample_rate))
        elif isinstance(msg, BotMark):
            self._pending_marks.append(msg.name)
            call.mark(msg.name)
        elif isinstance(msg, BotClear):
            call.clear()
            self._playout_end = 0.0
            self._marks_dropped()
        elif isinstance(msg, BotTransfer):
            self.stats.note(f"transfer:{msg.reason}")
            self._bot_acted = True
            await call.transfer(msg.reason, msg.skills)
        elif isinstance(msg, BotHangup):
            self.stats.note(f"hangup:{msg.reason}")
            self._bot_acted = True
            await call.hangup(msg.reason)

    # -- helpers -----------------------------------------------------------------------------

    def _send(self, frame: str | None, *, force: bool = False) -> None:
        """Queue a frame for the bot; drops (and counts) it when the queue is full."""
        if not force and (self._stopping or self._bot_gone or self.fallback_cause is not None):
            return
        try:
            self._out.put_nowait(frame)
        except asyncio.QueueFull:
            self.stats.dropped_to_bot += 1

    def _marks_dropped(self) -> None:
        """Queued bot audio was cleared: its marks will never be heard. Twilio echoes such
        marks at once (so the bot's bookkeeping stays right); Exotel does not."""
        dropped, self._pending_marks = self._pending_marks, []
        if self.config.dialect.name == "twilio" and self._encoder is not None:
            for name in dropped:
                self._send(self._encoder.mark(name))
                self.stats.marks_echoed += 1

    async def _fallback(self, cause: str) -> None:
        if self._stopping or self.fallback_cause is not None:
            return
        self.fallback_cause = cause
        self.stats.note(f"fallback:{cause}")
        reason = self.config.reason_for(cause)
        if cause != "closed":
            FAILURES[cause] += 1
        FALLBACKS[reason] += 1
        call = self._call
        assert call is not None
        log.warning(
            "relay: bot failed (%s) on stream %s: fallback %s",
            cause,
            call.info.stream_sid,
            self.config.fallback,
        )
        call.clear()
        call.play(self.fallback_pcm, FALLBACK_LABEL)
        await self._until_heard(len(self.fallback_pcm) / (2 * self.sample_rate),
                                "fallback message")
        if self._stopping:
            return
        if self.config.fallback == "transfer":
            await call.transfer(reason, self.config.fallback_skills)
        else:
            await call.hangup(reason)


class _Relay16k(RelayAdapter):
    sample_rate = 16000


class _Relay24k(RelayAdapter):
    sample_rate = 24000


_RATE_CLASSES: dict[int, type[RelayAdapter]] = {
    8000: RelayAdapter,
    16000: _Relay16k,
    24000: _Relay24k,
}


def relay_options(url: str, dialect: str = "exotel", **more: Any) -> dict[str, str]:
    """Options for a relay as strings (handy in tests and configuration code)."""
    return {"url": url, "dialect": dialect, **{k: str(v) for k, v in more.items()}}
