"""One call's media session, sans I/O: protocol, codecs, playout, VAD and barge-in policy.

The connection driver feeds every inbound message to :meth:`Session.receive` and hands the
returned notices to the bot adapter (in order, on one task); it sends whatever
:meth:`Session.take_outbound` yields. The adapter's synchronous ``play``/``mark``/``clear``
calls land in :meth:`Session.play`, :meth:`Session.mark` and :meth:`Session.clear`.
No asyncio, no clock of its own: callers pass ``now`` (monotonic seconds).
"""

from __future__ import annotations

from dataclasses import dataclass

from bot_adapters.contract import (
    SUPPORTED_ADAPTER_RATES,
    CallInfo,
    PlayedPosition,
    PlayoutOverflow,
)
from gateway.audio import Resampler, decode, encode
from gateway.chunker import Chunker
from gateway.media_format import MediaFormat
from gateway.playout import Playout
from gateway.protocol import (
    MAX_MARK_NAME,
    Dtmf,
    Mark,
    Media,
    Start,
    Stop,
    StreamProtocol,
    UnknownEvent,
)
from gateway.vad import SPEECH_START, SpeechDetector


@dataclass(frozen=True, slots=True)
class SessionSettings:
    """Per-call media policy (from :class:`gateway.config.GatewayConfig`, whose defaults are
    these).

    Barge-in defaults: smaller chunks mean a faster barge-in (Exotel finishes the chunk that is
    playing when ``clear`` arrives; PCM at 8 kHz cannot go below 200 ms chunks whatever is
    asked). Measured end to end with bench/bargein_latency.py (README, gateway section).
    """

    vad_enabled: bool = True
    vad_aggressiveness: int = 2
    speech_start_ms: int = 60
    speech_hangover_ms: int = 300
    barge_in_min_speech_ms: int = 120  # 0 disables barge-in (VAD notices still flow)
    chunk_target_ms: int = 100
    hold_flush_ms: int = 200  # unlabeled audio held longer than this is flushed (padded)
    max_playout_ms: int = 120_000  # bound on bot audio queued and not yet played
    escalation_dtmf: str | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.vad_aggressiveness <= 3:
            raise ValueError("vad_aggressiveness must be 0-3")
        for name in ("speech_start_ms", "speech_hangover_ms", "chunk_target_ms"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if self.barge_in_min_speech_ms < 0 or self.hold_flush_ms < 0:
            raise ValueError("durations must not be negative")
        if self.max_playout_ms <= 0:
            raise ValueError("max_playout_ms must be positive")


# Notices: what the adapter is told, in order.
@dataclass(frozen=True, slots=True)
class CallStarted:
    info: CallInfo


@dataclass(frozen=True, slots=True)
class AudioIn:
    """Customer audio, PCM16 at the *call's* rate (see :meth:`Session.for_adapter`)."""

    pcm: bytes


@dataclass(frozen=True, slots=True)
class DtmfIn:
    digit: str


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    pass


@dataclass(frozen=True, slots=True)
class SpeechEnded:
    pass


@dataclass(frozen=True, slots=True)
class BargedIn:
    """The session already sent ``clear``; ``heard`` is the cut."""

    heard: PlayedPosition


@dataclass(frozen=True, slots=True)
class PlaybackFinished:
    label: str


@dataclass(frozen=True, slots=True)
class EscalationRequested:
    """The customer pressed the escalation digit: submit a transfer (reason ``dtmf``)."""

    digit: str


@dataclass(frozen=True, slots=True)
class CallStopped:
    reason: str


@dataclass(frozen=True, slots=True)
class EventIgnored:
    """An unknown event type (the driver logs and counts it); or a stale mark echo."""

    event: str


Notice = (
    CallStarted
    | AudioIn
    | DtmfIn
    | SpeechStarted
    | SpeechEnded
    | BargedIn
    | PlaybackFinished
    | EscalationRequested
    | CallStopped
    | EventIgnored
)

_SPEECH_STARTED = SpeechStarted()
_SPEECH_ENDED = SpeechEnded()


class Session:
    """See the module docstring. One instance per stream."""

    def __init__(self, settings: SessionSettings, url_sample_rate: int | None = None) -> None:
        self.settings = settings
        self.protocol = StreamProtocol(url_sample_rate)
        self.info: CallInfo | None = None
        self.fmt: MediaFormat | None = None
        self.barge_ins = 0
        self.frames_in = 0
        self.bytes_in = 0
        self.stale_marks = 0
        self.unknown_events = 0
        self.frames_out = 0
        self.bytes_out = 0
        self._outbox: list[str] = []
        self._deferred: list[Notice] = []
        self._chunker: Chunker | None = None
        self._playout: Playout | None = None
        self._vad: SpeechDetector | None = None
        self._to_call: Resampler | None = None
        self._to_adapter: Resampler | None = None
        self._held_since = 0.0
        self._own_marks = 0
        self._barged = False
        self._max_backlog = 0

    # ---- inbound -------------------------------------------------------------------------
    def receive(self, message: str | bytes, now: float) -> list[Notice]:
        """Feed one inbound message. Returns notices for the adapter, in order.
        Raises :class:`gateway.errors.ProtocolError` (close the stream with its code)."""
        event = self.protocol.receive(message)
        notices = self._deferred
        self._deferred = []
        kind = type(event)
        if kind is Media:
            assert isinstance(event, Media) and self.fmt is not None
            self.frames_in += 1
            self.bytes_in += len(event.payload)
            pcm = decode(self.fmt, event.payload)
            notices.append(AudioIn(pcm))
            if self._vad is not None:
                self._speech(pcm, now, notices)
            if self._chunker is not None and self._chunker.held:
                self._maybe_flush_held(now)
        elif kind is Start:
            assert isinstance(event, Start)
            notices.append(CallStarted(self._start(event)))
        elif kind is Mark:
            assert isinstance(event, Mark) and self._playout is not None
            labels = self._playout.on_mark(event.name, now)
            if labels is None:
                self.stale_marks += 1
                notices.append(EventIgnored(f"mark:{event.name}"))
            else:
                notices.extend(PlaybackFinished(label) for label in labels)
        elif kind is Dtmf:
            assert isinstance(event, Dtmf)
            notices.append(DtmfIn(event.digit))
            if event.digit == self.settings.escalation_dtmf:
                notices.append(EscalationRequested(event.digit))
        elif kind is Stop:
            assert isinstance(event, Stop)
            notices.append(CallStopped(event.reason))
        elif kind is UnknownEvent:
            assert isinstance(event, UnknownEvent)
            self.unknown_events += 1
            notices.append(EventIgnored(event.event))
        return notices

    def take_notices(self) -> list[Notice]:
        """Notices produced by adapter actions (labels finished by a ``clear``)."""
        notices = self._deferred
        self._deferred = []
        return notices

    def take_outbound(self) -> list[str]:
        """Messages to send to Exotel, in order (empties the outbox)."""
        out = self._outbox
        self._outbox = []
        return out

    @property
    def has_outbound(self) -> bool:
        return bool(self._outbox)

    def for_adapter(self, pcm: bytes, adapter_rate: int) -> bytes:
        """Resample call-rate PCM16 (from :class:`AudioIn`) to the adapter's rate."""
        conv = self._to_adapter
        if conv is None or conv.dst_rate != adapter_rate:
            conv = self._to_adapter = Resampler(self._require_fmt().sample_rate, adapter_rate)
        return conv.convert(pcm)

    # ---- the adapter's CallControl actions -------------------------------------------------
    def play(self, pcm: bytes, label: str | None, adapter_rate: int, now: float) -> None:
        """Queue bot audio (PCM16 at ``adapter_rate``); with ``label`` end the utterance and
        follow it with a mark. Raises ``ValueError`` (odd length, bad rate, a label over
        ``MAX_MARK_NAME`` characters, which Exotel's echo would have refused) and
        :class:`PlayoutOverflow`."""
        if len(pcm) % 2:
            raise ValueError(f"PCM16 needs an even number of bytes, got {len(pcm)}")
        if label is not None and len(label) > MAX_MARK_NAME:
            raise ValueError(f"label of {len(label)} characters (max {MAX_MARK_NAME})")
        fmt = self._require_fmt()
        chunker, playout = self._chunker, self._playout
        assert chunker is not None and playout is not None
        if pcm:
            if adapter_rate not in SUPPORTED_ADAPTER_RATES:
                raise ValueError(f"adapter rate {adapter_rate} Hz is not supported")
            conv = self._to_call
            if conv is None or conv.src_rate != adapter_rate:
                conv = self._to_call = Resampler(adapter_rate, fmt.sample_rate)
            wire = encode(fmt, conv.convert(pcm))
            if playout.backlog_bytes(now) + len(wire) > self._max_backlog:
                raise PlayoutOverflow(
                    f"playout queue full ({self.settings.max_playout_ms} ms of audio)"
                )
            if not chunker.held:
                self._held_since = now
            playout.queue(len(wire))
            for chunk in chunker.push(wire):
                self._send(chunk, now)
        if label is not None:
            self._end_utterance(label, now)

    def mark(self, label: str, now: float) -> None:
        """Queue a mark after the audio queued so far."""
        self.play(b"", label, 0, now)

    def clear(self, now: float) -> PlayedPosition:
        """Send ``clear``; returns what the customer will have heard at the cut."""
        self._require_fmt()
        assert self._chunker is not None and self._playout is not None
        held = self._chunker.drop()
        if self._to_call is not None:
            self._to_call.reset()
        position, finished = self._playout.clear(held, now)
        self._outbox.append(self.protocol.clear())
        self._deferred.extend(PlaybackFinished(label) for label in finished)
        return position

    @property
    def playout(self) -> Playout:
        assert self._playout is not None, "no playout before start"
        return self._playout

    # ---- internals -------------------------------------------------------------------------
    def _require_fmt(self) -> MediaFormat:
        if self.fmt is None:
            raise RuntimeError("the stream has not started yet")
        return self.fmt

    def _start(self, event: Start) -> CallInfo:
        fmt = self.fmt = event.media_format
        s = self.settings
        self._chunker = Chunker(fmt, s.chunk_target_ms)
        self._playout = Playout(fmt)
        self._max_backlog = fmt.ms_to_bytes(s.max_playout_ms)
        if s.vad_enabled:
            self._vad = SpeechDetector(
                fmt.sample_rate, s.vad_aggressiveness, s.speech_start_ms, s.speech_hangover_ms
            )
        self.info = CallInfo(
            stream_sid=event.stream_sid,
            call_sid=event.call_sid,
            account_sid=event.account_sid,
            from_number=event.from_number,
            to_number=event.to_number,
            custom_parameters=event.custom_parameters,
            call_sample_rate=fmt.sample_rate,
            call_encoding=fmt.encoding,
        )
        return self.info

    def _speech(self, pcm: bytes, now: float, notices: list[Notice]) -> None:
        vad = self._vad
        assert vad is not None
        for transition in vad.feed(pcm):
            if transition == SPEECH_START:
                notices.append(_SPEECH_STARTED)
            else:
                notices.append(_SPEECH_ENDED)
                self._barged = False
        threshold = self.settings.barge_in_min_speech_ms
        if (
            threshold
            and vad.in_speech
            and not self._barged
            and vad.voiced_ms >= threshold
            and self.playout.is_playing(now)
        ):
            self._barged = True
            self.barge_ins += 1
            position = self.clear(now)
            notices.extend(self.take_notices())
            notices.append(BargedIn(position))

    def _maybe_flush_held(self, now: float) -> None:
        if (now - self._held_since) * 1000 >= self.settings.hold_flush_ms:
            self._end_utterance(None, now)

    def _end_utterance(self, label: str | None, now: float) -> None:
        """Pad and flush the utterance's tail, then follow it with a mark: the label, or for
        unlabelled audio one of the session's own (``vx:N``), so every utterance's play-out
        is confirmed by Exotel."""
        chunker, playout = self._chunker, self._playout
        assert chunker is not None and playout is not None
        held = chunker.held
        for chunk in chunker.end_utterance():
            playout.queue(len(chunk) - held)  # the silence padding
            self._send(chunk, now)
        name = label
        if name is None:
            self._own_marks += 1
            name = f"vx:{self._own_marks}"
        playout.end_utterance(label, name)
        self._outbox.append(self.protocol.mark(name))

    def _send(self, chunk: bytes, now: float) -> None:
        assert self._playout is not None
        self._playout.sent(len(chunk), now)
        self._outbox.append(self.protocol.media(chunk))
        self.frames_out += 1
        self.bytes_out += len(chunk)
