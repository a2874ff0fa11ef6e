"""The emulator's runtime: legs, their actions and the events they produce.

:class:`Sim` is what the REST API calls (after parsing requests with :mod:`exotel_sim.requests`)
and what the simulated world (:mod:`exotel_sim.world`) and stream clients report back to. Leg
state changes go through :func:`exotel_sim.legs.leg_transition` only. Every method here either
completes or raises an :class:`~exotel_sim.errors.ApiError` before changing anything, so a bad
request never corrupts another call. Bridges live in :mod:`exotel_sim.bridges`.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from exotel_sim import world
from exotel_sim.audio import mix, wav_bytes
from exotel_sim.bridges import Bridging
from exotel_sim.config import SimConfig
from exotel_sim.delivery import Delivery
from exotel_sim.errors import BadRequest, NotFound, RateLimited, StateConflict
from exotel_sim.events import Event, build_event, rfc3339
from exotel_sim.leg import Bridge, Leg, LegStream
from exotel_sim.legs import (
    LegCommand,
    LegInput,
    LegState,
    check_leg_action,
    leg_transition,
)
from exotel_sim.media import AudioLibrary, EmitFn, Playback, Recording, fetch_then, play_detail
from exotel_sim.pacer import MediaPacer
from exotel_sim.requests import (
    CreateBridge,
    CreateLeg,
    StartPlay,
    StartSay,
    StartStream,
    UpdateLeg,
    Verb,
)
from exotel_sim.stats import SimStats
from exotel_sim.tasks import SimClock, TaskSet
from exotel_sim.timeline import PartyTimeline

if TYPE_CHECKING:
    pass

log = logging.getLogger("exotel_sim")

HISTORY_MAX = 300
RACE_POLL_S = 0.005
RACE_MAX_S = 5.0
RECORDINGS_MAX = 1_000


class Sim:
    """The emulator's state and operations. Create inside a running loop; ``await start()``."""

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.clock = SimClock()
        self.tasks = TaskSet("sim")
        self.delivery = Delivery(config, self.clock, self.tasks)
        self.pacer = MediaPacer(self.clock, self.tasks)
        self.bridging = Bridging(self)
        self.library = AudioLibrary()
        self.stats = SimStats()
        self.legs: OrderedDict[str, Leg] = OrderedDict()
        self.bridges: OrderedDict[str, Bridge] = OrderedDict()
        self.recordings: OrderedDict[str, bytes] = OrderedDict()
        self.base_url = ""
        self._counters: dict[str, int] = {}
        self._dials: dict[str, int] = {}
        self._agent_free_at: dict[str, float] = {}
        self._race_rng = random.Random(f"{config.seed}:race")
        self.active_legs = 0
        self.active_streams = 0

    async def start(self) -> None:
        await self.delivery.start()

    async def close(self) -> None:
        """Stop every stream (``stop`` with ``callended``), then cancel and await every task."""
        for leg in list(self.legs.values()):
            if leg.stream is not None:
                leg.stream.request_stop("callended")
        await asyncio.gather(*(leg.tasks.close() for leg in list(self.legs.values())),
                             *(bridge.tasks.close() for bridge in list(self.bridges.values())))
        await self.tasks.close()
        await self.delivery.close()

    # -- identifiers and events ----------------------------------------------------------
    def new_sid(self, prefix: str) -> str:
        """A sid from the seed and a counter per kind (legs, events, actions ... count apart),
        so the same requests under the same seed get the same sids."""
        n = self._counters.get(prefix, 0) + 1
        self._counters[prefix] = n
        digest = hashlib.sha1(f"{self.config.seed}:{prefix}:{n}".encode()).hexdigest()
        return f"{prefix}{digest[:32 - len(prefix)]}"

    def leg_data(self, leg: Leg) -> dict[str, Any]:
        """``data`` of a leg event: the leg as it is now, with only the fields Exotel documents
        (docs/exotel.md section 3); ``custom_param`` too with the lenient ``event_custom_param``."""
        data: dict[str, Any] = {
            "leg_sid": leg.sid,
            "account_sid": self.config.account_sid,
            "contact_uri": leg.req.contact_uri,
            "exophone": leg.req.exophone,
            "state": leg.state.value,
            "start_time": rfc3339(leg.created_epoch),
            "end_time": rfc3339(self._epoch(leg.ended_ms)),
            "date_created": rfc3339(leg.created_epoch),
            "date_updated": rfc3339(leg.updated_epoch or leg.created_epoch),
        }
        if self.config.event_custom_param:
            data["custom_param"] = leg.custom_param
        return data

    def _epoch(self, ms: float | None) -> float | None:
        return None if ms is None else self.clock.epoch(ms)

    def leg_event(
        self, leg: Leg, name: str, event_data: dict[str, Any] | None = None,
        action_sid: str = "", action_param: str = "",
    ) -> None:
        """Emit one event of ``leg`` to its ``leg_event_endpoint``."""
        sid = self.new_sid("EV")
        payload = build_event(
            event_sid=sid, name=name, now_epoch_s=self.clock.epoch(), data=self.leg_data(leg),
            event_data=event_data, action_sid=action_sid, action_custom_parameter=action_param,
        )
        leg.last_delivery = self.delivery.emit(Event(sid, name, leg.endpoint, leg.sid, payload))
        self.note(leg, f"event {name}")

    def bridge_event(
        self, bridge: Bridge, name: str, leg: Leg | None = None,
        event_data: dict[str, Any] | None = None, action_sid: str = "", action_param: str = "",
    ) -> None:
        """Emit a bridge event to ``bridge_event_endpoint`` (the first leg's endpoint if the
        bridge was created without one)."""
        data = self.leg_data(leg or bridge.legs[0])
        # not documented for bridge events: the bridge and its legs (the events name nothing
        # else that tells which bridge they are about)
        data["bridge_sid"] = bridge.sid
        data["leg_sids"] = [x.sid for x in bridge.legs]
        data["bridge_state"] = bridge.state.value
        sid = self.new_sid("EV")
        payload = build_event(
            event_sid=sid, name=name, now_epoch_s=self.clock.epoch(), data=data,
            event_data=event_data, action_sid=action_sid, action_custom_parameter=action_param,
        )
        endpoint = bridge.endpoint or bridge.legs[0].endpoint
        self.delivery.emit(Event(sid, name, endpoint, bridge.sid, payload))

    def note(self, leg: Leg, what: str) -> None:
        """Add a line to the leg's history (``GET /sim/legs/{sid}``), bounded."""
        if len(leg.history) < HISTORY_MAX:
            leg.history.append({"at_ms": round(self.clock.now_ms()), "what": what})

    # -- legs ----------------------------------------------------------------------------
    def leg(self, sid: str) -> Leg:
        try:
            return self.legs[sid]
        except KeyError:
            raise NotFound(f"leg {sid} not found") from None

    def create_leg(self, cmd: CreateLeg) -> Leg:
        """``POST /legs``: the leg starts dialling in the background."""
        exophones = self.config.exophones
        if exophones and cmd.exophone not in exophones:
            raise BadRequest(
                f"exophone: {cmd.exophone} is not an ExoPhone of account "
                f"{self.config.account_sid} ({', '.join(exophones)})",
                field="exophone",
            )
        if self.active_legs >= self.config.channel_limit:
            self.stats.count("channel_limit_rejections")
            raise RateLimited(f"channel limit of {self.config.channel_limit} legs reached")
        if cmd.reference_leg_sid and cmd.reference_leg_sid not in self.legs:
            raise NotFound(f"reference_leg_sid: leg {cmd.reference_leg_sid} not found")
        contact = cmd.contact_uri
        n = self._dials.get(contact, 0)
        self._dials[contact] = n + 1
        agent = self.config.agents.get(contact)
        sid = self.new_sid("")
        now = self.clock.now_ms()
        leg = Leg(
            sid=sid, req=cmd, kind="agent" if agent else "customer",
            customer=None if agent else self.config.customer(contact), agent=agent,
            rng=random.Random(f"{self.config.seed}:{contact}:{n}"),
            timeline=PartyTimeline(name=sid), tasks=TaskSet(f"leg:{sid}"),
            created_ms=now, created_epoch=self.clock.epoch(now),
            custom_param=cmd.custom_param, endpoint=cmd.leg_event_endpoint,
            time_limit=cmd.time_limit,
        )
        if agent is not None:
            leg.agent_busy = now < self._agent_free_at.get(contact, float("-inf"))
            if not leg.agent_busy:
                self._agent_free_at[contact] = float("inf")  # on this call until it ends
        self.legs[sid] = leg
        self.active_legs += 1
        self._evict()
        self.note(leg, f"created for {contact} ({leg.kind})")
        leg.tasks.spawn(world.run_leg(self, leg), "lifecycle")
        return leg

    def races(self) -> bool:
        """Draw (seeded) whether a new leg's first events beat its create-leg response."""
        share = self.config.race_share
        return share > 0 and self._race_rng.random() < share

    async def race_ahead(self, leg: Leg) -> None:
        """Hold the create-leg response until the leg's first events have been delivered:
        until it rings (or ends), plus ``race_window_ms`` for an answer, and until the
        delivery of its latest event is over. Bounded by ``RACE_MAX_S``."""
        window = self.config.race_window_ms

        async def settle() -> None:
            await _until(lambda: leg.state not in (LegState.CREATED, LegState.CONNECTING))
            rang = self.clock.now_ms()
            await _until(lambda: leg.state is not LegState.RINGING
                         or self.clock.now_ms() - rang >= window)
            await _until(lambda: leg.last_delivery is None
                         or leg.last_delivery.outcome != "pending")

        try:
            async with asyncio.timeout(RACE_MAX_S):
                await settle()
        except TimeoutError:
            pass
        self.stats.count("raced_creates")
        self.note(leg, "create response sent after the first events")

    def _evict(self) -> None:
        while len(self.legs) > self.config.max_legs_kept:
            for sid, old in self.legs.items():
                if not old.live:
                    del self.legs[sid]
                    break
            else:
                return

    def leg_input(self, leg: Leg, inp: LegInput, reason: str = "") -> None:
        """Feed the leg's state machine and emit the matching lifecycle event."""
        leg.state, terminal = leg_transition(leg.state, inp)
        leg.updated_epoch = self.clock.epoch()
        if leg.state is LegState.CONNECTING:
            self.leg_event(leg, "leg_connecting")
        elif leg.state is LegState.RINGING:
            self.leg_event(leg, "leg_ringing")
        elif leg.state is LegState.ANSWERED:
            leg.answered_ms = self.clock.now_ms()
            self.leg_event(leg, "leg_answered")
        elif terminal is not None:
            leg.terminal = terminal
            leg.reason = reason or terminal.value
            self._terminated(leg)

    def hangup(self, leg: Leg, reason: str) -> None:
        """End ``leg`` (an API hang-up, or the simulated party hanging up)."""
        check_leg_action(leg.sid, leg.state, LegCommand.HANGUP)
        inp = LegInput.HANGUP if leg.state is LegState.ANSWERED else LegInput.CANCEL
        self.leg_input(leg, inp, reason)

    def _terminated(self, leg: Leg) -> None:
        now = self.clock.now_ms()
        leg.ended_ms = now
        self.active_legs -= 1
        if leg.agent is not None and not leg.agent_busy:
            self._agent_free_at[leg.req.contact_uri] = now + leg.agent.wrap_ms
        leg.timeline.hush(now)
        for playback in (leg.say, leg.play, leg.hold):
            if playback is not None:
                playback.stop(emit=False, at=now)
        leg.say = leg.play = leg.hold = None
        if leg.bridge is not None:
            self.end_bridge(leg.bridge, f"{leg.sid} hung up")
        if leg.recording is not None:
            self._stop_leg_recording(leg, "")
        keep: set[asyncio.Task[Any]] = set()
        if leg.stream is not None:
            leg.stream.request_stop("callended")
            leg.stream.report_stopped()
            if leg.stream.task is not None:
                keep.add(leg.stream.task)
        duration = 0 if leg.answered_ms is None else round((now - leg.answered_ms) / 1000)
        self.leg_event(leg, "leg_terminated", {
            "terminal_status": leg.terminal.value if leg.terminal else "",
            "termination_reason": leg.reason,
            "duration": duration,
        })
        leg.ended.set()
        leg.tasks.cancel_all(keep)

    def update_leg(self, leg: Leg, cmd: UpdateLeg) -> None:
        check_leg_action(leg.sid, leg.state, LegCommand.UPDATE)
        if cmd.custom_param is not None:
            leg.custom_param = cmd.custom_param
        if cmd.time_limit is not None:
            leg.time_limit = cmd.time_limit
        if cmd.leg_event_endpoint is not None:
            leg.endpoint = cmd.leg_event_endpoint
        leg.updated_epoch = self.clock.epoch()
        self.note(leg, "updated")

    # -- leg actions ---------------------------------------------------------------------
    def leg_verbs(self, leg: Leg, verbs: tuple[Verb, ...], param: str) -> str:
        """Run ExoML verbs (or one shortcut) on ``leg``; all are checked before any runs."""
        actions = [(verb, _VERB_ACTIONS[verb.name]) for verb in verbs]
        for _verb, action in actions:
            check_leg_action(leg.sid, leg.state, action)
        for verb, action in actions:
            if action is LegCommand.START_STREAM and leg.stream is not None:
                raise StateConflict(f"leg {leg.sid} already has an active stream")
            if action is LegCommand.START_STREAM and \
                    self.active_streams >= self.config.stream_throttle:
                self.stats.count("stream_throttle_rejections")
                raise RateLimited(f"stream throttle of {self.config.stream_throttle} reached")
            if action is LegCommand.START_RECORDING and leg.recording is not None:
                raise StateConflict(f"leg {leg.sid} is already recording")
            del verb
        action_sid = self.new_sid("AC")
        for verb, action in actions:
            self._leg_action(leg, verb, action, action_sid, param)
        return action_sid

    def _leg_action(
        self, leg: Leg, verb: Verb, action: LegCommand, action_sid: str, param: str
    ) -> None:
        self.note(leg, f"action {verb.name}")
        if self.config.event_custom_param:
            # lenient: an action without its own custom parameter reports the leg's one
            param = param or leg.custom_param

        def emit(name: str, data: dict[str, Any]) -> None:
            self.leg_event(leg, name, data, action_sid, param)

        cmd = verb.command
        if action is LegCommand.HANGUP:
            self.hangup(leg, "api_hangup")
        elif action is LegCommand.START_STREAM:
            assert isinstance(cmd, StartStream)
            from exotel_sim.stream_client import StreamClient

            client = StreamClient(self, leg, cmd, action_sid, param, self.new_sid("MZ"))
            leg.stream = client
            self.active_streams += 1
            client.task = leg.tasks.spawn(client.run(), "stream")
        elif action is LegCommand.STOP_STREAM:
            if leg.stream is not None:
                leg.stream.request_stop("stopped", action_sid, param)
        elif action in (LegCommand.START_SAY, LegCommand.START_PLAY):
            assert isinstance(cmd, (StartSay, StartPlay))
            self.start_playback(leg, cmd, action_sid, emit, [leg.timeline], leg.tasks)
        elif action in (LegCommand.STOP_SAY, LegCommand.STOP_PLAY):
            self.stop_playback(leg, "say" if action is LegCommand.STOP_SAY else "play")
        elif action is LegCommand.HOLD:
            if leg.hold is None:
                leg.hold = Playback("play", "hold_music", [leg.timeline], action_sid,
                                    lambda n, d: None, self.clock)
                leg.hold.begin(self.library.fixture("hold_music"), 100, leg.tasks)
        elif action is LegCommand.UNHOLD:
            if leg.hold is not None:
                leg.hold.stop(emit=False)
                leg.hold = None
        elif action in (LegCommand.MUTE, LegCommand.UNMUTE):
            leg.muted = action is LegCommand.MUTE
        elif action is LegCommand.SEND_DIGITS:
            assert isinstance(cmd, str)
            self._send_digits(leg, cmd)
        elif action is LegCommand.START_RECORDING:
            leg.recording = Recording(self.new_sid("RE"), leg.sid, self.clock.now_ms(),
                                      action_sid, param)
            leg.timeline.keep_stream_audio = True
            leg.timeline.stream_audio_max_ms = self.config.keep_stream_audio_s * 1000.0
            emit("recording_started", {"recording_sid": leg.recording.sid})
        elif action is LegCommand.STOP_RECORDING:
            self._stop_leg_recording(leg, action_sid)

    def start_playback(
        self, owner: Leg | Bridge, cmd: StartSay | StartPlay, action_sid: str,
        emit: EmitFn, ears: list[PartyTimeline], tasks: TaskSet,
    ) -> Playback:
        """Start a say or play for ``owner`` (a leg or a bridge), replacing the running one."""
        kind = "say" if isinstance(cmd, StartSay) else "play"
        self.stop_playback(owner, kind)
        if isinstance(cmd, StartSay):
            clip = self.library.say_clip(cmd.text)
            playback = Playback("say", clip, ears, action_sid, emit, self.clock)
            playback.begin(self.library.fixture(clip), cmd.loop, tasks)
            owner.say = playback
            return playback
        playback = Playback("play", play_detail(cmd.url), ears, action_sid, emit, self.clock)
        loops = cmd.loop

        def failed(reason: str) -> None:
            playback.done = True
            self.stats.count("play_fetch_failures")
            emit("play_failed_to_start", {"status": "failed", "reason": reason})

        def ok(pcm: bytes) -> None:
            if not playback.done:
                playback.begin(pcm, loops, tasks)

        tasks.spawn(
            fetch_then(self.library.fetch(self.delivery.session, cmd.url), ok, failed), "fetch"
        )
        owner.play = playback
        return playback

    def stop_playback(self, owner: Leg | Bridge, kind: str) -> Playback | None:
        """Stop ``owner``'s say or play (no-op when none is running)."""
        playback = owner.say if kind == "say" else owner.play
        if playback is None:
            return None
        playback.stop()
        if kind == "say":
            owner.say = None
        else:
            owner.play = None
        return playback

    def _send_digits(self, leg: Leg, digits: str) -> None:
        at = self.clock.now_ms()
        for d in digits:
            if d == "w":
                at += 500
                continue
            name = {"*": "dtmf_star", "#": "dtmf_hash"}.get(d, f"dtmf_{d}")
            pcm = self.library.fixture(name)
            leg.timeline.hear("dtmf", name, at, at + len(pcm) / 16, pcm)
            at += len(pcm) / 16 + 100

    def _stop_leg_recording(self, leg: Leg, action_sid: str) -> None:
        rec = leg.recording
        if rec is None:
            return
        leg.recording = None
        leg.timeline.keep_stream_audio = False
        rec.end_ms = self.clock.now_ms()
        pieces = leg.timeline.ear_pieces() + leg.timeline.speech_pieces()
        self.store_recording(rec, mix(pieces, rec.start_ms, rec.end_ms))
        url = self.recording_url(rec.sid)
        data = {"recording_sid": rec.sid, "url": url, "status": "completed",
                "duration_ms": round(rec.end_ms - rec.start_ms)}
        self.leg_event(leg, "recording_stopped", data, action_sid or rec.action_sid,
                       rec.custom_param)
        self.leg_event(leg, "recording_available", data, rec.action_sid, rec.custom_param)

    def recording_url(self, sid: str) -> str:
        return f"{self.base_url}/sim/recordings/{sid}.wav"

    def store_recording(self, rec: Recording, pcm: bytes) -> None:
        self.recordings[rec.sid] = wav_bytes(pcm)
        while len(self.recordings) > RECORDINGS_MAX:
            self.recordings.popitem(last=False)

    # -- streams (called by StreamClient) ------------------------------------------------
    def stream_ended(self, leg: Leg, client: LegStream) -> None:
        if leg.stream is client:
            leg.stream = None
        self.active_streams -= 1
        leg.streams.append(client.summary())

    # -- bridges -------------------------------------------------------------------------
    def bridge(self, sid: str) -> Bridge:
        try:
            return self.bridges[sid]
        except KeyError:
            raise NotFound(f"bridge {sid} not found") from None

    def create_bridge(self, cmd: CreateBridge) -> Bridge:
        """``POST /bridges`` (see :class:`~exotel_sim.bridges.Bridging`)."""
        return self.bridging.create(cmd)

    def end_bridge(self, bridge: Bridge, reason: str) -> None:
        self.bridging.end(bridge, reason)

    def bridge_verbs(self, bridge: Bridge, verbs: tuple[Verb, ...], param: str) -> str:
        return self.bridging.verbs(bridge, verbs, param)

    def bridge_shortcut(self, bridge: Bridge, name: str, cmd: Any, param: str) -> str:
        return self.bridging.shortcut(bridge, name, cmd, param)

    # -- shortcuts used by the API -------------------------------------------------------
    def leg_shortcut(self, leg: Leg, name: str, cmd: Any, param: str) -> str:
        """``POST /legs/{sid}/actions/{name}``."""
        verb = _SHORTCUTS.get(name)
        if verb is None:
            raise NotFound(f"unknown leg action {name!r}")
        return self.leg_verbs(leg, (Verb(verb, cmd),), param)

