"""A finished call's record as the campaign sees it: the attempt's result (outcome, live answer,
escalated, connected, abandoned) and the pacer's observation of how the dial's ringing ended.
Pure: records in, values out."""

from __future__ import annotations

from dialer.campaign.model import Outcome
from dialer.campaign.store.types import AttemptResult
from dialer.pacing.types import DialOutcome, DialResolved
from dialer.records import CallRecord

__all__ = ["UNANSWERED", "attempt_result", "dial_observation", "escalation_abandoned", "mark"]

UNANSWERED = {"busy": DialOutcome.BUSY, "no_answer": DialOutcome.NO_ANSWER}
"""The dial outcome of an unanswered call's disposition (any other: ``FAILED``)."""


def mark(record: CallRecord, name: str) -> float | None:
    """Seconds from the dial to the first ``name`` in the record's timeline (kept in ms)."""
    for event, ms in record.timeline:
        if event == name:
            return ms / 1000.0
    return None


def attempt_result(record: CallRecord) -> AttemptResult:
    """The campaign's view of a finished call. Machines are never live answers. ``escalated``
    means the call needed an agent: the customer asked for one (bot-first), or it was answered
    live in agent-first; ``connected`` means it reached one. Abandoned: agent-first, no agent
    within ``abandon_after`` of the answer (the flow decides: a silent call); bot-first, an
    escalation that never reached an agent (the queue's limit passed, no agent had the skills,
    or the customer gave up waiting). A bot-first customer is never in silence, so how long a
    bridged escalation waited is a service level (``hold_ms``, the pacer's target), not an
    abandonment."""
    outcome = (
        Outcome.MACHINE
        if record.machine
        else Outcome.from_disposition(record.disposition, record.bridged)
    )
    live = record.answered and not record.machine
    answered = mark(record, "answered")
    answered_at = record.started_at + answered if live and answered is not None else None
    return AttemptResult(
        outcome,
        record.disposition,
        live=live,
        abandoned=record.abandoned or escalation_abandoned(record),
        escalated=(record.escalated or record.bridged or (live and record.mode == "agent_first"))
        and not record.machine,
        connected=record.bridged and not record.machine,
        answered_at=answered_at,
        record=record.to_json(),
    )


def escalation_abandoned(record: CallRecord) -> bool:
    """A bot-first customer who asked for an agent and never reached one."""
    return record.mode == "bot_first" and record.escalated and not record.bridged and (
        not record.machine)


def dial_observation(record: CallRecord, at: float) -> DialResolved:
    """How the dial's ringing ended, from the finished call's record (the fallback when the
    progress events did not tell it earlier)."""
    start = mark(record, "dial") or 0.0
    answered = mark(record, "answered")
    end = mark(record, "ended")
    if record.answered and answered is not None:
        outcome = DialOutcome.MACHINE if record.machine else DialOutcome.LIVE
        return DialResolved(at, max(0.0, answered - start), outcome)
    outcome = UNANSWERED.get(record.disposition, DialOutcome.FAILED)
    return DialResolved(at, max(0.0, (end if end is not None else start) - start), outcome)
