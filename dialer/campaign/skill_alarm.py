"""The skill checks' I/O: the ``scripted`` bot's script read from its file, and ``campaign
run``'s log of skill gaps (:class:`SkillAlarm`) and of agent-first agents that are not nailed up
(:func:`warn_agent_first_unnailed`). What is checked is :mod:`dialer.campaign.skills` (pure)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from dialer.campaign.model import CampaignSpec
from dialer.campaign.skills import DEFAULT_SCRIPT, bot_skill_asks, gap_text, skill_gaps

if TYPE_CHECKING:
    from bot_adapters.scripted.script import Script
    from dialer.agents import Agent

__all__ = ["SkillAlarm", "bot_script", "warn_agent_first_unnailed"]

log = logging.getLogger("dialer.campaign")


def bot_script(spec: CampaignSpec, script_name: str = DEFAULT_SCRIPT) -> Script | None:
    """The ``scripted`` bot's script ``script_name`` when ``spec``'s bot is ``scripted``;
    ``None`` for another bot, or when it cannot be read (``run`` reports that when a call
    starts)."""
    if spec.bot != "scripted":
        return None
    from bot_adapters.scripted.adapter import script_for
    from bot_adapters.scripted.script import ScriptError

    try:
        return script_for(script_name)
    except (ScriptError, OSError) as exc:
        log.debug("scripted bot script %s not read: %s", script_name, exc)
        return None


class SkillAlarm:
    """``campaign run``'s log of skill gaps: each gap at start (WARNING), then the calls that
    failed for want of a skilled agent (``no_agent:skill``): the first at once, then at most
    one line every ``every_s`` with how many failed since."""

    def __init__(self, spec: CampaignSpec, every_s: float = 60.0) -> None:
        self.spec = spec
        self.script = bot_script(spec)
        self.every_s = every_s
        self.failed = 0  # no_agent:skill failures in the run
        self._unlogged = 0
        self._logged_at: float | None = None

    def at_start(self) -> None:
        for ask in skill_gaps(self.spec, bot_skill_asks(self.spec, self.script)):
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


def warn_agent_first_unnailed(spec: CampaignSpec, pool: Iterable[Agent],
                              abandon_after: float) -> None:
    """One warning at start: an agent-first campaign with agents that are not nailed up."""
    if spec.mode != "agent_first":
        return
    loose = sorted(agent.agent_id for agent in pool if not agent.nailed)
    if not loose:
        return
    log.warning(
        "campaign %s is agent-first but its agents %s are not nailed up: such an agent is "
        "only dialled once a customer answers, so the customer waits while the agent's phone "
        "rings and is answered, and many calls pass the %g s abandonment limit (abandoned "
        "calls); set `nailed = true` on the campaign's [[agents]] to keep each agent on an "
        "open line between calls",
        spec.name, ", ".join(loose), abandon_after,
    )
