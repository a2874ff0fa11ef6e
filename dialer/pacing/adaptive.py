"""A baseline reproducing VICIdial's adaptive predictive modes (``ADAPT_HARD_LIMIT``).

VICIdial keeps a *dial level*: lines per active agent. Every 15 s its adaptive process looks at
idle agents minus calls waiting for an agent and nudges the level up (agents idle) or down (calls
waiting) in proportion, clamped to 1.0-3.0. In hard-limit mode, once the day's drop (abandon) rate
passes the target the level falls to 1.0 until the rate is back under it. Lines wanted are
``ceil(level * active agents)``; lines already ringing, waiting or talking count against that.

Used as the baseline the voxgate predictive pacer is measured against (``bench/pacing.py``).
VICIdial keeps the dial level in the campaign's settings from one day to the next, so the
baseline's warm start (:meth:`AdaptiveBaselinePacer.restore`) takes the last level.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from dialer.pacing.types import SNAPSHOT_VERSION, Observation, PacerState, check_snapshot

__all__ = ["AdaptiveBaselinePacer"]


class AdaptiveBaselinePacer:
    """Proportional controller on (idle agents - waiting calls), updated every ``update_s``."""

    name = "vicidial-adaptive"

    def __init__(
        self,
        drop_target: float = 0.03,
        update_s: float = 15.0,
        gain: float = 0.5,
        min_level: float = 1.0,
        max_level: float = 3.0,
        start_level: float = 1.0,
    ) -> None:
        if not 1.0 <= min_level <= start_level <= max_level:
            raise ValueError("need 1.0 <= min_level <= start_level <= max_level")
        if update_s <= 0 or gain <= 0 or not 0 < drop_target < 1:
            raise ValueError("update_s and gain must be > 0, drop_target within (0, 1)")
        self.drop_target = drop_target
        self.update_s = update_s
        self.gain = gain
        self.min_level = min_level
        self.max_level = max_level
        self.level = start_level
        self._next_update: float | None = None

    def snapshot(self) -> dict[str, Any]:
        """The dial level (see ``WarmStartPacer``)."""
        return {"version": SNAPSHOT_VERSION, "pacer": self.name, "level": self.level}

    def restore(self, snapshot: Mapping[str, Any]) -> None:
        """Start from a stored dial level (clamped to the pacer's range)."""
        check_snapshot(snapshot, self.name)
        level = snapshot.get("level", self.level)
        if isinstance(level, bool) or not isinstance(level, int | float) or level != level:
            raise ValueError(f"a stored dial level must be a number, got {level!r}")
        self.level = min(self.max_level, max(self.min_level, float(level)))

    def observe(self, obs: Observation) -> None:
        """The baseline reads everything it needs from the state (as VICIdial reads its tables)."""

    def _update(self, state: PacerState) -> None:
        if state.abandon_rate_24h > self.drop_target:
            self.level = self.min_level
            return
        agents = max(1, state.agents_logged_in)
        error = (state.agents_ready - len(state.waiting)) / agents
        self.level = min(self.max_level, max(self.min_level, self.level + self.gain * error))

    def dials_now(self, state: PacerState) -> int:
        if self._next_update is None or state.now >= self._next_update:
            self._update(state)
            self._next_update = state.now + self.update_s
        talking = sum(1 for agent in state.busy_agents if agent.phase == "talk")
        in_progress = len(state.ringing) + len(state.waiting) + talking
        wanted = math.ceil(self.level * state.agents_logged_in) - in_progress
        return max(0, min(wanted, state.free_lines))
