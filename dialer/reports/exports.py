"""The format of a campaign export (``voxgate campaign export``): CSV as the store writes it, or
JSON lines made from it (one object per row, the header's names as keys, every value the text
of its cell with the spreadsheet guard of :mod:`dialer.csv_safe` taken off again)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import PurePath

from dialer.csv_safe import TRIGGERS

__all__ = ["EXPORT_FORMATS", "export_format", "jsonl_from_csv"]

EXPORT_FORMATS = ("csv", "jsonl")
_EXTENSIONS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}


def export_format(fmt: str | None, out: str | None) -> str:
    """``fmt`` when given, else the one of ``out``'s extension (``.csv``; ``.jsonl`` or
    ``.ndjson``), ``csv`` to standard output; ``ValueError`` (one line) for an unknown format,
    or an unknown extension with no ``fmt``."""
    if fmt is not None:
        if fmt not in EXPORT_FORMATS:
            raise ValueError(f"--format {fmt}: one of {', '.join(EXPORT_FORMATS)}")
        return fmt
    if out is None:
        return "csv"
    suffix = PurePath(out).suffix.lower()
    if suffix not in _EXTENSIONS:
        raise ValueError(f"--out {out}: unknown extension {suffix or '(none)'!r}: name it .csv "
                         "or .jsonl, or give --format csv|jsonl")
    return _EXTENSIONS[suffix]


def _unguard(cell: str) -> str:
    """A cell as it was before :func:`dialer.csv_safe.safe_cell` put a ``'`` before it."""
    return cell[1:] if cell.startswith("'") and cell[1:].startswith(TRIGGERS) else cell


def jsonl_from_csv(text: str) -> str:
    """The CSV export ``text`` as JSON lines."""
    reader = csv.reader(io.StringIO(text))
    header = [_unguard(c) for c in next(reader, [])]
    lines = [json.dumps(dict(zip(header, (_unguard(c) for c in row), strict=False)))
             for row in reader if row]
    return "".join(line + "\n" for line in lines)
