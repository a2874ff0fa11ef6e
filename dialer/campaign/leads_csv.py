"""Lead list import from CSV: ``phone`` (required), ``name``, ``timezone`` or ``region``,
``priority``; every other column is a custom field passed to the bot (``custom_param``).

Call :func:`parse_leads` with the file's text; it returns the good leads and one
:class:`RowError` per bad row (line number and reason) instead of stopping at the first, and
drops duplicate phone numbers (first row wins). Numbers written nationally get the campaign's
``default_country`` (:func:`~dialer.campaign.model.normalise_phone`), so duplicates are found
however a number is written. The delimiter is a comma, a semicolon or a
tab (whichever makes a ``phone`` column); a repeated column name is refused.

A lead's time zone: its ``timezone`` (an IANA zone, or several separated by spaces: the
calling window is then their intersection), else its ``region`` (an ISO country code or a
``country-subdivision`` code, :data:`REGION_TIMEZONES`; a country-only region of a country with
several zones, such as ``US``, is refused with the codes to use), else the zones of its number
(:func:`~dialer.campaign.zones.zones_for_number`: ``+1 415`` is America/Los_Angeles, +91 is
Asia/Kolkata; a national number has the default country's code by then, so with
``default_country = "44"`` a bare ``020 7946 0000`` is in Europe/London), else ``""`` (a number
of an unknown country): the campaign's time zone at dial time, counted and warned about by
``campaign check`` and ``run``.

A field over :data:`MAX_FIELD_CHARS` (128 KiB), like any other CSV syntax error, makes the whole
file unusable (:class:`CampaignError` naming the line).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from dialer.campaign.lead_updates import DEADLINE_FIELDS, FieldError, parse_deadline
from dialer.campaign.model import CampaignError, Lead, check_timezone, normalise_phone
from dialer.campaign.zones import join_zones, split_zones, zones_for_number

__all__ = [
    "EXPORT_PROGRESS_COLUMNS",
    "REGION_TIMEZONES",
    "ImportResult",
    "RowError",
    "parse_leads",
    "resolve_timezone",
]

MAX_LEADS = 1_000_000
MAX_CUSTOM_FIELDS = 20
MAX_FIELD_CHARS = csv.field_size_limit()
MAX_PRIORITY = 1_000_000

REGION_TIMEZONES: dict[str, str] = {
    "IN": "Asia/Kolkata",
    "AE": "Asia/Dubai",
    "SG": "Asia/Singapore",
    "GB": "Europe/London",
    "UK": "Europe/London",
    "DE": "Europe/Berlin",
    "AU-NSW": "Australia/Sydney",
    "AU-WA": "Australia/Perth",
    "US-NY": "America/New_York",
    "US-IL": "America/Chicago",
    "US-CO": "America/Denver",
    "US-CA": "America/Los_Angeles",
}

# Countries that span several zones: a region of the country alone is refused.
_MULTI_ZONE = sorted({key.split("-")[0] for key in REGION_TIMEZONES if "-" in key})

EXPORT_PROGRESS_COLUMNS = ("state", "attempts", "last_outcome", "final_reason", "due_at",
                           "lead_id", "final_outcome", "bot_outcome")
"""Columns ``voxgate campaign export`` adds after a lead's own (where it stands): an exported
list imports again as the same leads, these columns ignored."""
_KNOWN = {"phone", "name", "timezone", "region", "priority", *EXPORT_PROGRESS_COLUMNS}
_DELIMITERS = (",", ";", "\t")


def _delimiter(header: str) -> str:
    """The first of comma, semicolon, tab that gives ``header`` a ``phone`` column."""
    for delimiter in _DELIMITERS:
        names = next(csv.reader([header], delimiter=delimiter), [])
        if "phone" in (n.strip().lower() for n in names):
            return delimiter
    shown = header if len(header) <= 60 else header[:57] + "..."
    raise CampaignError(f"lead CSV needs a 'phone' column; found header: {shown!r}")


@dataclass(frozen=True, slots=True)
class RowError:
    """A rejected row: its line in the file and why."""

    line: int
    reason: str


@dataclass(frozen=True, slots=True)
class ImportResult:
    leads: tuple[Lead, ...]
    errors: tuple[RowError, ...]
    duplicates: int


def resolve_timezone(timezone: str, region: str, phone: str = "") -> str:
    """The IANA zone(s) for a row: ``timezone`` if given (validated; several separated by
    spaces), else the region's, else the zones of the (normalised) ``phone``, else ``""`` (the
    campaign's zone applies). Raises :class:`CampaignError` for unknown ones."""
    if timezone:
        for name in split_zones(timezone):
            try:
                check_timezone(name)
            except CampaignError as exc:
                raise CampaignError(f"unknown timezone {name[:60]!r}") from exc
        return join_zones(split_zones(timezone))
    if region.strip():
        key = region.strip().upper()
        country = key.split("-")[0]
        zone = REGION_TIMEZONES.get(key) or (
            None if country in _MULTI_ZONE else REGION_TIMEZONES.get(country)
        )
        if zone is None:
            if country in _MULTI_ZONE:
                codes = ", ".join(k for k in REGION_TIMEZONES if k.startswith(country + "-"))
                raise CampaignError(
                    f"unknown region {region!r}: {country} has several time zones: use "
                    f"{codes} or a timezone column"
                )
            raise CampaignError(f"unknown region {region!r}")
        return zone
    return join_zones(zones_for_number(phone)) if phone else ""


