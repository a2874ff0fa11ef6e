"""Nailed-up agents as the dialer sees them: dial outcomes counted and logged, legs left up by
an earlier run hung up at start, every nailed leg hung up at exit.

:class:`~dialer.nailed.NailedAgentKeeper` dials and holds one agent's leg; the dialer routes the
leg's events to it. :class:`NailedWatch` sees those events first (``Dialer._route``):

* a dial that ends without an answer (``busy``, ``no-answer``, ``failed`` ...) is counted by
  agent and outcome and logged as a WARNING, the first of a run of failures and then at most
  every ``report_every`` seconds (the keeper re-dials with backoff, so an agent whose phone is
  off would otherwise fill the log); the agent coming back up is logged too;
* an answered leg that ends is counted as a drop, and the agent is taken offline in the pool
  *before* the call holding it hears of it, so the call's release cannot show the agent idle on
  a dead leg for a moment.

:func:`hang_up_leftover_legs` runs before a keeper's first dial: a process killed without its
exit path leaves nailed legs up (on hold audio for up to ``nailed_time_limit``), and the agent's
phone then answers the next run's dial with ``busy`` for hours. The legs are found with
``GET /legs?custom_param=nailed:ID`` (the keeper's mark), and those not in a bridge are hung up.
A leg in a bridge is a customer talking to the agent and is left alone (logged).
:func:`hang_up_legs` is the exit path (``Dialer.__aexit__``).

One dialer per nailed agent: a second dialer started with the same nailed agent hangs up the
first one's idle leg (and the first then finds the agent busy).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dialer.agents import AgentPool
from dialer.errors import ExotelError
from dialer.events import LegLifecycle

if TYPE_CHECKING:
    from dialer.ports import ExotelApi

log = logging.getLogger("dialer.nailed")

REPORT_EVERY = 300.0  # seconds between warnings while an agent's dials keep failing
HANGUP_TIMEOUT = 5.0  # seconds for hanging up the nailed legs at exit
END_WAIT = 2.0  # seconds to wait at exit for the hung-up legs' last events (acknowledged)


@dataclass(slots=True)
class NailedDialStats:
    """What became of one nailed agent's dials (the keeper counts the attempts: ``dials``)."""

    answered: int = 0
    drops: int = 0  # answered legs that ended
    failures: Counter[str] = field(default_factory=Counter)  # unanswered, by terminal status
    streak: int = 0  # failed dials since the last answer
    streak_since: float = 0.0
    last_report: float = -math.inf


class NailedWatch:
    """Counts and logs the dials of nailed agents; see the module docstring."""

    def __init__(self, pool: AgentPool, clock: Callable[[], float],
                 report_every: float = REPORT_EVERY) -> None:
        self.pool = pool
        self.clock = clock
        self.report_every = report_every
        self.stats: dict[str, NailedDialStats] = {}
        self._answered: set[str] = set()
        self._awaited: set[str] = set()
        self._settled = asyncio.Event()

    def await_end(self, leg_sids: Iterable[str]) -> asyncio.Event:
        """An event set once every leg of ``leg_sids`` has had its terminal event (the exit
        path waits for them, so the intake acknowledges them before it closes)."""
        self._awaited = set(leg_sids)
        self._settled = asyncio.Event()
        if not self._awaited:
            self._settled.set()
        return self._settled

    def stop_awaiting(self, leg_sids: Iterable[str]) -> None:
        """Legs whose end will not come (their hang-up failed, or they were gone already)."""
        self._awaited.difference_update(leg_sids)
        if not self._awaited:
            self._settled.set()

    def leg_event(self, agent_id: str, event: LegLifecycle) -> None:
        """An event of ``agent_id``'s nailed leg, before the keeper (and any call) gets it."""
        st = self.stats.setdefault(agent_id, NailedDialStats())
        now = self.clock()
        if event.name == "leg_answered":
            self._answered.add(event.leg_sid)
            st.answered += 1
            if st.streak:
                log.warning("nailed agent %s is up again (leg %s) after %d failed dials in %.0f s",
                            agent_id, event.leg_sid, st.streak, now - st.streak_since)
            st.streak = 0
            return
        if not event.terminal:
            return
        if event.leg_sid in self._awaited:
            self._awaited.discard(event.leg_sid)
            if not self._awaited:
                self._settled.set()
        if event.leg_sid in self._answered:
            self._answered.discard(event.leg_sid)
            st.drops += 1
            if self.pool.get(agent_id).nailed_leg_sid in ("", event.leg_sid):
                self.pool.set_nailed_leg(agent_id, "", now)
            return
        outcome = event.terminal_status or "unknown"
        st.failures[outcome] += 1
        st.streak += 1
        if st.streak == 1:
            st.streak_since = now
        if st.streak == 1 or now - st.last_report >= self.report_every:
            st.last_report = now
            number = self.pool.get(agent_id).number
            log.warning(
                "nailed agent %s (%s): dial ended %s without an answer (%d failed in a row "
                "over %.0f s); re-dialling with backoff, agent offline meanwhile",
                agent_id, number, outcome, st.streak, now - st.streak_since,
            )


