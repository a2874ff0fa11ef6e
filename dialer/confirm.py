"""Forged events confirmed: an event that would change a call in a way it did not ask for is
checked with ``GET /legs/{sid}`` before the call acts on it.

Anyone who can post to the event endpoint (no event auth, a leaked credential, an insider) could
otherwise end a live call's record while the customer stays with the bot untracked
(``leg_terminated``), or make an agent-first call dial an agent, cancel the real leg and record
an abandonment (``leg_answered`` on a ringing leg). So, per call (:class:`EventConfirmer`, one
per :class:`~dialer.runner.CallRunner`):

* **Which events** (:func:`leg_to_confirm`): a terminal leg event (``leg_terminated``, ...) for
  the customer leg, unless the call is already ending (its own hang-up), or for the agent leg
  once bridging; ``leg_answered`` for the customer leg of an agent-first call that is dialling or
  ringing, and for an agent leg that is ringing; ``bridge_terminal`` for the bridge of a
  bridged call (``GET /bridges/{sid}``: a forged one would hang up customer and agent).
  Nothing else waits: the bot-first customer's ``leg_answered`` acts at once (the greeting is
  on the critical path; a forged one only makes the stream and greeting requests fail on a
  ringing leg), and so do action events and the other bridge events.
* **Agreement** (:func:`agrees`): Exotel's ``state``/``terminal_status`` of that leg. Exotel's
  API may lag its media servers, so a disagreeing answer is asked again every ``retry_every``
  seconds until ``timeout``; still disagreeing (or 404 for an answer: no such leg; a 404 for
  an end is taken as the end, a live leg would be there), the event is dropped,
  counted and logged. Once Exotel has disagreed, a request that fails or is still unanswered
  at the deadline changes nothing: its last word stands (the last request of a slow API was
  cut at the deadline, and a forged answer then acted). A leg state this code does not know,
  or an API that does not answer the first request in time, lets the event act (counted as
  unconfirmed, logged): a genuine call is never stuck on the check.
* **The sequencer** takes a terminal event as the leg's end; while one is checked the leg is
  reopened (``EventSequencer.reopen``), so its real events, its real end included, still
  arrive (behind the checked one).
* **Order**: while an event is checked, the call's later events wait behind it, so nothing
  overtakes it; control requests and timers do not wait.

Counters (:class:`ConfirmStats`, metrics ``events_confirm_*``): checked, confirmed, dropped,
unconfirmed.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from dialer.errors import ExotelApiError, ExotelError
from dialer.events import BridgeLifecycle, ExotelEvent, LegLifecycle
from dialer.flows import CallFlow
from dialer.flows.states import CallState
from dialer.flows.watchdog import BRIDGE_ENDED, LEG_ENDED

log = logging.getLogger(__name__)

ANSWERED_STATES = frozenset({"answered", "in-progress", "in_progress", "connected", "bridged",
                             "active", "ongoing", "established"})
PRE_ANSWER_STATES = frozenset({"created", "connecting", "ringing", "queued", "initiated",
                               "dialing", "in-queue"})
TERMINAL_STATES = LEG_ENDED
NEVER_ANSWERED = frozenset({"busy", "no-answer", "no_answer", "failed", "canceled",
                            "cancelled"})
ENDING = frozenset({CallState.ENDING, CallState.FINALIZING, CallState.ENDED})
AGENT_LIVE = frozenset({CallState.BRIDGING, CallState.BRIDGED})
PRE_ANSWER = frozenset({CallState.DIALING, CallState.RINGING})

BRIDGE_LIVE = frozenset({"active", "created", "bridged", "in-progress", "in_progress"})


class StateApi(Protocol):
    """What the check asks Exotel (:class:`dialer.exotel_client.ExotelClient` has both)."""

    async def get_leg(self, leg_sid: str) -> dict[str, Any]: ...
    async def get_bridge(self, bridge_sid: str) -> dict[str, Any]: ...


@dataclass(slots=True)
class ConfirmStats:
    checked: int = 0  # events held for a GET /legs/{sid}
    confirmed: int = 0  # Exotel agreed: acted on
    dropped: int = 0  # Exotel disagreed (or no such leg): not acted on
    unconfirmed: int = 0  # no answer in time or a state we do not know: acted on


def leg_to_confirm(flow: CallFlow, ev: ExotelEvent) -> str:
    """The leg (or, for ``bridge_terminal``, the bridge) whose state at Exotel must agree
    before ``flow`` takes ``ev``; ``""``: act now."""
    if isinstance(ev, BridgeLifecycle):
        if ev.name == "bridge_terminal" and flow.state is CallState.BRIDGED and (
            ev.bridge_sid and ev.bridge_sid == flow.outcome.bridge_sid
        ):
            return ev.bridge_sid
        return ""
    if not isinstance(ev, LegLifecycle) or not ev.leg_sid:
        return ""
    state = flow.state
    if ev.leg_sid == flow.customer_leg:
        if ev.terminal:
            return "" if state in ENDING else ev.leg_sid
        if ev.name == "leg_answered" and flow.outcome.mode == "agent_first" and (
            state in PRE_ANSWER
        ):
            return ev.leg_sid
        return ""
    if ev.leg_sid == flow.agent_leg:
        if ev.terminal and state in AGENT_LIVE:
            return ev.leg_sid
        if ev.name == "leg_answered" and state is CallState.AGENT_RINGING:
            return ev.leg_sid
    return ""


def agrees(ev: LegLifecycle | BridgeLifecycle, leg: Mapping[str, Any]) -> bool | None:
    """Does Exotel's view of the leg (``GET /legs/{sid}``; a bridge: ``GET /bridges/{sid}``)
    agree with ``ev``? ``None``: the answer names a state this code does not know."""
    state = str(leg.get("state") or "").strip().lower()
    if isinstance(ev, BridgeLifecycle):  # bridge_terminal
        if state in BRIDGE_ENDED or leg.get("ended_at"):
            return True
        return False if state in BRIDGE_LIVE else None
    status = str(leg.get("terminal_status") or "").strip().lower()
    ended = bool(status) or state in TERMINAL_STATES
    if ev.terminal:
        if ended:
            return True
        return False if state in PRE_ANSWER_STATES | ANSWERED_STATES else None
    # leg_answered
    if state in ANSWERED_STATES:
        return True
    if ended:  # answered and already gone agrees; never answered does not
        if status in NEVER_ANSWERED or state in NEVER_ANSWERED:
            return False
        return True if status == "completed" or state == "completed" else None
    return False if state in PRE_ANSWER_STATES else None


class EventConfirmer:
    """One call's check of its state-changing events (see the module docstring)."""

    def __init__(
        self,
        call_id: str,
        api: StateApi,
        deliver: Callable[[ExotelEvent], None],
        stats: ConfirmStats,
        timeout: float,
        reopen: Callable[[str], None] = lambda leg_sid: None,
        retry_every: float = 0.2,
    ) -> None:
        self.call_id = call_id
        self._api = api
        self._deliver = deliver
        self._reopen = reopen
        self.stats = stats
        self.timeout = timeout
        self.retry_every = retry_every
        self._queue: deque[ExotelEvent] = deque()

    def offer(self, flow: CallFlow, ev: ExotelEvent, tg: asyncio.TaskGroup | None) -> bool:
        """True when the confirmer took ``ev`` (it delivers or drops it later); False: the
        caller delivers it now."""
        if self._queue:  # an earlier event is being checked: keep the order
            self._queue.append(ev)
            return True
        if self.timeout <= 0 or tg is None or not leg_to_confirm(flow, ev):
            return False
        self._queue.append(ev)
        tg.create_task(self._drain(flow), name=f"confirm-{self.call_id}")
        return True

    async def _drain(self, flow: CallFlow) -> None:
        while self._queue:
            ev = self._queue[0]
            leg = leg_to_confirm(flow, ev)
            try:
                ok = not leg or await self._confirmed(ev, leg)
            except Exception:  # never lose the call's events to a bug here
                log.exception("call %s: checking %s failed; acting on it", self.call_id, ev.name)
                ok = True
            self._queue.popleft()
            if ok:
                self._deliver(ev)

    async def _confirmed(self, ev: ExotelEvent, leg_sid: str) -> bool:
        assert isinstance(ev, (LegLifecycle, BridgeLifecycle))
        bridge = isinstance(ev, BridgeLifecycle)
        what = f"/bridges/{leg_sid}" if bridge else f"/legs/{leg_sid}"
        ending = bridge or (isinstance(ev, LegLifecycle) and ev.terminal)
        self.stats.checked += 1
        if isinstance(ev, LegLifecycle) and ev.terminal:
            self._reopen(leg_sid)  # the leg's real events, its real end included, still arrive
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        seen = "?"
        while True:
            failure = ""
            try:
                async with asyncio.timeout(max(deadline - loop.time(), 0.001)):
                    data = await (self._api.get_bridge(leg_sid) if bridge
                                  else self._api.get_leg(leg_sid))
            except ExotelApiError as exc:
                if exc.status == 404 and not ending:  # an answer for a leg that is not there
                    return self._drop(ev, leg_sid, f"Exotel has no such {what}")
                if exc.status == 404:  # a live leg would be there: gone agrees with an end
                    return self._unconfirmed(ev, f"GET {what}: 404, taken as ended")
                failure = f"GET {what} failed: {exc}"
            except (ExotelError, TimeoutError) as exc:
                failure = f"GET {what}: {exc or 'no answer'}"
            else:
                verdict = agrees(ev, data)
                if verdict is None:
                    return self._unconfirmed(ev, f"state {data.get('state')!r} of {what} not known")
                if verdict:
                    self.stats.confirmed += 1
                    return True
                seen = str(data.get("state") or "?")
            if failure and seen == "?":  # Exotel has said nothing of it: act, never stuck
                return self._unconfirmed(ev, failure)
            if loop.time() + self.retry_every >= deadline:  # its last word disagreed
                why = f"Exotel says {what} is {seen}" + (f" ({failure} since)" if failure else "")
                return self._drop(ev, leg_sid, why)
            await asyncio.sleep(self.retry_every)

    def _drop(self, ev: ExotelEvent, sid: str, why: str) -> bool:
        self.stats.dropped += 1
        log.warning("call %s: event %s (%s) for %s dropped as forged: %s", self.call_id,
                    ev.event_sid, ev.name, sid, why)
        return False

    def _unconfirmed(self, ev: ExotelEvent, why: str) -> bool:
        self.stats.unconfirmed += 1
        log.warning("call %s: event %s (%s) acted on unconfirmed: %s", self.call_id, ev.name,
                    ev.event_sid, why)
        return True
