"""Lead list import from CSV: ``phone`` (required), ``name``, ``timezone`` or ``region``,
``priority``; every other column is a custom field passed to the bot (``custom_param``).

Call :func:`parse_leads` with the file's text; it returns the good leads and one
:class:`RowError` per bad row (line number and reason) instead of stopping at the first, and
drops duplicate phone numbers (first row wins). Regions are ISO country codes or
``country-subdivision`` codes resolved to a time zone by :data:`REGION_TIMEZONES`; a lead with
neither takes the campaign's default time zone at dial time.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dialer.campaign.model import CampaignError, Lead

__all__ = ["REGION_TIMEZONES", "ImportResult", "RowError", "parse_leads", "resolve_timezone"]

MAX_LEADS = 1_000_000
MAX_CUSTOM_FIELDS = 20

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

_KNOWN = {"phone", "name", "timezone", "region", "priority"}


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


def resolve_timezone(timezone: str, region: str) -> str:
    """The IANA zone for a row: ``timezone`` if given (validated), else the region's, else
    ``""`` (the campaign default applies). Raises :class:`CampaignError` for unknown ones."""
    if timezone:
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise CampaignError(f"unknown timezone {timezone!r}") from exc
        return timezone
    if region:
        key = region.strip().upper()
        zone = REGION_TIMEZONES.get(key) or REGION_TIMEZONES.get(key.split("-")[0])
        if zone is None:
            raise CampaignError(f"unknown region {region!r}")
        return zone
    return ""


def _lead(row: dict[str, str]) -> Lead:
    priority_text = row.get("priority", "").strip()
    try:
        priority = int(priority_text) if priority_text else 0
    except ValueError as exc:
        raise CampaignError(f"priority must be an integer, got {priority_text!r}") from exc
    custom = {k: v for k, v in row.items() if k not in _KNOWN and v != ""}
    if len(custom) > MAX_CUSTOM_FIELDS:
        raise CampaignError(f"more than {MAX_CUSTOM_FIELDS} custom fields")
    return Lead(
        phone=row.get("phone", ""),
        name=row.get("name", "").strip(),
        timezone=resolve_timezone(row.get("timezone", "").strip(), row.get("region", "")),
        priority=priority,
        custom=custom,
    )


def parse_leads(text: str, max_leads: int = MAX_LEADS) -> ImportResult:
    """Parse a lead CSV (header row required). Raises :class:`CampaignError` only when the
    file as a whole is unusable (no ``phone`` column, too many rows)."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    headers = [h.strip().lower() for h in (reader.fieldnames or [])]
    if "phone" not in headers:
        raise CampaignError("lead CSV needs a 'phone' column")
    leads: list[Lead] = []
    errors: list[RowError] = []
    seen: set[str] = set()
    duplicates = 0
    for raw in reader:
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
            lead = _lead(row)
        except CampaignError as exc:
            errors.append(RowError(line, str(exc)))
            continue
        if lead.phone in seen:
            duplicates += 1
            continue
        seen.add(lead.phone)
        leads.append(lead)
    return ImportResult(tuple(leads), tuple(errors), duplicates)
