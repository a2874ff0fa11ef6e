"""The dashboard's call search: the query string of ``/ui/calls`` and ``/ui/api/calls`` as a
:class:`CallQuery` (checked: a bad value is a :class:`QueryError` naming the field) and
:func:`search` over the records store's ``call_records`` table.

Filters (all optional, combined with AND): ``number`` (the customer's number, exact or a
prefix: ``+9199``), ``call_id`` (exact), ``campaign``, ``disposition``, ``agent`` (exact),
``from``/``to`` (dates ``YYYY-MM-DD`` or times ``YYYY-MM-DDTHH:MM``, UTC, on when the record
was stored: the call's end; ``to`` a date includes that whole day, a time is the end, not
included). Newest first, ``per``
rows a page (1-200, default 50), ``page`` from 1. Each filter has its index (records-store
migration 3), so a page costs a few milliseconds on 100,000 records; no total count is taken
(a count over every match is what would be slow): a page says whether another follows.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any

from dialer.records import CallRecord, RecordStore

__all__ = ["FILTERS", "CallQuery", "Found", "QueryError", "page_sql", "search"]

FILTERS = ("number", "call_id", "campaign", "disposition", "agent")
MAX_PER = 200
_MAX_TEXT = 128


class QueryError(ValueError):
    """A search parameter that cannot be used (the message names it)."""


def _time(name: str, raw: str, end: bool) -> float | None:
    if not raw:
        return None
    for fmt, step in (("%Y-%m-%d", timedelta(days=1)), ("%Y-%m-%dT%H:%M", timedelta(0))):
        try:
            at = datetime.strptime(raw, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
        return (at + step if end else at).timestamp()
    raise QueryError(f"{name}: {raw!r} is not a date (YYYY-MM-DD or YYYY-MM-DDTHH:MM)")


def _int(name: str, raw: str, default: int, low: int, high: int) -> int:
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise QueryError(f"{name}: {raw!r} is not a whole number") from None
    if not low <= value <= high:
        raise QueryError(f"{name}: {value} is not in {low}..{high}")
    return value


@dataclass(frozen=True, slots=True)
class CallQuery:
    number: str = ""
    call_id: str = ""
    campaign: str = ""
    disposition: str = ""
    agent: str = ""
    since: float | None = None
    until: float | None = None
    page: int = 1
    per: int = 50

    @classmethod
    def parse(cls, query: Mapping[str, str]) -> CallQuery:
        """From a request's query string (unknown keys ignored)."""
        text = {}
        for name in FILTERS:
            value = str(query.get(name, "")).strip()
            if len(value) > _MAX_TEXT:
                raise QueryError(f"{name}: longer than {_MAX_TEXT} characters")
            text[name] = value
        return cls(**text, since=_time("from", str(query.get("from", "")).strip(), False),
                   until=_time("to", str(query.get("to", "")).strip(), True),
                   page=_int("page", str(query.get("page", "")), 1, 1, 100_000),
                   per=_int("per", str(query.get("per", "")), 50, 1, MAX_PER))

    def params(self, **change: Any) -> dict[str, str]:
        """The query string of this search (with ``change``), for the pager's links."""
        values = {f.name: getattr(self, f.name) for f in fields(self)} | change
        out = {k: str(values[k]) for k in FILTERS if values[k]}
        for key, name in (("since", "from"), ("until", "to")):
            if values[key] is not None:
                out[name] = datetime.fromtimestamp(values[key], UTC).strftime("%Y-%m-%dT%H:%M")
        if values["page"] != 1:
            out["page"] = str(values["page"])
        if values["per"] != 50:
            out["per"] = str(values["per"])
        return out

    def where(self) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        args: list[Any] = []
        if self.number:  # a prefix (a whole number is its own): a range on its index
            clauses.append("number >= ? AND number < ?")
            args += [self.number, self.number + "\U0010ffff"]
        for column, value in (("call_id", self.call_id), ("campaign", self.campaign),
                              ("disposition", self.disposition), ("agent_id", self.agent)):
            if value:
                clauses.append(f"{column} = ?")
                args.append(value)
        if self.since is not None:
            clauses.append("created_at >= ?")
            args.append(self.since)
        if self.until is not None:
            clauses.append("created_at < ?")
            args.append(self.until)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", args


@dataclass(frozen=True, slots=True)
class Found:
    """One page: ``rows`` are ``(stored_at, record)``; ``more``: another page follows."""

    rows: list[tuple[float, CallRecord]]
    more: bool


def page_sql(query: CallQuery) -> tuple[str, list[Any]]:
    """The SQL of one page of ``query`` (one row more than a page: is there another?)."""
    where, args = query.where()
    # the page's ids from the filter's index alone (it holds created_at and call_id), then
    # only their bodies are read: a filter matching many records does not read them all
    order = " ORDER BY created_at DESC, call_id DESC"
    sql = ("SELECT created_at, body FROM call_records WHERE call_id IN (SELECT call_id FROM"
           f" call_records{where}{order} LIMIT ? OFFSET ?){order}")
    return sql, [*args, query.per + 1, (query.page - 1) * query.per]


def search(store: RecordStore, query: CallQuery) -> Found:
    """One page of the records matching ``query``, newest first (a blocking store call: run it
    off the event loop, :class:`~dialer.store_calls.StoreCalls`)."""
    sql, args = page_sql(query)
    with store.db.connection() as conn:
        rows = conn.execute(sql, args).fetchall()
    found = [(float(r[0]), CallRecord.from_json(json.loads(r[1]))) for r in rows[:query.per]]
    return Found(found, len(rows) > query.per)
