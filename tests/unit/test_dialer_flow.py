"""The pure call-flow machine: every flow and failure path, plain inputs and outputs."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from dialer.errors import IllegalTransition
from dialer.events import BridgeLifecycle, LegAction, LegLifecycle
from dialer.flows import (
    TRANSITIONS,
    ActionFailed,
    AgentAvailable,
    AgentOffered,
    BridgeCreated,
    CallFlow,
    CallState,
    CancelTimer,
    Command,
    CreateBridge,
    CreateLeg,
    Finish,
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
    StartRecording,
    StartSay,
    StartStream,
    StopPlay,
    StopSay,
    StopStream,
    TimerFired,
    Transfer,
)
from dialer.flows.states import check

_sids = itertools.count(1)
CUST = "LEGc"
AGENT = "LEGa"
NAILED = "LEGn"


def lc(name: str, leg: str = CUST, **event_data: Any) -> LegLifecycle:
    return LegLifecycle(f"E{next(_sids)}", name, "", {"leg_sid": leg}, event_data, leg_sid=leg)


def act(name: str, leg: str = CUST, action_custom_parameter: str = "",
        **event_data: Any) -> LegAction:
    """A leg action event; ``action_custom_parameter`` is what Exotel hands back."""
    return LegAction(f"E{next(_sids)}", name, "", {"leg_sid": leg}, event_data, leg_sid=leg,
                     action_custom_parameter=action_custom_parameter)


def br(name: str, bridge: str = "BR1", **event_data: Any) -> BridgeLifecycle:
    return BridgeLifecycle(
        f"E{next(_sids)}", name, "", {}, event_data, bridge_sid=bridge, leg_sids=(CUST, AGENT)
    )


class Drive:
    """Feeds a flow with a ticking clock; keeps every command it emitted."""

    def __init__(self, mode: str = "bot_first", amd: bool = False, **settings: Any) -> None:
        defaults: dict[str, Any] = {"greeting_text": "Hello!"}
        defaults.update(settings)
        self.flow = CallFlow(
            "c1", "+911", mode, FlowSettings(**defaults), amd=amd  # type: ignore[arg-type]
        )
        self.t = 0.0
        self.log: list[Command] = []

    def __call__(self, item: Any) -> list[Command]:
        self.t += 0.01
        out = self.flow.handle(item, self.t)
        self.log.extend(out)
        return out

    @property
    def state(self) -> CallState:
        return self.flow.state

    def to_bot(self) -> None:
        self(PlaceCall())
        self(LegCreated("customer", CUST))
        self(lc("leg_ringing"))
        self(lc("leg_answered"))
        self(act("stream_started"))
        assert self.state is CallState.BOT

    def to_agent_ringing(self, agent: str = "a1") -> None:
        self.to_bot()
        self(Transfer("asked", ("sales",)))
        self(AgentOffered(agent, "+9199"))
        self(LegCreated("agent", AGENT, agent))
        assert self.state is CallState.AGENT_RINGING

    def to_bridged(self) -> None:
        self.to_agent_ringing()
        self(lc("leg_answered", AGENT))
        self(BridgeCreated("BR1"))
        assert self.state is CallState.BRIDGED


def kinds(cmds: list[Command]) -> list[type]:
    return [type(c) for c in cmds]


def test_bot_first_answer_starts_stream_and_greeting_together() -> None:
    d = Drive()
    assert d(PlaceCall()) == [CreateLeg("customer", "+911", "c1")]
    assert d(LegCreated("customer", CUST)) == []
    assert d(lc("leg_ringing")) == [Notify("ringing")]
    out = d(lc("leg_answered"))
    assert StartStream(CUST, 1) in out
    assert StartSay(CUST, "Hello!", "greeting") in out
    assert SetTimer("stream", 5.0) in out
    assert d.state is CallState.CONNECTING
    out = d(act("stream_started"))
    assert out[:2] == [CancelTimer("stream"), StopSay(CUST, "greeting")]
    assert Notify("bot_connected", "greeting") in out
    assert d.flow.outcome.answered


def test_greeting_url_uses_play_and_stops_play() -> None:
    d = Drive(greeting_text="", greeting_url="http://x/greeting.wav")
    d(PlaceCall())
    d(LegCreated("customer", CUST))
    assert StartPlay(CUST, "http://x/greeting.wav", "greeting") in d(lc("leg_answered"))
    assert StopPlay(CUST, "greeting") in d(act("stream_started"))


def test_no_greeting_configured_means_no_say_and_nothing_to_stop() -> None:
    d = Drive(greeting_text="")
    d(PlaceCall())
    d(LegCreated("customer", CUST))
    out = d(lc("leg_answered"))
    assert not any(isinstance(c, (StartSay, StartPlay)) for c in out)
    assert not any(isinstance(c, (StopSay, StopPlay)) for c in d(act("stream_started")))


def test_greeting_completed_before_stream_is_not_stopped() -> None:
    d = Drive()
    d(PlaceCall())
    d(LegCreated("customer", CUST))
    d(lc("leg_answered"))
    d(act("say_completed"))
    out = d(act("stream_started"))
    assert not any(isinstance(c, StopSay) for c in out)
    assert Notify("bot_connected", "") in out
    names = [n for n, _ in d.flow.outcome.timeline]
    assert "greeting_completed" in names


@pytest.mark.parametrize(
    ("event", "status", "disposition"),
    [
        ("leg_terminated", "no-answer", "no_answer"),
        ("leg_terminated", "busy", "busy"),
        ("leg_terminated", "failed", "failed"),
        ("leg_failed_to_create", "", "failed"),
    ],
)
def test_customer_never_answers(event: str, status: str, disposition: str) -> None:
    d = Drive()
    d(PlaceCall())
    d(LegCreated("customer", CUST))
    d(lc("leg_ringing"))
    out = d(lc(event, terminal_status=status))
    assert out[-1] == Finish()
    assert d.state is CallState.ENDED
    assert d.flow.outcome.disposition == disposition
    assert d.flow.outcome.ended_in == "ringing"
    assert not d.flow.outcome.answered


def test_create_leg_error_ends_call_failed() -> None:
    d = Drive()
    d(PlaceCall())
    out = d(ActionFailed("create_leg", "customer", 400, "bad number"))
    assert out[-1] == Finish()
    assert d.flow.outcome.disposition == "failed"
    assert d.flow.outcome.failure == "bad number"


def test_hangup_during_greeting() -> None:
    d = Drive()
    d(PlaceCall())
    d(LegCreated("customer", CUST))
    d(lc("leg_answered"))
    out = d(lc("leg_terminated", terminal_status="completed"))
    assert CancelTimer("stream") in out
    assert out[-1] == Finish()
    assert d.flow.outcome.disposition == "customer_hangup"
    assert d.flow.outcome.ended_in == "connecting"


def test_hangup_during_bot() -> None:
    d = Drive()
    d.to_bot()
    d(lc("leg_terminated"))
    assert d.flow.outcome.disposition == "customer_hangup"
    assert d.flow.outcome.ended_in == "bot"
    assert d.flow.done


def test_escalation_with_on_demand_agent_to_bridge_and_recording() -> None:
    d = Drive()
    d.to_bot()
    out = d(Transfer("asked", ("sales",)))
    # one voice at a time: the bot's stream stops before the hold message starts
    assert StopStream(CUST) in out and out[-1] == PickAgent(("sales",), ())
    assert d.state is CallState.HOLD
    out = d(AgentOffered("a1", "+9199"))
    assert StartSay(CUST, "Please hold while we connect you to an agent.", "hold", loop=10) in out
    assert CreateLeg("agent", "+9199", "c1", CUST, tag="a1") in out
    assert SetTimer("agent_ring", 20.0) in out
    d(LegCreated("agent", AGENT, "a1"))
    out = d(lc("leg_answered", AGENT))
    assert Notify("agent_answered", "a1") in out
    assert StopSay(CUST, "hold") in out and StopStream(CUST) not in out  # stopped already
    assert CancelTimer("queue") in out
    assert out[-1] == CreateBridge(CUST, AGENT)
    assert d.state is CallState.BRIDGING
    out = d(BridgeCreated("BR1"))
    assert StartRecording("BR1") in out
    d(br("bridge_created"))  # the event after the API answer changes nothing
    assert d.state is CallState.BRIDGED
    out = d(lc("leg_terminated"))
    assert Hangup(AGENT, "agent") in out and ReleaseAgent("a1", True) in out
    assert d.state is CallState.FINALIZING  # waits for the recording
    out = d(br("recording_available", url="http://rec/1.wav"))
    assert out[-1] == Finish()
    o = d.flow.outcome
    assert (o.disposition, o.escalated, o.bridged, o.recording_url) == (
        "agent_handled", True, True, "http://rec/1.wav")
    assert o.escalation_reason == "asked" and o.agent_id == "a1"


def test_recording_wait_times_out() -> None:
    d = Drive()
    d.to_bridged()
    d(lc("leg_terminated"))
    assert d(TimerFired("recording"))[-1] == Finish()
    assert d.flow.outcome.recording_url == ""


def test_bridge_created_event_before_api_answer() -> None:
    d = Drive(record_bridges=False)
    d.to_agent_ringing()
    d(lc("leg_answered", AGENT))
    out = d(br("bridge_created"))
    assert d.state is CallState.BRIDGED and StartRecording("BR1") not in out
    assert d(BridgeCreated("BR1")) == []  # late API answer is ignored
    assert d.flow.ignored >= 1
    out = d(lc("leg_terminated"))
    assert out[-1] == Finish()  # no recording to wait for


def test_recording_event_as_leg_action() -> None:
    d = Drive()
    d.to_bridged()
    d(act("recording_available", CUST, url="http://rec/2.wav"))
    d(lc("leg_terminated"))
    assert d.flow.done and d.flow.outcome.recording_url == "http://rec/2.wav"


def test_bridge_terminal_hangs_up_customer() -> None:
    d = Drive(record_bridges=False)
    d.to_bridged()
    out = d(br("bridge_terminal"))
    assert Hangup(CUST, "customer") in out and ReleaseAgent("a1", True) in out
    assert d.state is CallState.ENDING
    d(lc("leg_terminated"))
    assert d.flow.done and d.flow.outcome.disposition == "agent_handled"


def test_agent_hangs_up_in_bridge() -> None:
    d = Drive(record_bridges=False)
    d.to_bridged()
    out = d(lc("leg_terminated", AGENT))
    assert Hangup(CUST, "customer") in out and ReleaseAgent("a1", True) in out
    assert Hangup(AGENT, "agent") not in out
    assert d(TimerFired("ending"))[-1] == Finish()


def test_customer_hangs_up_while_agent_rings() -> None:
    d = Drive()
    d.to_agent_ringing()
    out = d(lc("leg_terminated"))
    assert Hangup(AGENT, "agent") in out
    assert ReleaseAgent("a1", False) in out
    assert CancelTimer("agent_ring") in out
    assert d.flow.outcome.ended_in == "agent_ringing"
    assert d.flow.outcome.disposition == "customer_hangup"


def test_customer_hangs_up_on_hold_before_agent_leg_exists() -> None:
    d = Drive()
    d.to_bot()
    d(Transfer("asked"))
    d(AgentOffered("a1", "+9199"))
    out = d(lc("leg_terminated"))
    assert ReleaseAgent("a1", False) in out and d.flow.done
    # The agent leg answer arrives after the call is over: hang it up.
    assert d(LegCreated("agent", AGENT, "a1")) == [Hangup(AGENT, "agent")]


def test_agent_no_answer_tries_next_then_falls_back_to_bot() -> None:
    d = Drive(max_agent_attempts=2)
    d.to_agent_ringing("a1")
    out = d(lc("leg_terminated", AGENT, terminal_status="no-answer"))
    assert ReleaseAgent("a1", False) in out
    assert out[-1] == PickAgent(("sales",), ("a1",))
    d(AgentOffered("a2", "+9198"))
    d(LegCreated("agent", "LEGa2", "a2"))
    out = d(TimerFired("agent_ring"))  # a2 rings too long
    assert Hangup("LEGa2", "agent") in out and ReleaseAgent("a2", False) in out
    assert StopSay(CUST, "hold") in out  # hold message stops
    assert StartSay(CUST, "Sorry, no agent is free right now.", "fallback") in out
    assert Notify("back_to_bot") in out and CancelTimer("queue") in out
    assert not any(isinstance(c, StartStream) for c in out)  # not over the message
    assert d.state is CallState.CONNECTING
    assert d.flow.outcome.failure == "no_agent:not_answered (ring_timeout)"
    # the message said, the bot comes back on a new stream
    out = d(act("say_completed"))
    assert StartStream(CUST, 2) in out and SetTimer("stream", 5.0) in out
    out = d(act("stream_started"))
    assert d.state is CallState.BOT and Notify("bot_connected", "") in out


def test_agent_leg_create_error_counts_as_a_failed_attempt() -> None:
    d = Drive(max_agent_attempts=1, escalation_fallback="callback")
    d.to_bot()
    d(Transfer("asked"))
    d(AgentOffered("a1", "+9199"))
    assert d(ActionFailed("create_leg", "agent", 500, "boom", "other")) == []  # not this agent
    out = d(ActionFailed("create_leg", "agent", 500, "boom", "a1"))
    assert ReleaseAgent("a1", False) in out
    assert StopStream(CUST) in d.log  # (when the hold began)
    assert d.state is CallState.GOODBYE
    out = d(act("say_completed"))
    assert Hangup(CUST, "customer") in out
    d(lc("leg_terminated"))
    assert d.flow.outcome.disposition == "callback_scheduled"


def test_no_agent_with_the_skills_falls_back_to_bot_at_once() -> None:
    d = Drive()
    d.to_bot()
    d(Transfer("asked"))
    out = d(NoAgentFree("skill"))
    assert any(isinstance(c, StartSay) and c.purpose == "fallback" for c in out)
    assert not any(isinstance(c, SetTimer) and c.name == "stream" for c in out)
    assert Notify("escalation_failed", "no_agent:skill") in out
    assert d.flow.outcome.failure == "no_agent:skill" and not d.flow.waiting_for_agent
    assert d(NoAgentFree()) == []  # not on hold any more: ignored
    # the message said, a new bot session (the old one, stopped at the transfer, was not told)
    assert d.state is CallState.CONNECTING
    assert StartStream(CUST, 2) in d(act("say_completed"))


def test_goodbye_message_timeout_hangs_up() -> None:
    d = Drive(escalation_fallback="callback")
    d.to_bot()
    d(Transfer("asked"))
    d(NoAgentFree("skill"))
    assert d.state is CallState.GOODBYE
    out = d(TimerFired("message"))
    assert Hangup(CUST, "customer") in out


def test_goodbye_say_error_hangs_up_at_once() -> None:
    d = Drive(escalation_fallback="callback")
    d.to_bot()
    d(Transfer("asked"))
    d(NoAgentFree("skill"))
    out = d(ActionFailed("start_say", "customer", 500, "tts down"))
    assert Hangup(CUST, "customer") in out


def test_stream_error_retries_once_then_escalates() -> None:
    d = Drive()
    d(PlaceCall())
    d(LegCreated("customer", CUST))
    d(lc("leg_answered"))
    out = d(ActionFailed("start_stream", "customer", 500, "x"))
    assert StartStream(CUST, 2) in out
    out = d(TimerFired("stream"))  # second attempt never starts
    assert d.state is CallState.HOLD
    assert out[-1] == PickAgent((), ())
    assert d.flow.outcome.escalation_reason == "stream_failed"
    assert d.flow.outcome.stream_attempts == 2


def test_stream_failure_with_hangup_fallback() -> None:
    d = Drive(stream_fallback="hangup")
    d(PlaceCall())
    d(LegCreated("customer", CUST))
    d(lc("leg_answered"))
    d(act("stream_failed"))
    d(act("stream_failed"))
    assert d.state is CallState.GOODBYE
    d(TimerFired("message"))
    d(lc("leg_terminated"))
    assert d.flow.outcome.disposition == "stream_failed"


def test_stream_lost_during_bot_goes_to_fallback() -> None:
    d = Drive(stream_fallback="hangup")
    d.to_bot()
    d(act("stream_stopped", status="failed", reason="reset"))
    assert d.state is CallState.GOODBYE
    assert d(act("stream_stopped", status="failed")) == []  # second notice ignored


def test_bot_closing_its_side_ends_the_call() -> None:
    d = Drive()
    d.to_bot()
    out = d(act("stream_stopped", status="stopped", reason="bot_closed"))
    assert Hangup(CUST, "customer") in out
    d(lc("leg_terminated"))
    assert d.flow.outcome.disposition == "bot_completed"


def test_stream_stop_because_the_call_ended_waits_for_leg_terminated() -> None:
    d = Drive()
    d.to_bot()
    assert d(act("stream_stopped", status="stopped", reason="callended")) == []
    d(lc("leg_terminated"))
    assert d.flow.outcome.disposition == "customer_hangup"
    d2 = Drive()
    d2(PlaceCall())
    d2(LegCreated("customer", CUST))
    d2(lc("leg_answered"))
    assert d2(act("stream_stopped", status="stopped", reason="callended")) == []
    assert d2.state is CallState.CONNECTING


def test_nailed_agent_is_bridged_at_once_and_kept() -> None:
    d = Drive(record_bridges=False)
    d.to_bot()
    assert StopStream(CUST) in d(Transfer("asked"))
    out = d(AgentOffered("n1", "+9197", NAILED))
    assert StopPlay(NAILED) in out
    assert out[-1] == CreateBridge(CUST, NAILED)
    assert not any(isinstance(c, CreateLeg) for c in out)
    d(BridgeCreated("BR1"))
    out = d(lc("leg_terminated"))
    assert Hangup(NAILED, "agent") not in out  # the nailed leg stays up
    assert ReleaseAgent("n1", True) in out
    assert d.flow.outcome.agent_nailed


def test_agent_first_bridges_free_agent() -> None:
    d = Drive("agent_first", hold_url="http://x/hold.wav", record_bridges=False)
    d(PlaceCall())
    d(LegCreated("customer", CUST))
    out = d(lc("leg_answered"))
    assert StartPlay(CUST, "http://x/hold.wav", "hold", loop=10) in out
    assert SetTimer("abandon", 2.0) in out and out[-1] == PickAgent((), ())
    assert not any(isinstance(c, StartStream) for c in out)
    d(AgentOffered("n1", "+9197", NAILED))
    assert d.state is CallState.BRIDGING
    assert CancelTimer("abandon") in d.log
    assert d(TimerFired("abandon")) == []  # cancelled timer firing late is ignored
    d(BridgeCreated("BR1"))
    d(lc("leg_terminated"))
    assert not d.flow.outcome.abandoned
    assert d.flow.outcome.disposition == "agent_handled"


def test_agent_first_waits_then_abandons() -> None:
    d = Drive("agent_first")
    d(PlaceCall())
    d(LegCreated("customer", CUST))
    d(lc("leg_answered"))
    assert d(NoAgentFree()) == []
    assert d.flow.waiting_for_agent
    assert d(AgentAvailable()) == [PickAgent((), ())]
    d(NoAgentFree())
    out = d(TimerFired("abandon"))
    assert Notify("abandoned") in out
    assert d.state is CallState.GOODBYE
    d(act("say_completed"))
    d(lc("leg_terminated"))
    o = d.flow.outcome
    assert o.abandoned and o.disposition == "abandoned"


def test_agent_first_agent_fails_then_next() -> None:
    d = Drive("agent_first")
    d(PlaceCall())
    d(LegCreated("customer", CUST))
    d(lc("leg_answered"))
    d(AgentOffered("a1", "+9199"))
    d(LegCreated("agent", AGENT, "a1"))
    out = d(lc("leg_terminated", AGENT, terminal_status="busy"))
    assert out[-1] == PickAgent((), ("a1",))
    assert d(AgentAvailable()) == []  # not waiting: it asked already


def test_agent_first_abandon_while_agent_rings_cancels_agent() -> None:
    d = Drive("agent_first")
    d(PlaceCall())
    d(LegCreated("customer", CUST))
    d(lc("leg_answered"))
    d(AgentOffered("a1", "+9199"))
    d(LegCreated("agent", AGENT, "a1"))
    out = d(TimerFired("abandon"))
    assert Hangup(AGENT, "agent") in out and ReleaseAgent("a1", False) in out
    assert d.flow.outcome.abandoned


def test_bot_hangup_request() -> None:
    d = Drive()
    d.to_bot()
    out = d(HangupRequest("done"))
    assert Hangup(CUST, "customer") in out and d.state is CallState.ENDING
    d(lc("leg_terminated"))
    assert d.flow.outcome.disposition == "bot_completed"
    assert d.flow.outcome.ended_in == "bot"


def test_hangup_request_ignored_before_answer() -> None:
    d = Drive()
    d(PlaceCall())
    assert d(HangupRequest()) == []
    assert d.flow.ignored == 1


def test_transfer_before_stream_started_event() -> None:
    d = Drive()
    d(PlaceCall())
    d(LegCreated("customer", CUST))
    d(lc("leg_answered"))
    out = d(Transfer("dtmf"))
    assert CancelTimer("stream") in out and d.state is CallState.HOLD
    assert StopStream(CUST) in out  # the bot stops: the hold comes next
    d(AgentOffered("a1", "+9199"))
    d(LegCreated("agent", AGENT, "a1"))
    assert CreateBridge(CUST, AGENT) in d(lc("leg_answered", AGENT))


def test_transfer_outside_bot_is_ignored() -> None:
    d = Drive()
    d.to_agent_ringing()
    assert d(Transfer("again")) == []


def test_offer_when_not_wanted_is_returned() -> None:
    d = Drive()
    d.to_bot()
    assert d(AgentOffered("a9", "+9")) == [ReleaseAgent("a9", False)]


def test_machine_detection_hangs_up() -> None:
    d = Drive()
    d.to_bot()
    out = d(lc("amd_result_success", result="machine"))
    assert Hangup(CUST, "customer") in out
    d(lc("leg_terminated"))
    assert d.flow.outcome.machine and d.flow.outcome.disposition == "machine"


def test_amd_human_is_noted() -> None:
    d = Drive()
    d.to_bot()
    assert d(lc("amd_result_success", result="human")) == []
    assert d.state is CallState.BOT


def test_bridge_failure_says_goodbye() -> None:
    d = Drive()
    d.to_agent_ringing()
    d(lc("leg_answered", AGENT))
    out = d(ActionFailed("create_bridge", "customer", 409, "leg gone"))
    assert Hangup(AGENT, "agent") in out and d.state is CallState.GOODBYE


def test_bridge_failed_event_says_goodbye() -> None:
    d = Drive()
    d.to_agent_ringing()
    d(lc("leg_answered", AGENT))
    d(br("bridge_failed_to_create"))
    assert d.state is CallState.GOODBYE
    assert d.flow.outcome.failure == "bridge_failed"


def test_unrelated_and_late_inputs_are_ignored() -> None:
    d = Drive()
    d(PlaceCall())
    assert d(act("stream_started")) == []  # wrong leg (no leg yet)
    d(LegCreated("customer", CUST))
    assert d(LegCreated("customer", "LEGx")) == []
    assert d(lc("leg_connecting")) == []
    assert d(act("play_started")) == []
    assert d(TimerFired("nonsense")) == []
    assert d(BridgeCreated("BRx")) == []
    assert d(br("bridge_terminal", "BRx")) == []
    assert d(ActionFailed("stop_play")) == []
    assert d(lc("leg_ringing", "LEGother")) == []
    d(lc("leg_terminated"))
    assert d(lc("leg_answered")) == []  # after the end
    assert d.flow.ignored >= 9


def test_started_twice_is_our_bug() -> None:
    d = Drive()
    d(PlaceCall())
    with pytest.raises(IllegalTransition):
        d(PlaceCall())


def test_state_table_rejects_missing_edges() -> None:
    check(CallState.BOT, CallState.BOT)  # staying is fine
    with pytest.raises(IllegalTransition):
        check(CallState.ENDED, CallState.DIALING)
    with pytest.raises(IllegalTransition):
        check(CallState.NEW, CallState.BRIDGED)
    assert all(CallState.ENDED not in v or k is not CallState.ENDED for k, v in TRANSITIONS.items())


@pytest.mark.parametrize(
    "kwargs",
    [{"max_agent_attempts": 0}, {"escalation_fallback": "x"}, {"stream_fallback": "x"}],
)
def test_settings_validate(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        FlowSettings(**kwargs)


def test_flow_validates_arguments() -> None:
    with pytest.raises(ValueError):
        CallFlow("c", "+1", "robot_first")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        CallFlow("", "+1")


def test_timeline_is_in_order_with_latency_points() -> None:
    d = Drive(record_bridges=False)
    d.to_bridged()
    d(lc("leg_terminated"))
    names = [n for n, _ in d.flow.outcome.timeline]
    for a, b in [("dial", "answered"), ("answered", "stream_started"),
                 ("escalation_requested", "agent_dialled"), ("agent_answered", "bridged")]:
        assert names.index(a) < names.index(b)
    times = [t for _, t in d.flow.outcome.timeline]
    assert times == sorted(times)


def test_out_of_state_inputs_change_nothing() -> None:
    d = Drive()
    d(PlaceCall())
    d(LegCreated("customer", CUST))
    assert d(lc("amd_result_success", result="machine")) == []  # before the answer
    d(lc("leg_answered"))
    assert d(lc("leg_ringing")) == []  # stale ringing after the answer
    assert d(lc("leg_answered")) == []  # twice
    assert d(ActionFailed("start_say", "customer", 500, "tts")) == []  # greeting failed: go on
    assert d(act("say_completed")) == []  # nothing is playing any more
    d(act("stream_started"))
    assert d(act("stream_started", url="")) == []  # a second notice
    assert d(ActionFailed("start_stream")) == []
    assert d(ActionFailed("create_bridge")) == []
    assert d(br("bridge_failed_to_create")) == []
    assert d(br("recording_available")) == []  # no URL
    other = BridgeLifecycle("Ez", "bridge_created", "", {}, {}, bridge_sid="BRz", leg_sids=("x",))
    assert d(other) == []
    d(Transfer("asked"))
    d(AgentOffered("a1", "+9199"))
    assert d(act("say_completed")) == []  # the hold ended at once (a broken voice?): no spin
    d(LegCreated("agent", AGENT, "a1"))
    assert d(lc("leg_ringing", AGENT)) == []
    assert d(lc("leg_connecting", AGENT)) == []
    assert d(ActionFailed("create_leg", "customer")) == []
    d(lc("leg_answered", AGENT))
    assert d(lc("leg_answered", AGENT)) == []
    assert d.state is CallState.BRIDGING
    assert d.flow.ignored == 13
    names = [n for n, _ in d.flow.outcome.timeline]
    assert "agent_ringing" in names and "hold_ended_early" in names


def test_agent_leg_ends_during_goodbye_is_ignored() -> None:
    d = Drive(escalation_fallback="callback", max_agent_attempts=1)
    d.to_agent_ringing()
    d(TimerFired("agent_ring"))
    assert d.state is CallState.GOODBYE
    assert d(lc("leg_terminated", AGENT)) == []


def test_no_hold_audio_configured_and_agent_leg_end_after_hangup() -> None:
    d = Drive(hold_text="")
    d.to_bot()
    d(Transfer("asked"))
    out = d(AgentOffered("a1", "+9199"))
    assert not any(isinstance(c, (StartSay, StartPlay)) for c in out)
    d(LegCreated("agent", AGENT, "a1"))
    out = d(HangupRequest("bot done"))
    assert Hangup(AGENT, "agent") in out and Hangup(CUST, "customer") in out
    assert d(lc("leg_terminated", AGENT)) == []  # already cancelled
    assert d.flow.outcome.ended_in == "agent_ringing"


def test_shutdown_hangup_has_its_own_disposition() -> None:
    d = Drive()
    d.to_bot()
    d(HangupRequest("shutdown"))
    d(lc("leg_terminated"))
    assert d.flow.outcome.disposition == "shutdown"


# -- answering-machine detection: agents are bridged only to humans --------------------------


def answered_with_amd(**settings: Any) -> Drive:
    d = Drive("agent_first", amd=True, record_bridges=False, **settings)
    d(PlaceCall())
    d(LegCreated("customer", CUST))
    out = d(lc("leg_answered"))
    amd_timeout = settings.get("amd_timeout", 5.0)
    assert SetTimer("amd", amd_timeout) in out and out[-1] == PickAgent((), ())
    assert Notify("live") not in out  # not known to be live yet
    assert SetTimer("abandon", 2.0) in out  # the legal clock runs from the answer
    return d


def test_amd_nailed_agent_waits_for_human_then_bridges() -> None:
    d = answered_with_amd()
    assert d(AgentOffered("n1", "+9197", NAILED)) == []  # reserved, not bridged
    assert d.state is CallState.HOLD
    out = d(lc("amd_result_success", amd_result="human"))
    assert Notify("live", "amd_human") in out
    assert CreateBridge(CUST, NAILED) in out and d.state is CallState.BRIDGING
    names = [n for n, _ in d.flow.outcome.timeline]
    assert names.index("amd_human") < names.index("bridge_requested")
    d(BridgeCreated("BR1"))
    d(lc("leg_terminated"))
    assert d.flow.outcome.disposition == "agent_handled" and not d.flow.outcome.abandoned


def agent_on_the_line(d: Drive) -> None:
    """An on-demand agent is dialled and answers before the AMD result: no bridge yet."""
    d(AgentOffered("a1", "+9199"))
    d(LegCreated("agent", AGENT, "a1"))
    out = d(lc("leg_answered", AGENT))
    assert not any(isinstance(c, CreateBridge) for c in out)
    assert d.state is CallState.AGENT_RINGING


def test_amd_on_demand_agent_answers_first_then_human() -> None:
    d = answered_with_amd()
    agent_on_the_line(d)
    out = d(lc("amd_result_success", amd_result="human"))
    assert CreateBridge(CUST, AGENT) in out and CancelTimer("abandon") in out


def test_amd_human_before_an_agent_is_free_then_agent_in_time() -> None:
    d = answered_with_amd()
    d(NoAgentFree())
    out = d(lc("amd_result_success", amd_result="human"))
    assert not any(isinstance(c, CreateBridge) for c in out)
    d(AgentAvailable())
    out = d(AgentOffered("n1", "+9197", NAILED))
    assert CreateBridge(CUST, NAILED) in out and CancelTimer("abandon") in out


def test_amd_limit_passing_before_a_human_result_is_an_abandonment() -> None:
    d = answered_with_amd()
    d(AgentOffered("n1", "+9197", NAILED))
    assert d(TimerFired("abandon")) == []  # might be a machine: wait for the result
    out = d(lc("amd_result_success", amd_result="human"))
    assert Notify("abandoned") in out and d.state is CallState.GOODBYE
    assert ReleaseAgent("n1", False) in out and not any(isinstance(c, CreateBridge) for c in out)
    assert d.flow.outcome.abandoned


def test_amd_limit_passing_before_a_machine_result_is_no_abandonment() -> None:
    d = answered_with_amd()
    d(NoAgentFree())
    d(TimerFired("abandon"))
    out = d(lc("amd_result_success", amd_result="machine"))
    assert Notify("abandoned") not in out and Hangup(CUST, "customer") in out
    d(lc("leg_terminated"))
    assert d.flow.outcome.disposition == "machine" and not d.flow.outcome.abandoned


def test_amd_machine_frees_the_agent_and_hangs_up() -> None:
    d = answered_with_amd()
    agent_on_the_line(d)
    out = d(lc("amd_result_success", amd_result="machine"))
    assert Notify("machine") in out
    assert Hangup(AGENT, "agent") in out and ReleaseAgent("a1", False) in out
    assert Hangup(CUST, "customer") in out
    assert not any(isinstance(c, CreateBridge) for c in d.log)
    d(lc("leg_terminated"))
    o = d.flow.outcome
    assert o.machine and o.disposition == "machine" and not o.abandoned and not o.bridged
    assert not any(c == Notify("live") or c == Notify("live", "amd_human") for c in d.log)


def test_amd_timeout_counts_as_human() -> None:
    d = answered_with_amd(amd_timeout=3.0)
    d(AgentOffered("n1", "+9197", NAILED))
    out = d(TimerFired("amd"))
    assert Notify("live", "amd_timeout") in out and CreateBridge(CUST, NAILED) in out
    # a result arriving after the timeout changes nothing
    assert d(lc("amd_result_success", amd_result="human")) == []


def test_amd_agent_hangs_up_while_waiting_for_result_tries_next() -> None:
    d = answered_with_amd()
    agent_on_the_line(d)
    out = d(lc("leg_terminated", AGENT, terminal_status="completed"))
    assert out[-1] == PickAgent((), ("a1",))
    out = d(lc("amd_result_success", amd_result="human"))
    assert not any(isinstance(c, CreateBridge) for c in out)  # nobody on the line yet


def test_bot_first_live_progress_with_and_without_amd() -> None:
    plain = Drive()
    plain(PlaceCall())
    plain(LegCreated("customer", CUST))
    assert Notify("live") in plain(lc("leg_answered"))
    amd = Drive(amd=True)
    amd(PlaceCall())
    amd(LegCreated("customer", CUST))
    out = amd(lc("leg_answered"))
    assert Notify("live") not in out and StartStream(CUST, 1) in out  # the bot starts at once
    assert Notify("live", "amd_human") in amd(lc("amd_result_success", amd_result="human"))
