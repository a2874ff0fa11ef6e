"""Server-side sessions and login throttling for the dashboard (pure: the clock is passed in).

A :class:`Session` has a random id (the cookie's value, 32 bytes), its user, role and agent id,
a CSRF token (random, sent back by every state-changing request) and two expiries: idle
(``idle_s`` since the last request) and absolute (``absolute_s`` since login). Sessions live in
memory: a restarted service asks everyone to log in again.

:class:`Throttle` counts failed logins per user name and per client address: after
``max_failures`` within ``window_s`` the key is locked for ``lockout_s`` (a right password is
refused too while locked, so a guesser learns nothing). Both are bounded: expired sessions go
when a new one is made, and the throttle remembers at most ``max_keys`` keys.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["Session", "SessionStore", "Throttle"]


@dataclass(slots=True)
class Session:
    sid: str
    user: str
    role: str
    agent_id: str
    csrf: str
    created: float
    seen: float


@dataclass(slots=True)
class SessionStore:
    """The live sessions (see the module docstring); ``clock`` is monotonic seconds."""

    clock: Callable[[], float]
    idle_s: float = 30 * 60.0
    absolute_s: float = 12 * 3600.0
    _sessions: dict[str, Session] = field(default_factory=dict)

    def create(self, user: str, role: str, agent_id: str = "") -> Session:
        now = self.clock()
        for sid in [sid for sid, s in self._sessions.items() if self._expired(s, now)]:
            del self._sessions[sid]  # sessions nobody came back for
        session = Session(secrets.token_urlsafe(32), user, role, agent_id,
                          secrets.token_urlsafe(32), now, now)
        self._sessions[session.sid] = session
        return session

    def get(self, sid: str) -> Session | None:
        """The live session of ``sid`` (its idle clock restarted), ``None`` if none or expired."""
        session = self._sessions.get(sid)
        if session is None:
            return None
        now = self.clock()
        if self._expired(session, now):
            del self._sessions[sid]
            return None
        session.seen = now
        return session

    def _expired(self, session: Session, now: float) -> bool:
        return now - session.seen > self.idle_s or now - session.created > self.absolute_s

    def drop(self, sid: str) -> None:
        self._sessions.pop(sid, None)

    def __len__(self) -> int:
        return len(self._sessions)


@dataclass(slots=True)
class Throttle:
    """Failed logins per key (``user:NAME``, ``ip:ADDRESS``); see the module docstring."""

    max_failures: int = 5
    window_s: float = 300.0
    lockout_s: float = 300.0
    max_keys: int = 10_000  # keys remembered at most (a guesser cycling names or addresses)
    _failures: dict[str, list[float]] = field(default_factory=dict)
    _locked_until: dict[str, float] = field(default_factory=dict)

    def locked(self, keys: tuple[str, ...], now: float) -> float:
        """Seconds until every key of ``keys`` may try again (0: it may now)."""
        return max([0.0, *(self._locked_until.get(k, 0.0) - now for k in keys)])

    def failed(self, keys: tuple[str, ...], now: float) -> None:
        if len(self._failures) + len(self._locked_until) >= self.max_keys:
            self._prune(now)
        for key in keys:
            recent = [t for t in self._failures.get(key, []) if now - t < self.window_s]
            recent.append(now)
            if len(recent) >= self.max_failures:
                self._locked_until[key] = now + self.lockout_s
                recent = []
            self._failures[key] = recent

    def _prune(self, now: float) -> None:
        """Forget old failures and ended locks; past ``max_keys`` still, the oldest keys."""
        self._failures = {k: v for k, v in self._failures.items()
                          if v and now - v[-1] < self.window_s}
        self._locked_until = {k: t for k, t in self._locked_until.items() if t > now}
        for table in (self._failures, self._locked_until):
            while len(table) > self.max_keys // 2:
                del table[next(iter(table))]

    def succeeded(self, keys: tuple[str, ...]) -> None:
        for key in keys:
            self._failures.pop(key, None)
