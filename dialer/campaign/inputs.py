"""Reading and checking a campaign's inputs: the campaign file or stored campaign, the lead
CSV, the do-not-call file, the dialer and emulator configs and the bot, all before anything is
created or changed (``campaign run`` and ``campaign check`` share them); and the notes on an
import both print (:class:`Notes`). Errors are :class:`CampaignError` naming the file and the
line or key.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from dialer.call_binding import MAC_CHARS
from dialer.campaign.leads_csv import ImportResult, parse_leads
from dialer.campaign.model import (
    CampaignError,
    CampaignSpec,
    Lead,
    campaign_from_toml,
    normalise_phone,
)
from dialer.campaign.store import CampaignStore
from dialer.config import DialerConfig
from dialer.errors import ConfigError
from dialer.stream_params import MAX_CHARS, add_stream_params

if TYPE_CHECKING:
    from exotel_sim.config import SimConfig


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


def read_text(path: str) -> str:
    """The UTF-8 text of ``path`` (a leading BOM dropped); :class:`CampaignError` naming the
    file when it cannot be read or is not UTF-8."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise CampaignError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise CampaignError(f"{path}: is a directory, not a file") from None
    except OSError as exc:
        raise CampaignError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CampaignError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    return text.removeprefix("\ufeff")


def check_writable(path: str, what: str) -> None:
    """Refuse (:class:`CampaignError`) an output ``path`` that is a directory or whose
    directory is missing or not writable; ``what`` names the option (``--out``)."""
    target = Path(path)
    if target.is_dir():
        raise CampaignError(f"{what} {path}: is a directory")
    parent = target.parent
    if not parent.is_dir():
        raise CampaignError(f"{what} {path}: no such directory {str(parent)!r}")
    writable = os.access(target, os.W_OK) if target.exists() else os.access(parent, os.W_OK)
    if not writable:
        raise CampaignError(f"{what} {path}: not writable")


def check_db_path(path: str) -> None:
    """Refuse (``cannot open database X: ...``) a database path that is a directory or whose
    directory is missing."""
    target = Path(path)
    if target.is_dir():
        raise CampaignError(f"cannot open database {path}: is a directory")
    if not target.parent.is_dir():
        raise CampaignError(
            f"cannot open database {path}: no such directory {str(target.parent)!r}"
        )


def open_store(path: str, *, read_only: bool = False) -> CampaignStore:
    """A :class:`CampaignStore` on ``path`` (with ``read_only``, on the existing file, changing
    nothing: :meth:`CampaignStore.read_only`); :class:`CampaignError` (``cannot open database
    X: ...``) instead of a ``sqlite3`` error."""
    check_db_path(path)
    try:
        return CampaignStore.read_only(path) if read_only else CampaignStore(path)
    except sqlite3.Error as exc:
        raise CampaignError(f"cannot open database {path}: {exc}") from None


def check_bot(name: str) -> None:
    """Refuse a bot that is not an installed adapter (the embedded gateway could not serve
    it: every call would fail)."""
    from bot_adapters.registry import available_adapters

    installed = available_adapters()
    if name not in installed:
        raise CampaignError(
            f"bot {name!r} is not installed (installed: {', '.join(installed) or 'none'})"
        )


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
    sim: SimConfig | None = None


def load_inputs(args: argparse.Namespace) -> RunInputs:
    """Read and check every input of ``campaign run`` (campaign file or stored campaign, lead
    CSV, do-not-call file, dialer and emulator configs, the bot) without creating or changing
    anything; :class:`CampaignError` naming the file and the line or key. Lead and do-not-call
    numbers written nationally get the campaign's ``default_country``."""
    inputs = load_campaign(args.campaign, args.db)
    check_bot(inputs.settings.bot)
    country = inputs.settings.default_country
    if args.leads:
        try:
            inputs.leads = parse_leads(read_text(args.leads), default_country=country)
        except CampaignError as exc:
            text = str(exc)
            raise CampaignError(
                text if text.startswith(args.leads) else f"{args.leads}: {text}"
            ) from None
    if args.dnc:
        inputs.dnc, inputs.dnc_errors = parse_dnc(read_text(args.dnc), args.dnc, country)
    inputs.config = load_dialer_config(args.config)
    inputs.sim = load_sim_config(args.sim_config) if args.sim_config else None
    return inputs


def load_campaign(campaign: str, db: str | None) -> RunInputs:
    """``CAMPAIGN``: a campaign TOML file, else the name of a campaign stored in ``db`` (read
    without changing it)."""
    path = Path(campaign)
    if path.suffix == ".toml" or path.exists():
        text = read_text(campaign)
        try:
            spec = campaign_from_toml(text)
        except CampaignError as exc:
            raise CampaignError(f"{campaign}: {exc}") from None
        return RunInputs(spec, spec.name, spec)
    if db is None:
        raise CampaignError(
            f"{campaign}: no such campaign file (the name of a stored campaign needs --db)"
        )
    if not Path(db).exists():
        raise CampaignError(
            f"no campaign database at {db} (CAMPAIGN is a campaign TOML file or the name of a "
            f"campaign stored in --db; {campaign!r} is neither)"
        )
    store = open_store(db, read_only=True)
    try:
        return RunInputs(None, campaign, store.campaign(campaign))
    finally:
        store.close()


def load_dialer_config(path: str | None) -> DialerConfig:
    """The dialer's settings (``--config`` TOML, then the environment), with errors as
    ``--config FILE: ...``."""
    where = "dialer config (environment)" if path is None else f"--config {path}"
    try:
        return DialerConfig.from_toml(None if path is None else read_text(path))
    except CampaignError as exc:
        raise CampaignError(f"--config {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise CampaignError(f"{where}: not valid TOML: {exc}") from None
    except ConfigError as exc:
        raise CampaignError(f"{where}: {exc}") from None


def load_sim_config(path: str) -> SimConfig:
    """The embedded emulator's config file, with errors as ``--sim-config FILE: ...``."""
    from exotel_sim.config import ConfigError as SimConfigError
    from exotel_sim.config import SimConfig

    try:
        return SimConfig.from_toml(read_text(path))
    except CampaignError as exc:
        raise CampaignError(f"--sim-config {exc}") from None
    except (SimConfigError, ValueError, TypeError, OverflowError) as exc:
        raise CampaignError(f"--sim-config {path}: {exc}") from None


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
