"""The customer is never left in silence, in the pure call flow: the goodbye is heard whole,
the hold lasts the whole wait, a bot-first escalation queues for an agent, one voice at a time."""

from __future__ import annotations

from typing import Any

import pytest
from test_dialer_flow import AGENT, CUST, NAILED, Drive, act, lc

from dialer.errors import ConfigError
from dialer.flows import (
    ActionFailed,
    AgentAvailable,
    AgentOffered,
    BridgeCreated,
    CallState,
    CancelTimer,
    Command,
    CreateBridge,
    CreateLeg,
    FlowSettings,
    Hangup,
    HangupRequest,
    LegCreated,
    NoAgentFree,
    Notify,
    PickAgent,
    PlaceCall,
    ReleaseAgent,
    SetTimer,
    StartPlay,
    StartSay,
    StartStream,
    StopPlay,
    StopSay,
    StopStream,
    TimerFired,
    Transfer,
)

HOLD_URL = "http://x/hold.wav"
def audio(out: list[Command], purpose: str) -> StartSay | StartPlay:
    found = [c for c in out if isinstance(c, (StartSay, StartPlay)) and c.purpose == purpose]
    assert len(found) == 1, out
    return found[0]


def names(d: Drive) -> list[str]:
    return [n for n, _ in d.flow.outcome.timeline]


def wait(d: Drive, seconds: float) -> None:
    d.t += seconds


def agent_first_abandoned(**settings: Any) -> tuple[Drive, StartSay | StartPlay]:
    """An agent-first call on hold, no agent in time: the goodbye starts; returns it."""
    d = Drive("agent_first", **settings)
    d(PlaceCall())
    d(LegCreated("customer", CUST))
    d(lc("leg_answered"))
    d(NoAgentFree())
    wait(d, 2.0)
    out = d(TimerFired("abandon"))
    assert d.state is CallState.GOODBYE
    return d, audio(out, "goodbye")


# -- 3: the goodbye is heard whole ---------------------------------------------------------


def test_the_hold_stopping_does_not_end_the_goodbye() -> None:
    """QA #3 (/tmp/supqa/goodbye_cut_flow.py): the hold's ``play_interrupted`` came 1 ms after
    the goodbye started and was taken as its end: the message was cut after ~45 ms."""
    d, goodbye = agent_first_abandoned(hold_url=HOLD_URL)
    assert StopPlay(CUST, "hold") in d.log
    # the stopped hold reports its end, untagged (as in the QA repro) and tagged
    assert d(act("play_interrupted")) == []
    assert d(act("play_interrupted", status="interrupted",
                 action_custom_parameter="vx:hold:1")) == []
    assert d.state is CallState.GOODBYE
    assert not any(isinstance(c, Hangup) for c in d.log)
    assert "goodbye_completed" not in names(d)
    wait(d, 3.1)
    out = d(act("say_completed", status="completed", action_custom_parameter=goodbye.tag))
    assert CancelTimer("message") in out and Hangup(CUST, "customer") in out
    d(lc("leg_terminated"))
    o = d.flow.outcome
    assert o.abandoned and o.disposition == "abandoned"
    times = dict(d.flow.outcome.timeline)
    assert times["goodbye_completed"] - times["abandoned"] > 3.0  # the whole message


def test_a_said_hold_stopping_does_not_end_a_said_goodbye() -> None:
    """Both are ``say``: the stopped hold's ``say_completed`` (status interrupted) is not the
    goodbye's, with or without our tag."""
    d, goodbye = agent_first_abandoned()
    assert StopSay(CUST, "hold") in d.log
    assert d(act("say_completed", status="interrupted")) == []
    assert d(act("say_completed", action_custom_parameter="vx:hold:1")) == []
    assert d.state is CallState.GOODBYE
    out = d(act("say_completed", action_custom_parameter=goodbye.tag))
    assert Hangup(CUST, "customer") in out


def test_an_untagged_goodbye_end_still_ends_the_goodbye() -> None:
    """Where Exotel does not hand the custom parameter back, the kind decides."""
    d, _ = agent_first_abandoned(hold_url=HOLD_URL)
    assert d(act("play_completed")) == []  # a play is not the goodbye (a say)
    assert Hangup(CUST, "customer") in d(act("say_completed", status="completed"))


