"""CRM lead updates, checked: SLA deadlines (``call_by``, ``callback_at``), priority, custom
fields and withdrawal, from the CRM API's JSON or a lead CSV's columns. Pure: no clock (``now``
is given), no I/O.

A deadline is epoch seconds (``1767772800``) or ISO 8601 (``2026-01-07T09:30:00+05:30``; a time
without an offset is UTC). ``call_by``: the lead must be called by then; ``callback_at``: a
callback promised at that time (the lead is not due before it, and is due first from it). A
deadline in the past, unparseable, a priority that is no integer, an unknown field: a
:class:`FieldError` naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "DEADLINE_FIELDS",
    "HORIZON_S",
    "NOT_URGENT",
    "PATCH_FIELDS",
    "FieldError",
    "LeadUpdate",
    "deadline_of",
    "parse_deadline",
    "parse_patch",
    "split_deadlines",
    "split_row",
    "urgent_key",
]

DEADLINE_FIELDS = ("call_by", "callback_at")
PATCH_FIELDS = ("priority", "call_by", "callback_at", "custom")
MAX_PRIORITY = 1_000_000
HORIZON_S = 900.0
"""A deadline within this of now goes first (selection's ``margin_s``)."""
NOT_URGENT = 1e18
"""The claim's ``sla_at`` of a lead without a deadline due soon (sorts after every deadline)."""
_TRUE = {"1", "true", "yes", "y", "withdraw", "withdrawn"}


class FieldError(ValueError):
    """Bad input in one field: ``field`` names it."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"field {name!r}: {message}")
        self.field = name
        self.detail = message


@dataclass(frozen=True, slots=True)
class LeadUpdate:
    """What a CRM changes on a lead: ``None`` leaves a setting as it is; ``clear`` names the
    deadlines set to none (an empty value)."""

    priority: int | None = None
    call_by: float | None = None
    callback_at: float | None = None
    clear: frozenset[str] = frozenset()
    custom: Mapping[str, str] | None = None
    withdraw: bool = False
    fields: tuple[str, ...] = field(default=())


def parse_deadline(name: str, value: object, now: float) -> float | None:
    """Epoch seconds of ``value`` (a number, a numeric string or ISO 8601), ``None`` for an
    empty value; :class:`FieldError` when unparseable or not after ``now``."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise FieldError(name, f"not a time: {value!r}")
    if isinstance(value, int | float):
        at = float(value)
    elif isinstance(value, str):
        text = value.strip()
        try:
            at = float(text)
        except ValueError:
            try:
                parsed = datetime.fromisoformat(text)
            except ValueError:
                raise FieldError(
                    name, f"not an epoch or ISO 8601 time: {text[:40]!r}"
                ) from None
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)
            at = parsed.timestamp()
    else:
        raise FieldError(name, f"not a time: {value!r}"[:80])
    if at != at or at in (float("inf"), float("-inf")):
        raise FieldError(name, "not a time")
    if at <= now:
        raise FieldError(name, f"deadline in the past ({at:.0f} <= now {now:.0f})")
    return at


def _priority(value: object) -> int:
    if isinstance(value, bool):
        raise FieldError("priority", f"must be an integer, got {value!r}")
    if isinstance(value, str):
        text = value.strip()
        try:
            value = int(text)
        except ValueError:
            raise FieldError("priority", f"must be an integer, got {text[:40]!r}") from None
    if not isinstance(value, int):
        raise FieldError("priority", f"must be an integer, got {value!r}"[:80])
    if abs(value) > MAX_PRIORITY:
        raise FieldError("priority", f"must be within -{MAX_PRIORITY}..{MAX_PRIORITY}")
    return value


def parse_patch(body: Mapping[str, Any], now: float) -> LeadUpdate:
    """The CRM API's ``PATCH`` body (``priority``, ``call_by``, ``callback_at``, ``custom``)."""
    for key in body:
        if key not in PATCH_FIELDS:
            raise FieldError(str(key)[:40], f"unknown (known: {', '.join(PATCH_FIELDS)})")
    custom = body.get("custom")
    if custom is not None and (
        not isinstance(custom, dict)
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in custom.items())
    ):
        raise FieldError("custom", "must be an object of strings")
    deadlines = {n: parse_deadline(n, body[n], now) for n in DEADLINE_FIELDS if n in body}
    return LeadUpdate(
        priority=_priority(body["priority"]) if "priority" in body else None,
        call_by=deadlines.get("call_by"),
        callback_at=deadlines.get("callback_at"),
        clear=frozenset(n for n, v in deadlines.items() if v is None),
        custom=custom,
        fields=tuple(body),
    )


def split_row(custom: Mapping[str, str], now: float) -> tuple[dict[str, str], LeadUpdate]:
    """A lead CSV row's custom fields without its ``call_by``, ``callback_at`` and
    ``withdraw`` columns, and those as an update (deadlines set when given)."""
    rest = {k: v for k, v in custom.items() if k not in (*DEADLINE_FIELDS, "withdraw")}
    deadlines = {n: parse_deadline(n, custom.get(n), now) for n in DEADLINE_FIELDS}
    withdraw = custom.get("withdraw", "").strip().lower() in _TRUE
    return rest, LeadUpdate(
        call_by=deadlines["call_by"], callback_at=deadlines["callback_at"], withdraw=withdraw
    )


def split_deadlines(custom: Mapping[str, str]
                    ) -> tuple[dict[str, str], float | None, float | None, float | None]:
    """A first import's lead: its custom fields without ``call_by`` and ``callback_at``, those
    two (their syntax checked by the lead CSV parser: a past one is simply due first) and its
    deadline."""
    rest = dict(custom)
    found: dict[str, float | None] = {}
    for name in DEADLINE_FIELDS:
        try:
            found[name] = parse_deadline(name, custom.get(name), float("-inf"))
        except FieldError:  # a lead built in code: the field stays a custom one
            found[name] = None
            continue
        rest.pop(name, None)
    call_by, callback_at = found["call_by"], found["callback_at"]
    return rest, call_by, callback_at, deadline_of(call_by, callback_at)


def deadline_of(call_by: float | None, callback_at: float | None) -> float | None:
    """A lead's SLA deadline: the earlier of its call-by and promised callback times."""
    dated = [t for t in (call_by, callback_at) if t is not None]
    return min(dated) if dated else None


def urgent_key(deadline: float | None, now: float, horizon_s: float) -> float:
    """The claim's first sort key (``sla_at``): the deadline when it falls within
    ``horizon_s`` of ``now``, else :data:`NOT_URGENT`."""
    return deadline if deadline is not None and deadline <= now + horizon_s else NOT_URGENT
