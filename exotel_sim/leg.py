"""The emulator's records of its legs and bridges: what each holds (its party, its state, what
plays on it, its stream) and nothing that acts. The engine (:mod:`exotel_sim.engine`) changes
them; bridges, the simulated world and the stream client read and change them through it
(:class:`exotel_sim.core.SimCore`). A leg's stream is seen through :class:`LegStream`, the part
of :class:`exotel_sim.stream_client.StreamClient` the engine uses, so this module imports none
of them (no import cycle).
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from typing import Any, Protocol

from exotel_sim.config import AgentProfile, CustomerProfile
from exotel_sim.delivery import DeliveryRecord
from exotel_sim.legs import BridgeState, LegState, TerminalStatus
from exotel_sim.media import Playback, Recording
from exotel_sim.requests import CreateLeg
from exotel_sim.tasks import TaskSet
from exotel_sim.timeline import PartyTimeline


class LegStream(Protocol):
    """What the engine uses of a leg's stream (:class:`exotel_sim.stream_client.StreamClient`)."""

    state: str
    started_ms: float | None  # sim ms of ``start`` sent (None before)
    task: asyncio.Task[Any] | None
    counts: dict[str, int]  # chunks sent, received, dropped (read by bench/sim_load.py)

    def request_stop(self, reason: str, action_sid: str = "", param: str = "") -> None: ...
    def report_stopped(self) -> None: ...
    async def send_dtmf(self, digit: str) -> None: ...
    def summary(self) -> dict[str, Any]: ...


@dataclass(eq=False)
class Leg:
    """One leg and its simulated party (customer, agent or answering machine)."""

    sid: str
    req: CreateLeg
    kind: str  # "customer" | "agent"
    customer: CustomerProfile | None
    agent: AgentProfile | None
    rng: random.Random
    timeline: PartyTimeline
    tasks: TaskSet
    created_ms: float
    created_epoch: float
    custom_param: str
    endpoint: str
    time_limit: int
    updated_epoch: float = 0.0
    state: LegState = LegState.CREATED
    terminal: TerminalStatus | None = None
    reason: str = ""
    answered_ms: float | None = None
    ended_ms: float | None = None
    outcome: str = ""
    script_choice: int = 0
    stream: LegStream | None = None
    streams: list[dict[str, Any]] = field(default_factory=list)
    say: Playback | None = None
    play: Playback | None = None
    hold: Playback | None = None
    muted: bool = False
    bridge: Bridge | None = None
    recording: Recording | None = None
    amd_result: str = ""
    agent_busy: bool = False  # an agent dialled while on a call or in wrap-up answers busy
    history: list[dict[str, Any]] = field(default_factory=list)
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    script_task: asyncio.Task[Any] | None = None
    last_delivery: DeliveryRecord | None = None  # of the leg's latest event

    @property
    def live(self) -> bool:
        return self.state is not LegState.TERMINATED


@dataclass(eq=False)
class Bridge:
    """One bridge and what ran on it."""

    sid: str
    legs: tuple[Leg, Leg]
    endpoint: str
    absorb_dtmf: bool
    created_ms: float
    created_epoch: float
    state: BridgeState = BridgeState.ACTIVE
    ended_ms: float | None = None
    reason: str = ""
    recording: Recording | None = None
    recordings: list[str] = field(default_factory=list)
    say: Playback | None = None
    play: Playback | None = None
    playbacks: list[Playback] = field(default_factory=list)
    tasks: TaskSet = field(default_factory=lambda: TaskSet("bridge"))
