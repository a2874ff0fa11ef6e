"""The calls pages' HTML pieces (pure: records in, escaped HTML out).

:func:`list_rows` and :func:`pager` for ``/ui/calls``, :func:`live_rows` for the calls in
flight, and :func:`call_sections` for ``/ui/calls/{call_id}``: the summary, what the bot
reported, DTMF, the timeline (each event's kind: bot, escalation, bridge, agent, leg, with its
time since the dial and its UTC time), the lead and custom fields, the latencies and the
recording's player. No page holds the record's ``recording_url`` (Exotel's, which needs the
account's credentials): the player's source is the dashboard's own route."""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

from dialer.records import CallRecord

__all__ = ["LIVE_SHOWN", "LiveCall", "call_sections", "event_kind", "list_rows", "live_rows",
           "live_summary", "pager", "recording_src"]

PREFIX = "/ui"
_KINDS = (("escalat", "escalation"), ("bridge", "bridge"), ("agent", "agent"),
          ("bot", "bot"), ("greeting", "bot"), ("stream", "bot"), ("transfer", "escalation"),
          ("dtmf", "dtmf"), ("recording", "recording"), ("hold", "escalation"))


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value))


def when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S") if epoch else ""


def call_href(call_id: str) -> str:
    return f"{PREFIX}/calls/{quote(call_id, safe='')}"


def recording_src(call_id: str) -> str:
    """The player's source: the dashboard's route, never Exotel's URL."""
    return f"{PREFIX}/api/calls/{quote(call_id, safe='')}/recording"


def event_kind(name: str) -> str:
    """What a timeline event is about (its row's class on the call page)."""
    low = name.lower()
    return next((kind for key, kind in _KINDS if key in low), "leg")


def _seconds(ms: float | None) -> str:
    return "" if ms is None else f"{ms / 1000:.1f} s"


def list_rows(rows: Iterable[tuple[float, CallRecord]]) -> str:
    out = []
    for stored, r in rows:
        out.append(
            f'<tr data-call="{_e(r.call_id)}"><td><a href="{_e(call_href(r.call_id))}">'
            f"{_e(r.call_id)}</a></td><td>{_e(when(r.started_at or stored))}</td>"
            f"<td>{_e(r.number)}</td><td>{_e(r.custom.get('campaign', ''))}</td>"
            f"<td>{_e(r.disposition)}</td><td>{_e(r.agent_id)}</td>"
            f"<td>{_seconds(r.latencies.get('call_ms'))}</td>"
            f"<td>{'yes' if r.recording_url else ''}</td></tr>")
    return "\n".join(out) or '<tr><td colspan="8">no call matches</td></tr>'


def pager(params: Mapping[str, str], page: int, more: bool) -> str:
    links = []
    if page > 1:
        prev = dict(params) | {"page": str(page - 1)}
        if page - 1 == 1:
            prev.pop("page")
        links.append(f'<a rel="prev" href="{PREFIX}/calls?{_e(urlencode(prev))}">« newer</a>')
    links.append(f"<span>page {page}</span>")
    if more:
        nxt = dict(params) | {"page": str(page + 1)}
        links.append(f'<a rel="next" href="{PREFIX}/calls?{_e(urlencode(nxt))}">older »</a>')
    return " ".join(links)


LiveCall = Mapping[str, Any]  # call_id, number, campaign, stage, agent, since (epoch)


LIVE_SHOWN = 100


def live_summary(calls: Sequence[LiveCall]) -> str:
    """How many calls are in flight, by stage (the table shows the longest ones only)."""
    stages = Counter(str(c["stage"]) for c in calls)
    by = ", ".join(f"{_e(k)} {n}" for k, n in sorted(stages.items()))
    shown = f"; the {LIVE_SHOWN} longest shown" if len(calls) > LIVE_SHOWN else ""
    return f"{len(calls)} in flight{f' ({by})' if by else ''}{shown}"


def live_rows(calls: Iterable[LiveCall], now: float) -> str:
    calls = list(calls)[:LIVE_SHOWN]
    return "\n".join(
        f'<tr data-live="{_e(c["call_id"])}"><td>{_e(c["call_id"])}</td><td>{_e(c["number"])}'
        f'</td><td>{_e(c["campaign"])}</td><td class="stage">{_e(c["stage"])}</td>'
        f'<td>{_e(c["agent"])}</td><td>{max(0, round(now - c["since"]))} s</td></tr>'
        for c in calls) or '<tr><td colspan="6">no call in flight</td></tr>'