def _live_leg(leg: Mapping[str, Any]) -> bool:
    return not leg.get("terminal_status") and leg.get("state") not in ("terminated", "completed")


def _bridged(leg: Mapping[str, Any]) -> bool:
    return bool(leg.get("bridge_sid")) or leg.get("bridge_status") not in (None, "", "none")


async def hang_up_leftover_legs(client: ExotelApi, agent_id: str, custom_param: str) -> int:
    """Hang up the live legs marked ``custom_param`` that an earlier run left (not those in a
    bridge); returns how many. Where the API cannot list legs, logs that and does nothing."""
    try:
        legs = await client.list_legs(custom_param=custom_param)
    except ExotelError as exc:
        log.info("nailed agent %s: cannot list legs to find any left up by an earlier run: %s",
                 agent_id, exc)
        return 0
    done = 0
    for leg in legs:
        sid = leg.get("leg_sid")
        if leg.get("custom_param") != custom_param or not isinstance(sid, str) or not _live_leg(
            leg
        ):
            continue
        if _bridged(leg):
            log.warning("nailed agent %s: leg %s left up by an earlier run is in a bridge (a "
                        "customer on the line?); left alone, the agent is busy until it ends",
                        agent_id, sid)
            continue
        try:
            await client.hangup(sid)
        except ExotelError as exc:
            log.warning("nailed agent %s: leg %s left up by an earlier run could not be hung "
                        "up: %s", agent_id, sid, exc)
            continue
        done += 1
        log.warning("nailed agent %s: hung up leg %s (%s) left up by an earlier run",
                    agent_id, sid, leg.get("state", "?"))
    return done


async def hang_up_legs(client: ExotelApi, legs: Mapping[str, str]) -> list[str]:
    """Exit path: hang up each agent's nailed leg (``agent id -> leg sid``) at once, logging
    what was hung up and what could not be; returns the sids of the legs hung up (not those
    already gone)."""
    if not legs:
        return []
    agents = list(legs)
    try:
        async with asyncio.timeout(HANGUP_TIMEOUT):
            results = await asyncio.gather(
                *(client.hangup(legs[a]) for a in agents), return_exceptions=True
            )
    except TimeoutError:
        log.warning("nailed agent legs not hung up within %.0f s: %s; the agents stay on hold "
                    "until the legs' time limit", HANGUP_TIMEOUT,
                    ", ".join(f"{a} ({legs[a]})" for a in agents))
        return []
    failed = [(a, r) for a, r in zip(agents, results, strict=True) if isinstance(r, BaseException)]
    for agent_id, exc in failed:
        log.warning("nailed agent %s: leg %s could not be hung up: %s; the agent stays on hold "
                    "until the leg's time limit", agent_id, legs[agent_id], exc)
    ok = [a for a in agents if a not in dict(failed)]
    if ok:
        log.info("hung up the nailed agent legs of %s", ", ".join(ok))
    return [legs[a] for a, r in zip(agents, results, strict=True) if r is True]
