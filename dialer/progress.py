"""Progress events: one frozen, slotted class per kind (pure).

The dialer publishes one of these to its subscribers (:meth:`dialer.service.Dialer.subscribe`)
whenever something happens to a call or an agent. Each class names its ``kind`` (the string
the call flow's ``Notify`` carries and logs show) and carries its facts as typed fields; the
``detail`` property renders them as the one-line string older consumers and logs read.
Listeners dispatch on the class (``match ev: case Bridged(): ...``).

==========================  ==============================================================
kind                        class (fields)
==========================  ==============================================================
placed                      :class:`Placed` (number)
ringing                     :class:`Ringing`
answered                    :class:`Answered`
live                        :class:`Live` (why: "", "amd_human" or "amd_timeout")
machine                     :class:`Machine`
bot_connected               :class:`BotConnected` (greeting: its stop is not confirmed yet)
bot_audio_ok                :class:`BotAudioOk` (the greeting is stopped: bot audio may flow)
escalated                   :class:`Escalated` (reason)
queued                      :class:`Queued` (skills)
agent_reserved              :class:`AgentReserved` (agent_id)
agent_ringing               :class:`AgentRinging` (agent_id)
agent_answered              :class:`AgentAnswered` (agent_id)
bridged                     :class:`Bridged` (agent_id)
abandoned                   :class:`Abandoned`
back_to_bot                 :class:`BackToBot`
escalation_failed           :class:`EscalationFailed` (why)
bot_reentries_exhausted     :class:`BotReentriesExhausted` (reentries)
bot_failed                  :class:`BotFailure` (reason, e.g. "adapter_error:on_audio")
hangup_requested            :class:`HangupRequested` (reason)
ended                       :class:`Ended` (disposition)
agent_freed                 :class:`AgentFreed` (agent_id; no call)
transfer_forecast           :class:`TransferForecast` (within_s, likelihood)
==========================  ==============================================================

:func:`from_notification` builds the event for a ``(kind, detail)`` pair (the flow's
``Notify``); it is the one place a detail string is read back.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import ClassVar

# -- the base ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProgressEvent:
    """Something happened to call ``call_id`` ("" for an agent event) at ``at``
    (``time.monotonic()``). Subclasses only; see the module docstring."""

    kind: ClassVar[str] = ""
    _text: ClassVar[str] = ""  # the field shown as ``detail``
    call_id: str
    at: float

    @property
    def detail(self) -> str:
        """The event's facts as one string (logs, older consumers)."""
        return str(getattr(self, self._text)) if self._text else ""


class UnknownProgressKind(ValueError):
    """A ``Notify`` kind with no progress class (a bug in the flow or the runner)."""


# -- call progress -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Placed(ProgressEvent):
    kind: ClassVar[str] = "placed"
    number: str = ""

    _text: ClassVar[str] = "number"


@dataclass(frozen=True, slots=True)
class Ringing(ProgressEvent):
    kind: ClassVar[str] = "ringing"


@dataclass(frozen=True, slots=True)
class Answered(ProgressEvent):
    kind: ClassVar[str] = "answered"


@dataclass(frozen=True, slots=True)
class Live(ProgressEvent):
    """A live answer is known: at the answer without AMD, or AMD said human (or timed out)."""

    kind: ClassVar[str] = "live"
    why: str = ""

    _text: ClassVar[str] = "why"


@dataclass(frozen=True, slots=True)
class Machine(ProgressEvent):
    kind: ClassVar[str] = "machine"


@dataclass(frozen=True, slots=True)
class BotConnected(ProgressEvent):
    """The stream started; ``greeting``: the bot's audio waits for the greeting's stop."""

    kind: ClassVar[str] = "bot_connected"
    greeting: bool = False

    @property
    def detail(self) -> str:
        return "greeting" if self.greeting else ""


@dataclass(frozen=True, slots=True)
class BotAudioOk(ProgressEvent):
    """Exotel confirmed the greeting's stop (or there was none): the bot may speak."""

    kind: ClassVar[str] = "bot_audio_ok"


@dataclass(frozen=True, slots=True)
class Escalated(ProgressEvent):
    kind: ClassVar[str] = "escalated"
    reason: str = ""

    _text: ClassVar[str] = "reason"


@dataclass(frozen=True, slots=True)
class Queued(ProgressEvent):
    kind: ClassVar[str] = "queued"
    skills: tuple[str, ...] = ()

    @property
    def detail(self) -> str:
        return ",".join(self.skills)


@dataclass(frozen=True, slots=True)
class AgentReserved(ProgressEvent):
    kind: ClassVar[str] = "agent_reserved"
    agent_id: str = ""

    _text: ClassVar[str] = "agent_id"


@dataclass(frozen=True, slots=True)
class AgentRinging(ProgressEvent):
    kind: ClassVar[str] = "agent_ringing"
    agent_id: str = ""

    _text: ClassVar[str] = "agent_id"


@dataclass(frozen=True, slots=True)
class AgentAnswered(ProgressEvent):
    kind: ClassVar[str] = "agent_answered"
    agent_id: str = ""

    _text: ClassVar[str] = "agent_id"


@dataclass(frozen=True, slots=True)
class Bridged(ProgressEvent):
    kind: ClassVar[str] = "bridged"
    agent_id: str = ""

    _text: ClassVar[str] = "agent_id"


