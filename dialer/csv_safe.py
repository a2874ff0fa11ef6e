"""CSV that a spreadsheet opens as data, never as formulas (OWASP's "CSV Injection").

Every CSV export (``voxgate campaign export``, ``voxgate dialer export``, the call records) writes
its header and rows through :func:`safe_cell`: a text cell starting with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return gets a leading ``'``, which spreadsheets show as text instead of
running it (``=HYPERLINK(...)``, ``@SUM(...)``, ``+cmd|...``). Phone numbers in the E.164 form
every number is stored in (``+`` and 6 to 15 digits, ``+919812345678``) stay as they are: a
spreadsheet reads them as a number, never as a formula, whether or not the number is in service
(checking each with libphonenumber would make an export five times slower for no safety).
Numbers (``int``, ``float``) are never changed. A neutralised cell imported again keeps its
``'``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["TRIGGERS", "is_phone_number", "safe_cell", "safe_header", "safe_row"]

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
"""The first characters that make a spreadsheet read a cell as a formula."""
_E164 = re.compile(r"\+[1-9][0-9]{5,14}")


def is_phone_number(text: str) -> bool:
    """Whether ``text`` is a phone number in E.164 form (``+``, then 6 to 15 digits)."""
    return _E164.fullmatch(text) is not None


def safe_cell(value: Any) -> Any:
    """``value``, with a ``'`` before a text that a spreadsheet would run as a formula."""
    if isinstance(value, str) and value.startswith(TRIGGERS) and not is_phone_number(value):
        return "'" + value
    return value


def safe_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """``row`` (column -> value) with every value through :func:`safe_cell`."""
    return {key: safe_cell(value) for key, value in row.items()}


def safe_header(columns: Iterable[str]) -> dict[str, Any]:
    """The header row for a ``csv.DictWriter`` on ``columns``, each name through
    :func:`safe_cell` (write it with ``writerow``, not ``writeheader``)."""
    return {name: safe_cell(name) for name in columns}
