"""A bound on going back to the bot after failed escalations (``max_bot_reentries``), in the
pure call flow: a relay whose bot is unreachable asks for an agent again as soon as it is back,
and without the bound the call looped fallback message -> bot -> escalation for ever."""

from __future__ import annotations

import pytest
from test_dialer_flow import CUST, Drive, act, lc

from dialer.flows import (
    CallState,
    FlowSettings,
    Hangup,
    NoAgentFree,
    Notify,
    StartSay,
    StartStream,
    Transfer,
)


def escalate_and_fail(d: Drive) -> None:
    """The bot (just connected) asks for an agent; nobody has the skill."""
    d(Transfer("relay_unreachable", ("sales",)))
    d(NoAgentFree("skill"))


def back_on_stream(d: Drive) -> None:
    assert d.state is CallState.CONNECTING
    out = d(act("say_completed"))  # the fallback message said: a new stream
    assert any(isinstance(c, StartStream) for c in out)
    d(act("stream_started"))
    assert d.state is CallState.BOT


def test_after_max_bot_reentries_the_goodbye_and_a_hang_up() -> None:
    d = Drive()  # default: one re-entry
    d.to_bot()
    escalate_and_fail(d)
    assert Notify("back_to_bot") in d.log
    back_on_stream(d)
    escalate_and_fail(d)  # the second failure: no third bot session
    assert d.state is CallState.GOODBYE
    assert d.log.count(Notify("back_to_bot")) == 1
    assert Notify("bot_reentries_exhausted", "1") in d.log
    assert any(isinstance(c, StartSay) and c.purpose == "goodbye" for c in d.log)
    out = d(act("say_completed"))
    assert Hangup(CUST, "customer") in out
    d(lc("leg_terminated"))
    outcome = d.flow.outcome
    assert outcome.disposition == "no_agent"
    assert outcome.hangup_reason == "bot_reentries_exhausted"
    assert outcome.failure == "no_agent:skill"
    assert "bot_reentries_exhausted" in [name for name, _ in outcome.timeline]
    assert d.flow.done


def test_zero_reentries_says_goodbye_at_the_first_failure() -> None:
    d = Drive(max_bot_reentries=0)
    d.to_bot()
    escalate_and_fail(d)
    assert d.state is CallState.GOODBYE and Notify("back_to_bot") not in d.log


def test_more_reentries_allowed_then_bounded() -> None:
    d = Drive(max_bot_reentries=3)
    d.to_bot()
    for _ in range(3):
        escalate_and_fail(d)
        back_on_stream(d)
    escalate_and_fail(d)
    assert d.state is CallState.GOODBYE
    assert d.log.count(Notify("back_to_bot")) == 3


def test_callback_fallback_is_unchanged() -> None:
    d = Drive(escalation_fallback="callback")
    d.to_bot()
    escalate_and_fail(d)
    d(act("say_completed"))
    d(lc("leg_terminated"))
    assert d.flow.outcome.disposition == "callback_scheduled"
    assert d.flow.outcome.hangup_reason == ""


def test_negative_reentries_refused() -> None:
    with pytest.raises(ValueError, match="max_bot_reentries"):
        FlowSettings(max_bot_reentries=-1)
