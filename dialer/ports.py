"""The ports the dialer's drivers depend on: what a call's runner and a nailed agent's keeper
need from the world, and nothing more.

:class:`~dialer.runner.CallRunner` and :class:`~dialer.nailed.NailedAgentKeeper` receive these
(bundled in :class:`CallPorts` / :class:`KeeperPorts`), never the whole
:class:`~dialer.service.Dialer`; the dialer implements the desk, the progress sink and the leg
registry, :class:`~dialer.exotel_client.ExotelClient` the Exotel API,
:class:`~dialer.clock.LoopClock` the clock. :mod:`dialer.testing` implements the Exotel API
in memory on a virtual clock, so a call flow runs in milliseconds in a test
(docs/architecture.md, "Ports").

=================  ==================================================  ====================
port               what for                                            implemented by
=================  ==================================================  ====================
``ExotelApi``      the Legs/Bridges requests a call makes              ``ExotelClient``,
                                                                       ``testing.FakeExotel``
``AgentDesk``      reserve/release agents, a nailed agent's hold       ``Dialer``
``ProgressSink``   progress events (``notify``)                        ``Dialer``
``LegRegistry``    whose leg/bridge an event is; creates in flight     ``Dialer``
``CallBook``       a call's stream URL; its record at the end          ``Dialer``
``Clock``          now, timers                                         ``clock.LoopClock``
=================  ==================================================  ====================

This module imports no asyncio and no other part of the dialer at run time (types only).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from dialer.agents import Agent, Unavailable
    from dialer.confirm import ConfirmStats
    from dialer.events import ExotelEvent
    from dialer.exotel_client import ClientStats
    from dialer.records import CallRecord
    from dialer.stats import DialerStats
    from dialer.stream_params import StreamParams


class ExotelApi(Protocol):
    """The Legs and Bridges v2 requests the drivers make (docs/exotel.md section 2). Each
    returns the response's ``data`` or raises :class:`~dialer.errors.ExotelError`."""

    base: str
    stats: ClientStats

    async def create_leg(
        self, contact_uri: str, exophone: str, leg_event_endpoint: str, *,
        custom_param: str = "", reference_leg_sid: str = "", time_limit: int | None = None,
        ring_timeout: int | None = None, amd_enable: bool = False, network_type: str = "pstn",
        priority: str = "normal",
    ) -> dict[str, Any]: ...
    async def get_leg(self, leg_sid: str) -> dict[str, Any]: ...
    async def list_legs(self, **query: str) -> list[dict[str, Any]]: ...
    async def leg_action(
        self, leg_sid: str, action: str, body: dict[str, Any] | None = None
    ) -> dict[str, Any]: ...
    async def start_stream(
        self, leg_sid: str, url: str, *, direction: str = "bidirectional",
        content_type: str = ...,
    ) -> dict[str, Any]: ...
    async def hangup(self, leg_sid: str) -> bool: ...
    async def create_bridge(
        self, leg_sids: list[str], bridge_event_endpoint: str, *, absorb_dtmf: bool = False
    ) -> dict[str, Any]: ...
    async def get_bridge(self, bridge_sid: str) -> dict[str, Any]: ...
    async def start_recording(self, bridge_sid: str) -> dict[str, Any]: ...
    async def close(self) -> None: ...


