"""What happens on a campaign's calls, as its pacer's observations and the live progress
counters: the campaign runner hands each progress event of a call in flight to
:func:`on_progress` (:mod:`dialer.progress`'s typed events)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from dialer.campaign.live_calls import LiveCall
from dialer.campaign.outcomes import UNANSWERED
from dialer.pacing.types import (
    CustomerAbandoned,
    CustomerConnected,
    DialOutcome,
    DialResolved,
    Pacer,
)
from dialer.progress import (
    Abandoned,
    Answered,
    BackToBot,
    Bridged,
    Ended,
    Escalated,
    Live,
    Machine,
    ProgressEvent,
    TransferForecast,
)

__all__ = ["Progress", "on_progress", "resolve"]


@dataclass(slots=True)
class Progress:
    """Counters for the live progress line."""

    placed: int = 0
    answered: int = 0
    escalated: int = 0
    bridged: int = 0
    abandoned: int = 0
    busy_agent_s: float = 0.0
    agent_s: float = 0.0
    started: float = field(default_factory=time.monotonic)


def resolve(pacer: Pacer, live: LiveCall, now: float, outcome: DialOutcome) -> None:
    """Tell the pacer how a dial's ringing ended, as soon as that is known: a live answer
    (at the answer, or at AMD's human result), a machine, or no answer/busy/failed."""
    if live.resolved:
        return
    live.resolved = True
    end = live.answered if live.answered is not None else now
    pacer.observe(DialResolved(now, max(0.0, end - live.placed), outcome))


def on_progress(ev: ProgressEvent, live: LiveCall, now: float, *, agent_first: bool,
                progress: Progress, pacer: Pacer) -> None:
    """One progress event of the call in flight ``live``: its state, the counters, and what
    the pacer learns from it."""
    match ev:
        case Answered():
            live.answered = now
            progress.answered += 1
            if agent_first:
                live.waiting_since = now  # the abandonment clock runs from the answer
        case Live():  # a live answer is known (AMD said human, or no AMD)
            live.live = True
            live.escalated = agent_first  # it needs an agent now
            resolve(pacer, live, now, DialOutcome.LIVE)
        case Machine():
            live.live = live.escalated = False
            resolve(pacer, live, now, DialOutcome.MACHINE)
            live.waiting_since = None  # nobody was waiting
        case Ended(disposition=disposition) if live.answered is None:
            resolve(pacer, live, now, UNANSWERED.get(disposition, DialOutcome.FAILED))
        case TransferForecast(within_s=within, likelihood=likelihood):
            if live.answered is not None and live.waiting_since is None:
                live.forecast = (now, within, likelihood) if likelihood > 0 else None
        case Escalated():
            progress.escalated += 1
            live.escalated = True
            if live.answered is not None and not agent_first:
                pacer.observe(live.bot_ended(now, True))
            live.waiting_since = now
        case Bridged():
            progress.bridged += 1
            live.escalated = live.connected = True
            if live.waiting_since is not None:
                pacer.observe(CustomerConnected(now, now - live.waiting_since))
                live.waiting_since = None
        case Abandoned() | BackToBot():  # no agent in time
            progress.abandoned += isinstance(ev, Abandoned)
            if live.waiting_since is not None:
                pacer.observe(CustomerAbandoned(now, now - live.waiting_since))
                live.waiting_since = None
