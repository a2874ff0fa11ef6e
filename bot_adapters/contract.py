"""The bot-adapter contract: the whole surface between a bot and voxgate's telephony.

A bot developer subclasses :class:`BotAdapter`, overrides the ``on_*`` hooks it needs and
registers a factory under the ``voxgate.bot_adapters`` entry-point group. Everything
telephony (Exotel's stream protocol, codecs, resampling, chunking, marks, barge-in) stays on
the gateway's side of this file.

Audio crossing this contract is always PCM16 little-endian mono at ``BotAdapter.sample_rate``
(8000, 16000 or 24000 Hz), whatever the call's media format is.

Call order, per call, on one task (hooks never run concurrently for the same call):
``on_start`` first, then any of ``on_audio`` / ``on_dtmf`` / ``on_speech_start`` /
``on_speech_end`` / ``on_barge_in`` / ``on_playback_finished``, and ``on_stop`` last.
A hook that raises, or runs longer than the gateway's adapter deadline, ends the call
cleanly; the error is logged with the stream id.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import ClassVar, Protocol, runtime_checkable

SUPPORTED_ADAPTER_RATES: frozenset[int] = frozenset({8000, 16000, 24000})

MAX_FORECAST_S = 3600.0
"""The longest ``within_s`` a transfer forecast may state."""


def check_forecast(within_s: float, likelihood: float) -> None:
    """Raise ``ValueError`` unless ``0 <= within_s <= MAX_FORECAST_S`` and
    ``0 <= likelihood <= 1`` (0 withdraws a forecast)."""
    if isinstance(within_s, bool) or not 0.0 <= within_s <= MAX_FORECAST_S:
        raise ValueError(f"a transfer forecast's within_s must be 0-{MAX_FORECAST_S:g} s")
    if isinstance(likelihood, bool) or not 0.0 <= likelihood <= 1.0:
        raise ValueError("a transfer forecast's likelihood must be within 0-1")


@dataclass(frozen=True, slots=True)
class CallInfo:
    """What the gateway knows about the call when the stream starts (from Exotel's ``start``).

    ``call_sid`` is the Exotel call (for Legs API streams, the leg sid). ``custom_parameters``
    are the stream URL's custom query parameters; voxgate's dialer puts its own call id
    under ``"vx_call"`` there.
    """

    stream_sid: str
    call_sid: str
    account_sid: str
    from_number: str
    to_number: str
    custom_parameters: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    call_sample_rate: int = 8000
    call_encoding: str = "mulaw"  # "mulaw" or "pcm16"

    def __post_init__(self) -> None:
        if not self.stream_sid:
            raise ValueError("CallInfo.stream_sid must not be empty")
        if self.call_encoding not in ("mulaw", "pcm16"):
            raise ValueError(f"unknown call encoding {self.call_encoding!r}")
        if not isinstance(self.custom_parameters, MappingProxyType):
            object.__setattr__(
                self, "custom_parameters", MappingProxyType(dict(self.custom_parameters))
            )


@dataclass(frozen=True, slots=True)
class PlayedPosition:
    """How much of the bot's audio the customer actually heard when playback was cut.

    ``label`` is the utterance that was playing at the cut (``None`` when nothing was);
    ``heard_ms`` of its ``total_ms`` were heard; ``dropped_labels`` are later utterances that
    were queued and discarded without being heard at all.
    """

    label: str | None
    heard_ms: int
    total_ms: int
    dropped_labels: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.heard_ms < 0 or self.total_ms < 0 or self.heard_ms > self.total_ms:
            raise ValueError(f"bad played position {self.heard_ms}/{self.total_ms} ms")


class CallControl(Protocol):
    """What an adapter can do to its call. Handed to :meth:`BotAdapter.on_start`.

    To tell the dialer ahead that the call will ask for an agent, use
    :func:`forecast_transfer` (see :class:`TransferForecasting`)."""

    @property
    def info(self) -> CallInfo: ...

    @property
    def sample_rate(self) -> int:
        """The adapter's audio rate (PCM16 mono)."""
        ...

    def play(self, pcm: bytes, label: str | None = None) -> None:
        """Queue bot audio. With ``label``, a mark follows it and ``on_playback_finished(label)``
        is called once the customer has heard all of it. Raises ``ValueError`` on odd-length
        PCM and :class:`PlayoutOverflow` when the bounded playout queue is full."""
        ...

    def mark(self, label: str) -> None:
        """Queue a mark after the audio queued so far (``play(b"", label)`` does the same)."""
        ...

    def clear(self) -> PlayedPosition:
        """Drop queued audio that has not started playing; the playing chunk finishes."""
        ...

    async def hangup(self, reason: str = "bot_hangup") -> None:
        """End the call (through the dialer's control hook), then the stream closes."""
        ...

    async def transfer(self, reason: str, skills: Sequence[str] = ()) -> None:
        """Ask for a live human agent; the dialer takes the customer to a bridge."""
        ...


@runtime_checkable
class TransferForecasting(Protocol):
    """A :class:`CallControl` that also takes transfer forecasts. Send one with
    :func:`forecast_transfer` (it skips call controls that take none).

    Kept beside ``CallControl`` rather than in it so that call-control wrappers written before
    it (a bot framework's own, say) stay valid; voxgate's own (the gateway's call handle, the
    greeting gate's wrapper, ``FakeCall``) all take forecasts."""

    async def forecast_transfer(self, within_s: float, likelihood: float = 1.0) -> None:
        """Say ahead that this call will probably ask for an agent within ``within_s`` seconds
        (the script reached its closing branch, an intent classifier fired ...), with
        ``likelihood`` (0-1] of it happening. The dialer's bot-first pacer counts on an agent
        for it from then on instead of guessing which calls will escalate, so agents wait
        less and customers are not left holding. A later forecast replaces the earlier one;
        ``likelihood=0`` withdraws it. It is only a forecast: ``transfer`` still asks.
        Raises ``ValueError`` for ``within_s`` outside 0-3600 or ``likelihood`` outside 0-1."""
        ...


async def forecast_transfer(call: CallControl, within_s: float, likelihood: float = 1.0) -> bool:
    """Send a transfer forecast (:meth:`TransferForecasting.forecast_transfer`) if ``call``
    takes them; returns whether it did. Checks the values either way (``ValueError``)."""
    check_forecast(within_s, likelihood)
    if not isinstance(call, TransferForecasting):
        return False
    await call.forecast_transfer(within_s, likelihood)
    return True


class PlayoutOverflow(RuntimeError):
    """The adapter queued more audio than the session's bounded playout queue holds."""


class BotAdapter:
    """Base class for bots. Override the hooks you need; the defaults do nothing.

    One instance serves one call. ``sample_rate`` is the rate the adapter wants its
    audio in and sends its audio at. ``allow_barge_in = False`` opts out of the gateway's
    barge-in: the customer's speech over the bot then never clears the bot's audio (a loopback
    or an announcement that must be heard whole); speech start/end notices still arrive.
    """

    sample_rate: ClassVar[int] = 8000
    allow_barge_in: ClassVar[bool] = True

    async def on_start(self, call: CallControl) -> None:
        """The stream started; keep ``call`` to play audio and act on the call."""

    async def on_audio(self, pcm: bytes) -> None:
        """Customer audio, PCM16 at ``sample_rate``, in the order received."""

    async def on_dtmf(self, digit: str) -> None:
        """The customer pressed a key (``0-9``, ``*``, ``#``)."""

    async def on_speech_start(self) -> None:
        """Voice activity detection saw the customer start speaking."""

    async def on_speech_end(self) -> None:
        """The customer stopped speaking (the VAD hangover has passed)."""

    async def on_barge_in(self, heard: PlayedPosition) -> None:
        """The customer spoke over the bot; queued bot audio was cleared at ``heard``."""

    async def on_playback_finished(self, label: str) -> None:
        """The customer has heard all audio queued before the mark ``label``."""

    async def on_stop(self, reason: str) -> None:
        """The stream ended (``callended``, ``stopped``, ``hangup``, ``error`` ...). Last call."""


AdapterFactory = Callable[[Mapping[str, str]], BotAdapter]
"""What an entry point in ``voxgate.bot_adapters`` resolves to: called once per call with the
adapter's options (from configuration; may be empty). A ``BotAdapter`` subclass whose
``__init__`` takes one mapping argument qualifies."""