class Timer(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    """Seconds on one monotonic scale, and timers on it (a call's timers, the pool's times)."""

    def now(self) -> float: ...
    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer: ...


class ProgressSink(Protocol):
    def notify(self, call_id: str, kind: str, detail: str = "") -> None: ...


class AgentDesk(Protocol):
    """The agents as a call (or a nailed agent's keeper) sees them."""

    def reserve(self, skills: Iterable[str], exclude: Iterable[str], call_id: str
                ) -> Agent | None: ...
    def unavailable_reason(self, skills: Iterable[str], exclude: Iterable[str]
                           ) -> Unavailable: ...
    def agent_answered(self, agent_id: str) -> None: ...
    def release_agent(self, agent_id: str, *, wrap_up: bool) -> None: ...
    async def stop_nailed_hold(self, leg_sid: str) -> bool:
        """Stop the hold audio of the nailed agent whose leg is ``leg_sid`` (its keeper knows
        what plays); False when no nailed agent holds that leg."""
        ...
    def agent_call(self, agent_id: str) -> str:
        """The id of the call holding the agent, ``""`` when none."""
        ...
    def set_nailed_leg(self, agent_id: str, leg_sid: str) -> None:
        """The agent's nailed leg is up (``leg_sid``) or gone (``""``); an agent that became
        available is announced."""
        ...


class LegOwner(Protocol):
    """A call's runner as the leg registry sees it."""

    call_id: str

    def deliver_event(self, event: ExotelEvent) -> None: ...
    def adopt(self, leg_sid: str) -> bool: ...
    def leg_hung_up(self) -> None: ...


class EventTarget(Protocol):
    def deliver_event(self, event: ExotelEvent) -> None: ...


class LegRegistry(Protocol):
    """Which call (or keeper) a leg or bridge belongs to, so its events reach it; the creates in
    flight, for events that beat their 202 (:mod:`dialer.leg_hold`, :mod:`dialer.uncertain`)."""

    @property
    def event_endpoint(self) -> str: ...
    @property
    def exophone(self) -> str: ...
    def register_leg(self, leg_sid: str, owner: Any) -> None: ...
    def unregister_leg(self, leg_sid: str) -> None: ...
    def register_bridge(self, bridge_sid: str, owner: Any) -> None: ...
    def creating(self, number: str) -> AbstractContextManager[None]: ...
    def settle_number(self, number: str) -> None: ...
    def await_leg(self, owner: Any, number: str, exophone: str = "") -> None: ...
    def stop_awaiting_leg(self, owner: Any) -> None: ...
    def leg_adopted(self, call_id: str) -> None: ...
    def deliver_to_call(self, call_id: str, event: ExotelEvent) -> None:
        """Hand ``event`` to the live call ``call_id`` (no-op when it has ended)."""
        ...


class CallBook(Protocol):
    """Where a call's stream URL comes from and its record goes."""

    def stream_params_for(self, request: Any, attempt: int) -> StreamParams: ...
    def finish_call(self, runner: Any, record: CallRecord) -> None: ...
    def save_live(self, call_id: str, state: Mapping[str, Any]) -> None: ...


@dataclass(frozen=True, slots=True)
class RunnerSettings:
    """The request parameters a runner puts on Exotel requests (from the dialer's config)."""

    content_type: str = "audio/x-mulaw;rate=8000"
    customer_ring_timeout: int = 30
    agent_ring_timeout: int = 25  # the leg's ring_timeout: the flow's own timer + a margin
    time_limit: int | None = None
    reconcile_timeout: float = 3.0
    event_confirm_timeout: float = 2.0


@dataclass(frozen=True, slots=True)
class CallPorts:
    """Everything a :class:`~dialer.runner.CallRunner` uses."""

    api: ExotelApi
    desk: AgentDesk
    progress: ProgressSink
    legs: LegRegistry
    book: CallBook
    clock: Clock
    stats: DialerStats
    confirm_stats: ConfirmStats
    settings: RunnerSettings
    reopen_leg: Callable[[str], None] = lambda leg_sid: None  # the sequencer's reopen


@dataclass(frozen=True, slots=True)
class KeeperSettings:
    hold_url: str = ""
    hold_text: str = "Please hold."
    time_limit: int | None = None


@dataclass(frozen=True, slots=True)
class KeeperPorts:
    """Everything a :class:`~dialer.nailed.NailedAgentKeeper` uses."""

    api: ExotelApi
    desk: AgentDesk
    legs: LegRegistry
    clock: Clock
    stats: DialerStats
    settings: KeeperSettings
