"""``voxgate campaign check``: what ``run`` would do with its inputs, changing nothing.

:func:`check_notes` turns the inputs as ``run`` reads them, the stored campaign (if any, read
only) and the time now into the report's lines and the problems worth a look
(:class:`~dialer.campaign.inputs.Notes`). Pure: the reading, and the clock, are
:func:`dialer.campaign.loading.check_report`'s.
"""

from __future__ import annotations

import argparse
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from dialer.campaign.compliance import next_window_open
from dialer.campaign.inputs import (
    Notes,
    RunInputs,
    dnc_notes,
    import_headline,
    lead_notes,
    plural,
    unzoned_notes,
)
from dialer.campaign.model import (
    CampaignSpec,
    Lead,
)
from dialer.campaign.progress import (
    iso_utc,
    paused_text,
    span,
    status_lines,
)
from dialer.campaign.skills import bot_skill_asks, gap_text, skill_gaps

if TYPE_CHECKING:
    from dialer.campaign.store import CampaignStore


def check_notes(
    args: argparse.Namespace, inputs: RunInputs, store: CampaignStore | None, now: float
) -> Notes:
    """``campaign check``'s report: the campaign, the database, the leads and do-not-call
    numbers, the calling windows, and a last line with the problems worth a look."""
    notes = settings_notes(inputs, args.campaign if inputs.spec else f"stored in {args.db}")
    known: dict[str, str] = {}
    if store is not None and inputs.name in store.campaigns():
        notes.extend(stored_notes(inputs, store, now))
        known = store.lead_states(inputs.name)
    else:
        notes.say(database_text(args.db, inputs.name, store is not None))
    if inputs.leads is not None:
        notes.extend(import_notes(inputs, args.leads, known))
    if inputs.dnc is not None:
        notes.extend(dnc_notes(inputs.dnc, inputs.dnc_errors, args.dnc))
    to_dial = new_leads(inputs, known, store, notes)
    if to_dial:
        notes.extend(window_notes(to_dial, inputs.settings, now))
    summary = "; ".join(notes.problems)
    notes.lines.append(f"result: {'usable; worth a look: ' + summary if summary else 'ready'}")
    return notes


def import_notes(inputs: RunInputs, source: str, known: Mapping[str, str]) -> Notes:
    """The lead import ``run`` would make: new leads (not in ``known``, the campaign's stored
    leads), duplicates and bad rows, ``stream_params`` warnings."""
    assert inputs.leads is not None
    new = sum(lead.phone not in known for lead in inputs.leads.leads)
    notes = Notes([import_headline(f"{source}: would import", inputs.leads, new)])
    notes.extend(lead_notes(inputs.leads, inputs.settings.stream_params, inputs.name, source))
    return notes


def new_leads(
    inputs: RunInputs, known: Mapping[str, str], store: CampaignStore | None, notes: Notes
) -> list[Lead]:
    """The imported leads ``run`` would dial: not stored yet (``known``) nor on a do-not-call
    list (``--dnc`` or the database's); says in ``notes`` how many each list scrubs."""
    imported = inputs.leads.leads if inputs.leads is not None else ()
    leads = [lead for lead in imported if lead.phone not in known]
    dnc = set(inputs.dnc or ())
    if inputs.dnc is not None:
        text = f"  on it: {plural(sum(lead.phone in dnc for lead in leads), 'new lead')}"
        if known:
            pending = sum(state == "pending" and phone in dnc for phone, state in known.items())
            text += f", {plural(pending, 'pending lead')} of the campaign"
        notes.say(text + " (never dialled)")
    leads = [lead for lead in leads if lead.phone not in dnc]
    if store is None:
        return leads
    listed = {lead.phone for lead in leads if store.on_dnc(lead.phone)}
    if listed:
        notes.say(
            f"do-not-call list in {store.display}: {plural(len(listed), 'new lead')} on it "
            "already (never dialled)"
        )
    return [lead for lead in leads if lead.phone not in listed]