def test_the_callback_message_is_heard_whole() -> None:
    d = Drive(escalation_fallback="callback", max_agent_attempts=1, hold_url=HOLD_URL)
    d.to_agent_ringing()
    out = d(TimerFired("agent_ring"))
    assert StopPlay(CUST, "hold") in out and d.state is CallState.GOODBYE
    goodbye = audio(out, "goodbye")
    assert d(act("play_interrupted", action_custom_parameter="vx:hold:3")) == []
    assert not any(isinstance(c, Hangup) and c.role == "customer" for c in d.log)
    d(act("say_completed", action_custom_parameter=goodbye.tag))
    d(lc("leg_terminated"))
    assert d.flow.outcome.disposition == "callback_scheduled"


def test_the_fallback_is_marked_complete_only_at_its_own_end() -> None:
    d = Drive(max_agent_attempts=1, hold_url=HOLD_URL)
    d.to_agent_ringing()
    out = d(TimerFired("agent_ring"))
    fallback = audio(out, "fallback")
    d(act("play_interrupted"))  # the hold
    assert "fallback_completed" not in names(d)
    d(act("say_completed", action_custom_parameter=fallback.tag))
    assert "fallback_completed" in names(d)


def test_audio_failures_are_matched_too() -> None:
    d, goodbye = agent_first_abandoned(hold_url=HOLD_URL)
    assert d(ActionFailed("start_play", "customer", 500, "late hold failure")) == []
    assert d(ActionFailed("start_say", "customer", 500, "other", tag="vx:x:99")) == []
    out = d(ActionFailed("start_say", "customer", 500, "tts down", tag=goodbye.tag))
    assert Hangup(CUST, "customer") in out


# -- 1: the hold lasts the whole wait ------------------------------------------------------


def test_hold_loops_and_restarts_while_agents_are_hunted() -> None:
    """QA #1: 3 agents x 20 s of ringing outlast 10 loops of a 3.2 s message: 12 s of silence.
    Now the hold starts again each time it ends while the customer waits."""
    d = Drive(hold_url=HOLD_URL)
    d.to_bot()
    d(Transfer("asked", ("sales",)))
    hold = audio(d(AgentOffered("a1", "+9199")), "hold")
    assert isinstance(hold, StartPlay) and hold.loop == 10
    d(LegCreated("agent", AGENT, "a1"))
    tags = [hold.tag]
    for agent in ("a2", "a3"):
        wait(d, 20.0)
        d(TimerFired("agent_ring"))
        d(AgentOffered(agent, "+9198"))
        d(LegCreated("agent", f"LEG{agent}", agent))
        assert d.state is CallState.AGENT_RINGING
        wait(d, 11.6)
        out = d(act("play_completed", action_custom_parameter=tags[-1]))
        again = audio(out, "hold")
        assert again.loop == 10 and again.tag not in tags
        tags.append(again.tag)
    assert names(d).count("hold_restarted") == 2
    # the old hold's late news changes nothing
    assert d(act("play_completed", action_custom_parameter=tags[0])) == []
    out = d(lc("leg_answered", "LEGa3"))
    assert StopPlay(CUST, "hold") in out and out[-1] == CreateBridge(CUST, "LEGa3")


def test_a_said_hold_loops_too_and_restarts() -> None:
    """``voxgate dialer run``'s default hold is ``hold_text``, said once before: 12.4 s of
    silence while the agent rang."""
    d = Drive(hold_loops=4)
    d.to_agent_ringing()
    hold = audio(d.log, "hold")
    assert isinstance(hold, StartSay) and hold.loop == 4
    wait(d, 12.5)
    again = audio(d(act("say_completed", action_custom_parameter=hold.tag)), "hold")
    assert isinstance(again, StartSay) and again.loop == 4


def test_agent_first_hold_restarts_while_waiting_too() -> None:
    d = Drive("agent_first", hold_url=HOLD_URL, abandon_after=60.0)
    d(PlaceCall())
    d(LegCreated("customer", CUST))
    hold = audio(d(lc("leg_answered")), "hold")
    d(NoAgentFree())
    wait(d, 31.6)
    assert audio(d(act("play_completed", action_custom_parameter=hold.tag)), "hold")


