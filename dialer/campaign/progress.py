"""The live view of a running campaign: a snapshot of its figures, and how to show it.

:class:`~dialer.campaign.runner.CampaignRunner` builds a :class:`CampaignSnapshot` every
``report_every_s`` and hands it to its ``report`` callback. :func:`render` turns one into a few
short lines, :func:`one_line` into a single log-friendly line, and :class:`LiveView` (the
callback ``voxgate demo`` and ``voxgate campaign run`` use) redraws the lines in place on a
terminal, or prints one line per snapshot when the output is a file or a pipe.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TextIO

__all__ = ["CampaignSnapshot", "LiveView", "one_line", "render"]

_BAR = 24


@dataclass(frozen=True, slots=True)
class CampaignSnapshot:
    """A campaign's figures at one moment (``elapsed_s`` since the runner started).

    ``abandon_rate_24h``/``_30d`` come from the campaign's abandonment ledger (abandoned / live
    answers); ``occupancy`` is the share of logged-in agent time spent ringing, talking or in
    wrap-up since the start; ``agents`` counts agents by state (idle, ringing, talking ...)."""

    campaign: str
    status: str
    elapsed_s: float
    leads: int
    done: int
    pending: int
    in_flight: int
    attempts: int
    answered: int
    escalated: int
    bridged: int
    abandoned: int
    abandon_rate_24h: float
    abandon_rate_30d: float
    occupancy: float
    agents: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        if not isinstance(self.agents, MappingProxyType):
            object.__setattr__(self, "agents", MappingProxyType(dict(self.agents)))


def _bar(done: int, total: int) -> str:
    filled = round(_BAR * done / total) if total else 0
    return "#" * filled + "." * (_BAR - filled)


def render(s: CampaignSnapshot) -> list[str]:
    """Three lines of at most ~80 characters: leads, calls, agents."""
    a = s.agents
    return [
        f"{s.campaign} [{s.status}] {s.elapsed_s:5.1f}s  leads {s.done}/{s.leads} done "
        f"[{_bar(s.done, s.leads)}]",
        f"  in flight {s.in_flight:2d}  attempts {s.attempts:3d}  answered {s.answered:3d}  "
        f"escalated {s.escalated:2d}  bridged {s.bridged:2d}  abandoned {s.abandoned} "
        f"({s.abandon_rate_24h:.1%})",
        f"  agents: occupancy {s.occupancy:4.0%}  idle {a.get('idle', 0)}  ringing "
        f"{a.get('ringing', 0)}  talking {a.get('talking', 0)}  wrap-up {a.get('wrap_up', 0)}",
    ]


def one_line(s: CampaignSnapshot) -> str:
    """The snapshot as one line (logs, pipes)."""
    return (
        f"[{s.campaign} {s.status} {s.elapsed_s:.0f}s] leads done {s.done}/{s.leads}  "
        f"in flight {s.in_flight}  answered {s.answered}  escalated {s.escalated}  "
        f"abandonment {s.abandon_rate_24h:.1%} (24 h) {s.abandon_rate_30d:.1%} (30 d)  "
        f"agent occupancy {s.occupancy:.0%}"
    )


class LiveView:
    """A ``report`` callback: redraws :func:`render` in place on a terminal, else prints
    :func:`one_line`. Call :meth:`finish` once at the end (leaves the last view standing)."""

    def __init__(self, out: TextIO | None = None, *, tty: bool | None = None) -> None:
        self.out = out if out is not None else sys.stdout
        self.tty = self.out.isatty() if tty is None else tty
        self._drawn = 0
        self.updates = 0

    def __call__(self, snapshot: CampaignSnapshot) -> None:
        self.updates += 1
        if not self.tty:
            self.out.write(one_line(snapshot) + "\n")
            self.out.flush()
            return
        lines = render(snapshot)
        if self._drawn:
            self.out.write(f"\x1b[{self._drawn}F\x1b[J")  # up to the first line, clear below
        self.out.write("\n".join(lines) + "\n")
        self.out.flush()
        self._drawn = len(lines)

    def finish(self) -> None:
        """Stop redrawing: what follows is printed below the last view."""
        self._drawn = 0
