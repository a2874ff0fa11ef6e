"""Which call (or nailed agent's keeper) an Exotel event belongs to: the dialer's
:class:`~dialer.ports.LegRegistry`.

:meth:`LegRouter.route` is the event intake's sink. A leg or bridge registered by its runner
(or keeper) gets its events; an event for a leg nobody knows is held for a bounded time
(:mod:`dialer.leg_hold`: it may have beaten its create's ``202``, docs/exotel.md section 3)
and handed over when its create names it, or decided by the rule of :mod:`dialer.uncertain`
when a create timed out (adopted by the call waiting for it, or hung up); what nobody claims is
logged once and counted (``DialerStats.unknown_legs``/``unknown_events``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine, Iterator, Mapping
from typing import Any

from dialer.events import BridgeLifecycle, ExotelEvent, LegAction, LegLifecycle
from dialer.leg_hold import HeldLeg, UnknownLegHold
from dialer.nailed import NailedAgentKeeper
from dialer.nailed_watch import NailedWatch
from dialer.ports import ExotelApi
from dialer.runner import CallRunner
from dialer.sequencer import EventSequencer
from dialer.stats import DialerStats
from dialer.uncertain import Adopt, HangUp, UncertainCreates, same_number

log = logging.getLogger("dialer.service")  # the lines keep the logger they always had

# waits before each further hang-up attempt of a stray leg; None: the last attempt
STRAY_HANGUP_RETRIES_S: tuple[float | None, ...] = (1.0, 2.0, 4.0, 8.0, None)
STRAYS_KEPT = 4096  # leg sids given up on, remembered so their later events are not re-logged


class LegRouter:
    """The dialer's legs and bridges, and the unknown legs held (see the module docstring)."""

    def __init__(
        self,
        *,
        calls: Mapping[str, CallRunner],
        api: ExotelApi,
        stats: DialerStats,
        clock: Callable[[], float],
        sequencer: EventSequencer,
        nailed_watch: NailedWatch,
        hold_s: float,
        exophone: str,
        endpoint: Callable[[], str],
        spawn: Callable[[Coroutine[Any, Any, None], str], object],
        running: Callable[[], bool],
    ) -> None:
        self._calls = calls
        self._api = api
        self.stats = stats
        self.clock = clock
        self._sequencer = sequencer
        self.nailed_watch = nailed_watch
        self._exophone = exophone
        self._endpoint = endpoint
        self._spawn = spawn
        self._running = running
        self._legs: dict[str, CallRunner | NailedAgentKeeper] = {}
        self._bridges: dict[str, CallRunner] = {}
        self.leg_hold = UnknownLegHold(hold_s)
        self.uncertain = UncertainCreates()
        self._creating: dict[str, int] = {}  # number -> creates in flight
        self._hold_timer: asyncio.TimerHandle | None = None
        self._strays: dict[str, str] = {}  # unclaimed or hung-up leg sid -> why (bounded)

    @property
    def event_endpoint(self) -> str:
        return self._endpoint()

    @property
    def exophone(self) -> str:
        return self._exophone

    def owner(self, leg_sid: str) -> CallRunner | NailedAgentKeeper | None:
        return self._legs.get(leg_sid)

    def keeper_for_leg(self, leg_sid: str) -> NailedAgentKeeper | None:
        target = self._legs.get(leg_sid)
        return target if isinstance(target, NailedAgentKeeper) else None

    def forget_bridge(self, bridge_sid: str) -> None:
        self._bridges.pop(bridge_sid, None)

    def close(self) -> None:
        """The dialer stops: no more hold timer."""
        if self._hold_timer is not None:
            self._hold_timer.cancel()
            self._hold_timer = None

    def register_leg(self, leg_sid: str, owner: CallRunner | NailedAgentKeeper) -> None:
        """``leg_sid`` belongs to ``owner`` from now on; the events that came for it before
        (held as an unknown leg's) are routed to it at once, in order."""
        self._legs[leg_sid] = owner
        for ev in self.leg_hold.release(leg_sid):
            self.route(ev)

    def unregister_leg(self, leg_sid: str) -> None:
        self._legs.pop(leg_sid, None)
        self._sequencer.forget(leg_sid)

    def register_bridge(self, bridge_sid: str, runner: CallRunner) -> None:
        self._bridges[bridge_sid] = runner

    def leg_adopted(self, call_id: str) -> None:
        """``GET /legs`` named the leg of ``call_id``'s timed-out create."""
        self.uncertain.adopted(call_id)

    def deliver_to_call(self, call_id: str, event: ExotelEvent) -> None:
        runner = self._calls.get(call_id)
        if runner is not None:
            runner.deliver_event(event)

    def route(self, ev: ExotelEvent) -> None:
        """Intake sink: hand the event to the call (or keeper) it belongs to. An event for a
        leg no call knows is held (:meth:`_unknown_leg_event`), never matched by
        ``custom_param`` (Exotel does not document it in event data)."""
        if isinstance(ev, BridgeLifecycle):
            runner = self._bridges.get(ev.bridge_sid)
            if runner is None:
                for leg in ev.leg_sids:
                    owner = self._legs.get(leg)
                    if isinstance(owner, CallRunner):
                        runner = owner
                        break
            if runner is not None:
                runner.deliver_event(ev)
                return
            self.stats.unknown_events += 1
            log.info("event %s (%s) for an unknown bridge; ignored", ev.event_sid, ev.name)
            return
        target = self._legs.get(ev.leg_sid)
        if isinstance(target, NailedAgentKeeper) and isinstance(ev, LegLifecycle):
            # counted and logged; a drop takes the agent offline before its call hears of it
            self.nailed_watch.leg_event(target.agent_id, ev)
        if target is not None:
            target.deliver_event(ev)
            return
        self._unknown_leg_event(ev)

    # -- events for unknown legs (docs/exotel.md section 3) ------------------------------------

    @contextlib.contextmanager
    def creating(self, number: str) -> Iterator[None]:
        """Mark a ``POST /legs`` to ``number`` in flight: an unknown leg to that number is held
        (its create may still name it) rather than given up or matched."""
        self._creating[number] = self._creating.get(number, 0) + 1
        try:
            yield
        finally:
            left = self._creating[number] - 1
            if left:
                self._creating[number] = left
            else:
                del self._creating[number]

    def _busy_number(self, number: str) -> bool:
        """A create to ``number`` is in flight (or timed out and waits for its leg)."""
        return any(same_number(n, number) for n in self._creating) or self.uncertain.waiting(
            number
        )

    def _unknown_leg_event(self, ev: LegLifecycle | LegAction) -> None:
        if ev.leg_sid in self._strays:  # given up already: counted, acknowledged, logged once
            self.stats.unknown_events += 1
            return
        pushed = self.leg_hold.hold(ev, self.clock())
        if pushed is not None:
            self._unclaimed(pushed, "the hold was full")
        held = self.leg_hold.get(ev.leg_sid)
        if held is not None and not any(
            same_number(n, held.contact_uri) for n in self._creating
        ):
            self._decide(held)
        self._arm_hold_timer()

    def await_leg(self, runner: CallRunner, number: str, exophone: str = "") -> None:
        """``runner``'s create to ``number`` (from ``exophone``, default the dialer's) timed
        out: it waits for the leg to surface. A leg held already is matched at once (unless
        another create to that number is in flight: the leg may be that one's)."""
        self.uncertain.wait(runner.call_id, number, exophone or self.exophone, self.clock())
        self.settle_number(number)

    def settle_number(self, number: str) -> None:
        """No create to ``number`` is in flight any more (each one returned its leg, failed or
        timed out): decide the legs to that number still held, by :mod:`dialer.uncertain`."""
        if any(same_number(n, number) for n in self._creating):
            return
        for held in self.leg_hold.legs():
            if same_number(held.contact_uri, number):
                self._decide(held)

    def stop_awaiting_leg(self, runner: CallRunner) -> None:
        """``runner`` gave up waiting for its leg: if it surfaces later, it is hung up."""
        self.uncertain.give_up(runner.call_id, self.clock())

    def _decide(self, held: HeldLeg) -> bool:
        """Apply the rule of :mod:`dialer.uncertain` to an unknown leg (held, or just taken out
        of the hold); True when it was adopted or hung up."""
        hint = held.events[0].data.get("custom_param") if held.events else None
        decision = self.uncertain.match(
            held.contact_uri, held.exophone, self.clock(), hint if isinstance(hint, str) else ""
        )
        if decision is None:
            return False
        events = (self.leg_hold.release(held.leg_sid) if held.leg_sid in self.leg_hold
                  else held.events)
        if isinstance(decision, Adopt):
            runner = self._calls.get(decision.call_id)
            if runner is not None and runner.adopt(held.leg_sid):
                for ev in events:
                    self.route(ev)
                return True
            decision = HangUp((decision.call_id,))
        self.stats.unknown_events += len(events)
        self._strays[held.leg_sid] = "hung_up"
        self._trim_strays()
        for call_id in decision.call_ids:
            runner = self._calls.get(call_id)
            if runner is not None:
                runner.leg_hung_up()
        log.warning("leg %s to %s surfaced after its create timed out (call %s) %s; hanging "
                    "it up", held.leg_sid, held.contact_uri, ", ".join(decision.call_ids),
                    "and more than one call waits for such a leg" if decision.ambiguous
                    else "and its call had given up")
        self.stats.stray_legs_hung_up += 1
        if self._running():
            self._spawn(self._hang_up_stray(held.leg_sid), f"hangup-stray-{held.leg_sid}")
        else:  # stopping: the leg's time limit ends it
            log.error("leg %s not hung up: the dialer is stopping", held.leg_sid)
        return True

    async def _hang_up_stray(self, leg_sid: str) -> None:
        """Hang up a leg no call owns. A hang-up is idempotent (404: already gone), so a
        timeout or a refusal (a leg still being set up) is retried after 1, 2, 4 and 8 s
        before the leg is left to its time limit (logged at ERROR)."""
        for delay in STRAY_HANGUP_RETRIES_S:
            try:
                await self._api.hangup(leg_sid)
                return
            except Exception as exc:  # logged; never takes down the dialer
                if delay is None:
                    log.error("leg %s could not be hung up: %s", leg_sid, exc)
                    return
                log.warning("leg %s: hang-up failed (%s); again in %.0f s", leg_sid, exc, delay)
                await asyncio.sleep(delay)

    def _arm_hold_timer(self) -> None:
        due = self.leg_hold.next_due()
        if due is None or self._hold_timer is not None:
            return
        loop = asyncio.get_running_loop()
        self._hold_timer = loop.call_later(max(0.0, due - self.clock()) + 0.01,
                                           self._hold_expired)

    def _hold_expired(self) -> None:
        self._hold_timer = None
        for held in self.leg_hold.due(self.clock(), self._busy_number):
            self._unclaimed(held, f"no call claimed it within {self.leg_hold.hold_s:g} s")
        if len(self.leg_hold):
            # a leg whose number still has a create in flight: look again a little later
            due = self.leg_hold.next_due() or 0.0
            loop = asyncio.get_running_loop()
            self._hold_timer = loop.call_later(max(0.0, due - self.clock()) + 0.25,
                                               self._hold_expired)

    def _unclaimed(self, held: HeldLeg, why: str) -> None:
        """A held leg nobody claimed: a create that gave up may still want it hung up; else
        it is logged once and counted (its events were acknowledged when they came)."""
        if self._decide(held):
            return
        self.stats.unknown_legs += 1
        self.stats.unknown_events += len(held.events)
        self._strays[held.leg_sid] = "unknown"
        self._trim_strays()
        log.warning("events for unknown leg %s (to %s: %s) dropped: %s", held.leg_sid,
                    held.contact_uri or "?", ", ".join(e.name for e in held.events), why)

    def _trim_strays(self) -> None:
        while len(self._strays) > STRAYS_KEPT:
            del self._strays[next(iter(self._strays))]
