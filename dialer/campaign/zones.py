"""A phone number's time zones, from the numbering-plan data of Google's libphonenumber (the
maintained ``phonenumbers`` package), not from tables of our own.

:func:`zones_for_number` maps an E.164 number to the IANA zones of its area (``+1 415 ...`` is
``America/Los_Angeles``; ``+91 ...`` is ``Asia/Kolkata``). A number the library does not know as
a valid geographic number (a toll-free or mobile number of a country spanning several zones, or
a number outside its plan) gets every zone of its country: the calling window is then the
intersection of the windows in all of them (:mod:`dialer.campaign.compliance`), which may be
empty (``+1 800 ...`` spans Guam to Newfoundland: never dialled). A number with no zone at all
(an unknown country code) gives ``()``: the campaign's zone applies, with a counted warning.

Several zones are kept in one text, sorted and separated by spaces (:func:`join_zones`), the
way a lead's ``timezone`` column holds them.
"""

from __future__ import annotations

from collections.abc import Iterable

import phonenumbers
from phonenumbers import timezone as number_zones

__all__ = ["canonical_zone", "join_zones", "split_zones", "zones_for_number"]

_UNKNOWN = "Etc/Unknown"
_LINKS = {  # old names in libphonenumber's data that tzdata keeps only as links
    "Africa/Asmera": "Africa/Nairobi",
    "America/Buenos_Aires": "America/Argentina/Buenos_Aires",
    "America/Godthab": "America/Nuuk",
    "Asia/Calcutta": "Asia/Kolkata",
    "Asia/Choibalsan": "Asia/Ulaanbaatar",
    "Asia/Katmandu": "Asia/Kathmandu",
    "Asia/Rangoon": "Asia/Yangon",
    "Atlantic/Faeroe": "Atlantic/Faroe",
    "Pacific/Enderbury": "Pacific/Kanton",
    "Pacific/Ponape": "Pacific/Pohnpei",
    "Pacific/Truk": "Pacific/Chuuk",
}


def canonical_zone(zone: str) -> str:
    """``zone`` under its current IANA name (``Asia/Calcutta`` -> ``Asia/Kolkata``)."""
    return _LINKS.get(zone, zone)


def join_zones(zones: Iterable[str]) -> str:
    """Zones as one text: sorted, without repeats, separated by spaces."""
    return " ".join(sorted(set(zones)))


def split_zones(text: str) -> tuple[str, ...]:
    """The zones of a :func:`join_zones` text (``()`` for ``""``)."""
    return tuple(text.split())


def zones_for_number(phone: str) -> tuple[str, ...]:
    """The IANA zones of the E.164 number ``phone`` (sorted): its area's, else its country's
    (see the module docstring); ``()`` when nothing is known of it."""
    try:
        number = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return ()
    found = [str(z) for z in number_zones.time_zones_for_number(number)]
    if found == [_UNKNOWN]:  # not a valid number to the library: its country's zones
        found = [str(z) for z in number_zones.time_zones_for_geographical_number(number)]
    return tuple(sorted({canonical_zone(z) for z in found if z != _UNKNOWN}))
