"""The campaign report, computed from the campaign's attempts (the ``attempts`` table: one row
per dial) and their call records (:class:`dialer.records.CallRecord` as JSON, the ``calls``
table; an attempt the dialer died in has none).

Figures (``n(...)`` counts rows; a rate whose denominator is 0 is empty, not 0):

* funnel -- ``dialled``: attempts; ``answered``: records with ``answered`` (a person or a
  machine picked up); ``live``: answered and not ``machine``; ``bot_handled``: live calls whose
  timeline has ``stream_started`` (the bot had the call); ``escalated``: records with
  ``escalated`` (the bot, or the customer's key, asked for an agent; agent-first calls are
  connected, not escalated); ``bridged``: records with ``bridged`` (customer and agent joined);
  then one row per record ``disposition`` (``disposition:<code>``) and ``no_record`` for the
  attempts without a record (their attempt ``outcome`` is in the attempts export).
* rates -- ``bot_containment`` = n(bot_handled and not escalated) / n(bot_handled): the calls
  the bot finished by itself among the live calls it had; ``escalation_rate`` =
  n(bot_handled and escalated) / n(bot_handled); ``bridge_rate`` = n(escalated and bridged) /
  n(escalated); ``answer_rate`` = answered / dialled; ``abandonment`` = n(attempt
  ``abandoned``) / n(attempt ``live``) (the regulator's figure, as the pacer counts it).
* latencies -- for each latency the records keep (``CallRecord.latencies``, ms:
  ``answer_to_stream`` answer to stream start, ``greeting_ms`` greeting played,
  ``escalation_to_bridge`` escalation request to bridge = the customer's wait for an agent,
  ``agent_ring`` agent leg dialled to answered, ``hold_ms`` escalation to bridge or giving up,
  ``call_ms`` dial to end): ``n`` (records with a value), nearest-rank ``p50``/``p95``/``p99``
  (:func:`~dialer.reports.model.percentile`). Stream start to the bot's first audio is
  measured by the gateway, not kept in the dialer's records: it is not in this report.
* abandonment by hour -- attempts grouped by the local hour (campaign time zone) of their
  ``claimed_at`` (the dial): ``live``, ``abandoned`` and ``rate`` = abandoned / live.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from dialer.reports.model import Cell, Chart, Report, Table, flag, number, percentile, rate, spans

__all__ = ["FUNNEL", "LATENCIES", "campaign_report"]

FUNNEL = ("dialled", "answered", "live", "bot_handled", "escalated", "bridged")
LATENCIES = ("answer_to_stream", "greeting_ms", "escalation_to_bridge", "agent_ring", "hold_ms",
             "call_ms")
"""The latencies reported first, in this order; any other a record keeps follows."""


def bot_handled(record: Mapping[str, Any]) -> bool:
    """A live call the bot had: answered, not a machine, ``stream_started`` in its timeline."""
    return (flag(record, "answered") and not flag(record, "machine")
            and any(name == "stream_started" for name, _ in spans(record.get("timeline", ()))))


def campaign_report(
    name: str, zone: str, attempts: Sequence[Mapping[str, Any]],
    records: Sequence[Mapping[str, Any]],
) -> Report:
    """The report of campaign ``name`` (time zone ``zone``) from its attempt rows and the call
    records of those attempts."""
    funnel, rates = _funnel(attempts, records)
    tables = (funnel, rates, _latencies(records), _by_hour(zone, attempts))
    stages = funnel.rows[: len(FUNNEL)]
    hours = tables[3].rows
    charts = (
        Chart("Funnel", tuple(str(s[0]) for s in stages), tuple(float(s[1] or 0) for s in stages),
              "calls"),
        Chart(f"Abandonment by hour ({zone})", tuple(f"{h[0]:02}:00" for h in hours),
              tuple(100.0 * float(h[3] or 0) for h in hours), "%"),
    )
    return Report("campaign", name, tables, charts)


def _funnel(
    attempts: Sequence[Mapping[str, Any]], records: Sequence[Mapping[str, Any]]
) -> tuple[Table, Table]:
    answered = [r for r in records if flag(r, "answered")]
    live = [r for r in answered if not flag(r, "machine")]
    bot = [r for r in live if bot_handled(r)]
    escalated = [r for r in records if flag(r, "escalated")]
    bridged = [r for r in records if flag(r, "bridged")]
    counts = (len(attempts), len(answered), len(live), len(bot), len(escalated), len(bridged))
    rows: list[tuple[Cell, ...]] = [
        (stage, n, rate(n, len(attempts))) for stage, n in zip(FUNNEL, counts, strict=True)
    ]
    dispositions = Counter(str(r.get("disposition") or "") for r in records)
    rows += [(f"disposition:{d or '(none)'}", n, rate(n, len(attempts)))
             for d, n in sorted(dispositions.items())]
    with_record = {str(r.get("call_id")) for r in records}
    no_record = sum(1 for a in attempts if str(a.get("call_id")) not in with_record)
    rows.append(("no_record", no_record, rate(no_record, len(attempts))))
    funnel = Table("funnel", "Disposition funnel", ("stage", "calls", "of_dialled"), tuple(rows),
                   ("of_dialled: calls / dialled",))
    contained = sum(1 for r in bot if not flag(r, "escalated"))
    bot_escalated = len(bot) - contained
    live_attempts = sum(1 for a in attempts if flag(a, "live"))
    abandoned = sum(1 for a in attempts if flag(a, "abandoned"))
    rates = Table("rates", "Rates", ("figure", "value", "numerator", "denominator"), (
        ("answer_rate", rate(len(answered), len(attempts)), len(answered), len(attempts)),
        ("bot_containment", rate(contained, len(bot)), contained, len(bot)),
        ("escalation_rate", rate(bot_escalated, len(bot)), bot_escalated, len(bot)),
        ("bridge_rate", rate(sum(1 for r in escalated if flag(r, "bridged")), len(escalated)),
         sum(1 for r in escalated if flag(r, "bridged")), len(escalated)),
        ("abandonment", rate(abandoned, live_attempts), abandoned, live_attempts),
    ))
    return funnel, rates


def _latencies(records: Sequence[Mapping[str, Any]]) -> Table:
    values: dict[str, list[float]] = {key: [] for key in LATENCIES}
    for record in records:
        latencies = record.get("latencies") or {}
        for key in latencies:
            value = number(latencies, key)
            if value is not None:
                values.setdefault(str(key), []).append(value)
    rows = tuple((key, len(v), percentile(v, 50), percentile(v, 95), percentile(v, 99))
                 for key, v in values.items())
    return Table("latencies", "Latencies (ms)", ("latency", "n", "p50", "p95", "p99"), rows,
                 ("nearest-rank percentiles over the records with a value",
                  "stream start to the bot's first audio is measured by the gateway, not kept "
                  "in the dialer's records"))


def _by_hour(zone: str, attempts: Sequence[Mapping[str, Any]]) -> Table:
    tz = ZoneInfo(zone)
    live: Counter[int] = Counter()
    abandoned: Counter[int] = Counter()
    for attempt in attempts:
        at = number(attempt, "claimed_at")
        if at is None or not flag(attempt, "live"):
            continue
        hour = datetime.fromtimestamp(at, tz).hour
        live[hour] += 1
        abandoned[hour] += flag(attempt, "abandoned")
    rows = tuple((h, live[h], abandoned[h], rate(abandoned[h], live[h])) for h in sorted(live))
    return Table("abandonment_by_hour", f"Abandonment by hour ({zone})",
                 ("hour", "live", "abandoned", "rate"), rows,
                 ("hour: local hour of the dial in the campaign's time zone; live attempts only",))