def test_a_hold_that_ends_at_once_is_not_restarted() -> None:
    d = Drive(hold_url=HOLD_URL)
    d.to_agent_ringing()
    hold = audio(d.log, "hold")
    wait(d, 0.2)
    assert d(act("play_completed", action_custom_parameter=hold.tag)) == []
    assert "hold_ended_early" in names(d)


def test_a_hold_recording_that_fails_falls_back_to_the_hold_text() -> None:
    d = Drive(hold_url=HOLD_URL)
    d.to_agent_ringing()
    hold = audio(d.log, "hold")
    out = d(act("play_failed_to_start", status="failed", action_custom_parameter=hold.tag))
    said = audio(out, "hold")
    assert isinstance(said, StartSay) and said.text == d.flow.settings.hold_text
    out = d(ActionFailed("start_say", "customer", 500, "tts down", tag=said.tag))
    assert out == [] and names(d).count("hold_failed") == 2  # nothing left to try
    e = Drive(hold_url=HOLD_URL)
    e.to_agent_ringing()
    out = e(ActionFailed("start_play", "customer", 500, "fetch", tag=audio(e.log, "hold").tag))
    assert isinstance(audio(out, "hold"), StartSay)


def test_hold_ending_after_the_wait_is_over_changes_nothing() -> None:
    d = Drive(hold_url=HOLD_URL, record_bridges=False)
    d.to_bridged()
    assert d(act("play_completed")) == []


# -- 2: a queue for bot-first escalations --------------------------------------------------


def queued(**settings: Any) -> Drive:
    d = Drive(**settings)
    d.to_bot()
    out = d(Transfer("asked", ("sales",)))
    assert SetTimer("queue", d.flow.settings.escalation_queue_timeout) in out
    assert StopStream(CUST) in out  # the bot first, then the hold: one voice at a time
    out = d(NoAgentFree())
    assert d.state is CallState.HOLD and d.flow.waiting_for_agent
    assert Notify("queued", "sales") in out and audio(out, "hold")
    return d


def test_no_free_agent_waits_on_hold_and_takes_the_first_agent_freed() -> None:
    """QA #2: "no agent is free" at once, back to a silent bot, 12 s of silence."""
    d = queued()
    assert not any(isinstance(c, StartSay) and c.purpose == "fallback" for c in d.log)
    assert d(AgentAvailable()) == [PickAgent(("sales",), ())]
    assert d(NoAgentFree()) == []  # taken by someone else: still waiting, hold goes on
    assert d.flow.waiting_for_agent and names(d).count("queued") == 1
    out = d(AgentOffered("a1", "+9199"))
    assert not any(isinstance(c, (StartSay, StartPlay, StopStream)) for c in out)  # hold goes on
    assert CreateLeg("agent", "+9199", "c1", CUST, tag="a1") in out
    d(LegCreated("agent", AGENT, "a1"))
    out = d(lc("leg_answered", AGENT))
    assert CancelTimer("queue") in out and out[-1] == CreateBridge(CUST, AGENT)
    d(BridgeCreated("BR1"))
    assert d.state is CallState.BRIDGED and d.flow.outcome.failure == ""


def test_a_nailed_agent_freed_is_bridged_from_the_queue() -> None:
    d = queued()
    d(AgentAvailable())
    out = d(AgentOffered("n1", "+9197", NAILED))
    assert StopSay(CUST, "hold") in out and out[-1] == CreateBridge(CUST, NAILED)


def test_queue_timeout_falls_back_with_the_failure_on_record() -> None:
    d = queued(escalation_queue_timeout=45.0)
    assert SetTimer("queue", 45.0) in d.log
    wait(d, 45.0)
    out = d(TimerFired("queue"))
    assert Notify("escalation_failed", "no_agent:queue_timeout") in out
    assert Notify("back_to_bot") in out and StopSay(CUST, "hold") in out
    fallback = audio(out, "fallback")
    assert d.state is CallState.CONNECTING and not d.flow.waiting_for_agent
    assert d(AgentAvailable()) == []  # too late
    d(act("say_completed", action_custom_parameter=fallback.tag))
    d(act("stream_started"))
    assert d.state is CallState.BOT
    d(lc("leg_terminated"))
    o = d.flow.outcome
    assert (o.disposition, o.escalated, o.bridged, o.failure) == (
        "customer_hangup", True, False, "no_agent:queue_timeout")


