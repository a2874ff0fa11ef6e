"""The dashboard's calls: ``/ui/calls`` (search over the call records, paged, and the calls in
flight with their stage), ``/ui/calls/{call_id}`` (one call's page), ``/ui/api/calls`` (the
search as JSON), ``/ui/api/calls/live`` (the calls in flight) and
``/ui/api/calls/{call_id}/recording`` (the recording, streamed through:
:mod:`dialer.web.calls_recording`). Supervisors see everything; an agent reaches only the
recording of a call it took (``403`` otherwise, counted as ``ui_forbidden``).

Store reads run on the dialer's store workers (:class:`~dialer.store_calls.StoreCalls`), never
on the event loop that carries the calls' media.
"""

from __future__ import annotations

import logging
from types import MethodType
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from dialer.records import CallRecord
from dialer.web.calls_query import CallQuery, Found, QueryError, search
from dialer.web.calls_recording import RecordingProxy
from dialer.web.calls_view import call_sections, list_rows, live_rows, live_summary, pager
from dialer.web.context import CONTEXT, UiContext, session_of
from dialer.web.pages import page

__all__ = ["RECORDINGS", "add_routes", "live_calls"]

log = logging.getLogger(__name__)

RECORDINGS = web.AppKey("voxgate_recordings", RecordingProxy)


def _html(text: str, status: int = 200) -> web.Response:
    return web.Response(text=text, content_type="text/html", status=status)


def live_calls(ctx: UiContext) -> list[dict[str, Any]]:
    """The dialer's calls in flight: id, number, campaign, stage, agent, since (epoch)."""
    runners = getattr(ctx.dialer, "_calls", {})  # the dialer's live CallRunners
    out = []
    for call_id, runner in list(runners.items()):
        request = runner.request
        out.append({"call_id": call_id, "number": request.number,
                    "campaign": str(request.custom.get("campaign", "")),
                    "stage": runner.flow.state.value,
                    "agent": runner.flow.outcome.agent_id,
                    "since": float(getattr(runner, "_wall0", 0.0) or ctx.wall())})
    out.sort(key=lambda c: c["since"])
    return out


async def _search(ctx: UiContext, query: CallQuery) -> Found:
    store = ctx.dialer.store
    return await ctx.dialer.calls.run(MethodType(search, store), query)


async def _record(ctx: UiContext, call_id: str) -> CallRecord | None:
    return await ctx.dialer.calls.run(ctx.dialer.store.get, call_id)


def _form(query: CallQuery) -> dict[str, str]:
    params = query.params()
    return {k: params.get(k, "") for k in ("number", "call_id", "campaign", "disposition",
                                           "agent", "from", "to")}


async def calls_page(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    try:
        query = CallQuery.parse(request.query)
    except QueryError as exc:
        query, error = CallQuery(), str(exc)
    else:
        error = ""
    found = await _search(ctx, query)
    live = live_calls(ctx)
    return _html(page("calls", "Calls", session_of(request), error=error, **_form(query),
                      rows_html=list_rows(found.rows),
                      pager_html=pager(query.params(page=1), query.page, found.more),
                      live_html=live_rows(live, ctx.wall()), summary_html=live_summary(live)),
                 status=400 if error else 200)


async def calls_api(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    try:
        query = CallQuery.parse(request.query)
    except QueryError as exc:
        return web.json_response({"error": str(exc)}, status=400)
    found = await _search(ctx, query)
    rows = []
    for stored, record in found.rows:
        body = record.to_json()
        body.pop("recording_url")  # Exotel's URL: the browser gets only the dashboard's route
        rows.append(body | {"stored_at": stored, "has_recording": bool(record.recording_url)})
    nxt = f"/ui/api/calls?{urlencode(query.params(page=query.page + 1))}" if found.more else None
    return web.json_response({"calls": rows, "page": query.page, "next": nxt})


async def live_api(request: web.Request) -> web.Response:
    return web.json_response({"calls": live_calls(request.app[CONTEXT])})


async def call_page(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    call_id = request.match_info["call_id"]
    record = await _record(ctx, call_id)
    session = session_of(request)
    if record is None:
        live = [c for c in live_calls(ctx) if c["call_id"] == call_id]
        if not live:
            raise web.HTTPNotFound(text=f"no call {call_id!r}")
        return _html(page("call", f"Call {call_id}", session,
                          sections_html=f"<p>In flight: {live[0]['stage']}</p>"))
    return _html(page("call", f"Call {call_id}", session, sections_html=call_sections(record)))


async def recording(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    call_id = request.match_info["call_id"]
    session = session_of(request)
    record = await _record(ctx, call_id)
    if session.role != "supervisor" and (record is None or not record.agent_id
                                         or record.agent_id != session.agent_id):
        log.warning("dashboard: 403 recording of %s for %s (agent %s did not take it)",
                    call_id, session.user, session.agent_id)
        ctx.dialer.stats.refused("ui_forbidden")
        return web.json_response({"error": "forbidden: not a call you took"}, status=403)
    if record is None or not record.recording_url:
        return web.json_response({"error": f"no recording of call {call_id!r}"}, status=404)
    return await request.app[RECORDINGS].stream(request, call_id, record.recording_url)


def add_routes(app: web.Application) -> None:
    """The calls' routes on the dashboard's sub-app (its ``CONTEXT`` already set)."""
    config = app[CONTEXT].dialer.config
    proxy = RecordingProxy(config.api_base, config.api_key, config.api_token)
    app[RECORDINGS] = proxy
    app.on_cleanup.append(proxy.close)
    r = app.router
    r.add_get("/calls", calls_page)
    r.add_get("/calls/{call_id}", call_page)
    r.add_get("/api/calls", calls_api)
    r.add_get("/api/calls/live", live_api)
    r.add_get("/api/calls/{call_id}/recording", recording)
