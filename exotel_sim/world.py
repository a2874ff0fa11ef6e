"""The simulated world: how each dialled customer, agent or answering machine behaves.

:func:`run_leg` is a leg's lifecycle task (dial, ring, answer or a terminal outcome, time
limit). After the answer it starts the party: a customer runs one of its profile's talk
scripts (seeded choice) plus a patience watchdog; an agent waits for a bridge, greets and
maybe hangs up after ``talk_ms``; an answering machine plays its greeting and hangs up.
:func:`on_bridged` / :func:`on_unbridged` are called by the engine when the leg joins or
leaves a bridge. Outcomes and choices come from the leg's own RNG, seeded by
``(seed, contact_uri, n-th dial of that number)``, so a fixed seed reproduces a run.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

from exotel_sim.config import Script, ScriptStep
from exotel_sim.legs import LegInput, LegState

if TYPE_CHECKING:
    from exotel_sim.core import SimCore as Sim
    from exotel_sim.leg import Leg

POLL_S = 0.05
WATCHDOG_S = 0.25
HOLD_SOURCES = frozenset({"say", "play"})
BOT_SOURCES = frozenset({"stream"})


def plan_outcome(leg: Leg) -> str:
    """``answer``, ``machine``, ``busy``, ``no-answer`` or ``failed``, from the leg's RNG."""
    rng = leg.rng
    if leg.agent is not None:
        if leg.agent_busy:  # on another call, or still wrapping up the last one
            return "busy"
        return "no-answer" if rng.random() < leg.agent.no_answer_probability else "answer"
    profile = leg.customer
    assert profile is not None
    draw_answer, draw_machine, draw_kind = rng.random(), rng.random(), rng.random()
    if profile.outcome:
        return profile.outcome
    if draw_answer < profile.answer_probability:
        return "machine" if draw_machine < profile.machine_probability else "answer"
    weights = [profile.busy_weight, profile.no_answer_weight, profile.failed_weight]
    total = sum(weights) or 1.0
    edge = 0.0
    for name, weight in zip(("busy", "no-answer", "failed"), weights, strict=True):
        edge += weight / total
        if draw_kind < edge:
            return name
    return "failed"


def ring_time_ms(leg: Leg) -> int:
    if leg.agent is not None:
        return leg.agent.answer_ms
    assert leg.customer is not None
    lo, hi = leg.customer.ring_ms
    return leg.rng.randint(lo, hi)


async def run_leg(sim: Sim, leg: Leg) -> None:
    """A leg's lifecycle, from dialling to its end (time limit included)."""
    clock = sim.clock
    leg.outcome = plan_outcome(leg)
    ring_ms = ring_time_ms(leg)
    if leg.customer is not None:
        leg.script_choice = leg.rng.randrange(len(leg.customer.scripts))
    sim.note(leg, f"planned outcome {leg.outcome}, ring {ring_ms} ms")
    sim.leg_input(leg, LegInput.DIAL)
    await asyncio.sleep(sim.config.setup_ms / 1000)
    if leg.outcome == "failed":
        sim.leg_input(leg, LegInput.FAIL, "failed")
        return
    if leg.outcome == "busy":
        sim.leg_input(leg, LegInput.BUSY, "busy")
        return
    sim.leg_input(leg, LegInput.RING)
    ring_timeout_ms = leg.req.ring_timeout * 1000
    if leg.outcome == "no-answer" or ring_ms > ring_timeout_ms:
        await asyncio.sleep(ring_timeout_ms / 1000)
        sim.leg_input(leg, LegInput.NO_ANSWER, "no_answer")
        return
    await asyncio.sleep(ring_ms / 1000)
    sim.leg_input(leg, LegInput.ANSWER)
    start_party(sim, leg)
    answered = clock.now_ms()
    while leg.live:
        limit_at = answered + leg.time_limit * 1000
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(leg.ended.wait(), max(0.0, limit_at - clock.now_ms()) / 1000)
        if leg.live and clock.now_ms() >= answered + leg.time_limit * 1000:
            sim.hangup(leg, "time_limit")


