"""The call flow's sub-machines, every (state, input) pair: the legal ones give the documented
next state and effects, every other pair raises IllegalTransition and leaves the state."""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any

import pytest

from dialer.errors import IllegalTransition
from dialer.flows.amd import AmdEffect, AmdInput, AmdState, amd_machine
from dialer.flows.bot import (
    BotEffect,
    BotInput,
    BotState,
    StreamEffect,
    StreamInput,
    StreamState,
    bot_machine,
    stream_machine,
)
from dialer.flows.liveness import liveness_machine
from dialer.flows.machine import Machine
from dialer.flows.queue import QueueEffect, QueueInput, QueueState, queue_machine
from dialer.flows.recording import (
    RecordingEffect,
    RecordingInput,
    RecordingState,
    recording_machine,
)
from dialer.flows.voice import AudioEffect, AudioInput, AudioState, voice_machine

# "state input -> next effect,effect" (the docstrings' diagrams, written out in full)
AMD = """
off answer -> off
off agent_gone -> off
off machine -> decided cancel_timer
armed answer -> pending set_timer
armed agent_gone -> armed
pending agent_ready -> agent_waiting
pending agent_gone -> pending
pending abandon_limit -> abandon_due
pending human -> decided cancel_timer
pending machine -> decided cancel_timer
agent_waiting agent_ready -> agent_waiting
agent_waiting agent_gone -> pending
agent_waiting abandon_limit -> abandon_due
agent_waiting human -> decided cancel_timer,connect_agent
agent_waiting machine -> decided cancel_timer
abandon_due agent_ready -> abandon_due
abandon_due agent_gone -> abandon_due
abandon_due human -> decided cancel_timer,abandon
abandon_due machine -> decided cancel_timer
decided agent_gone -> decided
decided machine -> decided cancel_timer
"""

BOT = """
none connected -> up
none cancel_return -> none
none lose -> lost
none fail -> failed
up connected -> up
up return -> returning
up cancel_return -> up
up lose -> lost
up fail -> failed
returning restart -> up
returning cancel_return -> up
lost connected -> up
lost cancel_return -> lost
lost lose -> lost
lost fail -> failed
failed connected -> failed
failed cancel_return -> failed
failed lose -> failed
"""

STREAM = """
off up -> live
off stop -> off
off down -> off
live up -> live
live stop -> off send_stop
live down -> off
"""

QUEUE = """
idle wait -> waiting
idle queue -> queued notify_queued
idle offered -> idle
idle limit -> over
idle reset -> idle
waiting wait -> waiting
waiting offered -> idle
waiting reset -> idle
queued queue -> queued
queued offered -> queued_asking
queued reset -> idle
queued_asking queue -> queued
queued_asking offered -> queued_asking
queued_asking limit -> over
queued_asking reset -> idle
over reset -> idle
"""

VOICE = """
silent greeting -> greeting
silent hold -> hold
silent fallback -> fallback
silent goodbye -> goodbye
silent stop -> silent
silent gone -> silent
greeting stop -> silent send_stop
greeting end -> silent
greeting gone -> silent
hold stop -> silent send_stop
hold end -> silent hold_ended
hold gone -> silent
fallback stop -> silent send_stop
fallback end -> silent message_ended
fallback gone -> silent
goodbye stop -> silent send_stop
goodbye end -> silent message_ended
goodbye gone -> silent
"""

RECORDING = """
none start -> started send_start
none url -> available
started url -> available
available start -> available send_start
available url -> available
"""

Spec = dict[tuple[str, str], tuple[str, tuple[str, ...]]]


def parse(text: str) -> Spec:
    spec: Spec = {}
    for line in text.strip().splitlines():
        left, right = line.split(" -> ")
        state, item = left.split()
        nxt, *effects = right.split()
        spec[(state, item)] = (nxt, tuple(effects[0].split(",")) if effects else ())
    return spec


