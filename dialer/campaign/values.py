"""The plain values a campaign's settings and leads are made of, checked: its error, finite
numbers, time zones, country calling codes and phone numbers (E.164). Re-exported by
:mod:`dialer.campaign.model`."""

from __future__ import annotations

import math
import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dialer.config import PHONE_SEPARATORS

__all__ = [
    "NANP",
    "CampaignError",
    "check_timezone",
    "country_code",
    "is_number",
    "normalise_phone",
    "show",
]

_PHONE = re.compile(r"^\+?[0-9]{6,15}$")
_E164 = re.compile(r"^\+[1-9][0-9]{5,14}$")
_COUNTRY_CODE = re.compile(r"^\+?([1-9][0-9]{0,2})$")
NANP = "1"
"""The North American Numbering Plan's country code: its trunk prefix is ``1`` as well (not
``0``) and its international prefix ``011`` (not ``00``)."""


class CampaignError(ValueError):
    """A campaign setting or lead is invalid (the message names the field)."""


def is_number(value: object) -> bool:
    """A finite ``int`` or ``float`` (not a ``bool``, ``nan`` or ``inf``)."""
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
    )


def check_timezone(zone: str, where: str = "timezone") -> str:
    """``zone`` if it is a known IANA time zone; raises :class:`CampaignError` naming
    ``where`` otherwise."""
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise CampaignError(f"{where}: unknown timezone {zone!r}") from exc
    return zone


def country_code(value: object, where: str = "default_country") -> str:
    """A country calling code written ``"1"``, ``"+1"``, ``"44"`` or ``"+44"``, as its digits
    (``"1"``); raises :class:`CampaignError` naming ``where`` otherwise."""
    match = _COUNTRY_CODE.match(value) if isinstance(value, str) else None
    if match is None:
        raise CampaignError(
            f'{where}: must be a country calling code such as "1" or "+44" (a string of 1-3 '
            f"digits), got {show(value)}"
        )
    return match.group(1)


def normalise_phone(raw: str, default_country: str = "91") -> str:
    """A phone number as ``+`` and digits (E.164); raises :class:`CampaignError` on anything
    else. Spaces, dashes, dots and brackets are dropped.

    * Written internationally it keeps its country code: ``+44 20 7946 0000``, ``0044 ...``, and
      ``011 44 ...`` when ``default_country`` is 1 (North America's international prefix).
    * Written nationally it gets ``+{default_country}``: a number with the trunk prefix (a
      leading ``0``; for country 1, a leading ``1`` and 10 more digits), or 10 digits without it
      (``98123 45678`` -> ``+919812345678``; ``(415) 555-0100`` with 1 -> ``+14155550100``).
    * Any other length is taken to start with its country code (``919812345678``).

    No numbering plan beyond that: where a leading 0 is part of the national number (Italy) or
    the trunk prefix is not 0 (Russia's 8), write the numbers with ``+``."""
    country = country_code(default_country)
    text = PHONE_SEPARATORS.sub("", raw)
    if not _PHONE.match(text):
        raise CampaignError(f"bad phone number {raw!r}")
    if not text.startswith("+"):
        text = "+" + _with_country(text, country)
    if not _E164.match(text):
        raise CampaignError(f"bad phone number {raw!r}")
    return text


def _with_country(digits: str, country: str) -> str:
    """The digits of a number written without ``+``, starting with its country code."""
    international = ("00", "011") if country == NANP else ("00",)
    for prefix in international:
        if digits.startswith(prefix):
            return digits[len(prefix) :]
    if country == NANP and len(digits) == 11 and digits.startswith(NANP):
        return digits  # the trunk prefix 1 is the country code
    if country != NANP and digits.startswith("0"):
        return country + digits[1:]  # the trunk prefix 0
    if len(digits) == 10:
        return country + digits
    return digits


def show(value: object) -> str:
    """A setting's value as it would read in TOML (``true``, ``2.5``, ``'3'``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return str(value)