def settings_notes(inputs: RunInputs, source: str) -> Notes:
    """The campaign's settings in a few lines, and the problems in them: no agents, or none
    with the skills its calls can ask for (:mod:`dialer.campaign.skills`); an agent-first
    campaign with agents not nailed up; no caller id for Exotel."""
    spec, config = inputs.settings, inputs.config
    assert config is not None  # load_inputs always reads it
    start, end = spec.window.describe()
    loose = [agent.id for agent in spec.agents if not agent.nailed]
    notes = Notes(
        [
            f"campaign {spec.name} ({source}): {spec.mode}, pacer {spec.pacer}, bot {spec.bot}, "
            f"{plural(len(spec.agents), 'agent')} ({len(spec.agents) - len(loose)} nailed up), "
            f"up to {plural(spec.limits.max_lines, 'line')}",
            f"  calling window {start}-{end} in each lead's time zone (campaign timezone "
            f"{spec.timezone}); numbers written nationally get +{spec.default_country}",
        ]
    )
    caller = spec.exophone or config.exophone
    if config.uses_embedded_emulator:
        notes.say(
            "  dials the embedded emulator (EXOTEL_API_BASE unset); caller id "
            f"{caller or 'the emulator default'}"
        )
    elif caller:
        notes.say(f"  dials Exotel at {config.api_base}; caller id {caller}")
    else:
        notes.say(
            f"  warning: dials Exotel at {config.api_base} with no caller id: set exophone in "
            "the campaign file or EXOTEL_EXOPHONE",
            "no caller id",
        )
    if not spec.agents and spec.mode == "agent_first":  # (bot-first: may be the bot's alone)
        notes.say("  warning: no agents: every answered call is abandoned", "no agents")
    for ask in skill_gaps(spec, bot_skill_asks(spec, inputs.script)):
        notes.say(
            f"  warning: {gap_text(spec, ask)}",
            f"no agent has the skills {', '.join(ask.skills) or '(none)'}",
        )
    if spec.mode == "agent_first" and loose:
        notes.say(
            f"  warning: agent-first with agents not nailed up ({', '.join(loose)}): each is "
            f"dialled once a customer answers, and many calls pass the {config.abandon_after:g} s "
            "abandonment limit (nailed = true keeps an agent on the line)",
            "agents not nailed up",
        )
    return notes


def database_text(db: str | None, name: str, exists: bool) -> str:
    """``--db`` when it does not hold the campaign."""
    if db is None:
        return "database: none given (--db): every lead counts as new"
    if not exists:
        return f"database {db}: does not exist yet; run creates it"
    return f"database {db}: no campaign {name} yet; run adds it"


def stored_notes(inputs: RunInputs, store: CampaignStore, now: float) -> Notes:
    """The stored campaign as ``status`` shows it, and what stands in ``run``'s way: another
    dialer holding it, a pause, a file that changes its default country."""
    name, stored = inputs.name, store.campaign(inputs.name)
    update = "; run updates its settings from the file" if inputs.spec else ""
    notes = Notes([f"database {store.display}: campaign {name} is stored{update}"])
    stats, pending = store.stats(name, now), store.pending(name, now)
    notes.lines.extend(f"  {line}" for line in status_lines(name, stats, pending, now))
    busy = store.busy(name, now)
    if busy:
        notes.say(f"  warning: {busy}: run is refused until then", "another dialer runs it")
    if stats.status == "paused":
        notes.say(f"  warning: {paused_text(name, store.display)}", "paused")
    if stored.default_country != inputs.settings.default_country:
        notes.say(
            f"  warning: default_country changes from +{stored.default_country} to "
            f"+{inputs.settings.default_country}: the leads already stored keep their numbers",
            "default_country changes",
        )
    return notes


def window_notes(leads: Sequence[Lead], spec: CampaignSpec, now: float) -> Notes:
    """The leads to dial by time zone (the 20 largest zones): how many are inside their
    calling window now, how many wait and when the first window opens; leads with no zone of
    their own (called in the campaign's) are a problem worth a look."""
    zones = Counter(lead.timezone or spec.timezone for lead in leads)
    rows: list[str] = []
    inside, first, never = 0, math.inf, 0
    for zone, count in zones.most_common():
        opens = next_window_open(now, zone, spec.window)
        there = ", ".join(
            datetime.fromtimestamp(now, ZoneInfo(z)).strftime("%H:%M") for z in zone.split()[:3]
        ) + (", ..." if len(zone.split()) > 3 else "")
        if opens is None:
            never += count
            state = f"never dialled: the window has no moment in common in these zones ({there})"
        elif opens <= now:
            inside += count
            state = f"inside the window ({there} there)"
        else:
            first = min(first, opens)
            state = f"waiting ({there} there; it opens {iso_utc(opens)}, in {span(opens - now)})"
        shown = zone if len(zone) <= 80 else f"{zone[:77]}..."
        rows.append(f"  {shown.replace(' ', ' + ')}: {plural(count, 'lead')} {state}")
    head = (
        f"calling windows now: of the {plural(len(leads), 'new lead')} to dial, {inside} inside "
        f"their window, {len(leads) - inside - never} waiting"
        + (f", {never} never (no common window)" if never else "")
    )
    if first < math.inf:
        head += f" (the first window opens {iso_utc(first)}, in {span(first - now)})"
    notes = Notes([head, *rows[:20]])
    if len(rows) > 20:
        notes.say(f"  ... and {plural(len(rows) - 20, 'more zone')}")
    if never:
        notes.say(
            f"  warning: {plural(never, 'lead')} whose number spans time zones with no calling "
            f"hours in common (the window is the intersection of each zone's): never dialled "
            f"(add a timezone column to call them)",
            f"{plural(never, 'lead')} never dialled: no common calling window",
        )
    notes.extend(unzoned_notes(leads, spec.timezone))
    return notes