def _dl(pairs: Iterable[tuple[str, object]]) -> str:
    items = "".join(f"<dt>{_e(k)}</dt><dd>{'yes' if v is True else _e(v)}</dd>"
                    for k, v in pairs if v not in ("", None, False))
    return f'<dl class="facts">{items}</dl>' if items else '<p class="muted">nothing</p>'


def dtmf_of(record: CallRecord) -> list[tuple[str, str]]:
    """The digits the records hold: DTMF events of the timeline, digits the bot reported
    (``entered:42``) and custom fields about digits."""
    out = [("event", f"{name} at {t / 1000:.1f} s") for name, t in record.timeline
           if "dtmf" in name.lower() or "digit" in name.lower()]
    for reason in (record.hangup_reason, record.escalation_reason):
        if reason.startswith(("entered:", "dtmf:", "digits:")):
            out.append(("bot reported", reason.split(":", 1)[1]))
    out += [(k, str(v)) for k, v in record.custom.items()
            if "dtmf" in k.lower() or "digit" in k.lower()]
    return out


def _timeline(record: CallRecord) -> str:
    rows = "".join(
        f'<tr class="ev-{event_kind(name)}"><td>{_e(name)}</td><td>{event_kind(name)}</td>'
        f"<td>{t / 1000:.3f} s</td>"
        f"<td>{_e(when(record.started_at + t / 1000) if record.started_at else '')}</td></tr>"
        for name, t in record.timeline)
    return ('<table id="timeline" class="figures"><thead><tr><th>Event</th><th>Kind</th>'
            "<th>Since dial</th><th>At (UTC)</th></tr></thead><tbody>"
            + (rows or '<tr><td colspan="4">no event</td></tr>') + "</tbody></table>")


def call_sections(record: CallRecord) -> str:
    """The call page's body (the lead's fields are in the record's ``custom``: a campaign's
    call carries its lead's name and custom fields, and the campaign's name)."""
    r = record
    summary = _dl([
        ("call id", r.call_id), ("number", r.number), ("campaign", r.custom.get("campaign")),
        ("mode", r.mode), ("bot", r.bot), ("started (UTC)", when(r.started_at)),
        ("duration", _seconds(r.latencies.get("call_ms"))), ("disposition", r.disposition),
        ("answered", "yes" if r.answered else "no"), ("machine", r.machine),
        ("abandoned", r.abandoned), ("escalated", r.escalated), ("bridged", r.bridged),
        ("agent", r.agent_id), ("agent nailed", r.agent_nailed), ("ended in", r.ended_in),
        ("termination", r.termination_reason), ("agent leg duration", r.agent_duration_s),
    ])
    bot = _dl([("hang-up reason", r.hangup_reason), ("escalation reason", r.escalation_reason),
               ("failure", r.failure)])
    digits = dtmf_of(r)
    dtmf = _dl(digits) if digits else '<p class="muted">no DTMF on the record</p>'
    lead_pairs: list[tuple[str, object]] = [("number", r.number), *r.custom.items()]
    latencies = _dl([(k, f"{v:.0f} ms") for k, v in r.latencies.items() if v is not None])
    if r.recording_url:
        player = (f'<audio id="recording" controls preload="metadata" '
                  f'src="{_e(recording_src(r.call_id))}"></audio>')
    else:
        player = '<p class="muted">no recording</p>'
    return (f'<section id="summary"><h2>Call</h2>{summary}</section>'
            f'<section id="recording-section"><h2>Recording</h2>{player}</section>'
            f'<section id="bot"><h2>What the bot reported</h2>{bot}</section>'
            f'<section id="dtmf"><h2>DTMF</h2>{dtmf}</section>'
            f'<section id="timeline-section"><h2>Timeline</h2>{_timeline(r)}</section>'
            f'<section id="lead"><h2>Lead and custom fields</h2>{_dl(lead_pairs)}</section>'
            f'<section id="latencies"><h2>Latencies</h2>{latencies}</section>')
