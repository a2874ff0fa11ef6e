"""One call's watchdog: a call with no Exotel event for longer than its stage allows
(:func:`~dialer.flows.watchdog.quiet_allowed`) is checked with ``GET /legs/{sid}`` (the agent's
leg while it rings or is bridged, ``GET /bridges/{sid}`` once bridged) and settled from the
answer (:func:`~dialer.flows.watchdog.verdict`):

* a leg Exotel reports ended gets the end its lost ``leg_terminated`` would have given (its
  ``terminal_status`` from Exotel's data; agent released, record written); a bridge reported
  ended, its ``bridge_terminal``;
* a 404 for a leg we think live ends it (``terminal_status`` ``not_found``);
* a live leg: the call waits again (``watchdog_interval``);
* Exotel unreachable (timeouts, 5xx, refused connections): logged at WARNING with the call
  and what waits on it (at most one warning a minute per dialer, DEBUG between), counted
  (``unreachable``), asked again after 1, 2, 4 ... s (at most ``watchdog_interval``).

Counters (:class:`~dialer.stats.DialerStats`): ``watchdog_checks`` and ``watchdog_settled`` by
outcome (metrics ``voxgate_dialer_watchdog_checks_total``,
``voxgate_dialer_watchdog_settled_total{outcome}``).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from dialer.errors import ExotelApiError, ExotelError
from dialer.events import BridgeLifecycle, ExotelEvent, LegLifecycle
from dialer.flows import CallFlow, FlowInput, Timer, TimerFired
from dialer.flows.states import CallState
from dialer.flows.watchdog import (
    NOT_FOUND,
    Verdict,
    legs_to_check,
    quiet_allowed,
    retry_after,
    terminal_status,
    verdict,
)

if TYPE_CHECKING:
    from dialer.ports import Clock, ExotelApi
    from dialer.ports import Timer as TimerHandle
    from dialer.stats import DialerStats

log = logging.getLogger(__name__)

CHECK_TIMEOUT = 15.0  # one GET (the client's own retries included)
WARN_EVERY = 60.0  # Exotel unreachable: one WARNING a minute per dialer
_ids = itertools.count(1)


class CallWatchdog:
    """The watchdog of one :class:`~dialer.runner.CallRunner` (see the module docstring)."""

    def __init__(self, call_id: str, flow: CallFlow, api: ExotelApi, clock: Clock,
                 stats: DialerStats, deliver: Callable[[FlowInput], None]) -> None:
        self.call_id = call_id
        self.flow = flow
        self._api = api
        self._clock = clock
        self._stats = stats
        self._deliver = deliver
        self._timer: TimerHandle | None = None
        self._task: asyncio.Task[None] | None = None
        self._state: CallState | None = None
        self._failures = 0  # checks in a row Exotel did not answer
        self._quiet_since = clock.now()

    def observe(self, item: FlowInput) -> None:
        """The flow took ``item``: an Exotel event or a new stage starts the wait again."""
        state = self.flow.state
        if isinstance(item, ExotelEvent) or state is not self._state:
            self._state = state
            self._quiet_since = self._clock.now()
            if self._task is None or self._task.done():
                self._failures = 0
                self._arm(quiet_allowed(state, self.flow.settings))

    def fired(self, tg: asyncio.TaskGroup | None) -> None:
        """The watchdog's timer fired (its ``TimerFired`` came through the inbox)."""
        self._timer = None
        if tg is None or self.flow.done or (self._task is not None and not self._task.done()):
            return
        self._task = tg.create_task(self._check(), name=f"watchdog-{self.call_id}")

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._task is not None and not self._task.done():
            self._task.cancel()

    def _arm(self, seconds: float | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if seconds is None or self.flow.done:
            return
        fired = TimerFired(Timer.WATCHDOG)
        self._timer = self._clock.call_later(seconds, lambda: self._deliver(fired))

    async def _check(self) -> None:
        flow = self.flow
        out = flow.outcome
        targets = legs_to_check(flow.state, flow.customer_leg, flow.agent_leg,
                                out.agent_nailed, out.bridge_sid)
        if not targets:  # the customer's create is still in flight (dialer.uncertain)
            self._arm(quiet_allowed(flow.state, flow.settings))
            return
        self._stats.watchdog_checks += 1
        for kind, sid in targets:
            path = f"/bridges/{sid}" if kind == "bridge" else f"/legs/{sid}"
            try:
                async with asyncio.timeout(CHECK_TIMEOUT):
                    data = await (self._api.get_bridge(sid) if kind == "bridge"
                                  else self._api.get_leg(sid))
            except ExotelApiError as exc:
                if exc.status == 404:
                    self._settle(kind, sid, Verdict.NOT_FOUND, {"terminal_status": NOT_FOUND},
                                 path)
                    return
                self._unreachable(path, exc)
                return
            except (ExotelError, TimeoutError, OSError) as exc:
                self._unreachable(path, exc)
                return
            if verdict(kind, data) is Verdict.ENDED:
                self._settle(kind, sid, Verdict.ENDED, data, path)
                return
        self._count(Verdict.LIVE)
        self._failures = 0
        self._arm(flow.settings.watchdog_interval)

    def _count(self, outcome: str) -> None:
        settled = self._stats.watchdog_settled
        settled[outcome] = settled.get(outcome, 0) + 1

    def _settle(self, kind: str, sid: str, found: Verdict, data: Mapping[str, Any],
                path: str) -> None:
        quiet = self._clock.now() - self._quiet_since
        event: ExotelEvent
        name = f"watchdog:{self.call_id}:{next(_ids)}"
        if kind == "bridge":
            self._count("bridge_ended")
            event = BridgeLifecycle(name, "bridge_terminal", "", {}, {}, bridge_sid=sid)
        else:
            self._count(found.value)
            status = terminal_status(data)
            event = LegLifecycle(name, "leg_terminated", "", {"leg_sid": sid},
                                 {"terminal_status": status}, leg_sid=sid)
        log.warning("call %s: no Exotel event for %.0f s (%s); GET %s says %s: settled as if "
                    "its %s had come", self.call_id, quiet, self.flow.state.value, path,
                    "no such leg (404)" if found is Verdict.NOT_FOUND else "ended",
                    event.name)
        self._deliver(event)

    def _unreachable(self, path: str, exc: BaseException) -> None:
        self._failures += 1
        self._count("unreachable")
        again = retry_after(self._failures, self.flow.settings)
        now = self._clock.now()
        level = logging.DEBUG
        if now - self._stats.watchdog_warned_at >= WARN_EVERY:
            self._stats.watchdog_warned_at = now
            level = logging.WARNING
        log.log(level, "Exotel unreachable: call %s (%s, no event for %.0f s) waits on GET %s "
                "(%s); asking again in %g s (attempt %d)", self.call_id, self.flow.state.value,
                now - self._quiet_since, path, exc or type(exc).__name__, again,
                self._failures)
        self._arm(again)
