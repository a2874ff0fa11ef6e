"""Shared pieces of the bot-first pacer tests (forecasts, pull-forward)."""

from __future__ import annotations

from typing import Any

from dialer.pacing.botfirst import BotFirstPacer
from dialer.pacing.sim import Dist, ForecastModel, Scenario, SimResult
from dialer.pacing.types import (
    AgentTalkEnded,
    AgentWrapEnded,
    BotCallEnded,
    DialOutcome,
    DialResolved,
    Observation,
)


def warm_bot_first(use_forecasts: bool = True, **kw: Any) -> BotFirstPacer:
    """A bot-first pacer that has seen plenty of dials, talks and bot calls: every fifth call
    escalated at 60 s, forecast 30 s ahead (stated 30 s); the others ended at 80 s without a
    forecast. ``kw``: more ``BotFirstPacer`` arguments."""
    pacer = BotFirstPacer(use_forecasts=use_forecasts, **kw)
    for i in range(100):
        pacer.observe(DialResolved(float(i), 8.0, DialOutcome.LIVE))
        pacer.observe(AgentTalkEnded(float(i), 180.0))
        pacer.observe(AgentWrapEnded(float(i), 20.0))
        if i % 5 == 0:
            pacer.observe(BotCallEnded(float(i), 60.0, True, 30.0, 30.0, 1.0))
        else:
            pacer.observe(BotCallEnded(float(i), 80.0, False))
    return pacer


def bot_floor(forecast: ForecastModel | None, hours: float, **kw: Any) -> Scenario:
    """A small bot-first floor (5 agents, 35 % live) for the simulation tests."""
    return Scenario(
        "bot", 5, 0.35, mode="bot_first", hours=hours, tick_s=2.0, line_limit=25,
        talk=Dist(180.0, 120.0, 20.0, 1800.0), forecast=forecast, **kw,
    )  # fmt: skip


class RecordingBotFirst(BotFirstPacer):
    """A bot-first pacer (15 streams) that keeps every observation it is fed in ``seen``."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(stream_limit=15, **kw)
        self.seen: list[Observation] = []

    def observe(self, obs: Observation) -> None:
        self.seen.append(obs)
        super().observe(obs)


def customers(result: SimResult) -> tuple[int, int, float, list[float]]:
    """What two runs on the same customers share: dials, live answers, talk time and waits."""
    return result.dials, result.live, result.talk_s, result.waits
