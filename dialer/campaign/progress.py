"""The live view of a running campaign: a snapshot of its figures, and how to show it.

:class:`~dialer.campaign.runner.CampaignRunner` builds a :class:`CampaignSnapshot` every
``report_every_s`` and hands it to its ``report`` callback. :func:`render` turns one into a few
short lines, :func:`one_line` into a single log-friendly line, and :class:`LiveView` (the
callback ``voxgate demo`` and ``voxgate campaign run`` use) redraws the lines in place on a
terminal, or prints one line per snapshot when the output is a file or a pipe.

The small formatters here are shared with ``voxgate campaign status`` and ``export``: times as
ISO 8601 UTC (:func:`iso_utc`), spans (:func:`span`), the pending leads split into due now and
waiting (:func:`pending_text`), whether a dialer is attached (:func:`dialer_text`), the
``status`` lines of a campaign (:func:`status_lines`) and what to do when it is paused
(:func:`paused_text`).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, TextIO

from dialer.timefmt import iso_utc

if TYPE_CHECKING:
    from dialer.campaign.store.types import CampaignStats, PendingLeads

__all__ = [
    "CampaignSnapshot",
    "LiveView",
    "dialer_text",
    "iso_utc",
    "one_line",
    "paused_text",
    "pending_text",
    "render",
    "span",
    "status_lines",
]

_BAR = 24

HEARTBEAT_EVERY_S = 10.0
"""A running :class:`~dialer.campaign.runner.CampaignRunner` records a heartbeat with each
progress snapshot, and at least this often."""
HEARTBEAT_STALE_S = 3 * HEARTBEAT_EVERY_S
"""A dialer whose last heartbeat is older than this is taken for gone (killed, or its machine
stopped) even though it never said goodbye."""


def span(seconds: float) -> str:
    """A duration in its two largest units: ``45s``, ``4m05s``, ``10h32m``, ``2d03h``."""
    s = max(0, round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86_400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86_400}d{s % 86_400 // 3600:02d}h"


def _ago(seconds: float) -> str:
    """How long ago, in words a supervisor reads at a glance: ``2 s``, ``5 min``, ``3 h``."""
    s = max(0, round(seconds))
    if s < 120:
        return f"{s} s ago"
    if s < 2 * 3600:
        return f"{s // 60} min ago"
    if s < 2 * 86_400:
        return f"{s // 3600} h ago"
    return f"{s // 86_400} days ago"


def pending_text(
    pending: int, due_now: int | None, next_due_at: float | None, now: float | None
) -> str:
    """``pending 7: due now 0, waiting 7, next due 2026-11-22T03:30:00Z (in 10h32m)``.

    ``due_now`` counts the pending leads that may be dialled now; the rest wait for their
    calling window or a retry delay, and ``next_due_at`` is when the first of them becomes due
    (``(in ...)`` is counted from ``now``, left out when ``now`` is ``None``). ``due_now=None``
    (not known) gives just ``pending 7``."""
    if due_now is None:
        return f"pending {pending}"
    text = f"pending {pending}: due now {due_now}, waiting {pending - due_now}"
    if next_due_at is not None and pending > due_now:
        text += f", next due {iso_utc(next_due_at)}"
        if now is not None:
            text += f" (in {span(next_due_at - now)})"
    return text


def dialer_text(
    heartbeat_at: float | None, last_seen_at: float | None, now: float, *, dialled: bool = False
) -> str:
    """Whether a dialer is attached to the campaign, from its heartbeat: ``dialer active,
    updated 2 s ago``; ``no dialer attached; last seen 5 min ago`` (it exited cleanly, or its
    heartbeat went stale: ``..., it did not exit cleanly``); ``never run``, or ``no dialer
    attached`` when there is no heartbeat but the campaign was ``dialled`` (by a version that
    kept none)."""
    if heartbeat_at is not None:
        age = now - heartbeat_at
        if age <= HEARTBEAT_STALE_S:
            return f"dialer active, updated {_ago(age)}"
        return f"no dialer attached; last seen {_ago(age)}, it did not exit cleanly"
    if last_seen_at is not None:
        return f"no dialer attached; last seen {_ago(now - last_seen_at)}"
    return "no dialer attached" if dialled else "never run"


@dataclass(frozen=True, slots=True)
class CampaignSnapshot:
    """A campaign's figures at one moment (``elapsed_s`` since the runner started).

    ``abandon_rate_24h``/``_30d`` come from the campaign's abandonment ledger (abandoned / live
    answers); ``occupancy`` is the share of logged-in agent time spent ringing, talking or in
    wrap-up since the start; ``agents`` counts agents by state (idle, ringing, talking ...);
    ``waiting_for_agent`` customers wait for one now, the longest for ``longest_wait_s``.
    Of the ``pending`` leads, ``due_now`` may be dialled now (``None``: not known) and the rest
    wait (calling window, retry delay) until ``next_due_at`` at the earliest; ``wall_time`` is
    the snapshot's time on the same (epoch) clock, for "in 10h32m"."""

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
    due_now: int | None = None
    next_due_at: float | None = None
    wall_time: float | None = None
    waiting_for_agent: int = 0  # customers waiting for an agent now (escalated, not bridged)
    longest_wait_s: float = 0.0  # the longest of their waits so far

    @property
    def waiting(self) -> int:
        """Pending leads not due yet (0 when the split is not known)."""
        return 0 if self.due_now is None else self.pending - self.due_now

    def pending_text(self) -> str:
        """:func:`pending_text` for this snapshot."""
        return pending_text(self.pending, self.due_now, self.next_due_at, self.wall_time)

    def __post_init__(self) -> None:
        if not isinstance(self.agents, MappingProxyType):
            object.__setattr__(self, "agents", MappingProxyType(dict(self.agents)))