async def _until(done: Callable[[], bool]) -> None:
    """Poll the emulator's own state every few ms until ``done()``."""
    while True:
        if done():
            return
        await asyncio.sleep(RACE_POLL_S)


_VERB_ACTIONS: dict[str, LegCommand] = {
    "hangup": LegCommand.HANGUP,
    "startstream": LegCommand.START_STREAM,
    "stopstream": LegCommand.STOP_STREAM,
    "startsay": LegCommand.START_SAY,
    "stopsay": LegCommand.STOP_SAY,
    "startplay": LegCommand.START_PLAY,
    "stopplay": LegCommand.STOP_PLAY,
    "startrecording": LegCommand.START_RECORDING,
    "stoprecording": LegCommand.STOP_RECORDING,
    "hold": LegCommand.HOLD,
    "unhold": LegCommand.UNHOLD,
    "mute": LegCommand.MUTE,
    "unmute": LegCommand.UNMUTE,
    "senddigits": LegCommand.SEND_DIGITS,
}
_SHORTCUTS: dict[str, str] = {
    "start_stream": "startstream", "stop_stream": "stopstream",
    "start_say": "startsay", "stop_say": "stopsay",
    "start_play": "startplay", "stop_play": "stopplay",
    "start_recording": "startrecording", "stop_recording": "stoprecording",
    "hangup": "hangup", "hold": "hold", "unhold": "unhold", "mute": "mute", "unmute": "unmute",
}