def _lead(row: dict[str, str], default_country: str) -> Lead:
    priority_text = row.get("priority", "").strip()
    try:
        priority = int(priority_text) if priority_text else 0
    except ValueError as exc:
        raise CampaignError(f"priority must be an integer, got {priority_text[:40]!r}") from exc
    if abs(priority) > MAX_PRIORITY:
        raise CampaignError(f"priority must be within -{MAX_PRIORITY}..{MAX_PRIORITY}")
    custom = {k: v for k, v in row.items() if k not in _KNOWN and v != ""}
    for name in DEADLINE_FIELDS:  # SLA deadlines (issue 19): the store keeps them apart
        try:
            parse_deadline(name, custom.get(name), float("-inf"))
        except FieldError as exc:
            raise CampaignError(f"{name}: {exc.detail}") from None
    if len(custom) > MAX_CUSTOM_FIELDS:
        raise CampaignError(f"more than {MAX_CUSTOM_FIELDS} custom fields")
    phone = normalise_phone(row.get("phone", ""), default_country)
    return Lead(
        phone=phone,
        name=row.get("name", "").strip(),
        timezone=resolve_timezone(row.get("timezone", "").strip(), row.get("region", ""), phone),
        priority=priority,
        custom=custom,
    )


def _rows(reader: csv.DictReader[str]) -> Iterator[dict[str | Any, str | Any]]:
    """``reader``'s rows; a CSV error (a field over :data:`MAX_FIELD_CHARS`) as
    :class:`CampaignError` naming the line."""
    try:
        yield from reader
    except csv.Error as exc:
        raise CampaignError(f"line {reader.reader.line_num}: not valid CSV: {exc}") from None


def parse_leads(
    text: str, max_leads: int = MAX_LEADS, default_country: str = "91"
) -> ImportResult:
    """Parse a lead CSV (header row required); national numbers get ``default_country`` (the
    campaign's). Raises :class:`CampaignError` only when the file as a whole is unusable (no
    ``phone`` column, a repeated column, too many rows)."""
    text = text.lstrip("\ufeff")
    first = text.split("\n", 1)[0].rstrip("\r")
    delimiter = _delimiter(first)
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    headers = [h.strip().lower() for h in (reader.fieldnames or [])]
    for i, header in enumerate(headers):
        if header and header in headers[:i]:
            raise CampaignError(f"lead CSV header: column {header!r} appears twice")
    leads: list[Lead] = []
    errors: list[RowError] = []
    seen: set[str] = set()
    duplicates = 0
    for raw in _rows(reader):
        line = reader.line_num
        if len(leads) >= max_leads:
            raise CampaignError(f"more than {max_leads} leads")
        row = {
            h: (v or "").strip()
            for h, v in zip(headers, (raw.get(k) for k in reader.fieldnames or []), strict=True)
        }
        if None in raw:
            errors.append(RowError(line, "more fields than the header"))
            continue
        try:
            lead = _lead(row, default_country)
        except CampaignError as exc:
            errors.append(RowError(line, str(exc)))
            continue
        if lead.phone in seen:
            duplicates += 1
            continue
        seen.add(lead.phone)
        leads.append(lead)
    return ImportResult(tuple(leads), tuple(errors), duplicates)