def _bar(done: int, total: int) -> str:
    filled = round(_BAR * done / total) if total else 0
    return "#" * filled + "." * (_BAR - filled)


def render(s: CampaignSnapshot) -> list[str]:
    """Four lines of at most ~80 characters: leads, pending (due now or waiting), calls,
    agents."""
    a = s.agents
    return [
        f"{s.campaign} [{s.status}] {s.elapsed_s:5.1f}s  leads {s.done}/{s.leads} done "
        f"[{_bar(s.done, s.leads)}]",
        f"  {s.pending_text()}",
        f"  in flight {s.in_flight:2d}  attempts {s.attempts:3d}  answered {s.answered:3d}  "
        f"escalated {s.escalated:2d}  bridged {s.bridged:2d}  abandoned {s.abandoned} "
        f"({s.abandon_rate_24h:.1%})",
        f"  agents: occupancy {s.occupancy:4.0%}  idle {a.get('idle', 0)}  ringing "
        f"{a.get('ringing', 0)}  talking {a.get('talking', 0)}  wrap-up {a.get('wrap_up', 0)}"
        f"{waiting_text(s)}",
    ]


def waiting_text(s: CampaignSnapshot) -> str:
    """``  waiting for an agent 2 (longest 14s)``, or ``""`` when nobody waits."""
    if not s.waiting_for_agent:
        return ""
    return f"  waiting for an agent {s.waiting_for_agent} (longest {span(s.longest_wait_s)})"


def agents_text(agents: Mapping[str, int]) -> str:
    """``  agents idle 2, talking 1`` (states with agents in them), or ``""``."""
    shown = ", ".join(f"{state} {n}" for state, n in agents.items() if n)
    return f"  agents {shown}" if shown else ""


def one_line(s: CampaignSnapshot) -> str:
    """The snapshot as one line (logs, pipes)."""
    return (
        f"[{s.campaign} {s.status} {s.elapsed_s:.0f}s] leads done {s.done}/{s.leads}  "
        f"{s.pending_text()}  in flight {s.in_flight}  answered {s.answered}  "
        f"escalated {s.escalated}  bridged {s.bridged}  "
        f"abandonment {s.abandon_rate_24h:.1%} (24 h) {s.abandon_rate_30d:.1%} (30 d)  "
        f"agent occupancy {s.occupancy:.0%}{agents_text(s.agents)}{waiting_text(s)}"
    )


SUMMARY_EVERY_S = 60.0  # off a terminal (a log file, a pipe): one summary line at most this often


class LiveView:
    """A ``report`` callback: redraws :func:`render` in place on a terminal; anywhere else
    (a log file, a pipe) prints :func:`one_line` for the first snapshot, then at most one per
    ``every`` seconds of the run (``elapsed_s``). Call :meth:`finish` once at the end: it leaves
    the last view standing (off a terminal: prints the last snapshot if it was held back)."""

    def __init__(self, out: TextIO | None = None, *, tty: bool | None = None,
                 every: float = SUMMARY_EVERY_S) -> None:
        self.out = out if out is not None else sys.stdout
        self.tty = self.out.isatty() if tty is None else tty
        self.every = every
        self._drawn = 0
        self._printed_at: float | None = None  # elapsed_s of the last summary line
        self._held: CampaignSnapshot | None = None  # the latest snapshot not printed
        self.updates = 0

    def _summary(self, snapshot: CampaignSnapshot) -> None:
        self.out.write(one_line(snapshot) + "\n")
        self.out.flush()
        self._printed_at, self._held = snapshot.elapsed_s, None

    def __call__(self, snapshot: CampaignSnapshot) -> None:
        self.updates += 1
        if not self.tty:
            if self._printed_at is None or snapshot.elapsed_s - self._printed_at >= self.every:
                self._summary(snapshot)
            else:
                self._held = snapshot
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
        if self._held is not None:
            self._summary(self._held)


def paused_text(name: str, db: str) -> str:
    """What to do about a paused campaign."""
    return f"campaign {name} is paused: voxgate campaign resume {name} --db {db} to dial"


def status_lines(name: str, s: CampaignStats, pending: PendingLeads, now: float) -> list[str]:
    """``campaign status`` for one campaign at ``now``: the status and whether a dialer is
    attached, the counts, and the pending leads split into due now and waiting."""
    dialer = dialer_text(s.heartbeat_at, s.last_seen_at, now, dialled=s.attempts > 0)
    due_now = min(s.pending, pending.due_now)  # the two reads are not one transaction
    status = s.status
    if s.leads > 0 and s.pending == 0 and s.in_flight == 0 and status != "done":
        status += ", finished"  # every lead is; the stored status stays what was asked for
    return [
        f"{name}: {status} ({dialer}); leads {s.leads} (pending {s.pending}, in flight "
        f"{s.in_flight}, finished {s.done}); attempts {s.attempts}, answered "
        f"{s.answered}, escalated {s.escalated} (bridged to an agent {s.connected}), "
        f"abandoned {s.abandoned}; abandonment {s.rate_24h:.2%} (24 h: {s.abandoned_24h} of "
        f"{s.live_24h} live answers), {s.rate_30d:.2%} (30 days)",
        f"  {pending_text(s.pending, due_now, pending.next_due_at, now)}",
    ]
