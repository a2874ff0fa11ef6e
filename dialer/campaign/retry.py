"""Retry policy and lead order: when a lead is due again after an attempt, and which due lead
goes first. Pure functions; the store applies them when it records an attempt's result."""

from __future__ import annotations

from collections.abc import Mapping

from dialer.campaign.model import Outcome

__all__ = ["FINAL_OUTCOMES", "lead_order_key", "next_attempt_at"]

FINAL_OUTCOMES = frozenset({Outcome.COMPLETED, Outcome.ESCALATED})


def next_attempt_at(
    outcome: Outcome,
    *,
    now: float,
    retry: Mapping[str, float],
    attempts_made: int,
    max_attempts: int,
    callback_at: float | None = None,
) -> float | None:
    """When to try again after ``outcome``, or ``None`` when the lead is finished: the call
    reached its goal, the outcome has no retry delay, or the attempts are used up. A callback
    the customer asked for (``callback_at``) wins over the callback delay."""
    if outcome in FINAL_OUTCOMES or attempts_made >= max_attempts:
        return None
    delay = retry.get(outcome.value)
    if delay is None:
        return None
    if outcome is Outcome.CALLBACK and callback_at is not None:
        return max(now, callback_at)
    return now + delay


def lead_order_key(priority: int, due_at: float, lead_id: int) -> tuple[int, float, int]:
    """Dial order among due leads: higher priority first, then earlier due, then import order.
    The store's claim query sorts the same way (``priority DESC, due_at, id``)."""
    return (-priority, due_at, lead_id)
