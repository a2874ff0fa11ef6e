"""The check of a state-changing event (dialer/confirm.py) against Exotel's answers, on a virtual
clock: agreeing acts, disagreeing until the deadline drops, an API that never answers acts
(a genuine call is never stuck), and once Exotel has disagreed, a last request cut at the
deadline or failing does not let a forged event act (it did on a loaded machine)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from dialer.confirm import ConfirmStats, EventConfirmer
from dialer.errors import ExotelApiError
from dialer.events import LegLifecycle
from dialer.testing import run_virtual

TIMEOUT_S = 4.0
LEG = "L1"

# each answer: (seconds the request takes, the leg's state, or an error status)
Answer = tuple[float, str | int]


class ScriptedApi:
    """``GET /legs/{sid}`` answering from a script; the last answer repeats."""

    def __init__(self, answers: Sequence[Answer]) -> None:
        self.answers = list(answers)
        self.asked = 0

    async def get_leg(self, leg_sid: str) -> dict[str, Any]:
        delay, state = self.answers[min(self.asked, len(self.answers) - 1)]
        self.asked += 1
        await asyncio.sleep(delay)
        if isinstance(state, int):
            raise ExotelApiError(state, {"message": "scripted"}, "GET", f"/legs/{leg_sid}")
        return {"sid": leg_sid, "state": state}

    async def get_bridge(self, bridge_sid: str) -> dict[str, Any]:
        raise AssertionError("no bridge here")


def check(answers: Sequence[Answer]) -> tuple[bool, ConfirmStats, float, int]:
    """Check a ``leg_answered``: (acted on, the counters, seconds taken, requests made)."""
    api = ScriptedApi(answers)
    stats = ConfirmStats()
    confirmer = EventConfirmer("c1", api, lambda ev: None, stats, TIMEOUT_S)
    ev = LegLifecycle("E1", "leg_answered", "", {"leg_sid": LEG}, leg_sid=LEG)

    async def run() -> tuple[bool, float]:
        loop = asyncio.get_running_loop()
        start = loop.time()
        acted = await confirmer._confirmed(ev, LEG)
        return acted, loop.time() - start

    acted, took = run_virtual(run())
    return acted, stats, took, api.asked


def test_an_agreeing_answer_acts_at_once() -> None:
    acted, stats, took, asked = check([(0.05, "answered")])
    assert acted and stats.confirmed == 1 and asked == 1 and took == pytest.approx(0.05)


def test_disagreeing_until_the_deadline_drops() -> None:
    acted, stats, took, asked = check([(0.05, "ringing")])
    assert not acted and stats.dropped == 1 and stats.unconfirmed == 0
    assert asked > 10 and took <= TIMEOUT_S


def test_a_lagging_api_that_catches_up_acts() -> None:
    acted, stats, _took, _asked = check([(0.05, "ringing"), (0.05, "ringing"),
                                         (0.05, "answered")])
    assert acted and stats.confirmed == 1 and stats.dropped == 0


@pytest.mark.parametrize("first", [(10.0, "ringing"), (0.1, 503)])
def test_an_api_that_never_answers_lets_the_event_act(first: Answer) -> None:
    acted, stats, took, asked = check([first])
    assert acted and stats.unconfirmed == 1 and stats.dropped == 0
    assert asked == 1 and took <= TIMEOUT_S


@pytest.mark.parametrize("after", [(10.0, "ringing"), (0.1, 429)])
def test_after_a_disagreement_a_slow_or_failing_api_does_not_let_a_forged_event_act(
        after: Answer) -> None:
    """Exotel said ringing; then its requests fail (429) or the one running at the deadline is
    cut: the last word stands and the event is dropped (before: acted on as unconfirmed)."""
    acted, stats, took, _asked = check([(0.05, "ringing"), after])
    assert not acted and stats.dropped == 1 and stats.unconfirmed == 0
    assert took <= TIMEOUT_S + 0.01


def test_the_last_request_cut_at_the_deadline_keeps_the_disagreement() -> None:
    """Ringing answered slowly (0.35 s a request, 0.2 s apart): the request running when the
    deadline comes is cut; the event is dropped, not acted on."""
    acted, stats, took, asked = check([(0.35, "ringing")])
    assert not acted and stats.dropped == 1 and stats.unconfirmed == 0
    assert asked >= 8 and took <= TIMEOUT_S + 0.01