def test_queue_timeout_with_callback_says_goodbye() -> None:
    d = queued(escalation_fallback="callback")
    out = d(TimerFired("queue"))
    assert d.state is CallState.GOODBYE and audio(out, "goodbye")
    d(TimerFired("message"))
    d(lc("leg_terminated"))
    assert d.flow.outcome.disposition == "callback_scheduled"
    assert d.flow.outcome.failure == "no_agent:queue_timeout"


def test_queue_limit_while_an_agent_rings_lets_that_agent_answer() -> None:
    d = Drive()
    d.to_agent_ringing()
    assert d(TimerFired("queue")) == []
    assert "queue_limit_passed" in names(d)
    out = d(lc("leg_answered", AGENT))
    assert out[-1] == CreateBridge(CUST, AGENT)


def test_queue_limit_while_an_agent_rings_tries_nobody_after_it() -> None:
    d = Drive()
    d.to_agent_ringing()
    d(TimerFired("queue"))
    out = d(lc("leg_terminated", AGENT, terminal_status="no-answer"))
    assert not any(isinstance(c, PickAgent) for c in out)
    assert d.flow.outcome.failure == "no_agent:queue_timeout" and d.state is CallState.CONNECTING


def test_only_tried_agents_free_rings_them_again_within_the_attempts() -> None:
    d = Drive(max_agent_attempts=2)
    d.to_agent_ringing("a1")
    out = d(TimerFired("agent_ring"))
    assert out[-1] == PickAgent(("sales",), ("a1",))
    assert d(NoAgentFree("tried")) == [PickAgent(("sales",), ())]
    d(AgentOffered("a1", "+9199"))
    d(LegCreated("agent", "LEGa1b", "a1"))
    out = d(TimerFired("agent_ring"))
    assert d.flow.outcome.failure == "no_agent:not_answered (ring_timeout)"
    assert d.flow.outcome.agent_attempts == 2


def test_a_stream_failure_escalation_queues_too() -> None:
    d = Drive()
    d(PlaceCall())
    d(LegCreated("customer", CUST))
    d(lc("leg_answered"))
    d(act("stream_failed"))
    out = d(act("stream_failed"))
    assert SetTimer("queue", 60.0) in out
    d(NoAgentFree())
    assert d.flow.waiting_for_agent
    out = d(TimerFired("queue"))  # no bot to go back to: the goodbye
    assert d.state is CallState.GOODBYE and Notify("back_to_bot") not in out
    assert d.flow.outcome.failure == "stream_failed"  # the first failure stays on record


def test_customer_hanging_up_in_the_queue() -> None:
    d = queued()
    out = d(lc("leg_terminated"))
    assert CancelTimer("queue") in out and d.flow.done and not d.flow.waiting_for_agent
    assert d.flow.outcome.ended_in == "hold"


def test_agent_first_skill_nobody_has_is_noted() -> None:
    d = Drive("agent_first")
    d(PlaceCall())
    d(LegCreated("customer", CUST))
    d(lc("leg_answered"))
    assert d(NoAgentFree("skill")) == []
    d(TimerFired("abandon"))
    assert d.flow.outcome.abandoned and d.flow.outcome.failure == "no_agent:skill"


def test_settings_and_inputs_validate() -> None:
    with pytest.raises(ValueError):
        FlowSettings(escalation_queue_timeout=0)
    with pytest.raises(ValueError):
        FlowSettings(hold_loops=0)
    with pytest.raises(ValueError):
        NoAgentFree("gone")  # type: ignore[arg-type]


# -- 6: one voice at a time ----------------------------------------------------------------


