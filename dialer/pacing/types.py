"""What a pacer is fed and what it is asked: observations, the line/agent picture, the interface.

A pacer is pure: no asyncio, no I/O, no clock of its own. Its driver (the campaign runner, or
the discrete-event simulator in :mod:`dialer.pacing.sim`) calls :meth:`Pacer.observe` for every
observation as it happens, and :meth:`Pacer.dials_now` whenever it may dial (about once a
second), with a :class:`PacerState` describing the lines and agents at that instant. Times are
seconds on the driver's clock (wall clock or virtual time); pacers only compare and subtract them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal, Protocol, runtime_checkable

__all__ = [
    "SNAPSHOT_VERSION",
    "AgentTalkEnded",
    "AgentWrapEnded",
    "BotCallEnded",
    "BusyAgent",
    "CustomerAbandoned",
    "CustomerConnected",
    "DialOutcome",
    "DialResolved",
    "ForecastedCall",
    "Observation",
    "OfferResolved",
    "Pacer",
    "PacerState",
    "PullForwardPacer",
    "WarmStartPacer",
    "check_snapshot",
]


class DialOutcome(StrEnum):
    """How a dial ended its ringing phase. Only ``LIVE`` is a live answer (AMD said human)."""

    LIVE = "live"
    MACHINE = "machine"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    FAILED = "failed"


def _check_time(name: str, value: float) -> None:
    if value != value or value < 0:  # NaN or negative
        raise ValueError(f"{name} must be a non-negative number, got {value!r}")


def _check_likelihood(value: float) -> None:
    if not 0.0 < value <= 1.0:  # also refuses NaN
        raise ValueError(f"a forecast's likelihood must be within (0, 1], got {value!r}")


@dataclass(frozen=True, slots=True)
class DialResolved:
    """A dial stopped ringing after ``ring_s`` seconds with ``outcome``. Feed it at that moment."""

    at: float
    ring_s: float
    outcome: DialOutcome

    def __post_init__(self) -> None:
        _check_time("ring_s", self.ring_s)
        object.__setattr__(self, "outcome", DialOutcome(self.outcome))


@dataclass(frozen=True, slots=True)
class CustomerConnected:
    """A customer who needed an agent (live answer or bot escalation) got one after ``wait_s``."""

    at: float
    wait_s: float

    def __post_init__(self) -> None:
        _check_time("wait_s", self.wait_s)


@dataclass(frozen=True, slots=True)
class CustomerAbandoned:
    """A customer who needed an agent was abandoned (no agent in time) after ``wait_s``."""

    at: float
    wait_s: float

    def __post_init__(self) -> None:
        _check_time("wait_s", self.wait_s)


@dataclass(frozen=True, slots=True)
class AgentTalkEnded:
    """An agent finished a conversation of ``talk_s`` seconds and starts wrap-up."""

    at: float
    talk_s: float

    def __post_init__(self) -> None:
        _check_time("talk_s", self.talk_s)


@dataclass(frozen=True, slots=True)
class AgentWrapEnded:
    """An agent finished ``wrap_s`` seconds of wrap-up and is ready again."""

    at: float
    wrap_s: float

    def __post_init__(self) -> None:
        _check_time("wrap_s", self.wrap_s)


@dataclass(frozen=True, slots=True)
class BotCallEnded:
    """A bot conversation ended after ``bot_s``: by escalating to an agent, or without one.

    If the bot had forecast a transfer (``CallControl.forecast_transfer``) and not withdrawn
    it, ``forecast_at_s`` is the bot time at which the standing forecast was made,
    ``forecast_within_s`` the seconds it said the transfer would come within and
    ``forecast_likelihood`` how sure it was; ``None`` for a call without a standing forecast.
    A pacer learns from these how far ahead, how often and how accurately bots forecast."""

    at: float
    bot_s: float
    escalated: bool
    forecast_at_s: float | None = None
    forecast_within_s: float = 0.0
    forecast_likelihood: float = 1.0

    def __post_init__(self) -> None:
        _check_time("bot_s", self.bot_s)
        if self.forecast_at_s is not None:
            _check_time("forecast_at_s", self.forecast_at_s)
            if self.forecast_at_s > self.bot_s:
                raise ValueError("forecast_at_s must not be after the end of the bot call")
        _check_time("forecast_within_s", self.forecast_within_s)
        _check_likelihood(self.forecast_likelihood)


@dataclass(frozen=True, slots=True)
class OfferResolved:
    """An agent offered to a forecast call (pull-forward, :class:`PullForwardPacer`) was taken
    or refused ``offer_s`` seconds after the offer.

    ``accepted``: the customer wanted the human now; the agent is talking to them (a
    :class:`BotCallEnded` with ``escalated`` and a :class:`CustomerConnected` with wait 0
    follow). Not accepted: the customer declined (or the bot did not answer in time, or the
    call ended); the agent is ready again and the call's forecast is withdrawn."""

    at: float
    offer_s: float
    accepted: bool

    def __post_init__(self) -> None:
        _check_time("offer_s", self.offer_s)


