"""A campaign's inputs once read (:class:`RunInputs`), the do-not-call file's parser, and the
notes on an import that ``campaign run`` and ``campaign check`` both print (:class:`Notes`).
Pure: text and values in, values out; reading the files, the database and the bot registry is
:mod:`dialer.campaign.loading`'s job. Errors are :class:`CampaignError` naming the file and the
line or key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dialer.call_binding import MAC_CHARS
from dialer.campaign.leads_csv import ImportResult
from dialer.campaign.model import CampaignError, CampaignSpec, Lead, normalise_phone
from dialer.config import DialerConfig
from dialer.stream_params import MAX_CHARS, add_stream_params

if TYPE_CHECKING:
    from bot_adapters.scripted.script import Script


def _stream_values(lead: Lead) -> dict[str, str]:
    """The lead fields ``stream_params`` may name: its name and custom fields."""
    return {"name": lead.name, **lead.custom}


def too_long_for_stream(fields: tuple[str, ...], leads: Sequence[Lead], name: str) -> int:
    """How many ``leads`` would have a ``stream_params`` value shortened at dial time."""
    if not fields:
        return 0
    url = f"ws://gateway/stream/bot?vx_call={name}-9999999999-1~{'A' * MAC_CHARS}"  # its MAC
    count = 0
    for lead in leads:
        values = _stream_values(lead)
        chosen = {f: values[f] for f in fields if values.get(f, "") != ""}
        count += bool(add_stream_params(url, chosen).truncated)
    return count


def parse_dnc(text: str, source: str, default_country: str = "91") -> tuple[list[str], list[str]]:
    """Do-not-call numbers, one a line (``#`` starts a comment, also after a number), national
    ones in ``default_country`` (the campaign's, as its leads); returns the numbers and one
    ``FILE line N: reason`` per bad line (skipped)."""
    phones: list[str] = []
    errors: list[str] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            phones.append(normalise_phone(line, default_country))
        except CampaignError as exc:
            errors.append(f"{source} line {number}: {exc}")
    return phones, errors


@dataclass
class RunInputs:
    """What ``campaign run`` and ``check`` read, checked before the database is changed."""

    spec: CampaignSpec | None  # None: a stored campaign named ``name``
    name: str
    settings: CampaignSpec  # in effect: ``spec``, else the stored campaign's
    leads: ImportResult | None = None
    dnc: list[str] | None = None
    dnc_errors: list[str] = field(default_factory=list)
    config: DialerConfig | None = None
    sim: Any = None  # the embedded emulator's settings (dialer.emulated.Embedding.parse_world)
    script: Script | None = None  # the scripted bot's (dialer.campaign.skill_alarm.bot_script)


def _fields_in_no_lead(fields: tuple[str, ...], leads: Sequence[Lead]) -> list[str]:
    """The ``stream_params`` fields that none of ``leads`` has a value for."""
    if not leads:
        return []
    return [f for f in fields if not any(_stream_values(lead).get(f, "") != "" for lead in leads)]


def plural(count: int, noun: str) -> str:
    """``1 lead``, ``2 leads``."""
    return f"{count} {noun}{'s' * (count != 1)}"


@dataclass
class Notes:
    """Lines to show, and the problems among them worth a look (``check`` exits 1 on any)."""

    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def say(self, line: str, problem: str = "") -> None:
        """Add ``line``; a ``problem`` (a few words) when it is one."""
        self.lines.append(line)
        if problem:
            self.problems.append(problem)

    def extend(self, other: Notes) -> None:
        self.lines.extend(other.lines)
        self.problems.extend(other.problems)


def import_headline(verb: str, result: ImportResult, new: int) -> str:
    """``imported 7 new leads (1 already there, 0 duplicate rows, 2 bad rows)``."""
    return (
        f"{verb} {plural(new, 'new lead')} ({len(result.leads) - new} already there, "
        f"{plural(result.duplicates, 'duplicate row')}, {plural(len(result.errors), 'bad row')})"
    )


def lead_notes(result: ImportResult, fields: tuple[str, ...], name: str, source: str) -> Notes:
    """What a lead import tells under its headline: its bad rows (the first 20), and the
    campaign's ``stream_params`` ``fields`` that no lead has or that are too long for the
    stream URL."""
    notes = Notes()
    for error in result.errors[:20]:
        notes.say(f"  line {error.line}: {error.reason}")
    if len(result.errors) > 20:
        notes.say(f"  ... and {plural(len(result.errors) - 20, 'more bad row')}")
    if result.errors:
        notes.problems.append(f"{plural(len(result.errors), 'bad row')} in {source}")
    if result.duplicates:
        notes.problems.append(f"{plural(result.duplicates, 'duplicate row')} in {source}")
    for missing in _fields_in_no_lead(fields, result.leads):
        notes.say(
            f"  warning: stream_params field {missing!r} is in none of the "
            f"{len(result.leads)} leads of {source}: the bot gets no value for it",
            f"stream_params field {missing!r} in no lead",
        )
    long = too_long_for_stream(fields, result.leads, name)
    if long:
        notes.say(
            f"  {long} leads have stream_params values longer than the stream URL allows "
            f"({MAX_CHARS} characters): they will be shortened (logged per call)",
            f"{plural(long, 'lead')} with stream_params values to be shortened",
        )
    return notes


def dnc_notes(phones: Sequence[str], errors: Sequence[str], source: str) -> Notes:
    """``do-not-call list: 3 numbers (1 bad line skipped)`` and the bad lines (the first
    20)."""
    bad = f" ({plural(len(errors), 'bad line')} skipped)" if errors else ""
    notes = Notes([f"do-not-call list: {plural(len(phones), 'number')}{bad}"])
    for line in errors[:20]:
        notes.say(f"  {line}")
    if len(errors) > 20:
        notes.say(f"  ... and {plural(len(errors) - 20, 'more bad line')}")
    if errors:
        notes.problems.append(f"{plural(len(errors), 'bad line')} in {source}")
    return notes


def unzoned_notes(leads: Sequence[Lead], zone: str) -> Notes:
    """The warning, and the problem, for ``leads`` with no time zone of their own (no
    timezone or region value, and a number of no known zone): they are called in the
    campaign's ``zone``."""
    notes = Notes()
    default = sum(not lead.timezone for lead in leads)
    if default:
        notes.say(
            f"  warning: {plural(default, 'lead')} without a time zone (no timezone or region "
            f"column value, and no zone known for the number) will be called in the "
            f"campaign's timezone {zone}",
            f"{plural(default, 'lead')} in the campaign's timezone for want of their own",
        )
    return notes
