"""Hold each bot's first audio until the dialer confirms the greeting has stopped.

On a bot-first call the greeting (``start_play``/``start_say``) and the stream start together,
and the greeting is stopped on ``stream_started``. The stop reaches Exotel one event delivery
plus half a REST round trip after the stream started, while a bot speaks within milliseconds:
without a gate the customer hears both for ~40 ms. :class:`GreetingGate` wraps every bot
adapter of the in-process gateway: its ``play``/``mark`` calls are buffered until the dialer
publishes ``bot_audio_ok`` for the call (its ``vx_call``), then flushed in order on the
adapter's next hook (customer audio arrives every 20-100 ms). Calls without ``vx_call``
(not placed by this dialer) pass straight through; a gate never holds longer than
``max_hold`` seconds.

Composition-root code: :class:`voxgate.wiring.LocalStack` installs it when the gateway and
the dialer share a process. Separate processes have no gate (the overlap is then bounded by
the event latency plus half a REST round trip).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from bot_adapters.contract import (
    AdapterFactory,
    BotAdapter,
    CallControl,
    CallInfo,
    PlayedPosition,
    forecast_transfer,
)
from dialer.service import ProgressEvent

BOT_AUDIO_OK = "bot_audio_ok"
MAX_BUFFER_BYTES = 2 * 1024 * 1024


class GreetingGate:
    """Releases calls on the dialer's ``bot_audio_ok`` progress event (subscribe it)."""

    def __init__(self, max_hold: float = 2.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_hold = max_hold
        self.clock = clock
        self._released: set[str] = set()
        self.held_calls = 0
        self.timeouts = 0

    def __call__(self, event: ProgressEvent) -> None:
        """Progress listener: remember released calls, forget ended ones."""
        if event.kind == BOT_AUDIO_OK and event.call_id:
            self._released.add(event.call_id)
        elif event.kind == "ended":
            self._released.discard(event.call_id)

    def released(self, call_id: str) -> bool:
        return call_id in self._released

    def wrap(self, factory: AdapterFactory) -> AdapterFactory:
        """A factory making gated instances of ``factory``'s adapter."""

        def make(options: Mapping[str, str]) -> BotAdapter:
            return GatedAdapter(factory(options), self)

        return make


class GatedCall:
    """The :class:`CallControl` the wrapped adapter sees: audio waits for the gate."""

    def __init__(self, inner: CallControl, gate: GreetingGate) -> None:
        self._inner = inner
        self._gate = gate
        self._call_id = inner.info.custom_parameters.get("vx_call", "")
        self._since = gate.clock()
        self._open = not self._call_id
        self._buffer: list[tuple[bytes, str | None]] = []
        self._buffered = 0
        if not self._open:
            gate.held_calls += 1

    @property
    def info(self) -> CallInfo:
        return self._inner.info

    @property
    def sample_rate(self) -> int:
        return self._inner.sample_rate

    def is_open(self) -> bool:
        if not self._open:
            if self._gate.released(self._call_id):
                self._open = True
            elif self._gate.clock() - self._since >= self._gate.max_hold:
                self._gate.timeouts += 1
                self._open = True
        return self._open

    def pump(self) -> None:
        """Flush held audio once the gate is open (called on each adapter hook)."""
        if self._buffer and self.is_open():
            held, self._buffer, self._buffered = self._buffer, [], 0
            for pcm, label in held:
                self._inner.play(pcm, label)

    def play(self, pcm: bytes, label: str | None = None) -> None:
        if self.is_open() and not self._buffer:
            self._inner.play(pcm, label)
            return
        # what the gateway would refuse is refused now, from the adapter's own call
        if not isinstance(pcm, bytes):
            raise TypeError(f"play() takes bytes of PCM16, not {type(pcm).__name__}")
        if label is not None and not isinstance(label, str):
            raise TypeError(f"a label is a str, not {type(label).__name__}")
        if len(pcm) % 2:
            raise ValueError("PCM16 audio must have an even number of bytes")
        self._buffer.append((pcm, label))
        self._buffered += len(pcm)
        if self._buffered > MAX_BUFFER_BYTES:
            self._open = True
            self.pump()

    def mark(self, label: str) -> None:
        self.play(b"", label)

    def clear(self) -> PlayedPosition:
        dropped = tuple(label for _, label in self._buffer if label)
        self._buffer, self._buffered = [], 0
        pos = self._inner.clear()
        if dropped:
            return PlayedPosition(pos.label, pos.heard_ms, pos.total_ms,
                                  pos.dropped_labels + dropped)
        return pos

    async def hangup(self, reason: str = "bot_hangup") -> None:
        await self._inner.hangup(reason)

    async def transfer(self, reason: str, skills: Sequence[str] = ()) -> None:
        await self._inner.transfer(reason, skills)

    async def forecast_transfer(self, within_s: float, likelihood: float = 1.0) -> None:
        await forecast_transfer(self._inner, within_s, likelihood)


class GatedAdapter(BotAdapter):
    """Delegates every hook to the wrapped adapter; flushes held audio first."""

    def __init__(self, inner: BotAdapter, gate: GreetingGate) -> None:
        self._inner = inner
        self._gate = gate
        self._call: GatedCall | None = None

    def __getattr__(self, name: str) -> Any:  # the wrapped adapter's own attributes
        return getattr(self._inner, name)

    @property
    def sample_rate(self) -> int:  # type: ignore[override]
        return self._inner.sample_rate

    @property
    def allow_barge_in(self) -> bool:  # type: ignore[override]
        return self._inner.allow_barge_in

    def _pump(self) -> None:
        if self._call is not None:
            self._call.pump()

    async def on_start(self, call: CallControl) -> None:
        self._call = GatedCall(call, self._gate)
        await self._inner.on_start(self._call)

    async def on_audio(self, pcm: bytes) -> None:
        self._pump()
        await self._inner.on_audio(pcm)
        self._pump()

    async def on_dtmf(self, digit: str) -> None:
        self._pump()
        await self._inner.on_dtmf(digit)

    async def on_speech_start(self) -> None:
        self._pump()
        await self._inner.on_speech_start()

    async def on_speech_end(self) -> None:
        self._pump()
        await self._inner.on_speech_end()

    async def on_barge_in(self, heard: PlayedPosition) -> None:
        await self._inner.on_barge_in(heard)

    async def on_playback_finished(self, label: str) -> None:
        self._pump()
        await self._inner.on_playback_finished(label)

    async def on_stop(self, reason: str) -> None:
        await self._inner.on_stop(reason)
