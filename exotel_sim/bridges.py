"""Bridges: two answered legs hearing each other, say/play to both, recordings, teardown.

:class:`Bridging` holds the operations (the emulator's :class:`~exotel_sim.engine.Sim` owns
one as ``sim.bridging``): :meth:`Bridging.create` for ``POST /bridges``, :meth:`Bridging.verbs`
for ``POST /bridges/{sid}/actions`` (ExoML or a shortcut), :meth:`Bridging.end` when the bridge
is stopped or one of its legs hangs up. Audio flows both ways through the parties' timelines
(:meth:`~exotel_sim.timeline.PartyTimeline.join_bridge`); a recording is the mix of both
parties' speech and the bridge's say/play, written as an 8 kHz WAV file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from exotel_sim import world
from exotel_sim.audio import mix
from exotel_sim.errors import NotFound, StateConflict
from exotel_sim.leg import Bridge
from exotel_sim.legs import BridgeState, LegCommand, check_bridge_action, check_leg_action
from exotel_sim.media import Recording
from exotel_sim.requests import CreateBridge, StartPlay, StartSay, Verb
from exotel_sim.tasks import TaskSet

if TYPE_CHECKING:
    from exotel_sim.core import SimCore as Sim


class Bridging:
    """Bridge operations of one emulator."""

    def __init__(self, sim: Sim) -> None:
        self.sim = sim

    def create(self, cmd: CreateBridge) -> Bridge:
        """``POST /bridges``: both legs answered and in no other bridge."""
        legs = (self.sim.leg(cmd.leg_sids[0]), self.sim.leg(cmd.leg_sids[1]))
        for leg in legs:
            check_leg_action(leg.sid, leg.state, LegCommand.BRIDGE)
            if leg.bridge is not None:
                raise StateConflict(f"leg {leg.sid} is already in bridge {leg.bridge.sid}")
        now = self.sim.clock.now_ms()
        bridge = Bridge(self.sim.new_sid("BR"), legs, cmd.bridge_event_endpoint, cmd.absorb_dtmf,
                        now, self.sim.clock.epoch(now))
        bridge.tasks = TaskSet(f"bridge:{bridge.sid}")
        self.sim.bridges[bridge.sid] = bridge
        while len(self.sim.bridges) > self.sim.config.max_legs_kept:
            self.sim.bridges.popitem(last=False)
        a, b = legs
        a.timeline.join_bridge(bridge.sid, b.timeline, now)
        b.timeline.join_bridge(bridge.sid, a.timeline, now)
        a.bridge = b.bridge = bridge
        self.sim.bridge_event(bridge, "bridge_created")
        for leg in legs:
            self.sim.note(leg, f"joined bridge {bridge.sid}")
            self.sim.bridge_event(bridge, "leg_joined_bridge", leg)
        for leg in legs:
            world.on_bridged(self.sim, leg)
        return bridge

    def end(self, bridge: Bridge, reason: str, action_sid: str = "",
                   param: str = "") -> None:
        """Tear the bridge down: both legs leave it (they stay up), then ``bridge_terminal``."""
        if bridge.state is BridgeState.TERMINATED:
            return
        now = self.sim.clock.now_ms()
        for playback in (bridge.say, bridge.play):
            if playback is not None:
                playback.stop(emit=False, at=now)
        if bridge.recording is not None:
            self._stop_recording(bridge, action_sid, param)
        bridge.state = BridgeState.TERMINATED
        bridge.ended_ms = now
        bridge.reason = reason
        for leg in bridge.legs:
            leg.timeline.leave_bridge(bridge.sid, now)
            leg.bridge = None
            self.sim.note(leg, f"left bridge {bridge.sid}")
            self.sim.bridge_event(bridge, "leg_left_bridge", leg)
        self.sim.bridge_event(bridge, "bridge_terminal", event_data={"reason": reason},
                          action_sid=action_sid, action_param=param)
        bridge.tasks.cancel_all()
        for leg in bridge.legs:
            if leg.live:
                world.on_unbridged(self.sim, leg)

    def verbs(self, bridge: Bridge, verbs: tuple[Verb, ...], param: str) -> str:
        """ExoML (or a shortcut) on a bridge: say/play to both legs, recording, stop."""
        for verb in verbs:
            check_bridge_action(bridge.sid, bridge.state, verb.name)
            if verb.name == "startrecording" and bridge.recording is not None:
                raise StateConflict(f"bridge {bridge.sid} is already recording")
        action_sid = self.sim.new_sid("AC")

        def emit(name: str, data: dict[str, Any]) -> None:
            self.sim.bridge_event(bridge, name, event_data=data, action_sid=action_sid,
                              action_param=param)

        ears = [leg.timeline for leg in bridge.legs]
        for verb in verbs:
            cmd = verb.command
            if verb.name in ("hangup", "stopbridge"):
                self.end(bridge, "stopped", action_sid, param)
            elif verb.name in ("startsay", "startplay"):
                assert isinstance(cmd, (StartSay, StartPlay))
                bridge.playbacks.append(
                    self.sim.start_playback(bridge, cmd, action_sid, emit, ears, bridge.tasks))
            elif verb.name in ("stopsay", "stopplay"):
                self.sim.stop_playback(bridge, verb.name[4:])
            elif verb.name == "startrecording":
                bridge.recording = Recording(self.sim.new_sid("RE"), bridge.sid,
                                             self.sim.clock.now_ms(), action_sid, param)
                emit("recording_started", {"recording_sid": bridge.recording.sid})
            elif verb.name == "stoprecording":
                self._stop_recording(bridge, action_sid, param)
        return action_sid

    def _stop_recording(self, bridge: Bridge, action_sid: str, param: str) -> None:
        rec = bridge.recording
        if rec is None:
            return
        bridge.recording = None
        rec.end_ms = self.sim.clock.now_ms()
        pieces = [p for p in (pb.placed() for pb in bridge.playbacks) if p is not None]
        for leg in bridge.legs:
            pieces.extend(leg.timeline.speech_pieces())
        self.sim.store_recording(rec, mix(pieces, rec.start_ms, rec.end_ms))
        bridge.recordings.append(rec.sid)
        data = {"recording_sid": rec.sid, "url": self.sim.recording_url(rec.sid),
                "status": "completed", "duration_ms": round(rec.end_ms - rec.start_ms)}
        self.sim.bridge_event(bridge, "recording_stopped", event_data=data,
                          action_sid=action_sid or rec.action_sid, action_param=param)
        self.sim.bridge_event(bridge, "recording_available", event_data=data,
                          action_sid=rec.action_sid, action_param=rec.custom_param)

    def shortcut(self, bridge: Bridge, name: str, cmd: Any, param: str) -> str:
        """``POST /bridges/{sid}/actions/{name}``."""
        verb = BRIDGE_SHORTCUTS.get(name)
        if verb is None:
            raise NotFound(f"unknown bridge action {name!r}")
        return self.verbs(bridge, (Verb(verb, cmd),), param)


BRIDGE_SHORTCUTS: dict[str, str] = {
    "start_say": "startsay", "stop_say": "stopsay", "start_play": "startplay",
    "stop_play": "stopplay", "start_recording": "startrecording",
    "stop_recording": "stoprecording", "stop": "stopbridge", "hangup": "hangup",
}