def start_party(sim: Sim, leg: Leg) -> None:
    """The answered party starts behaving."""
    if leg.agent is not None:
        return  # agents wait for a bridge
    profile = leg.customer
    assert profile is not None
    if leg.req.amd_enable:
        leg.tasks.spawn(_amd(sim, leg), "amd")
    if leg.outcome == "machine":
        leg.tasks.spawn(_machine(sim, leg), "machine")
        return
    script = profile.scripts[leg.script_choice]
    leg.script_task = leg.tasks.spawn(run_script(sim, leg, script), "script")
    if profile.patience_ms or profile.hold_patience_ms:
        leg.tasks.spawn(_watchdog(sim, leg), "patience")


def on_bridged(sim: Sim, leg: Leg) -> None:
    """The leg joined a bridge: agents greet; customers switch to their bridge script."""
    if leg.script_task is not None:
        leg.script_task.cancel()
        leg.script_task = None
    if leg.agent is not None:
        leg.script_task = leg.tasks.spawn(_agent_in_bridge(sim, leg), "agent")
    elif leg.customer is not None and leg.outcome != "machine":
        leg.script_task = leg.tasks.spawn(
            run_script(sim, leg, leg.customer.bridge_script), "bridge-script"
        )


def on_unbridged(sim: Sim, leg: Leg) -> None:
    """The bridge ended with the leg still up; its party stops its bridge behaviour."""
    if leg.script_task is not None:
        leg.script_task.cancel()
        leg.script_task = None


def speak(sim: Sim, leg: Leg, clip: str, at: float | None = None) -> float:
    """The party says fixture ``clip`` from ``at`` (now by default); returns when it ends."""
    pcm = sim.library.fixture(clip)
    start = sim.clock.now_ms() if at is None else at
    sim.note(leg, f"says {clip}")
    return leg.timeline.speak(clip, start, pcm)


async def run_script(sim: Sim, leg: Leg, script: Script) -> None:
    """Run talk-script steps in order (see :class:`exotel_sim.config.ScriptStep`). Each step
    starts at the exact moment the previous one completed, so timelines are exact."""
    cursor = sim.clock.now_ms()
    for step in script:
        if not leg.live:
            return
        cursor = await _step(sim, leg, step, cursor)


async def _step(sim: Sim, leg: Leg, step: ScriptStep, cursor: float) -> float:
    """Run one step that may begin at ``cursor``; returns when it completed (sim ms)."""
    clock = sim.clock
    if step.kind == "wait":
        due = max(cursor, clock.now_ms() - POLL_S * 1000) + step.ms
        await clock.sleep_until(due)
        return due
    if step.kind == "pause":
        return await _wait_pause(sim, leg, step.ms)
    if step.kind == "streaming":
        return await _wait_streaming(sim, leg, step.ms)
    if step.kind == "say":
        end = speak(sim, leg, step.clip, cursor)
        await clock.sleep_until(end)
        return end
    if step.kind == "barge":
        at = await _wait_bot_talking(sim, leg, step.ms)
        end = speak(sim, leg, step.clip, at)
        await clock.sleep_until(end)
        return end
    if step.kind == "dtmf":
        return await press(sim, leg, step.digit, cursor)
    if leg.live:
        sim.hangup(leg, "customer_hangup")
    return clock.now_ms()


async def _wait_pause(sim: Sim, leg: Leg, pause_ms: int) -> float:
    """Wait until something was heard since now and then ``pause_ms`` of silence; returns the
    exact moment the pause completed."""
    clock = sim.clock
    since = clock.now_ms()
    while True:
        end = leg.timeline.last_heard_end(since)
        if end is None:
            await asyncio.sleep(POLL_S)
            continue
        due = end + pause_ms
        if clock.now_ms() >= due:
            return due
        await clock.sleep_until(due)
        if leg.timeline.last_heard_end(since) == end:
            return due


