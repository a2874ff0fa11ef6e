"""Hold each bot's first audio until the dialer says the call's greeting has stopped.

On a bot-first call the greeting (``start_play``/``start_say``) and the stream start together,
and the greeting is stopped on ``stream_started``. The stop reaches Exotel one event delivery
plus half a REST round trip after the stream started, while a bot speaks within milliseconds:
without a gate the customer hears both (23-48 ms measured with separate processes).

:class:`GreetingGate` wraps every bot adapter of a gateway (``GatewayServer(wrap_adapter=
gate.wrap)``). When a stream starts with a ``vx_call`` (a call placed by the dialer), the gate
asks the dialer over the control channel, ``greeting_wait`` (a :class:`~gateway.control.
ControlRequest` through the gateway's control hook: the dialer object in one process, ``POST
/v1/control`` otherwise), and buffers the bot's ``play``/``mark`` calls until the answer comes
(the dialer answers once the greeting's stop is confirmed, at once for a call without a
greeting). Then the held audio goes out in order. The gateway asks rather than the dialer
pushing, so any number of gateways can serve any number of dialers.

Bounded: a gate never holds longer than ``max_hold`` seconds (then the audio is released,
logged and counted in ``timeouts``), nor more than :data:`MAX_BUFFER_BYTES`. An answer that
is a refusal or an error (an old dialer, a call the dialer does not know) opens the gate at
once. Calls without ``vx_call`` (not placed by a dialer) and call controls without a control
channel (``wait_greeting``) pass straight through.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from bot_adapters.contract import (
    AdapterFactory,
    BotAdapter,
    CallControl,
    CallInfo,
    PlayedPosition,
    forecast_transfer,
)

log = logging.getLogger(__name__)

MAX_BUFFER_BYTES = 2 * 1024 * 1024
MAX_HOLD = 2.0


class GreetingGate:
    """Wraps adapter factories; counts what it held (``held_calls``, ``released_calls``,
    ``timeouts``) and how long (``held_ms_total``); ``outcomes`` (set it to the gateway's
    ``metrics.greeting_holds``) counts ``released``/``timeout`` for ``GET /metrics``."""

    def __init__(self, max_hold: float = MAX_HOLD,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_hold = max_hold
        self.clock = clock
        self.held_calls = 0
        self.released_calls = 0
        self.timeouts = 0
        self.held_ms_total = 0.0
        self.outcomes: Counter[str] = Counter()

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
        self._buffer: list[tuple[bytes, str | None]] = []
        self._buffered = 0
        self._task: asyncio.Task[None] | None = None
        ask: Callable[[], Awaitable[None]] | None = getattr(inner, "wait_greeting", None)
        self._open = not inner.info.custom_parameters.get("vx_call") or ask is None
        if ask is not None and not self._open:
            gate.held_calls += 1
            self._task = asyncio.get_running_loop().create_task(self._wait(ask))

    async def _wait(self, ask: Callable[[], Awaitable[None]]) -> None:
        """Ask the dialer, at most ``max_hold`` s; then open and send what was held."""
        gate, since = self._gate, self._gate.clock()
        try:
            async with asyncio.timeout(gate.max_hold):
                await ask()
            gate.released_calls += 1
            gate.outcomes["released"] += 1
        except TimeoutError:
            gate.timeouts += 1
            gate.outcomes["timeout"] += 1
            log.warning("stream %s: no answer to greeting_wait within %.1f s; the bot's audio "
                        "is released", self.info.stream_sid, gate.max_hold)
        finally:
            gate.held_ms_total += (gate.clock() - since) * 1000.0
            self._open = True
            self._task = None
        try:
            self.pump()
        except Exception as exc:  # the stream ended meanwhile: nothing to send to
            log.info("stream %s: held bot audio dropped: %r", self.info.stream_sid, exc)

    @property
    def info(self) -> CallInfo:
        return self._inner.info

    @property
    def sample_rate(self) -> int:
        return self._inner.sample_rate

    def is_open(self) -> bool:
        return self._open

    def close(self) -> None:
        """The call ended: stop asking."""
        if self._task is not None:
            self._task.cancel()
            self._task = None

    def pump(self) -> None:
        """Flush held audio once the gate is open (when the answer comes, and on each hook)."""
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
        if self._call is not None:
            self._call.close()
        await self._inner.on_stop(reason)
