"""A fake Exotel in memory on a virtual clock, for fast, deterministic call-flow tests.

* :class:`~dialer.virtual_time.VirtualTimeLoop` (re-exported here) is an asyncio event loop
  whose clock jumps to the next timer whenever nothing is ready to run. Everything on the loop
  shares it: the runner's timers (its :class:`~dialer.ports.Clock` port is the loop's clock),
  ``asyncio.sleep``, ``asyncio.timeout``, the fake's scripted delays. :func:`run_virtual` runs
  a coroutine on one; a 20 s ring timeout takes microseconds, and the order of what happens is
  fixed by the script.
* :class:`FakeExotel` implements the :class:`~dialer.ports.ExotelApi` port in memory: legs and
  their lifecycle events, actions (say, play, stream, hang-up) and their events, bridges and
  recordings, ``GET /legs/{sid}``. Each number dialled follows a :class:`Party` script (answer
  after N ms, busy, no answer, an answering machine; then waits, DTMF, hang-ups); events can
  beat the ``202`` of their create and can come twice. Events are delivered as Exotel's JSON
  bodies to the dialer's intake (parsing and de-duplication are the real ones).
* :func:`fake_dialer` starts a :class:`~dialer.service.Dialer` on the fake.

The wire (HTTP, gRPC, WebSocket) is not here: tests of it run over real sockets against
``exotel_sim``. What the fake hears is kept per leg (:attr:`FakeLeg.heard`) so a test can check
that the customer never heard two voices at once.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from dialer.errors import ExotelApiError, ExotelTransportError
from dialer.exotel_client import ClientStats
from dialer.virtual_time import VirtualTimeLoop, run_virtual

EventSink = Callable[[dict[str, Any]], object]
__all__ = ["FakeExotel", "FakeLeg", "Heard", "Party", "VirtualTimeLoop", "fake_dialer",
           "run_virtual"]


# -- scripts -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Party:
    """How the person at a number behaves. ``outcome``: ``answer``, ``machine``, ``busy``,
    ``failed`` or ``no-answer`` (rings until the leg's ``ring_timeout``). ``script`` runs from
    the answer, ``bridge_script`` from the moment the leg joins a bridge; steps are
    ``"wait MS"``, ``"hangup"``, ``"dtmf D"`` (reaches the dialer only while a stream is up, as
    through the gateway) and ``"bot_hangup"`` (the bot ends the call through the control hook)."""

    outcome: str = "answer"
    ring_ms: float = 200.0
    script: tuple[str, ...] = ("wait 600000",)
    bridge_script: tuple[str, ...] = ("wait 600000",)
    amd_ms: float = 300.0

    def __post_init__(self) -> None:
        if self.outcome not in ("answer", "machine", "busy", "failed", "no-answer"):
            raise ValueError(f"unknown outcome {self.outcome!r}")


@dataclass(slots=True)
class Heard:
    """One piece of audio on a leg: ``source`` is ``say``, ``play`` or ``stream``."""

    source: str
    start: float
    end: float | None = None  # None: still playing


@dataclass(slots=True)
class FakeLeg:
    sid: str
    contact_uri: str
    custom_param: str
    reference_leg_sid: str
    ring_timeout: int | None
    endpoint: str
    party: Party
    state: str = "created"
    terminal_status: str = ""
    answered_at: float | None = None
    ended_at: float | None = None
    stream: str = ""  # stream sid while a stream is up
    stream_param: str = ""
    bot_may_speak: bool = False  # the dialer said the greeting stopped (the gateway's gate)
    bridge: str = ""
    playing: dict[str, tuple[Heard, asyncio.TimerHandle | None, str, str]] = field(
        default_factory=dict)  # kind -> (heard, completion timer, action sid, param)
    heard: list[Heard] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def live(self) -> bool:
        return self.state not in ("created", "terminated")

    def overlaps(self) -> list[tuple[Heard, Heard]]:
        """Pairs of audio pieces heard at the same time (the customer heard two voices)."""
        out = []
        for a, b in itertools.combinations(self.heard, 2):
            a_end = a.end if a.end is not None else float("inf")
            b_end = b.end if b.end is not None else float("inf")
            if a.start < b_end and b.start < a_end and a_end > a.start and b_end > b.start:
                out.append((a, b))
        return out


@dataclass(slots=True)
class FakeBridge:
    sid: str
    legs: tuple[str, str]
    endpoint: str
    state: str = "active"
    recording: str = ""


# -- the fake ----------------------------------------------------------------------------------


class FakeExotel:
    """Exotel's Legs and Bridges API in memory (the :class:`~dialer.ports.ExotelApi` port)."""

    base = "fake://exotel"

    def __init__(
        self,
        parties: dict[str, Party] | None = None,
        *,
        rest_ms: float = 10.0,
        event_ms: float = 5.0,
        setup_ms: float = 50.0,
        say_ms_per_char: float = 40.0,
        play_ms: float = 2000.0,
        stream_connect_ms: float = 20.0,
        stream_tail_ms: float = 2.0,
        stream_outcome: Callable[[str], str] = lambda url: "ok",
        duplicate_events: bool = False,
        create_answers_after_ms: float = 0.0,
        list_legs: bool = False,
        lost_events: frozenset[str] = frozenset(),
    ) -> None:
        self.parties = dict(parties or {})
        self.rest_ms, self.event_ms, self.setup_ms = rest_ms, event_ms, setup_ms
        self.say_ms_per_char, self.play_ms = say_ms_per_char, play_ms
        self.stream_connect_ms = stream_connect_ms
        # bot audio already on its way when a stop_stream acts still plays out (the chunk
        # playing finishes): audio started in the same instant overlaps it
        self.stream_tail_ms = stream_tail_ms
        self.stream_outcome = stream_outcome  # url -> "ok", "fail" or "hang" (never starts)
        self.duplicate_events = duplicate_events
        self.create_answers_after_ms = create_answers_after_ms  # events beat the 202
        self.supports_list_legs = list_legs
        self.lost_events = lost_events  # event names never delivered (lost on the way)
        self.unreachable = False  # True: every GET fails as a refused connection would
        self.legs: dict[str, FakeLeg] = {}
        self.bridges: dict[str, FakeBridge] = {}
        self.requests: list[str] = []  # "POST /legs", "start_say LG1", ... in order
        self.stats = ClientStats()
        self.sink: EventSink = lambda body: None
        self.on_dtmf: Callable[[FakeLeg, str], None] = lambda leg, digit: None
        self.on_bot_hangup: Callable[[FakeLeg], None] = lambda leg: None
        self._ids = itertools.count(1)

    def attach(self, sink: EventSink) -> None:
        """Deliver events to ``sink`` (the dialer's ``intake.submit``)."""
        self.sink = sink

    # -- helpers ---------------------------------------------------------------------------

    def _sid(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):06d}"

    @staticmethod
    def _now() -> float:
        return asyncio.get_running_loop().time()

    async def _rest(self, what: str) -> None:
        """A request on its way: half the REST latency before it acts, half after (as the
        emulator's)."""
        self.stats.requests += 1
        self.requests.append(what)
        await self._half()

    async def _half(self) -> None:
        await asyncio.sleep(self.rest_ms / 2000)

    def _later(self, ms: float, fn: Callable[[], None]) -> asyncio.TimerHandle:
        return asyncio.get_running_loop().call_later(ms / 1000, fn)

    def _leg(self, leg_sid: str, method: str, path: str) -> FakeLeg:
        leg = self.legs.get(leg_sid)
        if leg is None:
            raise ExotelApiError(404, {"message": f"no leg {leg_sid}"}, method, path)
        return leg

    def _data(self, leg: FakeLeg) -> dict[str, Any]:
        return {"leg_sid": leg.sid, "account_sid": "ACfake", "contact_uri": leg.contact_uri,
                "exophone": "+918000000000", "state": leg.state}

    def _emit(self, leg: FakeLeg, name: str, event_data: dict[str, Any] | None = None,
              action_sid: str = "", param: str = "", bridge: FakeBridge | None = None) -> None:
        data = self._data(leg)
        if bridge is not None:
            data |= {"bridge_sid": bridge.sid, "leg_sids": list(bridge.legs),
                     "bridge_state": bridge.state}
        body = {"event_sid": self._sid("EV"), "event_type": _event_type(name),
                "event_name": name, "event_timestamp": None, "action_sid": action_sid,
                "action_custom_parameter": param, "event_data": dict(event_data or {}),
                "data": data}
        for _ in range(2 if self.duplicate_events else 1):
            self._later(self.event_ms, lambda b=body: self._deliver(b))  # type: ignore[misc]

    def _deliver(self, body: dict[str, Any]) -> None:
        if body.get("event_name") in self.lost_events:
            return
        try:
            self.sink(body)
        except Exception:  # the intake logs and counts; a fake never stops on it
            pass

    def _spawn(self, leg: FakeLeg, coro: Awaitable[None]) -> None:
        leg.tasks.append(asyncio.ensure_future(coro))

    # -- legs ------------------------------------------------------------------------------

    async def create_leg(
        self, contact_uri: str, exophone: str, leg_event_endpoint: str, *,
        custom_param: str = "", reference_leg_sid: str = "", time_limit: int | None = None,
        ring_timeout: int | None = None, amd_enable: bool = False, network_type: str = "pstn",
        priority: str = "normal",
    ) -> dict[str, Any]:
        await self._rest("POST /legs")
        if not ((contact_uri.startswith("+") and contact_uri[1:].isdigit())
                or contact_uri.startswith("sip:")):
            raise ExotelApiError(400, {"message": f"bad contact_uri {contact_uri!r}"},
                                 "POST", "/legs")
        party = self.parties.get(contact_uri, Party())
        leg = FakeLeg(self._sid("LG"), contact_uri, custom_param, reference_leg_sid,
                      ring_timeout, leg_event_endpoint, party)
        self.legs[leg.sid] = leg
        self._spawn(leg, self._ring(leg, amd_enable))
        await self._half()
        if self.create_answers_after_ms:
            await asyncio.sleep(self.create_answers_after_ms / 1000)
        return {"leg_sid": leg.sid, "contact_uri": contact_uri, "exophone": exophone,
                "network_type": network_type}

    async def _ring(self, leg: FakeLeg, amd: bool) -> None:
        leg.state = "connecting"
        self._emit(leg, "leg_connecting")
        await asyncio.sleep(self.setup_ms / 1000)
        leg.state = "ringing"
        self._emit(leg, "leg_ringing")
        party = leg.party
        limit = (leg.ring_timeout or 30) * 1000.0
        if party.outcome == "no-answer" or party.ring_ms >= limit:
            await asyncio.sleep(limit / 1000)
            self._terminate(leg, "no-answer")
            return
        await asyncio.sleep(party.ring_ms / 1000)
        if party.outcome in ("busy", "failed"):
            self._terminate(leg, party.outcome)
            return
        leg.state = "answered"
        leg.answered_at = self._now()
        self._emit(leg, "leg_answered")
        if amd:
            self._later(party.amd_ms, lambda: self._amd(leg))
        await self._run(leg, party.script)

    def _amd(self, leg: FakeLeg) -> None:
        if leg.state == "answered":
            result = "machine" if leg.party.outcome == "machine" else "human"
            self._emit(leg, "amd_result_success", {"amd_result": result, "async": False})

    def bot_audio_ok(self, leg_sid: str) -> None:
        """The dialer's ``bot_audio_ok`` for the call on ``leg_sid``: the gateway's greeting
        gate lets the bot's audio out (heard from now, or from the stream's start)."""
        leg = self.legs.get(leg_sid)
        if leg is None:
            return
        leg.bot_may_speak = True
        if leg.stream and not any(h.source == "stream" and h.end is None for h in leg.heard):
            leg.heard.append(Heard("stream", self._now()))

    async def _run(self, leg: FakeLeg, steps: tuple[str, ...], *, bridged: bool = False
                   ) -> None:
        for step in steps:
            verb, _, arg = step.partition(" ")
            if not leg.live or (bool(leg.bridge) != bridged):
                return  # ended, or the bridge script took over (or the bridge ended)
            if verb == "wait":
                await asyncio.sleep(float(arg) / 1000)
            elif verb == "hangup":
                self._terminate(leg, "completed")
            elif verb == "dtmf" and leg.stream:
                self.on_dtmf(leg, arg)
            elif verb == "bot_hangup" and leg.stream:
                self.on_bot_hangup(leg)

    def _terminate(self, leg: FakeLeg, status: str) -> None:
        if not leg.live and leg.state != "created":
            return
        now = self._now()
        for kind in list(leg.playing):
            self._stop_playing(leg, kind, emit=False)
        if leg.stream:
            self._stream_stopped(leg, "stopped", "callended")
        if leg.bridge:
            self._end_bridge(self.bridges[leg.bridge], f"{leg.sid} hung up")
        leg.state = "terminated"
        leg.terminal_status = status
        leg.ended_at = now
        duration = 0 if leg.answered_at is None else round(now - leg.answered_at)
        self._emit(leg, "leg_terminated", {"terminal_status": status,
                                           "termination_reason": status, "duration": duration})
        current = asyncio.current_task()
        for task in leg.tasks:
            if task is not current:
                task.cancel()

    async def get_leg(self, leg_sid: str) -> dict[str, Any]:
        await self._rest(f"GET /legs/{leg_sid}")
        self._reachable(f"/legs/{leg_sid}")
        leg = self._leg(leg_sid, "GET", f"/legs/{leg_sid}")
        duration = None
        if leg.answered_at is not None:
            duration = round((leg.ended_at or self._now()) - leg.answered_at)
        await self._half()
        return self._data(leg) | {"terminal_status": leg.terminal_status or None,
                                  "custom_param": leg.custom_param, "duration": duration}

    def _reachable(self, path: str) -> None:
        if self.unreachable:
            raise ExotelTransportError(f"GET {path}: connection refused (fake Exotel down)")

    async def list_legs(self, **query: str) -> list[dict[str, Any]]:
        await self._rest("GET /legs")
        if not self.supports_list_legs:
            raise ExotelApiError(405, {"message": "no list form"}, "GET", "/legs")
        want = query.get("custom_param")
        await self._half()
        return [self._data(x) | {"custom_param": x.custom_param} for x in self.legs.values()
                if want is None or x.custom_param == want]

    # -- actions ---------------------------------------------------------------------------

    async def leg_action(
        self, leg_sid: str, action: str, body: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        path = f"/legs/{leg_sid}/actions/{action}"
        await self._rest(f"{action} {leg_sid}")
        leg = self._leg(leg_sid, "POST", path)
        if not leg.live or (leg.state != "answered" and action != "hangup"):
            raise ExotelApiError(409, {"message": f"leg {leg.state}"}, "POST", path)
        body = dict(body or {})
        action_sid = self._sid("AC")
        param = str(body.get("action_custom_param", ""))
        leg.actions.append(action)
        if action == "hangup":
            self._terminate(leg, "completed" if leg.answered_at is not None else "canceled")
        elif action in ("start_say", "start_play"):
            self._start_playing(leg, action[6:], body, action_sid, param)
        elif action in ("stop_say", "stop_play"):
            self._stop_playing(leg, action[5:])
        elif action == "start_stream":
            self._spawn(leg, self._connect_stream(leg, str(body.get("url", "")), action_sid,
                                                  param))
        elif action == "stop_stream":
            if leg.stream:
                self._stream_stopped(leg, "stopped", "stopped", action_sid, param,
                                     tail_ms=self.stream_tail_ms)
        else:
            raise ExotelApiError(400, {"message": f"unknown action {action}"}, "POST", path)
        await self._half()
        return {"action_sid": action_sid}

    async def start_stream(
        self, leg_sid: str, url: str, *, direction: str = "bidirectional",
        content_type: str = "audio/x-mulaw;rate=8000",
    ) -> dict[str, Any]:
        return await self.leg_action(leg_sid, "start_stream", {
            "url": url, "direction": direction, "content_type": content_type})

    async def hangup(self, leg_sid: str) -> bool:
        try:
            await self.leg_action(leg_sid, "hangup")
        except ExotelApiError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def _start_playing(self, leg: FakeLeg, kind: str, body: dict[str, Any], action_sid: str,
                       param: str) -> None:
        self._stop_playing(leg, kind)
        if kind == "play" and "missing" in str(body.get("url", "")):
            self._emit(leg, "play_failed_to_start", {"status": "failed"}, action_sid, param)
            return
        once = (len(str(body.get("text", ""))) * self.say_ms_per_char if kind == "say"
                else self.play_ms)
        ms = max(once, 200.0) * max(1, int(body.get("loop", 0) or 0))
        piece = Heard(kind, self._now())
        leg.heard.append(piece)

        def complete() -> None:
            if leg.playing.get(kind, (None,))[0] is piece:
                del leg.playing[kind]
                piece.end = self._now()
                self._emit(leg, f"{kind}_completed", {"status": "completed"}, action_sid, param)

        leg.playing[kind] = (piece, self._later(ms, complete), action_sid, param)
        if kind == "play":
            self._emit(leg, "play_started", {"status": "started"}, action_sid, param)

    def _stop_playing(self, leg: FakeLeg, kind: str, *, emit: bool = True) -> None:
        running = leg.playing.pop(kind, None)
        if running is None:
            return
        piece, timer, action_sid, param = running
        piece.end = self._now()
        if timer is not None:
            timer.cancel()
        if emit:
            name = "play_interrupted" if kind == "play" else "say_completed"
            self._emit(leg, name, {"status": "interrupted"}, action_sid, param)

    async def _connect_stream(self, leg: FakeLeg, url: str, action_sid: str,
                              param: str) -> None:
        await asyncio.sleep(self.stream_connect_ms / 1000)
        sid = self._sid("MZ")
        outcome = self.stream_outcome(url)
        if outcome == "hang":  # the bot's server never completes the handshake
            return
        if outcome == "fail":
            self._emit(leg, "stream_stopped", {"stream_sid": sid, "status": "failed",
                                               "reason": "cannot connect"}, action_sid, param)
            return
        if leg.stream:  # one stream per leg: the old one ends
            self._stream_stopped(leg, "stopped", "replaced")
        leg.stream, leg.stream_param = sid, param
        if leg.bot_may_speak:
            leg.heard.append(Heard("stream", self._now()))
        self._emit(leg, "stream_started", {"stream_sid": sid, "url": url}, action_sid, param)

    def _stream_stopped(self, leg: FakeLeg, status: str, reason: str, action_sid: str = "",
                        param: str = "", *, tail_ms: float = 0.0) -> None:
        for piece in leg.heard:
            if piece.source == "stream" and piece.end is None:
                piece.end = self._now() + tail_ms / 1000
        self._emit(leg, "stream_stopped", {"stream_sid": leg.stream, "status": status,
                                           "reason": reason}, action_sid,
                   param or leg.stream_param)
        leg.stream = leg.stream_param = ""

    # -- bridges ---------------------------------------------------------------------------

    async def create_bridge(
        self, leg_sids: list[str], bridge_event_endpoint: str, *, absorb_dtmf: bool = False
    ) -> dict[str, Any]:
        await self._rest("POST /bridges")
        legs = [self._leg(s, "POST", "/bridges") for s in leg_sids]
        if len(legs) != 2 or any(x.state != "answered" or x.bridge for x in legs):
            raise ExotelApiError(409, {"message": "legs not bridgeable"}, "POST", "/bridges")
        bridge = FakeBridge(self._sid("BR"), (legs[0].sid, legs[1].sid), bridge_event_endpoint)
        self.bridges[bridge.sid] = bridge
        self._emit(legs[0], "bridge_created", bridge=bridge)
        for leg in legs:
            leg.bridge = bridge.sid
            self._emit(leg, "leg_joined_bridge", bridge=bridge)
        for leg in legs:
            self._spawn(leg, self._run(leg, leg.party.bridge_script, bridged=True))
        await self._half()
        return {"bridge_sid": bridge.sid, "leg_sids": list(bridge.legs)}

    async def get_bridge(self, bridge_sid: str) -> dict[str, Any]:
        await self._rest(f"GET /bridges/{bridge_sid}")
        self._reachable(f"/bridges/{bridge_sid}")
        bridge = self.bridges.get(bridge_sid)
        if bridge is None:
            raise ExotelApiError(404, {"message": "no bridge"}, "GET", f"/bridges/{bridge_sid}")
        await self._half()
        return {"bridge_sid": bridge.sid, "state": bridge.state, "leg_sids": list(bridge.legs)}

    async def start_recording(self, bridge_sid: str) -> dict[str, Any]:
        await self._rest(f"record {bridge_sid}")
        bridge = self.bridges.get(bridge_sid)
        if bridge is None or bridge.state != "active":
            raise ExotelApiError(409, {"message": "bridge not active"}, "POST", "/bridges")
        bridge.recording = self._sid("RE")
        self._emit(self.legs[bridge.legs[0]], "recording_started",
                   {"recording_sid": bridge.recording}, param="record", bridge=bridge)
        await self._half()
        return {"action_sid": self._sid("AC")}

    def _end_bridge(self, bridge: FakeBridge, reason: str) -> None:
        if bridge.state != "active":
            return
        bridge.state = "terminated"
        first = self.legs[bridge.legs[0]]
        if bridge.recording:
            data = {"recording_sid": bridge.recording, "status": "completed",
                    "url": f"http://fake.exotel/recordings/{bridge.recording}.wav"}
            self._emit(first, "recording_stopped", data, param="record", bridge=bridge)
            self._emit(first, "recording_available", data, param="record", bridge=bridge)
        for sid in bridge.legs:
            self.legs[sid].bridge = ""
            self._emit(self.legs[sid], "leg_left_bridge", bridge=bridge)
        self._emit(first, "bridge_terminal", {"reason": reason}, bridge=bridge)

    async def close(self) -> None:
        for leg in self.legs.values():
            for task in leg.tasks:
                task.cancel()


def _event_type(name: str) -> str:
    if (name.startswith("leg_") and name not in ("leg_joined_bridge", "leg_left_bridge")) or (
        name == "amd_result_success"
    ):
        return "leg_lifecycle_event"
    if name.startswith("bridge_") or name in ("leg_joined_bridge", "leg_left_bridge"):
        return "bridge_lifecycle_event"
    return "leg_action_event"


# -- a dialer on the fake ----------------------------------------------------------------------


@asynccontextmanager
async def fake_dialer(fake: FakeExotel, **config: Any) -> AsyncIterator[Any]:
    """A running :class:`~dialer.service.Dialer` on ``fake`` (config: ``DialerConfig`` fields).
    A ``dtmf`` step reaches the call as the gateway's escalation digit does (a transfer,
    reason ``dtmf``); ``bot_hangup`` as the bot's hang-up through the control hook."""
    from dialer.config import DialerConfig
    from dialer.flows import HangupRequest, Transfer
    from dialer.progress import BotAudioOk, ProgressEvent
    from dialer.service import Dialer

    config.setdefault("api_base", fake.base)
    config.setdefault("event_endpoint", "http://127.0.0.1:0/exotel/events")
    config.setdefault("stream_url", "wss://gateway.invalid")
    for key, name in (("greeting_url", "greeting"), ("hold_url", "hold"),
                      ("agent_hold_url", "agent_hold")):
        config.setdefault(key, f"https://audio.invalid/{name}.wav")
    dialer = Dialer(DialerConfig(**config), client=fake, clock=asyncio.get_running_loop().time)
    fake.attach(dialer.intake.submit)

    def by_leg(leg: FakeLeg) -> Any:
        for call_id in list(dialer._calls):
            runner = dialer.runner(call_id)
            if runner is not None and runner.flow.customer_leg == leg.sid:
                return runner
        return None

    def dtmf(leg: FakeLeg, digit: str) -> None:
        runner = by_leg(leg)
        if runner is not None and digit == "0":
            runner.deliver(Transfer("dtmf", ()))

    def bot_hangup(leg: FakeLeg) -> None:
        runner = by_leg(leg)
        if runner is not None:
            runner.deliver(HangupRequest("bot_done"))

    def progress(ev: ProgressEvent) -> None:
        if isinstance(ev, BotAudioOk):
            runner = dialer.runner(ev.call_id)
            if runner is not None:
                fake.bot_audio_ok(runner.flow.customer_leg)

    fake.on_dtmf, fake.on_bot_hangup = dtmf, bot_hangup
    dialer.subscribe(progress)
    async with dialer:
        yield dialer