async def _wait_streaming(sim: Sim, leg: Leg, ms: int) -> float:
    """Wait until the leg's stream has been up for ``ms``; returns that moment (or now, when
    the script got here later)."""
    clock = sim.clock
    while True:
        stream = leg.stream
        if stream is not None and stream.state == "streaming" and stream.started_ms is not None:
            break
        await asyncio.sleep(POLL_S)
    due = stream.started_ms + ms
    if clock.now_ms() >= due:
        return clock.now_ms()
    await clock.sleep_until(due)
    return due


async def _wait_bot_talking(sim: Sim, leg: Leg, talk_ms: int) -> float:
    """Wait until the bot has been talking for ``talk_ms``; returns that moment."""
    clock = sim.clock
    while True:
        now = clock.now_ms()
        start = leg.timeline.run_start(now, BOT_SOURCES)
        if start is None:
            await asyncio.sleep(POLL_S)
            continue
        due = start + talk_ms
        if now >= due:
            return due
        await clock.sleep_until(due)
        if leg.timeline.run_start(due, BOT_SOURCES) == start:
            return due


async def press(sim: Sim, leg: Leg, digit: str, at: float | None = None) -> float:
    """The party presses ``digit``: the tone is in its speech; a stream gets a ``dtmf``."""
    name = {"*": "dtmf_star", "#": "dtmf_hash"}.get(digit, f"dtmf_{digit}")
    end = speak(sim, leg, name, at)
    if leg.stream is not None:
        await leg.stream.send_dtmf(digit)
    await sim.clock.sleep_until(end)
    return end


async def _agent_in_bridge(sim: Sim, leg: Leg) -> None:
    agent = leg.agent
    assert agent is not None
    await asyncio.sleep(agent.greet_after_ms / 1000)
    end = speak(sim, leg, agent.greeting_clip)
    await sim.clock.sleep_until(end)
    if agent.talk_ms:
        await asyncio.sleep(agent.talk_ms / 1000)
        if leg.live:
            sim.hangup(leg, "agent_hangup")


async def _machine(sim: Sim, leg: Leg) -> None:
    assert leg.customer is not None
    speak(sim, leg, "cust_hello")
    speak(sim, leg, "dtmf_1")  # the beep
    await asyncio.sleep(leg.customer.machine_hangup_ms / 1000)
    if leg.live:
        sim.hangup(leg, "machine_hangup")


async def _amd(sim: Sim, leg: Leg) -> None:
    assert leg.customer is not None
    await asyncio.sleep(leg.customer.amd_ms / 1000)
    if leg.state is LegState.ANSWERED:
        leg.amd_result = "machine" if leg.outcome == "machine" else "human"
        sim.leg_event(leg, "amd_result_success", {"amd_result": leg.amd_result,
                                                  "async": leg.req.async_amd})


async def _watchdog(sim: Sim, leg: Leg) -> None:
    """Hang up after ``patience_ms`` of silence or ``hold_patience_ms`` of hold audio."""
    profile = leg.customer
    assert profile is not None and leg.answered_ms is not None
    clock = sim.clock
    while leg.live:
        await asyncio.sleep(WATCHDOG_S)
        now = clock.now_ms()
        if leg.bridge is not None:
            continue
        if profile.patience_ms:
            last = max(leg.timeline.last_heard_end() or 0.0, leg.answered_ms,
                       leg.timeline.speaking_until())
            if now - last >= profile.patience_ms:
                sim.note(leg, "lost patience in silence")
                sim.hangup(leg, "customer_hangup_silence")
                return
        if profile.hold_patience_ms:
            start = leg.timeline.run_start(now, HOLD_SOURCES)
            if start is not None and now - start >= profile.hold_patience_ms:
                sim.note(leg, "lost patience on hold")
                sim.hangup(leg, "customer_hangup_hold")
                return