def test_the_bot_is_stopped_when_the_hold_starts_and_its_stop_is_not_a_hang_up() -> None:
    """QA #6: the bot talked over the hold message for 2.2 s (its stream stayed up)."""
    d = Drive()
    d.to_bot()
    out = d(Transfer("asked"))
    stop = next(c for c in out if isinstance(c, StopStream))
    assert stop.tag.startswith("vx:stream_stop:")
    assert out.index(stop) < out.index(PickAgent((), ()))
    assert audio(d(AgentOffered("a1", "+9199")), "hold")
    # Exotel confirms our stop: the call goes on
    assert d(act("stream_stopped", status="stopped", reason="stopped",
                 action_custom_parameter=stop.tag)) == []
    assert d(act("stream_stopped", status="stopped")) == []  # untagged, on hold: ignored too
    assert d.state is CallState.HOLD or d.state is CallState.AGENT_RINGING


def test_back_to_the_bot_after_the_message_on_a_new_stream() -> None:
    d = queued(max_agent_attempts=1)
    d(TimerFired("queue"))
    assert d.state is CallState.CONNECTING
    # stream news during the message is the old session's: ignored
    assert d(act("stream_stopped", status="stopped")) == []
    assert d(act("stream_started")) == []
    out = d(TimerFired("message"))  # the message overran: stop it, the bot now
    assert StopSay(CUST, "fallback") in out and StartStream(CUST, 2) in out
    assert "bot_restarted" in names(d)
    out = d(act("stream_stopped", status="stopped", reason="x"))  # the new stream failed
    assert StartStream(CUST, 3) in out  # retried once in this connecting phase
    d(act("stream_started"))
    assert d.state is CallState.BOT
    # a second escalation queues again; its failure this time is no_agent on the new attempt
    d(Transfer("again", ("sales",)))
    assert d.state is CallState.HOLD and d.flow.outcome.escalation_reason == "again"


def test_a_new_stream_that_fails_after_a_failed_escalation_says_goodbye() -> None:
    d = queued()
    d(TimerFired("queue"))
    d(TimerFired("message"))
    d(act("stream_failed"))
    out = d(act("stream_failed"))
    assert d.state is CallState.GOODBYE  # not queued a second time
    assert not any(isinstance(c, PickAgent) for c in out)


def test_no_fallback_message_restarts_the_bot_at_once() -> None:
    d = queued(fallback_text="")
    out = d(TimerFired("queue"))
    assert StartStream(CUST, 2) in out


def test_api_transfer_and_hang_up_while_the_bot_restarts() -> None:
    d = queued()
    d(TimerFired("queue"))
    out = d(Transfer("api"))
    assert CancelTimer("message") in out and d.state is CallState.HOLD
    assert d.flow.machines["stream"] == "off"  # no stream of ours runs
    e = queued()
    e(TimerFired("queue"))
    out = e(HangupRequest("done"))
    assert Hangup(CUST, "customer") in out


def test_a_fallback_say_that_fails_restarts_the_bot() -> None:
    d = queued()
    fallback = audio(d(TimerFired("queue")), "fallback")
    out = d(ActionFailed("start_say", "customer", 500, "tts", tag=fallback.tag))
    assert StartStream(CUST, 2) in out


def test_a_bot_failure_report_for_the_stopped_session_is_ignored() -> None:
    from dialer.flows import BotFailed

    d = queued()
    d(TimerFired("queue"))
    assert d(BotFailed("adapter_error:on_stop")) == []


def test_release_on_fallback_frees_a_reserved_agent() -> None:
    d = Drive(amd=True)
    d.to_bot()
    d(Transfer("asked"))
    d(AgentOffered("n1", "+9197", NAILED))  # reserved until AMD says human
    out = d(TimerFired("queue"))
    assert ReleaseAgent("n1", False) in out


def test_config_relation_between_queue_and_abandonment_limit() -> None:
    from dialer.config import DialerConfig

    cfg = DialerConfig.from_toml("[dialer]\nescalation_queue_timeout = 90\nhold_loops = 20\n", {})
    assert cfg.escalation_queue_timeout == 90.0 and cfg.hold_loops == 20
    with pytest.raises(ConfigError, match="at least abandon_after"):
        DialerConfig(abandon_after=30.0, escalation_queue_timeout=20.0)
    with pytest.raises(ConfigError, match="hold_loops"):
        DialerConfig(hold_loops=101)
    with pytest.raises(ConfigError, match="positive"):
        DialerConfig(escalation_queue_timeout=0)
