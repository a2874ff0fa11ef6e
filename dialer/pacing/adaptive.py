"""A baseline reproducing VICIdial's adaptive predictive mode ``ADAPT_HARD_LIMIT``.

What VICIdial does, and where (``bin/AST_VDauto_dial.pl`` and ``bin/AST_VDadapt.pl``):

* **Dial level**: lines per *active* agent. Active agents are those in ``READY``, ``QUEUE``,
  ``INCALL`` or ``DONE``, less those whose customer has hung up (``DEAD``: on the disposition
  screen) -- paused and wrap-up agents are not dialled for. Calls wanted are
  ``round(level * active)``; calls ringing, waiting for an agent or talking to one count
  against that.
* **Adaptation**, every 15 s: the new level is ``level * (1 + D / A)``, where ``D`` is the
  one-minute average of ready agents minus calls waiting for an agent and ``A`` the one-minute
  average of logged-in agents (adaptive intensity 0, dial-level difference target 0, the
  defaults). It is capped at the maximum level (3.0 here) and never under 1.0.
* **Hard limit**: once more than 50 calls were placed today and today's drops exceed the target
  share of answers, the level is 1.0 until the rate is back under it. At level 1.0 only ready
  agents not covered by a ringing or waiting call are dialled for (one line each).
  (VICIdial's other drop rule, halving the level when over 50 % of the last minute's calls
  dropped, needs a live-answer rate over 50 % and never fires on these scenarios; it is left
  out.)

``count_wrap_up=True`` is VICIdial before it subtracted ``DEAD`` agents (the 2.x releases'
``AST_VDauto_dial.pl`` counted every agent in an active status, dispositioning ones included):
agents in wrap-up count as active, so at level 1.0 it still dials a line for each of them.
``bench/pacing.py`` prints it as an extra row.

Used as the baseline the voxgate predictive pacer is measured against (``bench/pacing.py``).
VICIdial keeps the dial level in the campaign's settings from one day to the next, so the
baseline's warm start (:meth:`AdaptiveBaselinePacer.restore`) takes the last level.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import Any

from dialer.pacing.types import (
    SNAPSHOT_VERSION,
    DialResolved,
    Observation,
    PacerState,
    check_snapshot,
)

__all__ = ["AdaptiveBaselinePacer"]

AVERAGE_S = 60.0  # VICIdial's one-minute averages (differential_onemin, agents_average_onemin)
MIN_CALLS_TODAY = 50  # the hard limit applies once more calls than this were placed today


class AdaptiveBaselinePacer:
    """VICIdial ``ADAPT_HARD_LIMIT``: dial level = lines per active agent, scaled every
    ``update_s`` by the minute's idle-agent differential, 1.0 while over the drop target."""

    name = "vicidial-adaptive"

    def __init__(
        self,
        drop_target: float = 0.03,
        update_s: float = 15.0,
        max_level: float = 3.0,
        start_level: float = 1.0,
        count_wrap_up: bool = False,
    ) -> None:
        if not 1.0 <= start_level <= max_level:
            raise ValueError("need 1.0 <= start_level <= max_level")
        if update_s <= 0 or not 0 < drop_target < 1:
            raise ValueError("update_s must be > 0, drop_target within (0, 1)")
        self.drop_target = drop_target
        self.update_s = update_s
        self.max_level = max_level
        self.level = start_level
        self.count_wrap_up = count_wrap_up
        self._next_update: float | None = None
        self._calls = 0  # dials resolved this shift (VICIdial's calls today)
        # (time, ready - waiting, logged in) at every pacing tick of the last minute
        self._samples: deque[tuple[float, int, int]] = deque()

    def snapshot(self) -> dict[str, Any]:
        """The dial level (see ``WarmStartPacer``)."""
        return {"version": SNAPSHOT_VERSION, "pacer": self.name, "level": self.level}

    def restore(self, snapshot: Mapping[str, Any]) -> None:
        """Start from a stored dial level (clamped to the pacer's range)."""
        check_snapshot(snapshot, self.name)
        level = snapshot.get("level", self.level)
        if isinstance(level, bool) or not isinstance(level, int | float) or level != level:
            raise ValueError(f"a stored dial level must be a number, got {level!r}")
        self.level = min(self.max_level, max(1.0, float(level)))

    def observe(self, obs: Observation) -> None:
        """Counts the day's calls; everything else is read from the state, as VICIdial reads
        its tables."""
        if isinstance(obs, DialResolved):
            self._calls += 1

    def _sample(self, state: PacerState) -> None:
        self._samples.append(
            (state.now, state.agents_ready - len(state.waiting), state.agents_logged_in)
        )
        while self._samples and self._samples[0][0] <= state.now - AVERAGE_S:
            self._samples.popleft()

    def _update(self, state: PacerState) -> None:
        count = len(self._samples)
        differential = sum(s[1] for s in self._samples) / count
        agents = sum(s[2] for s in self._samples) / count
        if agents > 0:
            self.level = min(self.max_level, max(1.0, self.level * (1 + differential / agents)))
        over_limit = state.abandon_rate_24h > self.drop_target
        if self._calls > MIN_CALLS_TODAY and over_limit:
            self.level = 1.0

    def dials_now(self, state: PacerState) -> int:
        self._sample(state)
        if self._next_update is None or state.now >= self._next_update:
            self._update(state)
            self._next_update = state.now + self.update_s
        talking = sum(1 for agent in state.busy_agents if agent.phase == "talk")
        active = state.agents_ready + talking  # wrap-up agents are not dialled for ...
        if self.count_wrap_up:  # ... but were by older VICIdial releases
            active = state.agents_ready + len(state.busy_agents)
        in_progress = len(state.ringing) + len(state.waiting) + talking
        wanted = round(self.level * active) - in_progress
        return max(0, min(wanted, state.free_lines))