Observation = (
    DialResolved
    | CustomerConnected
    | CustomerAbandoned
    | AgentTalkEnded
    | AgentWrapEnded
    | BotCallEnded
    | OfferResolved
)


@dataclass(frozen=True, slots=True)
class BusyAgent:
    """An agent who is not ready: talking to a customer or in wrap-up, for ``elapsed_s`` so far."""

    phase: Literal["talk", "wrap"]
    elapsed_s: float

    def __post_init__(self) -> None:
        if self.phase not in ("talk", "wrap"):
            raise ValueError(f"unknown agent phase {self.phase!r}")
        _check_time("elapsed_s", self.elapsed_s)


@dataclass(frozen=True, slots=True)
class ForecastedCall:
    """A bot conversation whose bot said it will ask for an agent (a transfer forecast).

    ``bot_elapsed_s``: how long the bot conversation has run; ``age_s``: seconds since the
    forecast; ``within_s``: the seconds, counted from the forecast, within which the bot said
    the transfer would come; ``likelihood``: how sure the bot said it was (0-1]."""

    bot_elapsed_s: float
    age_s: float
    within_s: float
    likelihood: float = 1.0

    def __post_init__(self) -> None:
        _check_time("bot_elapsed_s", self.bot_elapsed_s)
        _check_time("age_s", self.age_s)
        _check_time("within_s", self.within_s)
        _check_likelihood(self.likelihood)


@dataclass(frozen=True, slots=True)
class PacerState:
    """The lines and agents at ``now``, as the driver sees them.

    * ``agents_ready``: logged-in agents free to take a call now.
    * ``busy_agents``: the other logged-in agents (paused agents are not logged in here).
    * ``ringing``: elapsed ring time of each dial not yet resolved.
    * ``waiting``: elapsed wait of each customer who needs an agent and has none yet
      (an answered call in agent-first mode, an escalation in bot-first mode).
    * ``bot_calls``: elapsed time of each bot conversation in progress (bot-first mode) that
      has no standing transfer forecast;
    * ``forecasts``: the bot conversations in progress whose bot forecast a transfer (not in
      ``bot_calls``) and that are not being offered an agent;
    * ``offering``: elapsed time of each pull-forward offer in progress (an agent reserved,
      neither ready nor busy, while the bot asks its customer; see :class:`PullForwardPacer`);
      the call is in neither ``bot_calls`` nor ``forecasts``. :attr:`bot_lines` counts all
      three, :attr:`agents_logged_in` counts the reserved agents.
    * ``lines_in_use`` / ``line_limit``: concurrent lines now and the most the account, the
      exophone's channels and the gateway's streams allow; a pacer never dials past the limit.
    * ``abandon_rate_24h`` / ``live_answers_24h``: from the campaign's abandonment ledger.
    * ``ringing_live``: optional, the pickup model's P(live answer) of each ringing dial's lead
      (same order as ``ringing``), so that the expected live answers in flight are the sum of
      their own probabilities; ``next_live``: the mean P(live) of the next leads to be
      dialled. Empty / ``None`` (the default): every dial counts at the campaign's observed
      average (:mod:`dialer.leads`).
    """

    now: float
    agents_ready: int
    busy_agents: tuple[BusyAgent, ...] = ()
    ringing: tuple[float, ...] = ()
    waiting: tuple[float, ...] = ()
    bot_calls: tuple[float, ...] = ()
    forecasts: tuple[ForecastedCall, ...] = ()
    offering: tuple[float, ...] = ()
    lines_in_use: int = 0
    line_limit: int = 1_000_000
    abandon_rate_24h: float = 0.0
    live_answers_24h: int = 0
    ringing_live: tuple[float, ...] = ()
    next_live: float | None = None

    def __post_init__(self) -> None:
        if self.ringing_live and len(self.ringing_live) != len(self.ringing):
            raise ValueError("ringing_live must give one probability per ringing line")
        if any(not 0.0 <= p <= 1.0 for p in self.ringing_live) or not (
            self.next_live is None or 0.0 <= self.next_live <= 1.0
        ):
            raise ValueError("ringing_live and next_live must be within 0..1")
        if self.agents_ready < 0:
            raise ValueError("agents_ready must be >= 0")
        if self.lines_in_use < 0 or self.line_limit < 0:
            raise ValueError("lines_in_use and line_limit must be >= 0")
        if not 0.0 <= self.abandon_rate_24h <= 1.0:
            raise ValueError("abandon_rate_24h must be within 0..1")
        object.__setattr__(self, "busy_agents", tuple(self.busy_agents))
        object.__setattr__(self, "ringing", tuple(self.ringing))
        object.__setattr__(self, "ringing_live", tuple(self.ringing_live))
        object.__setattr__(self, "waiting", tuple(self.waiting))
        object.__setattr__(self, "bot_calls", tuple(self.bot_calls))
        object.__setattr__(self, "forecasts", tuple(self.forecasts))
        object.__setattr__(self, "offering", tuple(self.offering))

    @property
    def bot_lines(self) -> int:
        """Bot conversations in progress, with or without a transfer forecast or an offer."""
        return len(self.bot_calls) + len(self.forecasts) + len(self.offering)

    @property
    def agents_logged_in(self) -> int:
        """Ready plus busy agents, and agents reserved for an offer."""
        return self.agents_ready + len(self.busy_agents) + len(self.offering)

    @property
    def free_lines(self) -> int:
        """How many more lines may be opened now."""
        return max(0, self.line_limit - self.lines_in_use)