@dataclass(frozen=True, slots=True)
class Abandoned(ProgressEvent):
    kind: ClassVar[str] = "abandoned"


@dataclass(frozen=True, slots=True)
class BackToBot(ProgressEvent):
    kind: ClassVar[str] = "back_to_bot"


@dataclass(frozen=True, slots=True)
class EscalationFailed(ProgressEvent):
    kind: ClassVar[str] = "escalation_failed"
    why: str = ""

    _text: ClassVar[str] = "why"


@dataclass(frozen=True, slots=True)
class BotReentriesExhausted(ProgressEvent):
    kind: ClassVar[str] = "bot_reentries_exhausted"
    reentries: int = 0

    _text: ClassVar[str] = "reentries"


@dataclass(frozen=True, slots=True)
class BotFailure(ProgressEvent):
    """The gateway reported the bot's adapter failed (``reason``, e.g. adapter_error:on_audio)."""

    kind: ClassVar[str] = "bot_failed"
    reason: str = ""

    _text: ClassVar[str] = "reason"


@dataclass(frozen=True, slots=True)
class HangupRequested(ProgressEvent):
    kind: ClassVar[str] = "hangup_requested"
    reason: str = ""

    _text: ClassVar[str] = "reason"


@dataclass(frozen=True, slots=True)
class Ended(ProgressEvent):
    kind: ClassVar[str] = "ended"
    disposition: str = ""

    _text: ClassVar[str] = "disposition"


@dataclass(frozen=True, slots=True)
class AgentFreed(ProgressEvent):
    """An agent became idle (``call_id`` is "")."""

    kind: ClassVar[str] = "agent_freed"
    agent_id: str = ""

    _text: ClassVar[str] = "agent_id"


@dataclass(frozen=True, slots=True)
class TransferForecast(ProgressEvent):
    """The call's bot expects to ask for an agent within ``within_s`` seconds with
    ``likelihood`` (0 withdraws an earlier forecast): pacing information."""

    kind: ClassVar[str] = "transfer_forecast"
    within_s: float = 0.0
    likelihood: float = 0.0

    @property
    def detail(self) -> str:
        return forecast_detail(self.within_s, self.likelihood)


BOT_AUDIO_OK = BotAudioOk.kind
TRANSFER_FORECAST = TransferForecast.kind


def forecast_detail(within_s: float, likelihood: float) -> str:
    """A forecast as ``"WITHIN_S LIKELIHOOD"`` (the ``detail`` of a :class:`TransferForecast`)."""
    return f"{within_s:g} {likelihood:g}"


def parse_forecast_detail(detail: str) -> tuple[float, float]:
    """``(within_s, likelihood)`` back from :func:`forecast_detail`'s string."""
    within, likelihood = detail.split()
    return float(within), float(likelihood)


# -- from a (kind, detail) pair --------------------------------------------------------------

_Build = Callable[[str, float, str], ProgressEvent]


def _plain(cls: type[ProgressEvent]) -> _Build:
    return lambda call_id, at, _detail: cls(call_id, at)


def _text(cls: Callable[[str, float, str], ProgressEvent]) -> _Build:
    return lambda call_id, at, detail: cls(call_id, at, detail)


def _forecast(call_id: str, at: float, detail: str) -> ProgressEvent:
    within, likelihood = parse_forecast_detail(detail)
    return TransferForecast(call_id, at, within, likelihood)


_BUILDERS: Mapping[str, _Build] = MappingProxyType({
    Placed.kind: _text(Placed),
    Ringing.kind: _plain(Ringing),
    Answered.kind: _plain(Answered),
    Live.kind: _text(Live),
    Machine.kind: _plain(Machine),
    BotConnected.kind: lambda c, at, d: BotConnected(c, at, d == "greeting"),
    BotAudioOk.kind: _plain(BotAudioOk),
    Escalated.kind: _text(Escalated),
    Queued.kind: lambda c, at, d: Queued(c, at, tuple(s for s in d.split(",") if s)),
    AgentReserved.kind: _text(AgentReserved),
    AgentRinging.kind: _text(AgentRinging),
    AgentAnswered.kind: _text(AgentAnswered),
    Bridged.kind: _text(Bridged),
    Abandoned.kind: _plain(Abandoned),
    BackToBot.kind: _plain(BackToBot),
    EscalationFailed.kind: _text(EscalationFailed),
    BotReentriesExhausted.kind: lambda c, at, d: BotReentriesExhausted(c, at, int(d or 0)),
    BotFailure.kind: _text(BotFailure),
    HangupRequested.kind: _text(HangupRequested),
    Ended.kind: _text(Ended),
    AgentFreed.kind: _text(AgentFreed),
    TransferForecast.kind: _forecast,
})

KINDS: frozenset[str] = frozenset(_BUILDERS)
"""Every progress kind."""


def from_notification(kind: str, call_id: str, detail: str = "", at: float = 0.0
                      ) -> ProgressEvent:
    """The event for a flow's ``Notify(kind, detail)`` (or a runner's notification).

    Raises :class:`UnknownProgressKind` for a kind with no class, ``ValueError`` for a detail
    its class cannot read (a forecast that is not two numbers)."""
    build = _BUILDERS.get(kind)
    if build is None:
        raise UnknownProgressKind(f"no progress event of kind {kind!r}")
    return build(call_id, at, detail)
