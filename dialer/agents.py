"""The live-agent pool: who is free, for how long, with which skills (pure: no I/O).

Add agents with :meth:`AgentPool.add`; a call flow's ``PickAgent`` becomes
:meth:`AgentPool.acquire`, its ``ReleaseAgent`` :meth:`AgentPool.release`. Choice rule: among
idle agents that have every requested skill and were not tried already, a nailed-up agent first
(its leg is live: bridged in milliseconds, where an on-demand agent rings for seconds), then
the one idle longest. :meth:`AgentPool.unavailable_reason` says why nobody fits.

States: ``idle`` -> ``ringing`` (on-demand leg dialled) -> ``talking`` (bridged) ->
``wrap_up`` (``wrap_up_seconds`` after a conversation, or the agent's own ``wrap_up_s``: a
campaign's agents take the campaign's) -> ``idle``. A nailed-up agent (``nailed``)
is only offered while its pre-dialled leg is live (:meth:`set_nailed_leg`); with no live leg it
shows ``offline``. Call :meth:`tick` now and then: it ends wrap-ups and returns the agents that
became idle, so waiting calls can be told. Times are the caller's monotonic clock.

The agent desk (:mod:`dialer.web.desk`): :meth:`AgentPool.pause` takes an agent out of the pool
(``paused`` with a reason: never offered a call, not one of the pacer's agents; an agent on a
call pauses when it is released), :meth:`AgentPool.ready` puts it back (the moment it is free).
An agent with a desk (:meth:`AgentPool.attach_desk`) stays in ``wrap_up`` after a conversation
until its ready click, at most ``max_wrap_s``: then it goes ``paused`` with the reason
``wrap_up_timeout`` (an agent who walked away is not offered calls).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Literal


class AgentState(enum.Enum):
    IDLE = "idle"
    RINGING = "ringing"
    TALKING = "talking"
    WRAP_UP = "wrap_up"
    OFFLINE = "offline"  # nailed-up agent whose leg is not live, or logged out
    PAUSED = "paused"  # on pause from the desk (its ``pause_reason``): never offered a call

WRAP_UP_TIMEOUT = "wrap_up_timeout"
"""The pause reason of a desk agent whose wrap-up reached its maximum without a ready click."""


@dataclass(slots=True)
class Agent:
    """One agent. Mutated only by :class:`AgentPool`."""

    agent_id: str
    number: str
    skills: frozenset[str] = frozenset()
    nailed: bool = False
    state: AgentState = AgentState.IDLE
    idle_since: float = 0.0
    wrap_until: float = 0.0
    nailed_leg_sid: str = ""
    call_id: str = ""
    calls_handled: int = 0
    talk_started: float = 0.0
    talk_seconds: float = field(default=0.0)
    logged_out: bool = False  # by a supervisor (:meth:`AgentPool.log_out`): never offered
    wrap_up_s: float | None = None  # this agent's wrap-up (None: the pool's wrap_up_seconds)
    pause_reason: str = ""  # paused (or pausing once released) from the desk, and why
    desk_wrap_s: float | None = None  # with a desk: wrap-up until ready, at most this long
    last_call_id: str = ""  # the call of its last conversation (the desk's disposition)


AgentListener = Callable[[Agent], None]
Unavailable = Literal["busy", "skill", "tried"]


class AgentPool:
    """All agents of one dialer. Not thread-safe; use from the event loop."""

    def __init__(self, wrap_up_seconds: float = 0.0) -> None:
        if wrap_up_seconds < 0:
            raise ValueError("wrap_up_seconds must be >= 0")
        self.wrap_up_seconds = wrap_up_seconds
        self._agents: dict[str, Agent] = {}
        self._listeners: list[AgentListener] = []

    def add(
        self,
        agent_id: str,
        number: str,
        skills: Iterable[str] = (),
        *,
        nailed: bool = False,
        now: float = 0.0,
        wrap_up_s: float | None = None,
    ) -> Agent:
        """Register an agent (idle from ``now``; a nailed agent starts ``offline``);
        ``wrap_up_s`` is its own wrap-up after a conversation (None: ``wrap_up_seconds``)."""
        if not agent_id or not number:
            raise ValueError("an agent needs an id and a number")
        if wrap_up_s is not None and (
            isinstance(wrap_up_s, bool) or not isinstance(wrap_up_s, (int, float))
            or not math.isfinite(wrap_up_s) or wrap_up_s < 0
        ):
            raise ValueError(f"agent {agent_id!r}: wrap_up_s must be a number >= 0, "
                             f"got {wrap_up_s!r}")
        if agent_id in self._agents:
            raise ValueError(f"agent {agent_id!r} already exists")
        agent = Agent(
            agent_id, number, frozenset(skills), nailed,
            AgentState.OFFLINE if nailed else AgentState.IDLE, idle_since=now,
            wrap_up_s=wrap_up_s,
        )
        self._agents[agent_id] = agent
        return agent

    def subscribe(self, listener: AgentListener) -> None:
        """Call ``listener(agent)`` after every state change."""
        self._listeners.append(listener)

    def get(self, agent_id: str) -> Agent:
        return self._agents[agent_id]

    def __iter__(self) -> Iterator[Agent]:
        return iter(list(self._agents.values()))

    def __len__(self) -> int:
        return len(self._agents)

    @property
    def agents(self) -> list[Agent]:
        return list(self._agents.values())

    def counts(self) -> dict[str, int]:
        """Agents per state name."""
        out = {s.value: 0 for s in AgentState}
        for a in self._agents.values():
            out[a.state.value] += 1
        return out

    def idle_count(self, skills: Iterable[str] = ()) -> int:
        want = frozenset(skills)
        return sum(1 for a in self._agents.values() if self._available(a, want))

    def _available(self, a: Agent, want: frozenset[str]) -> bool:
        if a.state is not AgentState.IDLE or a.logged_out or not want <= a.skills:
            return False
        return not a.nailed or bool(a.nailed_leg_sid)

    def acquire(
        self, skills: Iterable[str], exclude: Iterable[str] = (), *, call_id: str = "",
        now: float = 0.0,
    ) -> Agent | None:
        """Reserve an agent with ``skills``: a free nailed-up agent first, else (and among
        nailed agents) the one idle longest; None when nobody fits."""
        self.tick(now)
        want = frozenset(skills)
        skip = frozenset(exclude)
        best: Agent | None = None
        for a in self._agents.values():
            if a.agent_id in skip or not self._available(a, want):
                continue
            if best is None or (not a.nailed, a.idle_since) < (not best.nailed, best.idle_since):
                best = a
        if best is None:
            return None
        best.call_id = call_id
        self._set(best, AgentState.TALKING if best.nailed else AgentState.RINGING)
        if best.nailed:
            best.talk_started = now
        return best

    def unavailable_reason(self, skills: Iterable[str], exclude: Iterable[str] = ()) -> Unavailable:
        """Why :meth:`acquire` found nobody: ``skill`` (no agent in the pool has every skill,
        whatever its state), ``tried`` (a free one exists but is in ``exclude``) or ``busy``."""
        want = frozenset(skills)
        if not any(want <= a.skills for a in self._agents.values()):
            return "skill"
        skip = frozenset(exclude)
        if any(a.agent_id in skip and self._available(a, want) for a in self._agents.values()):
            return "tried"
        return "busy"

    def mark_talking(self, agent_id: str, now: float = 0.0) -> None:
        """The agent's leg answered (on-demand) and the conversation begins."""
        a = self._agents[agent_id]
        if a.state is AgentState.RINGING:
            a.talk_started = now
            self._set(a, AgentState.TALKING)

    def release(self, agent_id: str, *, wrap_up: bool, now: float = 0.0) -> bool:
        """Give the agent back; True when it is idle now (not in wrap-up, not offline)."""
        a = self._agents.get(agent_id)
        if a is None or a.state in (AgentState.IDLE, AgentState.OFFLINE):
            return False
        if a.state is AgentState.TALKING and a.talk_started:
            a.talk_seconds += max(0.0, now - a.talk_started)
        if wrap_up:
            a.calls_handled += 1
            a.last_call_id = a.call_id
        a.call_id = ""
        if a.logged_out or (a.nailed and not a.nailed_leg_sid):
            self._set(a, AgentState.OFFLINE)
            return False
        wrap_s = self.wrap_up_of(a) if a.desk_wrap_s is None else a.desk_wrap_s
        if wrap_up and (wrap_s > 0 or a.desk_wrap_s is not None):
            a.wrap_until = now + wrap_s
            self._set(a, AgentState.WRAP_UP)
            return False
        return self._free(a, now)

    def _free(self, a: Agent, now: float) -> bool:
        """The agent is done with its call: idle (True), or paused when a pause is pending."""
        if a.pause_reason:
            self._set(a, AgentState.PAUSED)
            return False
        a.idle_since = now
        self._set(a, AgentState.IDLE)
        return True

    def wrap_up_of(self, agent: Agent) -> float:
        """The wrap-up after ``agent``'s conversations: its own, else the pool's."""
        return self.wrap_up_seconds if agent.wrap_up_s is None else agent.wrap_up_s

    @property
    def has_wrap_up(self) -> bool:
        """Whether any agent goes through wrap-up (then :meth:`tick` must be called)."""
        return any(self.wrap_up_of(a) > 0 or a.desk_wrap_s is not None
                   for a in self._agents.values()) or self.wrap_up_seconds > 0

    def set_nailed_leg(self, agent_id: str, leg_sid: str, now: float = 0.0) -> bool:
        """A nailed-up agent's leg came up (``leg_sid``) or dropped (``""``).

        Returns True when the agent became available."""
        a = self._agents[agent_id]
        a.nailed_leg_sid = leg_sid
        if not leg_sid:
            if a.state in (AgentState.IDLE, AgentState.WRAP_UP, AgentState.PAUSED):
                self._set(a, AgentState.OFFLINE)
            return False
        if a.state is AgentState.OFFLINE and not a.logged_out:
            return self._free(a, now)
        return False

    def log_out(self, agent_id: str) -> AgentState:
        """A supervisor logs the agent out: never offered again until :meth:`log_in`; an idle
        or wrapping-up agent goes ``offline`` now, one on a call when it is released. Returns
        the state before (``KeyError`` for an unknown agent)."""
        a = self._agents[agent_id]
        before = a.state
        a.logged_out = True
        if a.state in (AgentState.IDLE, AgentState.WRAP_UP, AgentState.PAUSED):
            self._set(a, AgentState.OFFLINE)
        return before

    def log_in(self, agent_id: str, now: float = 0.0) -> bool:
        """Undo :meth:`log_out`; True when the agent became idle (a nailed-up agent needs its
        live leg)."""
        a = self._agents[agent_id]
        a.logged_out = False
        if a.state is AgentState.OFFLINE and (not a.nailed or a.nailed_leg_sid):
            return self._free(a, now)
        return False

    def attach_desk(self, agent_id: str, max_wrap_s: float) -> None:
        """The agent works from a desk: after each conversation it stays in wrap-up until
        :meth:`ready`, at most ``max_wrap_s`` (then paused ``wrap_up_timeout``)."""
        if not math.isfinite(max_wrap_s) or max_wrap_s <= 0:
            raise ValueError(f"max_wrap_s must be a number > 0, got {max_wrap_s!r}")
        self._agents[agent_id].desk_wrap_s = float(max_wrap_s)

    def detach_desk(self, agent_id: str) -> None:
        """Back to the timed wrap-up (the desk's user logged out)."""
        self._agents[agent_id].desk_wrap_s = None

    def pause(self, agent_id: str, reason: str, now: float = 0.0) -> AgentState:
        """Take the agent out of the pool with ``reason``: an idle or wrapping-up agent is
        ``paused`` now, one ringing or talking when released, an offline one when it comes
        back. Returns the state before (``KeyError`` for an unknown agent)."""
        if not reason:
            raise ValueError("a pause needs a reason")
        a = self._agents[agent_id]
        before = a.state
        a.pause_reason = reason
        if a.state in (AgentState.IDLE, AgentState.WRAP_UP):
            self._set(a, AgentState.PAUSED)
        elif a.state is AgentState.PAUSED:
            self._set(a, AgentState.PAUSED)  # the new reason is shown
        return before

    def ready(self, agent_id: str, now: float = 0.0) -> bool:
        """The agent's ready click: its pause (pending or not) ends and a paused or
        wrapping-up agent is idle from ``now``. True when it became idle (an agent on a call
        stays on it; a logged-out or leg-less one stays offline)."""
        a = self._agents[agent_id]
        a.pause_reason = ""
        if a.state in (AgentState.PAUSED, AgentState.WRAP_UP):
            return self._free(a, now)
        return False

    def tick(self, now: float) -> list[Agent]:
        """End wrap-ups that are due; return the agents that became idle."""
        freed: list[Agent] = []
        for a in self._agents.values():
            if a.state is AgentState.WRAP_UP and now >= a.wrap_until:
                if a.logged_out:
                    self._set(a, AgentState.OFFLINE)
                    continue
                if a.desk_wrap_s is not None:  # no ready click in time
                    a.pause_reason = WRAP_UP_TIMEOUT
                if self._free(a, now):
                    freed.append(a)
        return freed

    def _set(self, a: Agent, state: AgentState) -> None:
        a.state = state
        for listener in self._listeners:
            listener(a)
