"""Test helpers for adapter developers: a fake call that drives a :class:`BotAdapter`.

Use :class:`FakeCall` from pytest (or any asyncio code) to test an adapter without a gateway,
a socket or Exotel. It implements :class:`~bot_adapters.contract.CallControl`, calls the
adapter's hooks in the contract's order, and records everything the adapter did::

    async def test_my_bot_greets() -> None:
        call = FakeCall(MyBot({}))
        await call.start()
        await call.send_silence(500)          # half a second passes
        assert call.played_labels == ["hello"]
        await call.press("0")
        assert call.transfers[0].reason == "customer_asked"

Time in the fake is *audio time*: it advances only when customer audio is fed
(:meth:`FakeCall.send_audio`, :meth:`FakeCall.send_silence`, :meth:`FakeCall.say`), exactly as a
real stream delivers customer audio continuously. While time passes the bot's queued audio plays
out, so ``on_playback_finished`` arrives when the customer would have heard the mark. Nothing
depends on the wall clock, so tests are deterministic.

An adapter's own tasks (slow work kept out of its hooks) get the event loop after every hook,
so at least once per ``chunk_ms`` of customer audio, and may play, transfer or hang up from
there as on a real call. Give them a fake of the slow service that does not wait on the clock
(an ``asyncio.Queue`` the test fills, a future, a plain ``async def``): then it answers within
the next chunk or two of audio time.

The playout model *is* the gateway's (:mod:`gateway.playout` and :mod:`gateway.chunker`, the
pure cores the gateway's sessions run), on the call's wire format (``info.call_encoding`` and
``info.call_sample_rate``): bot audio goes out in chunks of Exotel's rules (about ``chunk_ms``;
PCM16 chunks are at least 200 ms), the last chunk of an utterance padded with silence to a
whole 20 ms frame; unlabelled audio joins the next labelled utterance (or, held back over
``hold_flush_ms``, goes out as an utterance of its own); a mark is echoed as soon as the audio
before it has played. :meth:`clear` drops what has not started and lets the playing chunk finish,
so ``heard_ms`` ends on a chunk boundary; labels whose marks lie before the cut count as heard.
A hook runs just after the audio that triggered it: a chunk that starts at that instant is
playing. The queue is bounded (``max_queued_ms``) and overflow raises
:class:`~bot_adapters.contract.PlayoutOverflow`, as the gateway does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass

from bot_adapters.contract import (
    SUPPORTED_ADAPTER_RATES,
    BotAdapter,
    CallInfo,
    PlayedPosition,
    PlayoutOverflow,
    check_forecast,
)
from gateway.chunker import Chunker
from gateway.media_format import MediaFormat
from gateway.playout import Playout
from gateway.protocol import MAX_MARK_NAME

DTMF_DIGITS = frozenset("0123456789*#")
_HOOK_DELAY_S = 1e-6
"""How long after the audio that triggered it a hook acts on the playout (its queries and
``clear``): a chunk that ends at that instant has played, one that starts then is playing.
Far below a sample, and so above the rounding of the schedule's float times."""


@dataclass(frozen=True, slots=True)
class Played:
    """One ``play()`` (or ``mark()``) the adapter made, at audio time ``at_ms``."""

    pcm: bytes
    label: str | None
    at_ms: int


@dataclass(frozen=True, slots=True)
class Transfer:
    """One ``transfer()`` request."""

    reason: str
    skills: tuple[str, ...]
    at_ms: int


@dataclass(frozen=True, slots=True)
class TransferForecast:
    """One ``forecast_transfer()``: a transfer expected within ``within_s`` (``likelihood`` 0:
    the forecast was withdrawn)."""

    within_s: float
    likelihood: float
    at_ms: int


@dataclass(frozen=True, slots=True)
class Hangup:
    """One ``hangup()`` request."""

    reason: str
    at_ms: int


