"""Which skills a campaign's calls can ask an agent for, and which of them no agent has.

An escalation asks for an agent with *all* of a set of skills:

* the campaign's ``skills`` when the customer presses 0, the bot fails, or the bot asks for a
  transfer without naming skills;
* the skills the bot names in its transfer, which **replace** the campaign's: the bundled
  ``scripted`` bot's script (``sales``, unless the gateway is given another ``script``) names
  ``sales`` on each transfer.

A set that no agent of the campaign has makes every such escalation fail at once (failure
``no_agent:skill``): the customer hears the fallback and the call counts as abandoned.
``campaign check`` warns of each (:func:`skill_gaps`, :func:`gap_text`), and ``campaign run``
logs them at start (:mod:`dialer.campaign.skill_alarm`, which also reads the bot's script).

Pure: the scripted bot's script comes in parsed (``dialer.campaign.skill_alarm.bot_script``
reads it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from dialer.campaign.model import AgentSpec, CampaignSpec

if TYPE_CHECKING:
    from bot_adapters.scripted.script import Script

__all__ = ["DEFAULT_SCRIPT", "SkillAsk", "bot_skill_asks", "gap_text", "skill_gaps"]

DEFAULT_SCRIPT = "sales"
"""The ``scripted`` bot's script when the gateway gives it no ``script`` option."""


@dataclass(frozen=True, slots=True)
class SkillAsk:
    """A set of skills an escalation can ask for, and where the ask comes from."""

    skills: tuple[str, ...]
    source: str


def _script_asks(script: Script, script_name: str) -> list[SkillAsk]:
    """The skills named by the transfers of the ``scripted`` bot's script ``script_name``."""
    asks: dict[tuple[str, ...], list[str]] = {}
    for state in script.states.values():
        action = state.action
        if action is not None and action.kind == "transfer" and action.skills:
            asks.setdefault(tuple(action.skills), []).append(state.name)
    return [
        SkillAsk(skills, f"the scripted bot's transfer (script {script_name}, state "
                         f"{', '.join(states)}; it replaces the campaign's skills)")
        for skills, states in asks.items()
    ]


def bot_skill_asks(spec: CampaignSpec, script: Script | None = None,
                   script_name: str = DEFAULT_SCRIPT) -> list[SkillAsk]:
    """Every set of skills ``spec``'s calls can ask for (see the module docstring); ``script``
    is the ``scripted`` bot's (``None``: not read, only the campaign's skills)."""
    asks = [SkillAsk(spec.skills, "the campaign's skills (press 0, bot failure, a transfer "
                                  "naming none)")]
    if spec.bot == "scripted" and script is not None:
        asks.extend(_script_asks(script, script_name))
    return asks


def _shown(agents: tuple[AgentSpec, ...]) -> str:
    listed = [f"{a.id} ({', '.join(a.skills) or 'no skills'})" for a in agents[:10]]
    more = f" and {len(agents) - 10} more" if len(agents) > 10 else ""
    return ", ".join(listed) + more


def skill_gaps(spec: CampaignSpec, asks: list[SkillAsk]) -> list[SkillAsk]:
    """The asks in ``asks`` that no agent of ``spec`` can take (none when the campaign has no
    agents: a bot-first campaign may be the bot's alone)."""
    if not spec.agents:
        return []
    return [
        ask
        for ask in asks
        if not any(frozenset(ask.skills) <= frozenset(a.skills) for a in spec.agents)
    ]


def gap_text(spec: CampaignSpec, ask: SkillAsk) -> str:
    """One sentence on an ask of :func:`skill_gaps`: the skills, who asks, the agents."""
    return (
        f"no agent has the skills {', '.join(ask.skills) or '(none)'} asked for by "
        f"{ask.source}; agents: {_shown(spec.agents)}: each such escalation fails "
        "(no_agent:skill), the customer hears the fallback and the call counts as abandoned"
    )