class Pacer(Protocol):
    """Every pacer: fed observations, asked how many lines to dial now.

    ``dials_now`` returns how many new dials to place at ``state.now`` (never negative, never
    past ``state.free_lines``). The driver places them and reports each one's resolution
    later through ``observe``.
    """

    @property
    def name(self) -> str: ...

    def observe(self, obs: Observation) -> None: ...

    def dials_now(self, state: PacerState) -> int: ...


@runtime_checkable
class PullForwardPacer(Pacer, Protocol):
    """A bot-first pacer that also decides *pull-forward* offers.

    Whenever an agent becomes ready or a forecast arrives (and on every pacing tick), the
    driver may call :meth:`offers_now`: it returns positions in ``state.forecasts`` (distinct,
    at most ``state.agents_ready - len(state.waiting)`` of them, best first) whose calls should
    be offered a ready agent now. The driver reserves one ready agent per position (longest
    idle first), has the bot ask its customer whether they want the human now, and reports
    the answer with :class:`OfferResolved`. An empty tuple offers nothing."""

    def offers_now(self, state: PacerState) -> tuple[int, ...]: ...


SNAPSHOT_VERSION = 1


@runtime_checkable
class WarmStartPacer(Pacer, Protocol):
    """A pacer whose estimators can be saved and seeded from a campaign's history.

    ``snapshot()`` returns plain JSON-able data (recent samples and the tuned risk limit, a few
    tens of kB); ``restore(snapshot)`` on a fresh pacer seeds it with them, so a new shift
    starts from yesterday's figures instead of cold (progressive dialling, agents counted busy,
    the lowest risk limit). ``restore`` raises ``ValueError`` for a snapshot of another pacer
    or format; the caller then keeps the cold start."""

    def snapshot(self) -> dict[str, Any]: ...

    def restore(self, snapshot: Mapping[str, Any]) -> None: ...


def check_snapshot(snapshot: Mapping[str, Any], pacer: str) -> None:
    """Raise ``ValueError`` unless ``snapshot`` was made by a pacer named ``pacer`` in this
    snapshot format."""
    if not isinstance(snapshot, Mapping):
        raise ValueError("a pacer snapshot must be a JSON object")
    if snapshot.get("version") != SNAPSHOT_VERSION:
        raise ValueError(f"pacer snapshot version {snapshot.get('version')!r} is not supported")
    if snapshot.get("pacer") != pacer:
        raise ValueError(f"the snapshot is of pacer {snapshot.get('pacer')!r}, not {pacer!r}")
