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
logs them at start.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from dialer.campaign.model import AgentSpec, CampaignSpec

__all__ = ["SkillAlarm", "SkillAsk", "bot_skill_asks", "gap_text", "skill_gaps"]

log = logging.getLogger("dialer.campaign")

DEFAULT_SCRIPT = "sales"
"""The ``scripted`` bot's script when the gateway gives it no ``script`` option."""


@dataclass(frozen=True, slots=True)
class SkillAsk:
    """A set of skills an escalation can ask for, and where the ask comes from."""

    skills: tuple[str, ...]
    source: str


def _script_asks(script_name: str) -> list[SkillAsk]:
    """The skills named by the transfers of the ``scripted`` bot's script ``script_name``
    (none when it cannot be read: ``run`` reports that when a call starts)."""
    from bot_adapters.scripted.adapter import script_for
    from bot_adapters.scripted.script import ScriptError

    try:
        script = script_for(script_name)
    except (ScriptError, OSError) as exc:
        log.debug("scripted bot script %s not read: %s", script_name, exc)
        return []
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


def bot_skill_asks(spec: CampaignSpec, script: str = DEFAULT_SCRIPT) -> list[SkillAsk]:
    """Every set of skills ``spec``'s calls can ask for (see the module docstring)."""
    asks = [SkillAsk(spec.skills, "the campaign's skills (press 0, bot failure, a transfer "
                                  "naming none)")]
    if spec.bot == "scripted":
        asks.extend(_script_asks(script))
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


class SkillAlarm:
    """``campaign run``'s log of skill gaps: each gap at start (WARNING), then the calls that
    failed for want of a skilled agent (``no_agent:skill``): the first at once, then at most
    one line every ``every_s`` with how many failed since."""

    def __init__(self, spec: CampaignSpec, every_s: float = 60.0) -> None:
        self.spec = spec
        self.every_s = every_s
        self.failed = 0  # no_agent:skill failures in the run
        self._unlogged = 0
        self._logged_at: float | None = None

    def at_start(self) -> None:
        for ask in skill_gaps(self.spec, bot_skill_asks(self.spec)):
            log.warning("campaign %s: %s", self.spec.name, gap_text(self.spec, ask))

    def on_call(self, call_id: str, failure: str, now: float) -> None:
        """A call of the campaign ended with ``failure`` (the call record's) at ``now``."""
        if not failure.startswith("no_agent:skill"):
            return
        self.failed += 1
        self._unlogged += 1
        if self._logged_at is not None and now - self._logged_at < self.every_s:
            return
        log.warning(
            "campaign %s: call %s: the escalation found no agent with the skills asked for "
            "(no_agent:skill; %d such call(s) since the last line, %d in this run): the "
            "customer heard the fallback; see `voxgate campaign check`",
            self.spec.name, call_id, self._unlogged, self.failed,
        )
        self._unlogged = 0
        self._logged_at = now
