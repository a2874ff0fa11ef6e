"""Progressive pacing: one line per free agent, never more. Zero abandonment by construction
(bar a race), the lowest agent talk time. Also the fallback of the other pacers."""

from __future__ import annotations

from dialer.pacing.types import Observation, PacerState

__all__ = ["ProgressivePacer", "progressive_dials"]


def progressive_dials(state: PacerState) -> int:
    """Free agents not yet covered by a ringing line or a waiting customer, within line limits."""
    uncovered = state.agents_ready - len(state.ringing) - len(state.waiting)
    return max(0, min(uncovered, state.free_lines))


class ProgressivePacer:
    """Dial one line for each ready agent that no ringing line or waiting customer covers."""

    name = "progressive"

    def observe(self, obs: Observation) -> None:
        """Progressive pacing learns nothing."""

    def dials_now(self, state: PacerState) -> int:
        return progressive_dials(state)
