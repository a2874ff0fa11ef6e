"""A skill the campaign's bot asks for that no agent has (issue 13 #9): ``check`` names the
skill and the agents, ``run`` logs it at start and, rate-limited, at each failure."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from dialer.campaign.model import AgentSpec, CampaignSpec
from dialer.campaign.skill_alarm import SkillAlarm, bot_script
from dialer.campaign.skills import bot_skill_asks, skill_gaps
from voxgate.cli import main

AGENTS = (
    '[[agents]]\nid = "a1"\nnumber = "+919800000001"\nskills = ["collections"]\n'
    '[[agents]]\nid = "a2"\nnumber = "+919800000002"\nskills = ["collections"]\n'
)


def test_the_scripted_bots_transfer_skills_count_not_only_the_campaigns() -> None:
    agents = (AgentSpec("a1", "+919800000001", ("collections",)),)
    spec = CampaignSpec("c", bot="scripted", skills=("collections",), agents=agents)
    asks = bot_skill_asks(spec, bot_script(spec))
    assert [a.skills for a in asks] == [("collections",), ("sales",)]  # the bundled script's
    assert [a.skills for a in skill_gaps(spec, asks)] == [("sales",)]
    echo = CampaignSpec("c", bot="echo", skills=("collections",), agents=agents)
    assert skill_gaps(echo, bot_skill_asks(echo, bot_script(echo))) == []
    alone = CampaignSpec("c", bot="scripted")  # no agents: a bot-first campaign of its own
    assert skill_gaps(alone, bot_skill_asks(alone, bot_script(alone))) == []


def test_check_says_not_ready_naming_the_skill_and_the_agents(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    toml = tmp_path / "c.toml"
    toml.write_text('name = "c"\nbot = "scripted"\nskills = ["collections"]\n' + AGENTS)
    assert main(["campaign", "check", str(toml)]) == 1  # it said "ready" (exit 0)
    lines = capsys.readouterr().out.splitlines()
    assert (
        "  warning: no agent has the skills sales asked for by the scripted bot's transfer "
        "(script sales, state human, no_answer; it replaces the campaign's skills); agents: "
        "a1 (collections), a2 (collections): each such escalation fails (no_agent:skill), the "
        "customer hears the fallback and the call counts as abandoned"
    ) in lines
    assert lines[-1] == "result: usable; worth a look: no agent has the skills sales"
    with caplog.at_level(logging.WARNING, "dialer.campaign"):
        code = main(["campaign", "run", "--emulator", str(toml), "--db", str(tmp_path / "c.db"),
                     "--max-seconds", "0"])
    assert code == 0
    [start] = [r for r in caplog.records if "no agent has the skills sales" in r.getMessage()]
    assert start.levelno == logging.WARNING


def test_run_logs_the_failures_rate_limited(caplog: pytest.LogCaptureFixture) -> None:
    agents = (AgentSpec("a1", "+919800000001", ("collections",)),)
    alarm = SkillAlarm(CampaignSpec("c", bot="scripted", agents=agents), every_s=60.0)
    with caplog.at_level(logging.WARNING, "dialer.campaign"):
        alarm.on_call("c-1-1", "", 0.0)  # no failure: nothing
        alarm.on_call("c-2-1", "no_agent:queue_timeout", 1.0)  # another failure: nothing
        for i, now in enumerate((10.0, 20.0, 30.0, 69.0, 75.0)):
            alarm.on_call(f"c-{i + 3}-1", "no_agent:skill", now)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2 and alarm.failed == 5
    assert "call c-3-1" in lines[0] and "1 such call(s) since the last line, 1 in" in lines[0]
    assert "call c-7-1" in lines[1] and "4 such call(s) since the last line, 5 in" in lines[1]
