"""The thin async driver of one call: feeds its :class:`~dialer.flows.CallFlow`, runs commands.

One :class:`CallRunner` per call, started by :class:`~dialer.service.Dialer`, which hands it
its ports (:class:`~dialer.ports.CallPorts`: the Exotel API, the agent desk, the progress sink,
the leg registry, the clock), never itself. It reads its
bounded inbox (events routed to this call, command results, control requests, timers), feeds
each item to the flow and executes the commands the flow returns:

* Exotel requests run as tasks of the call's own ``asyncio.TaskGroup`` (so the stream and the
  greeting go out concurrently); their results come back through the inbox;
* agent-pool operations and progress notifications run inline;
* timers are handles of the clock port (``loop.call_later`` by default, virtual time in
  :mod:`dialer.testing`), cancelled with the call.

When the flow emits ``Finish`` the runner fetches ``GET /legs/{sid}`` (the customer's leg and
an on-demand agent's), builds the :class:`~dialer.records.CallRecord`, stores it (and queues
the CRM push) and resolves the call's handle. Nothing that goes wrong inside one call escapes
to another: unexpected errors end the call with disposition ``failed`` and are logged with its
id.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from dialer import live_state
from dialer.confirm import EventConfirmer
from dialer.errors import CreateLegUncertain, ExotelApiError, ExotelError
from dialer.events import BridgeLifecycle, ExotelEvent
from dialer.flows import (
    ActionFailed,
    AgentOffered,
    AgentOnCall,
    BridgeCreated,
    CallFlow,
    CancelTimer,
    Command,
    CreateBridge,
    CreateLeg,
    Finish,
    FlowInput,
    Hangup,
    LegCreated,
    NoAgentFree,
    Notify,
    PickAgent,
    PlaceCall,
    ReleaseAgent,
    SetTimer,
    StartPlay,
    StartRecording,
    StartSay,
    StartStream,
    StopPlay,
    StopSay,
    StopStream,
    TimerFired,
)
from dialer.flows import Timer as FlowTimer
from dialer.progress import BOT_AUDIO_OK
from dialer.records import CallRecord, compute_latencies
from dialer.uncertain import ADOPTED, HUNG_UP, LOST, same_number
from dialer.watchdog import CallWatchdog
from voxgate_shared import logs

if TYPE_CHECKING:
    from dialer.call_request import CallRequest
    from dialer.ports import CallPorts, Timer

log = logging.getLogger(__name__)

INBOX_SIZE = 512
DRAINED = "_drained"  # internal wake-up once the last request of an ended call returned


class CallRunner:
    """Drives one call. Create through :meth:`Dialer.place_call`; never share between calls."""

    def __init__(self, ports: CallPorts, request: CallRequest, flow: CallFlow) -> None:
        self.ports = ports
        self.request = request
        self.flow = flow
        self.call_id = request.call_id
        self.inbox: asyncio.Queue[FlowInput] = asyncio.Queue(INBOX_SIZE)
        self.record: CallRecord | None = None
        self.done = asyncio.Event()
        self.dropped = 0
        self._timers: dict[str, Timer] = {}
        self._pending: deque[FlowInput] = deque()
        self._inflight = 0  # Exotel requests running
        self._awaiting: tuple[CreateLeg, asyncio.Future[str]] | None = None
        self.create_uncertain = ""  # what became of a create that timed out (record.custom)
        self._stream_stops: dict[str, asyncio.Event] = {}  # leg -> its stop_stream in flight
        self._tg: asyncio.TaskGroup | None = None
        # events that disagree with the call's state wait for GET /legs/{sid} (dialer.confirm)
        self.confirmer = EventConfirmer(self.call_id, ports.api, self.deliver,
                                        ports.confirm_stats,
                                        ports.settings.event_confirm_timeout, ports.reopen_leg)
        # no Exotel event for longer than the stage allows: GET /legs/{sid} (dialer.watchdog)
        self.watchdog = CallWatchdog(self.call_id, flow, ports.api, ports.clock, ports.stats,
                                     self.deliver)
        self._t0 = ports.clock.now()
        self._wall0 = time.time()
        self.last_event_at = 0.0  # monotonic time the last routed event was put in the inbox
        self.truncated_params: tuple[str, ...] = ()  # stream params shortened to fit the URL
        self._no_skill_logged = False
        self._persisted: dict[str, Any] | None = None  # the live state last written

    # -- inbox ----------------------------------------------------------------------------

    def deliver(self, item: FlowInput) -> None:
        """Queue an input for this call (from any coroutine; never blocks)."""
        if self.done.is_set():
            return
        try:
            self.inbox.put_nowait(item)
        except asyncio.QueueFull:
            self.dropped += 1
            self.ports.stats.inbox_overflow += 1
            log.error("call %s: inbox full, dropped %s", self.call_id, type(item).__name__)

    def deliver_event(self, event: ExotelEvent) -> None:
        """An Exotel event routed to this call by leg or bridge sid."""
        self.last_event_at = self.ports.clock.now()
        if not self.confirmer.offer(self.flow, event, self._tg):
            self.deliver(event)

    def adopt(self, leg_sid: str) -> bool:
        """The dialer matched an unknown leg to this call's create that timed out
        (:mod:`dialer.uncertain`): the leg is this call's from now on. False when the call no
        longer waits for one."""
        waiting = self._awaiting
        if waiting is None or waiting[1].done() or self.done.is_set():
            return False
        create, fut = waiting
        self._leg_created(create, leg_sid)
        fut.set_result(ADOPTED)
        return True

    def leg_hung_up(self) -> None:
        """The leg of this call's timed-out create was hung up (it could not be told whose it
        was, :mod:`dialer.uncertain`): stop waiting for it."""
        if self._awaiting is not None and not self._awaiting[1].done():
            self._awaiting[1].set_result(HUNG_UP)

    # -- main loop ------------------------------------------------------------------------

    async def run(self) -> CallRecord:
        """Run the call to its end; returns (and stores) its record. Never raises."""
        logs.bind(call_id=self.call_id)  # JSON logs: every line of this call's tasks
        try:
            async with asyncio.TaskGroup() as tg:
                self._tg = tg
                self._feed(PlaceCall())
                # After the flow ends, keep feeding it until no request is in flight: an agent
                # leg whose create answers late must still be hung up.
                while not (self.flow.done and self._inflight == 0 and self.inbox.empty()):
                    item = await self.inbox.get()
                    self._feed(item)
                self.watchdog.stop()
                self._cancel_timers()
        except Exception as exc:  # one call's bug must not take down the dialer
            log.exception("call %s failed unexpectedly", self.call_id)
            self.flow.outcome.failure = f"internal error: {type(exc).__name__}: {exc}"
            if not self.flow.outcome.disposition:
                self.flow.outcome.disposition = "failed"
            await self._hangup_quietly()
        finally:
            self.watchdog.stop()
            self._cancel_timers()
            self._tg = None
        if self.record is not None:  # given up (lost) while it ran: recorded already
            return self.record
        record = await self._finalize()
        self.record = record
        self.done.set()
        return record

    def give_up(self, reason: str) -> CallRecord | None:
        """The dialer stops and this call is still not settled (its end never came: Exotel
        silent or unreachable past the shutdown grace): record it now as ``lost`` with
        ``reason`` as its ``failure`` (no GET: Exotel is what failed). None when it ended."""
        if self.done.is_set() or self.record is not None:
            return None
        out = self.flow.outcome
        out.disposition = "lost"
        out.failure = reason
        out.ended_in = out.ended_in or self.flow.state.value
        self.watchdog.stop()
        record = self._record(None, out.terminal_status, None, "")
        self.ports.book.finish_call(self, record)
        self.record = record
        self.done.set()
        return record

    def _now(self) -> float:
        return self.ports.clock.now() - self._t0

    def _feed(self, item: FlowInput) -> None:
        self._pending.append(item)
        while self._pending:
            nxt = self._pending.popleft()
            if isinstance(nxt, TimerFired) and nxt.name == FlowTimer.WATCHDOG:
                self.watchdog.fired(self._tg)  # the runner's own timer, not the flow's
                continue
            logs.bind(leg_sid=getattr(nxt, "leg_sid", None))  # JSON logs: the leg it concerns
            for command in self.flow.handle(nxt, self._now()):
                self._execute(command)
            self.watchdog.observe(nxt)
        self._persist()

    def _persist(self) -> None:
        """The call's state, written at each step it changes (legs, bridge, stage, timeline):
        a dialer restarted on the same database settles it (:mod:`dialer.restart`)."""
        if self.flow.done or self.record is not None:
            return  # the record is about to be stored (and the row deleted with it)
        out = self.flow.outcome
        r = self.request
        state = live_state.snapshot(
            call_id=self.call_id,
            request={"number": r.number, "mode": r.mode, "bot": r.bot, "custom": dict(r.custom),
                     "skills": list(r.skills), "amd": r.amd},
            stage=self.flow.state.value, started_at=self._wall0,
            outcome={"customer_leg_sid": out.customer_leg_sid,
                     "agent_leg_sid": out.agent_leg_sid, "agent_id": out.agent_id,
                     "agent_nailed": out.agent_nailed, "bridge_sid": out.bridge_sid,
                     "answered": out.answered, "bridged": out.bridged,
                     "escalated": out.escalated},
            timeline=[(n, round(t, 3)) for n, t in out.timeline],
        )
        if live_state.changed(self._persisted, state):
            self._persisted = state
            try:
                self.ports.book.save_live(self.call_id, state)
            except Exception:  # the call goes on; only a restart would miss it
                log.exception("call %s: persisting its live state failed", self.call_id)

    # -- commands -------------------------------------------------------------------------

    def _execute(self, c: Command) -> None:
        p = self.ports
        if isinstance(c, SetTimer):
            self._cancel_timer(c.name)
            fired = TimerFired(c.name)
            self._timers[c.name] = p.clock.call_later(c.seconds, lambda: self.deliver(fired))
        elif isinstance(c, CancelTimer):
            self._cancel_timer(c.name)
        elif isinstance(c, PickAgent):
            agent = p.desk.reserve(c.skills, c.exclude, self.call_id)
            if agent is None:
                reason = p.desk.unavailable_reason(c.skills, c.exclude)
                if reason == "skill" and not self._no_skill_logged:
                    self._no_skill_logged = True  # once per call, not at every agent freed
                    log.warning("call %s: no agent has the skills %s; no queue, the fallback",
                                self.call_id, ", ".join(c.skills) or "(none)")
                self._pending.append(NoAgentFree(reason))
            else:
                self._pending.append(
                    AgentOffered(agent.agent_id, agent.number, agent.nailed_leg_sid)
                )
                p.progress.notify(self.call_id, "agent_reserved", agent.agent_id)
        elif isinstance(c, ReleaseAgent):
            p.desk.release_agent(c.agent_id, wrap_up=c.wrap_up)
        elif isinstance(c, AgentOnCall):
            p.desk.agent_answered(c.agent_id)
        elif isinstance(c, Notify):
            p.progress.notify(self.call_id, c.kind, c.detail)
            if c.kind == "bot_connected" and c.detail != "greeting":
                p.progress.notify(self.call_id, BOT_AUDIO_OK)  # no greeting to wait for
        elif isinstance(c, Finish):
            pass  # the loop ends on flow.done
        else:
            assert self._tg is not None
            if isinstance(c, StopStream):
                # audio started after it waits for it: one voice (the bot's tail, then the hold)
                self._stream_stops[c.leg_sid] = asyncio.Event()
            self._inflight += 1
            self._tg.create_task(self._api(c))

    async def _api(self, c: Command) -> None:
        """Run one Exotel request; report the result (or failure) to the flow."""
        leg = getattr(c, "leg_sid", "")
        stop = self._stream_stops.get(leg)
        try:
            if stop is not None and isinstance(c, (StartSay, StartPlay)):
                await stop.wait()
            await self._api_once(c)
        finally:
            if stop is not None and isinstance(c, StopStream):
                stop.set()
                if self._stream_stops.get(leg) is stop:
                    del self._stream_stops[leg]
            self._inflight -= 1
            if self._inflight == 0 and self.flow.done:
                self.deliver(TimerFired(DRAINED))  # wake the loop so it can end

    async def _api_once(self, c: Command) -> None:
        p = self.ports
        client = p.api
        try:
            if isinstance(c, CreateLeg):
                await self._create_leg(c)
            elif isinstance(c, StartStream):
                params = p.book.stream_params_for(self.request, c.attempt)
                if params.truncated:
                    self.truncated_params = params.truncated
                await client.start_stream(c.leg_sid, params.url,
                                          content_type=p.settings.content_type)
            elif isinstance(c, StartSay):
                await client.leg_action(c.leg_sid, c.op, _tagged({"text": c.text,
                                                                  "loop": c.loop}, c.tag))
            elif isinstance(c, StartPlay):
                await client.leg_action(c.leg_sid, c.op, _tagged({"url": c.url, "loop": c.loop},
                                                                 c.tag))
            elif isinstance(c, StopPlay) and await p.desk.stop_nailed_hold(c.leg_sid):
                pass  # a nailed agent's hold: its keeper knows what plays and stopped it
            elif isinstance(c, (StopSay, StopPlay)) and c.purpose == "greeting":
                try:
                    await self._quiet(client.leg_action(c.leg_sid, c.op))
                finally:
                    # Exotel confirmed the greeting stopped (or refused): the bot may speak.
                    p.progress.notify(self.call_id, BOT_AUDIO_OK)
            elif isinstance(c, StopStream):
                # tagged: the stream_stopped it causes is known as ours (not the bot closing)
                await self._quiet(client.leg_action(c.leg_sid, c.op, _tagged({}, c.tag)))
            elif isinstance(c, (StopSay, StopPlay)):
                await self._quiet(client.leg_action(c.leg_sid, c.op))
            elif isinstance(c, CreateBridge):
                data = await client.create_bridge([c.leg_a, c.leg_b], p.legs.event_endpoint)
                p.legs.register_bridge(data["bridge_sid"], self)
                self.deliver(BridgeCreated(data["bridge_sid"]))
            elif isinstance(c, StartRecording):
                await self._quiet(client.start_recording(c.bridge_sid))
            elif isinstance(c, Hangup):
                await self._quiet(client.hangup(c.leg_sid))
        except ExotelError as exc:
            status = exc.status if isinstance(exc, ExotelApiError) else 0
            log.warning("call %s: %s failed: %s", self.call_id, c.op, exc)
            p.stats.api_failures += 1
            role = c.role if isinstance(c, (CreateLeg, Hangup)) else "customer"
            tag = c.tag if isinstance(c, (CreateLeg, StartSay, StartPlay)) else ""
            self.deliver(ActionFailed(c.op, role, status, str(exc), tag))

    async def _quiet(self, coro: Any) -> None:
        """Stops, hang-ups and recording: a 404/409 means "already so"; log, do not fail."""
        try:
            await coro
        except ExotelApiError as exc:
            if exc.status in (404, 409):
                log.debug("call %s: %s", self.call_id, exc)
                return
            raise

    async def _create_leg(self, c: CreateLeg) -> None:
        try:
            await self._create_leg_once(c)
        finally:
            # an unknown leg to that number, held while this create was in flight, is decided
            self.ports.legs.settle_number(c.number)

    async def _create_leg_once(self, c: CreateLeg) -> None:
        p = self.ports
        s = p.settings
        try:
            # while the create is in flight, events for a leg to this number are held (they
            # can beat the 202): register_leg hands them over
            with p.legs.creating(c.number):
                data = await p.api.create_leg(
                    c.number,
                    self.caller_id,
                    p.legs.event_endpoint,
                    custom_param=c.custom_param,
                    reference_leg_sid=c.reference_leg_sid,
                    ring_timeout=(
                        s.agent_ring_timeout if c.role == "agent"
                        else self.request.ring_timeout or s.customer_ring_timeout
                    ),
                    amd_enable=self.request.amd and c.role == "customer",
                    time_limit=s.time_limit,
                )
        except CreateLegUncertain as exc:
            if await self._reconcile(c, exc) != ADOPTED:
                raise
            return
        self._leg_created(c, str(data["leg_sid"]))

    @property
    def caller_id(self) -> str:
        """The ExoPhone this call's customer and on-demand agent legs show: the request's
        (a campaign's ``exophone``), else the dialer's."""
        return self.request.caller_id or self.ports.legs.exophone

    def _leg_created(self, c: CreateLeg, leg_sid: str) -> None:
        # LegCreated first: the leg's held events, routed by register_leg, come after it
        self.deliver(LegCreated(c.role, leg_sid, c.tag))
        self.ports.legs.register_leg(leg_sid, self)

    async def _reconcile(self, c: CreateLeg, exc: CreateLegUncertain) -> str:
        """A create timed out: it is never sent again (that could ring the customer twice).
        The leg surfacing through its events is adopted or hung up by the rule of
        :mod:`dialer.uncertain`; where the API lists legs (not documented by Exotel),
        ``GET /legs`` may name it first. Returns ``adopted``, ``hung_up`` or ``lost`` (nothing
        within ``reconcile_timeout``; a leg surfacing later is hung up), also kept for the
        record (``custom["create_uncertain"]``)."""
        p = self.ports
        p.stats.create_uncertain += 1
        fut: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._awaiting = (c, fut)
        # may adopt a leg whose events are held already
        p.legs.await_leg(self, c.number, self.caller_id)

        async def ask_api() -> None:
            try:
                legs = await p.api.list_legs(custom_param=c.custom_param)
            except ExotelError as err:
                log.debug("call %s: GET /legs for reconciling failed: %s", self.call_id, err)
                return
            for leg in legs:
                sid = leg.get("leg_sid")
                if leg.get("custom_param") == c.custom_param and same_number(
                    str(leg.get("contact_uri", "")), c.number
                ) and isinstance(sid, str) and not fut.done():
                    p.legs.leg_adopted(self.call_id)
                    self.adopt(sid)

        outcome = LOST
        try:
            async with asyncio.timeout(p.settings.reconcile_timeout), asyncio.TaskGroup() as tg:
                lister = tg.create_task(ask_api()) if not fut.done() else None
                outcome = await fut
                if lister is not None:
                    lister.cancel()
        except TimeoutError:
            p.legs.stop_awaiting_leg(self)
            log.warning("call %s: create leg to %s timed out and no leg showed up within "
                        "%g s; not placed (a leg surfacing later is hung up)", self.call_id,
                        exc.contact_uri, p.settings.reconcile_timeout)
        finally:
            self._awaiting = None
        self.create_uncertain = outcome
        p.stats.create_uncertain_outcomes[outcome] = (
            p.stats.create_uncertain_outcomes.get(outcome, 0) + 1
        )
        return outcome

    # -- end ------------------------------------------------------------------------------

    def _cancel_timer(self, name: str) -> None:
        handle = self._timers.pop(name, None)
        if handle is not None:
            handle.cancel()

    def _cancel_timers(self) -> None:
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()

    async def _hangup_quietly(self) -> None:
        leg = self.flow.customer_leg
        if leg:
            try:
                await self.ports.api.hangup(leg)
            except ExotelError:
                pass

    async def _leg_facts(self, leg_sid: str, reason: str) -> tuple[float | None, str]:
        """``GET /legs/{sid}`` after the call: the leg's duration and termination reason
        (``reason`` when Exotel does not say; ``(None, reason)`` without a leg or an answer)."""
        if not leg_sid:
            return None, reason
        try:
            leg = await asyncio.wait_for(self.ports.api.get_leg(leg_sid), 5.0)
        except (ExotelError, TimeoutError) as exc:
            log.info("call %s: GET leg %s for the record failed: %s", self.call_id, leg_sid, exc)
            return None, reason
        return _duration(leg), str(
            leg.get("terminal_status") or leg.get("termination_reason") or reason
        )

    async def _finalize(self) -> CallRecord:
        out = self.flow.outcome
        # the agent's leg too (an on-demand one; a nailed leg outlives the call), for reports
        agent_leg = "" if out.agent_nailed else out.agent_leg_sid
        (duration, reason), (agent_duration, agent_reason) = await asyncio.gather(
            self._leg_facts(out.customer_leg_sid, out.terminal_status),
            self._leg_facts(agent_leg, ""),
        )
        record = self._record(duration, reason, agent_duration, agent_reason)
        self.ports.book.finish_call(self, record)
        return record

    def _record(self, duration: float | None, reason: str, agent_duration: float | None,
                agent_reason: str) -> CallRecord:
        out = self.flow.outcome
        timeline = tuple((name, round(t * 1000.0, 1)) for name, t in out.timeline)
        return CallRecord(
            call_id=out.call_id,
            number=out.number,
            mode=out.mode,
            bot=self.request.bot,
            disposition=out.disposition or "failed",
            answered=out.answered,
            machine=out.machine,
            abandoned=out.abandoned,
            escalated=out.escalated,
            escalation_reason=out.escalation_reason,
            hangup_reason=out.hangup_reason,
            bridged=out.bridged,
            ended_in=out.ended_in,
            failure=out.failure,
            customer_leg_sid=out.customer_leg_sid,
            agent_leg_sid=out.agent_leg_sid,
            agent_id=out.agent_id,
            agent_nailed=out.agent_nailed,
            agent_attempts=out.agent_attempts,
            bridge_sid=out.bridge_sid,
            recording_url=out.recording_url,
            duration_s=duration,
            termination_reason=reason,
            agent_duration_s=agent_duration,
            agent_termination_reason=agent_reason,
            started_at=self._wall0,
            latencies=compute_latencies(out.timeline),
            timeline=timeline,
            custom=dict(self.request.custom) | (
                {"stream_params_truncated": ",".join(self.truncated_params)}
                if self.truncated_params else {}
            ) | ({"create_uncertain": self.create_uncertain} if self.create_uncertain else {}),
        )


def _tagged(body: dict[str, Any], tag: str) -> dict[str, Any]:
    """``body`` with ``action_custom_param`` = ``tag`` (when set): Exotel hands it back on the
    action's events, so the flow can tell whose ``say_completed``/``play_*`` it is."""
    if tag:
        body["action_custom_param"] = tag
    return body


def _duration(leg: Mapping[str, Any]) -> float | None:
    for key in ("duration", "duration_s", "conversation_duration"):
        value = leg.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                continue
    return None


def is_leg_event(ev: ExotelEvent) -> bool:
    return not isinstance(ev, BridgeLifecycle)