def default_call_info(**overrides: object) -> CallInfo:
    """A plausible :class:`CallInfo` for tests; pass fields to override."""
    values: dict[str, object] = {
        "stream_sid": "MZtest0001",
        "call_sid": "CAtest0001",
        "account_sid": "ACtest",
        "from_number": "+910000000001",
        "to_number": "+910000000002",
        "custom_parameters": {"vx_call": "call-test-1"},
        "call_sample_rate": 8000,
        "call_encoding": "mulaw",
    }
    values.update(overrides)
    return CallInfo(**values)  # type: ignore[arg-type]


def _check_label(label: object, *, optional: bool) -> None:
    if not isinstance(label, str) and not (optional and label is None):
        raise TypeError(f"a label is a str, not {type(label).__name__}")


class CallEnded(RuntimeError):
    """The test fed an event to a call that has already stopped."""


class FakeCall:
    """A fake call implementing ``CallControl`` that feeds events to one adapter and records
    what the adapter did. Create one per test; ``await start()`` first, ``await stop()`` last
    (or let the adapter hang up, which stops the call with reason ``"hangup"``).

    Recorded: :attr:`played` (every ``play``/``mark``), :attr:`finished` (labels reported heard),
    :attr:`clears` (positions returned by ``clear``), :attr:`barge_ins`, :attr:`hangups`,
    :attr:`transfers`, :attr:`forecasts` (transfer forecasts), :attr:`stop_reason`, and
    :attr:`log`, a readable timeline.
    """

    def __init__(
        self,
        adapter: BotAdapter,
        info: CallInfo | None = None,
        *,
        chunk_ms: int = 20,
        max_queued_ms: int = 120_000,
        barge_in_after_ms: int = 0,
        hold_flush_ms: int = 200,
    ) -> None:
        """``chunk_ms`` is the step customer audio is fed in and the bot's chunk target (the
        gateway's ``chunk_target_ms``); ``hold_flush_ms`` and ``max_queued_ms`` are the
        gateway's settings of those names (``max_playout_ms`` for the latter).
        ``barge_in_after_ms`` models the gateway's barge-in rule in :meth:`say`: the barge-in
        comes after that much speech over bot audio (0: at speech start)."""
        if adapter.sample_rate not in SUPPORTED_ADAPTER_RATES:
            raise ValueError(f"adapter sample_rate {adapter.sample_rate} is not supported")
        if chunk_ms <= 0:
            raise ValueError("chunk_ms must be positive")
        if hold_flush_ms < 0:
            raise ValueError("hold_flush_ms must not be negative")
        self.adapter = adapter
        self._info = info or default_call_info()
        self.chunk_ms = chunk_ms
        self.max_queued_ms = max_queued_ms
        self.hold_flush_ms = hold_flush_ms
        fmt = MediaFormat("pcm16" if self._info.call_encoding == "pcm16" else "mulaw",
                          self._info.call_sample_rate)
        self._fmt = fmt
        self._chunker = Chunker(fmt, chunk_ms)
        self._playout = Playout(fmt)
        self._max_backlog = fmt.ms_to_bytes(max_queued_ms)
        self._samples_in = 0  # adapter-rate samples since the last clear, and ...
        self._samples_out = 0  # ... the call-rate samples they became (the gateway resamples)
        self._held_since = 0.0
        self._own_marks = 0
        if barge_in_after_ms < 0:
            raise ValueError("barge_in_after_ms must not be negative")
        self.barge_in_after_ms = barge_in_after_ms
        self.now_ms = 0
        self.played: list[Played] = []
        self.finished: list[str] = []
        self.clears: list[PlayedPosition] = []
        self.barge_ins: list[PlayedPosition] = []
        self.hangups: list[Hangup] = []
        self.transfers: list[Transfer] = []
        self.forecasts: list[TransferForecast] = []
        self.log: list[str] = []
        self.stop_reason: str | None = None
        self._started = False
        self._in_hook = False
        self._pending_finished: list[str] = []
        self._hangup_pending = False
        self._clock_ms = 0.0

    # -- CallControl -------------------------------------------------------------------------

    @property
    def info(self) -> CallInfo:
        return self._info

    @property
    def sample_rate(self) -> int:
        return self.adapter.sample_rate

    def play(self, pcm: bytes, label: str | None = None) -> None:
        _check_label(label, optional=True)
        if not isinstance(pcm, bytes):  # the gateway refuses bytearray and memoryview too
            raise TypeError(f"play() takes bytes of PCM16, not {type(pcm).__name__}")
        if len(pcm) % 2:
            raise ValueError("PCM16 audio must have an even number of bytes")
        if label is not None and len(label) > MAX_MARK_NAME:  # Exotel's echo would refuse it
            raise ValueError(f"label of {len(label)} characters (max {MAX_MARK_NAME})")
        if pcm:
            self._queue_audio(pcm)  # raises PlayoutOverflow before anything is recorded
            self.log.append(f"{self.now_ms} play {label or '-'} {self._pcm_ms(pcm):.0f}ms")
        self.played.append(Played(pcm, label, self.now_ms))
        if label is not None:
            self._end_utterance(label)
            if not pcm:
                self.log.append(f"{self.now_ms} mark {label}")
        self._take_echoes()

    def mark(self, label: str) -> None:
        _check_label(label, optional=False)
        self.play(b"", label)

    def clear(self) -> PlayedPosition:
        position = self._cut()
        self.clears.append(position)
        self.log.append(f"{self.now_ms} clear heard={position.label}:{position.heard_ms}")
        return position

    async def hangup(self, reason: str = "bot_hangup") -> None:
        self.hangups.append(Hangup(reason, self.now_ms))
        self.log.append(f"{self.now_ms} hangup {reason}")
        self._hangup_pending = True

    async def transfer(self, reason: str, skills: Sequence[str] = ()) -> None:
        self.transfers.append(Transfer(reason, tuple(skills), self.now_ms))
        self.log.append(f"{self.now_ms} transfer {reason} {','.join(skills)}")

    async def forecast_transfer(self, within_s: float, likelihood: float = 1.0) -> None:
        check_forecast(within_s, likelihood)  # the gateway's ControlRequest refuses the same
        self.forecasts.append(TransferForecast(float(within_s), float(likelihood), self.now_ms))
        self.log.append(f"{self.now_ms} forecast_transfer {within_s:g}s p={likelihood:g}")

    @property
    def forecast(self) -> TransferForecast | None:
        """The standing transfer forecast (the latest, unless withdrawn), or ``None``."""
        if not self.forecasts or self.forecasts[-1].likelihood == 0:
            return None
        return self.forecasts[-1]

    # -- what the test reads ------------------------------------------------------------------

    @property
    def played_labels(self) -> list[str]:
        """Labels of everything played or marked, in order."""
        return [p.label for p in self.played if p.label is not None]

    @property
    def played_pcm(self) -> bytes:
        """All bot audio queued so far, concatenated."""
        return b"".join(p.pcm for p in self.played)

    @property
    def queued_ms(self) -> float:
        """Bot audio still to be heard, in ms (with the padding of utterances' last chunks)."""
        return self._playout.backlog_bytes(self._hook_time()) * 1000 / self._fmt.bytes_per_second

    @property
    def is_playing(self) -> bool:
        """True while queued bot audio remains unheard."""
        return self._playout.is_playing(self._hook_time())

    @property
    def ended(self) -> bool:
        return self.stop_reason is not None

    # -- what the test does -------------------------------------------------------------------

    async def start(self) -> None:
        """Start the stream: calls ``on_start(self)``."""
        if self._started:
            raise RuntimeError("call already started")
        self._started = True
        self.log.append(f"{self.now_ms} start")
        await self._run(self.adapter.on_start(self))

    async def send_audio(self, pcm: bytes) -> None:
        """Feed customer audio (PCM16 at the adapter's rate) in ``chunk_ms`` pieces; time
        advances by its duration and queued bot audio plays out meanwhile."""
        self._check_live()
        if len(pcm) % 2:
            raise ValueError("PCM16 audio must have an even number of bytes")
        step = self.sample_rate * 2 * self.chunk_ms // 1000
        for offset in range(0, len(pcm), step):
            piece = pcm[offset : offset + step]
            if self.ended:
                return
            self._advance(self._pcm_ms(piece))
            await self._run(self.adapter.on_audio(piece))
            await self._deliver_finished()

    async def send_silence(self, ms: int) -> None:
        """Feed ``ms`` of digital silence (time passes, nobody speaks)."""
        samples = self.sample_rate * ms // 1000
        await self.send_audio(b"\x00\x00" * samples)

    async def wait_playout(self, max_ms: int = 60_000) -> None:
        """Feed silence until the bot's queued audio has all been heard (or ``max_ms``)."""
        waited = 0
        while self.is_playing and waited < max_ms and not self.ended:
            await self.send_silence(self.chunk_ms)
            waited += self.chunk_ms

    async def press(self, digit: str) -> None:
        """The customer presses a key: ``on_dtmf(digit)``."""
        self._check_live()
        if digit not in DTMF_DIGITS:
            raise ValueError(f"not a DTMF digit: {digit!r}")
        self.log.append(f"{self.now_ms} dtmf {digit}")
        await self._run(self.adapter.on_dtmf(digit))

    async def speech_start(self, *, barge_in: bool = True) -> PlayedPosition | None:
        """VAD notices speech: ``on_speech_start``; if bot audio is playing and ``barge_in``,
        the gateway's barge-in follows (clear, then ``on_barge_in``). Returns the barge-in
        position, or ``None`` when there was none."""
        self._check_live()
        self.log.append(f"{self.now_ms} speech_start")
        await self._run(self.adapter.on_speech_start())
        if barge_in and self.adapter.allow_barge_in and self.is_playing and not self.ended:
            return await self.barge_in()
        return None

    async def speech_end(self) -> None:
        """VAD's end of speech (after its hangover): ``on_speech_end``."""
        self._check_live()
        self.log.append(f"{self.now_ms} speech_end")
        await self._run(self.adapter.on_speech_end())

    async def say(self, pcm: bytes, *, barge_in: bool = True, trailing_silence_ms: int = 0) -> None:
        """The customer says ``pcm``: speech start, the audio, speech end, then
        ``trailing_silence_ms`` of silence. Over bot audio (and with ``barge_in``) the gateway's
        barge-in comes ``barge_in_after_ms`` into the speech, if the bot is still playing and the
        adapter allows barge-in (``allow_barge_in``), as the gateway does."""
        barge_in = barge_in and self.adapter.allow_barge_in
        early = barge_in and self.barge_in_after_ms == 0
        await self.speech_start(barge_in=early)
        if barge_in and not early:
            head = self.sample_rate * 2 * self.barge_in_after_ms // 1000
            long_enough = len(pcm) >= head
            await self.send_audio(pcm[:head])
            pcm = pcm[head:]
            if long_enough and self.is_playing and not self.ended:
                await self.barge_in()
        await self.send_audio(pcm)
        if not self.ended:
            await self.speech_end()
        if trailing_silence_ms and not self.ended:
            await self.send_silence(trailing_silence_ms)

    async def barge_in(self) -> PlayedPosition:
        """The gateway's barge-in: clear queued bot audio, then ``on_barge_in(position)``."""
        self._check_live()
        position = self._cut()
        self.barge_ins.append(position)
        self.log.append(f"{self.now_ms} barge_in heard={position.label}:{position.heard_ms}")
        await self._deliver_finished()  # the gateway's order: labels heard at the cut first
        await self._run(self.adapter.on_barge_in(position))
        return position

    async def stop(self, reason: str = "callended") -> None:
        """The stream ends: ``on_stop(reason)``. Does nothing if the call already ended."""
        if self.ended:
            return
        self.stop_reason = reason
        self.log.append(f"{self.now_ms} stop {reason}")
        await self.adapter.on_stop(reason)

    # -- internals -----------------------------------------------------------------------------

    def _pcm_ms(self, pcm: bytes) -> float:
        return len(pcm) * 1000 / (2 * self.sample_rate)

    def _check_live(self) -> None:
        if not self._started:
            raise RuntimeError("call not started: await FakeCall.start() first")
        if self.ended:
            raise CallEnded(f"call already ended ({self.stop_reason})")

    async def _run(self, hook: Awaitable[None]) -> None:
        """Await one hook; hooks never nest. Then the adapter's own tasks get the event loop
        (as they do between the gateway's hooks), and a hangup requested inside the hook or
        by such a task stops the call."""
        if self._in_hook:
            raise RuntimeError("adapter hooks must not run concurrently")
        self._in_hook = True
        try:
            await hook
        finally:
            self._in_hook = False
        await asyncio.sleep(0)  # one step for every task the adapter has ready to run
        await self._deliver_finished()
        if self._hangup_pending and not self.ended:
            await self.stop("hangup")

    async def _deliver_finished(self) -> None:
        while self._pending_finished and not self.ended:
            label = self._pending_finished.pop(0)
            self.finished.append(label)
            self.log.append(f"{self.now_ms} heard {label}")
            await self._run(self.adapter.on_playback_finished(label))

    def _send_time(self) -> float:
        """The audio time in seconds: when chunks go out."""
        return self._clock_ms / 1000

    def _hook_time(self) -> float:
        """When a hook acts on the playout (:data:`_HOOK_DELAY_S` after the audio)."""
        return self._clock_ms / 1000 + _HOOK_DELAY_S

    def _queue_audio(self, pcm: bytes) -> None:
        """Queue ``pcm`` (adapter rate) as the gateway does: as so many bytes of the call's
        wire format, chunked, each chunk sent now. Raises :class:`PlayoutOverflow`."""
        samples_in = self._samples_in + len(pcm) // 2
        samples_out = samples_in * self._fmt.sample_rate // self.sample_rate
        nbytes = (samples_out - self._samples_out) * self._fmt.sample_width
        backlog = self._playout.backlog_bytes(self._hook_time())
        if backlog + nbytes > self._max_backlog:
            raise PlayoutOverflow(f"playout queue full ({self.max_queued_ms} ms of audio)")
        self._samples_in, self._samples_out = samples_in, samples_out
        if not self._chunker.held:
            self._held_since = self._send_time()
        self._playout.queue(nbytes)
        for chunk in self._chunker.push(bytes(nbytes)):
            self._playout.sent(len(chunk), self._send_time())

    def _end_utterance(self, label: str | None) -> None:
        """Close the open utterance as the gateway does: its tail padded and sent, then a
        mark (the label, or the gateway's own ``vx:N`` for unlabelled audio)."""
        held = self._chunker.held
        for chunk in self._chunker.end_utterance():
            self._playout.queue(len(chunk) - held)  # the silence padding
            self._playout.sent(len(chunk), self._send_time())
        if label is None:
            self._own_marks += 1
        self._playout.end_utterance(label, f"vx:{self._own_marks}" if label is None else label)

    def _take_echoes(self) -> None:
        """Exotel's mark echoes for the audio played by now: labels heard."""
        for name, at in self._playout.echoes_due(self._hook_time()):
            labels = self._playout.on_mark(name, at)
            assert labels is not None
            self._pending_finished.extend(labels)

    def _advance(self, ms: float) -> None:
        self._clock_ms += ms
        self.now_ms = int(self._clock_ms)
        self._take_echoes()
        if self._chunker.held and (
            (self._send_time() - self._held_since) * 1000 >= self.hold_flush_ms
        ):
            self._end_utterance(None)  # held back too long: the gateway flushes it

    def _cut(self) -> PlayedPosition:
        """``clear``: the chunk playing finishes, the rest is dropped. Returns what was heard
        of the utterance cut; labels finished at the cut are heard (delivered after)."""
        self._take_echoes()
        now = self._hook_time()
        playing = self._playout.backlog_bytes(now) > self._chunker.held
        held = self._chunker.drop()
        self._samples_in = self._samples_out = 0  # the gateway resets its resampler
        # Nothing playing: the schedule restarts from the send time (as the next chunk).
        position, finished = self._playout.clear(held, now if playing else self._send_time())
        self._pending_finished.extend(finished)
        return position
