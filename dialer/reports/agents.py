"""The agent report: one row per agent, from the campaign's call records
(:class:`dialer.records.CallRecord` as JSON). An agent's *calls* are the records with their
``agent_id`` and ``bridged`` (the customer was joined to them).

Figures per agent (seconds unless named ``_ms``; empty where there is nothing to count):

* ``calls`` -- n(records with ``agent_id`` = the agent and ``bridged``).
* ``talk_s`` -- sum over the calls of the time bridged: from the timeline's first ``bridged``
  to the first of ``bridge_ended``, ``agent_ended``, ``customer_ended``, ``ended`` after it.
* ``wrap_up_s`` -- calls x the campaign's ``limits.wrap_up_s`` (the time the dialer keeps an
  agent out of the queue after a call; configured, not measured: no wrap-up is recorded yet).
* ``aht_s`` -- average handle time, (``talk_s`` + ``wrap_up_s``) / ``calls``.
* ``agent_leg_s`` -- sum of ``agent_duration_s`` (the on-demand agent leg's duration as Exotel
  reports it, ring included) over the records naming the agent; nailed legs have none.
* ``missed_rings`` -- agent legs dialled and not answered: per record, n(``agent_dialled``) -
  n(``agent_answered``) in its timeline. A record names only the agent who took the call
  (``agent_id`` is cleared when a leg goes unanswered), so these are counted on the row
  ``(unattributed)``, never on an agent's.
* ``escalations_taken`` -- the agent's calls that were ``escalated`` (bot-first escalations;
  agent-first calls are connected, not escalated).
* ``dispositions`` -- the agent's calls by record ``disposition``, ``code=n`` joined by ``;``.
* ``conversions``/``conversion_rate`` -- the agent's calls whose disposition is one of the
  conversion codes, and that / ``calls``. A campaign keeps no list of conversion codes yet
  (dispositions set by the agent are not recorded yet): by default a conversion is a call the
  agent handled to its end (``agent_handled``); see the table's note.
* ``wait_p50_ms``/``wait_p95_ms`` -- the customer's wait before the bridge (latency
  ``escalation_to_bridge``) over the agent's calls, nearest-rank percentiles.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from dialer.reports.model import Cell, Chart, Report, Table, flag, number, percentile, rate, spans

__all__ = ["COLUMNS", "DEFAULT_CONVERSIONS", "UNATTRIBUTED", "agent_report", "missed_rings",
           "talk_seconds"]

COLUMNS = ("agent", "calls", "talk_s", "wrap_up_s", "aht_s", "agent_leg_s", "missed_rings",
           "escalations_taken", "dispositions", "conversions", "conversion_rate", "wait_p50_ms",
           "wait_p95_ms")
DEFAULT_CONVERSIONS = frozenset({"agent_handled"})
UNATTRIBUTED = "(unattributed)"
_ENDS = frozenset({"bridge_ended", "agent_ended", "customer_ended", "ended"})


def talk_seconds(record: Mapping[str, Any]) -> float:
    """Seconds bridged: the first ``bridged`` to the first end after it (0 without either;
    the timeline is in ms since the dial)."""
    start: float | None = None
    for name, at in spans(record.get("timeline", ())):
        if start is None and name == "bridged":
            start = at
        elif start is not None and name in _ENDS:
            return round(max(0.0, at - start) / 1000.0, 3)
    return 0.0


def missed_rings(record: Mapping[str, Any]) -> int:
    """Agent legs dialled and not answered in this call."""
    names = Counter(name for name, _ in spans(record.get("timeline", ())))
    return max(0, names["agent_dialled"] - names["agent_answered"])


def agent_report(
    name: str, records: Sequence[Mapping[str, Any]], *, agents: Iterable[str] = (),
    wrap_up_s: float = 0.0, conversions: frozenset[str] | None = None,
) -> Report:
    """One row per agent of ``agents`` (the campaign's, in its order) and per other agent
    named by a record, then ``(unattributed)`` when a ring was missed."""
    codes = DEFAULT_CONVERSIONS if conversions is None else conversions
    ids = list(dict.fromkeys([*agents, *sorted({str(r.get("agent_id") or "") for r in records}
                                                 - {""})]))
    rows = [_row(a, [r for r in records if r.get("agent_id") == a], wrap_up_s, codes)
            for a in ids]
    missed = sum(missed_rings(r) for r in records)
    if missed:
        rows.append((UNATTRIBUTED, 0, 0.0, 0.0, None, 0.0, missed, 0, "", 0, None, None, None))
    notes = [
        "calls: records bridged to the agent; talk_s: bridged to the first end after it",
        f"wrap_up_s: calls x the campaign's limits.wrap_up_s ({wrap_up_s:g} s): configured, "
        "no wrap-up is recorded yet",
        "missed_rings: a record names only the agent who took the call, so unanswered agent "
        f"legs are counted on {UNATTRIBUTED}",
    ]
    if conversions is None:
        notes.append("conversions: the campaign keeps no conversion dispositions yet; counted "
                     "as calls the agent handled to their end (disposition agent_handled)")
    else:
        notes.append(f"conversions: dispositions {', '.join(sorted(codes)) or '(none)'}")
    table = Table("agents", "Agents", COLUMNS, tuple(rows), tuple(notes))
    named = [r for r in rows if r[0] != UNATTRIBUTED]
    charts = (
        Chart("Talk time per agent", tuple(str(r[0]) for r in named),
              tuple(float(r[2] or 0) / 60.0 for r in named), "min"),
        Chart("Calls per agent", tuple(str(r[0]) for r in named),
              tuple(float(r[1] or 0) for r in named), "calls"),
    )
    return Report("agents", name, (table,), charts)


def _row(
    agent: str, mine: Sequence[Mapping[str, Any]], wrap_up_s: float, codes: frozenset[str]
) -> tuple[Cell, ...]:
    calls = [r for r in mine if flag(r, "bridged")]
    talk = round(sum(talk_seconds(r) for r in calls), 1)
    wrap = round(len(calls) * wrap_up_s, 1)
    leg = round(sum(number(r, "agent_duration_s") or 0.0 for r in mine), 1)
    dispositions = Counter(str(r.get("disposition") or "") for r in calls)
    converted = sum(n for d, n in dispositions.items() if d in codes)
    waits = [w for r in calls
             if (w := number(r.get("latencies") or {}, "escalation_to_bridge")) is not None]
    return (
        agent, len(calls), talk, wrap,
        round((talk + wrap) / len(calls), 1) if calls else None,
        leg, 0, sum(flag(r, "escalated") for r in calls),
        ";".join(f"{d}={n}" for d, n in sorted(dispositions.items())),
        converted, rate(converted, len(calls)), percentile(waits, 50), percentile(waits, 95),
    )
