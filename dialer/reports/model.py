"""A report as data: named tables (columns, rows, notes) and bar charts, with the helpers the
figures share (nearest-rank percentiles, rates, record fields read defensively).

A :class:`Report` is what every format is drawn from (:mod:`.render`, :mod:`.html`) and what a
web page can show as it is (:meth:`Report.to_json`)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Cell", "Chart", "Report", "Table", "cell_text", "flag", "number", "percentile", "rate",
    "spans",
]

Cell = str | int | float | None
"""One value of a table: ``None`` is "no data" (an empty cell, ``null`` in JSON)."""


@dataclass(frozen=True, slots=True)
class Table:
    """``rows`` of ``columns``; ``notes`` say how a figure is counted where the data is thin."""

    name: str
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    notes: tuple[str, ...] = ()

    def dicts(self) -> list[dict[str, Cell]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


@dataclass(frozen=True, slots=True)
class Chart:
    """A bar chart: one bar per label, ``values`` in ``unit``."""

    title: str
    labels: tuple[str, ...]
    values: tuple[float, ...]
    unit: str = ""


@dataclass(frozen=True, slots=True)
class Report:
    """``kind`` is ``campaign`` or ``agents``."""

    kind: str
    campaign: str
    tables: tuple[Table, ...]
    charts: tuple[Chart, ...] = ()

    def table(self, name: str) -> Table:
        for table in self.tables:
            if table.name == name:
                return table
        raise KeyError(name)

    def to_json(self) -> dict[str, Any]:
        """Plain lists and dicts (for a web page, ``json.dumps`` ready)."""
        return {
            "kind": self.kind,
            "campaign": self.campaign,
            "tables": [
                {"name": t.name, "title": t.title, "columns": list(t.columns),
                 "rows": [list(r) for r in t.rows], "notes": list(t.notes)}
                for t in self.tables
            ],
            "charts": [
                {"title": c.title, "labels": list(c.labels), "values": list(c.values),
                 "unit": c.unit}
                for c in self.charts
            ],
        }


def percentile(values: Sequence[float], p: float) -> float | None:
    """The nearest-rank ``p``-th percentile (the smallest value with at least ``p`` % of the
    values at or below it: sorted, the ``ceil(p / 100 * n)``-th); ``None`` for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100.0 * len(ordered)))
    return ordered[rank - 1]


def rate(part: int, whole: int) -> float | None:
    """``part / whole`` rounded to 4 places; ``None`` when ``whole`` is 0 (not 0 %)."""
    return round(part / whole, 4) if whole else None


def spans(timeline: Iterable[Any]) -> list[tuple[str, float]]:
    """A record's ``timeline`` (``[name, ms since dial]`` pairs) as tuples, bad pairs
    skipped."""
    out: list[tuple[str, float]] = []
    for item in timeline:
        if isinstance(item, (list, tuple)) and len(item) == 2:
            name, at = item
            if isinstance(at, (int, float)) and not isinstance(at, bool):
                out.append((str(name), float(at)))
    return out


def flag(record: Mapping[str, Any], key: str) -> bool:
    """A boolean field of a record (JSON) or an attempt row (SQLite 0/1)."""
    return bool(record.get(key) or False)


def number(record: Mapping[str, Any], key: str) -> float | None:
    value = record.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        return None
    return float(value)


def cell_text(value: Cell) -> str:
    """A cell as text: empty for ``None``, a float without trailing zeros (4 places at most)."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4f}".rstrip("0").rstrip(".") if not value.is_integer() else f"{value:g}"
    return str(value)
