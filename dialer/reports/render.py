"""A :class:`~dialer.reports.model.Report` as text: an aligned ``table``, ``csv`` or ``jsonl``
(``html``: :mod:`dialer.reports.html`).

* ``table`` -- each table under its title, columns aligned, its notes after it.
* ``csv`` -- a report of one table: its columns and rows (the agent report); of several (the
  campaign report): long form, ``section,row,column,value`` (``row`` is the first cell of the
  table's row). Every cell through :mod:`dialer.csv_safe`.
* ``jsonl`` -- one object per row of every table, its ``section`` (the table's name) first.
"""

from __future__ import annotations

import csv
import io
import json

from dialer.csv_safe import safe_cell
from dialer.reports.html import html_text
from dialer.reports.model import Report, cell_text

__all__ = ["FORMATS", "render"]

FORMATS = ("table", "csv", "jsonl", "html")


def render(report: Report, fmt: str) -> str:
    """``report`` in ``fmt`` (one of :data:`FORMATS`; anything else: ``ValueError``)."""
    if fmt == "table":
        return table_text(report)
    if fmt == "csv":
        return csv_text(report)
    if fmt == "jsonl":
        return jsonl_text(report)
    if fmt == "html":
        return html_text(report)
    raise ValueError(f"unknown format {fmt!r} (one of {', '.join(FORMATS)})")


def table_text(report: Report) -> str:
    lines = [f"{report.kind} report: {report.campaign}"]
    for table in report.tables:
        cells = [list(table.columns), *[[cell_text(c) for c in row] for row in table.rows]]
        widths = [max(len(r[i]) for r in cells) for i in range(len(table.columns))]
        lines += ["", table.title]
        lines += ["  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
                  for r in cells]
        lines += [f"  note: {n}" for n in table.notes]
    return "\n".join(lines) + "\n"


def csv_text(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if len(report.tables) == 1:
        table = report.tables[0]
        writer.writerow([safe_cell(c) for c in table.columns])
        for row in table.rows:
            writer.writerow([safe_cell(cell_text(c)) for c in row])
        return out.getvalue()
    writer.writerow(["section", "row", "column", "value"])
    for table in report.tables:
        for row in table.rows:
            for column, value in zip(table.columns[1:], row[1:], strict=True):
                writer.writerow([safe_cell(table.name), safe_cell(cell_text(row[0])),
                                 safe_cell(column), safe_cell(cell_text(value))])
    return out.getvalue()


def jsonl_text(report: Report) -> str:
    lines = [json.dumps({"section": t.name, **row}) for t in report.tables for row in t.dicts()]
    return "".join(line + "\n" for line in lines)
