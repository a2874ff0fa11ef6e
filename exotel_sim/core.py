"""What the emulator's parts (bridges, the simulated world, the stream client) use of its
engine: :class:`SimCore`, implemented by :class:`exotel_sim.engine.Sim`. They hold a
``SimCore`` rather than the engine class, so the engine imports them and none of them imports
the engine (no import cycle).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Protocol

from exotel_sim.config import SimConfig
from exotel_sim.delivery import Delivery
from exotel_sim.leg import Bridge, Leg, LegStream
from exotel_sim.legs import LegInput
from exotel_sim.media import AudioLibrary, EmitFn, Playback, Recording
from exotel_sim.pacer import MediaPacer
from exotel_sim.requests import StartPlay, StartSay
from exotel_sim.stats import SimStats
from exotel_sim.tasks import SimClock, TaskSet
from exotel_sim.timeline import PartyTimeline


class SimCore(Protocol):
    """The emulator's state and the operations its parts call (see :class:`exotel_sim.engine.
    Sim` for each one's documentation)."""

    config: SimConfig
    clock: SimClock
    delivery: Delivery
    pacer: MediaPacer
    library: AudioLibrary
    stats: SimStats
    bridges: OrderedDict[str, Bridge]

    def new_sid(self, prefix: str) -> str: ...

    def leg(self, sid: str) -> Leg: ...

    def note(self, leg: Leg, what: str) -> None: ...

    def leg_event(
        self, leg: Leg, name: str, event_data: dict[str, Any] | None = None,
        action_sid: str = "", action_param: str = "",
    ) -> None: ...

    def bridge_event(
        self, bridge: Bridge, name: str, leg: Leg | None = None,
        event_data: dict[str, Any] | None = None, action_sid: str = "", action_param: str = "",
    ) -> None: ...

    def leg_input(self, leg: Leg, inp: LegInput, reason: str = "") -> None: ...

    def hangup(self, leg: Leg, reason: str) -> None: ...

    def start_playback(
        self, owner: Leg | Bridge, cmd: StartSay | StartPlay, action_sid: str,
        emit: EmitFn, ears: list[PartyTimeline], tasks: TaskSet,
    ) -> Playback: ...

    def stop_playback(self, owner: Leg | Bridge, kind: str) -> Playback | None: ...

    def recording_url(self, sid: str) -> str: ...

    def store_recording(self, rec: Recording, pcm: bytes) -> None: ...

    def stream_ended(self, leg: Leg, client: LegStream) -> None: ...