CASES: list[tuple[str, Callable[[Any], Machine[Any, Any, Any]], type[enum.Enum],
                  type[enum.Enum], type[enum.Enum], str]] = [
    ("amd", lambda s: _at(amd_machine(True), s), AmdState, AmdInput, AmdEffect, AMD),
    ("bot", lambda s: _at(bot_machine(), s), BotState, BotInput, BotEffect, BOT),
    ("stream", lambda s: _at(stream_machine(), s), StreamState, StreamInput, StreamEffect,
     STREAM),
    ("queue", lambda s: _at(queue_machine(), s), QueueState, QueueInput, QueueEffect, QUEUE),
    ("voice", lambda s: _at(voice_machine(), s), AudioState, AudioInput, AudioEffect, VOICE),
    ("recording", lambda s: _at(recording_machine(), s), RecordingState, RecordingInput,
     RecordingEffect, RECORDING),
]


def _at(m: Machine[Any, Any, Any], state: enum.Enum) -> Machine[Any, Any, Any]:
    m.state = state
    return m


def pairs() -> list[Any]:
    out = []
    for name, make, states, inputs, effects, text in CASES:
        spec = parse(text)
        for s in states:
            for i in inputs:
                out.append(pytest.param(make, s, i, effects, spec.get((s.value, i.value)),
                                        id=f"{name}-{s.value}-{i.value}"))
    return out


@pytest.mark.parametrize(("make", "state", "item", "effects", "expected"), pairs())
def test_every_state_and_input(make: Callable[[Any], Machine[Any, Any, Any]],
                               state: enum.Enum, item: enum.Enum,
                               effects: type[enum.Enum],
                               expected: tuple[str, tuple[str, ...]] | None) -> None:
    m = make(state)
    assert m.accepts(item) is (expected is not None)
    if expected is None:
        with pytest.raises(IllegalTransition, match=f"{m.name} machine in state {state.value}"):
            m.fire(item)
        assert m.state is state
        return
    got = m.fire(item)
    assert (m.state.value, tuple(e.value for e in got)) == expected
    assert all(isinstance(e, effects) for e in got)


@pytest.mark.parametrize("text", [AMD, BOT, STREAM, QUEUE, VOICE, RECORDING])
def test_the_spec_names_only_real_states_and_inputs(text: str) -> None:
    """A typo in the spec above would make a legal pair look illegal: every name is real."""
    names = {m.value for case in CASES for enum_ in case[2:5] for m in enum_}  # type: ignore[attr-defined]
    for (state, item), (nxt, effects) in parse(text).items():
        assert {state, item, nxt, *effects} <= names


def test_initial_states() -> None:
    assert amd_machine(False).state is AmdState.OFF
    assert amd_machine(True).state is AmdState.ARMED
    assert bot_machine().state is BotState.NONE
    assert liveness_machine("agent_leg").state is StreamState.OFF
    assert stream_machine().state is StreamState.OFF
    assert queue_machine().state is QueueState.IDLE
    assert voice_machine().state is AudioState.SILENT
    assert recording_machine().state is RecordingState.NONE


def test_the_flow_names_its_timers_and_operations_by_enum() -> None:
    """Every timer the flow sets or cancels is a Timer, every command's op an Op (StrEnums:
    they still equal the strings the runner and the logs use)."""
    from test_dialer_flow import AGENT, Drive, lc

    from dialer.flows import (
        AgentOffered,
        CancelTimer,
        LegCreated,
        Op,
        SetTimer,
        Timer,
        Transfer,
    )

    d = Drive()
    d.to_bot()
    d(Transfer("dtmf"))
    d(AgentOffered("a1", "+9199"))
    d(LegCreated("agent", AGENT, "a1"))
    d(lc("leg_answered", AGENT))
    d(lc("leg_terminated"))
    assert d.flow.machines == {"voice": "silent", "bot": "up", "stream": "off", "queue": "idle",
                               "amd": "off", "recording": "none", "customer_leg": "off",
                               "agent_leg": "off"}  # the agent leg was hung up with the call
    timers = [c.name for c in d.log if isinstance(c, (SetTimer, CancelTimer))]
    assert timers and all(isinstance(t, Timer) for t in timers)
    assert all(isinstance(c.op, Op) for c in d.log) and Timer.QUEUE == "queue"
