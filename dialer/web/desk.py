"""The agent desk (issue 18): what an agent sees and does, under ``/ui/api/desk/{agent_id}/``
(an agent reaches only its own; a supervisor any).

* ``GET .../state`` (JSON) and ``GET .../feed`` (server-sent events, an event at once when the
  agent's state changes, else every ``period_s`` while something changed): the agent's state
  and time in it, the call it is on (the lead's name, number and fields, and what the bot
  collected: escalation and hang-up reasons, DTMF, the call's stage and events) and its last
  call with the disposition set for it, and the campaign's disposition codes;
* ``POST .../disposition`` ``{"call_id", "code", "notes"}``: the code (one of the call's
  campaign's ``dispositions``) and notes for the agent's current or last call, stored in the
  campaign database (:class:`~dialer.campaign.store.desk.DeskDispositions`) and audited;
* ``POST .../pause`` ``{"reason"}`` and ``POST .../ready``: the pool's pause and ready
  (:meth:`dialer.service.Dialer.pause_agent`, :meth:`~dialer.service.Dialer.agent_ready`),
  audited. Ready after a campaign call needs its disposition first (``409``).

An agent's own desk requests attach the desk (:meth:`~dialer.service.Dialer.attach_desk`): from
then on its wrap-up lasts until its ready click, at most ``desk_max_wrap_s`` (then it is paused
``wrap_up_timeout``). The auth middleware has checked the session, the role and CSRF.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from typing import Any

from aiohttp import web

from dialer.agents import Agent, AgentState
from dialer.campaign.model import DEFAULT_DISPOSITIONS, CampaignError
from dialer.campaign.store.desk import DeskDispositions
from dialer.records import CallRecord
from dialer.web.audit import AuditEntry
from dialer.web.calls_view import dtmf_of
from dialer.web.context import CONTEXT, SESSION, UiContext, session_of
from dialer.web.sessions import Session
from dialer.web.snapshot import agent_row

__all__ = ["Desk", "add_routes"]

log = logging.getLogger(__name__)

MAX_NOTES = 2000
_REASON = re.compile(r"[A-Za-z0-9 _.-]{1,40}")


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


class Desk:
    """The desks of one dashboard: the calls their agents took, the dispositions set."""

    def __init__(self, ctx: UiContext, period_s: float = 1.0) -> None:
        self.ctx = ctx
        self.period_s = period_s
        self.since: dict[str, float] = {}
        self.calls: dict[str, dict[str, Any]] = {}  # agent id -> its current or last call
        self.disposed: dict[str, dict[str, Any]] = {}  # call id -> the disposition set
        self._codes: dict[str, tuple[str, ...]] = {}
        self._store: DeskDispositions | None = None
        self._unresolved: dict[str, str] = {}  # agent id -> call id, lead not read yet
        self._wake: set[asyncio.Event] = set()
        self._closing = asyncio.Event()
        ctx.dialer.pool.subscribe(self._agent_changed)

    # -- what the desk shows ----------------------------------------------------------------

    def _agent_changed(self, agent: Agent) -> None:
        """The pool's listener: never raises, never does I/O."""
        self.since[agent.agent_id] = self.ctx.clock()
        if agent.call_id:
            self._capture(agent.agent_id, agent.call_id)
        self._notify()

    def _notify(self) -> None:
        """Wake the desk feeds: something they show changed."""
        for event in self._wake:
            event.set()

    def _capture(self, agent_id: str, call_id: str) -> None:
        """Keep what the live call ``call_id`` tells of its lead and its bot."""
        runner = self.ctx.dialer.runner(call_id)
        if runner is None:  # not live here: the lead from the campaign database, later
            known = self.calls.get(agent_id)
            if known is None or known["call_id"] != call_id:
                self._unresolved[agent_id] = call_id
            return
        self._unresolved.pop(agent_id, None)
        custom = dict(runner.request.custom)
        out = runner.flow.outcome
        self.calls[agent_id] = {
            "call_id": call_id, "number": runner.request.number,
            "name": custom.pop("lead_name", ""), "campaign": custom.pop("campaign", ""),
            "fields": custom, "mode": runner.request.mode, "bot": runner.request.bot,
            "stage": runner.flow.state.value, "escalated": out.escalated,
            "escalation_reason": out.escalation_reason, "hangup_reason": out.hangup_reason,
            "events": [name for name, _ in out.timeline],
            "dtmf": [f"{what}: {value}" for what, value in dtmf_of(CallRecord(
                call_id, runner.request.number, runner.request.mode,
                escalation_reason=out.escalation_reason, hangup_reason=out.hangup_reason,
                timeline=tuple((name, t * 1000.0) for name, t in out.timeline)))],
        }

    def _dispositions(self) -> DeskDispositions | None:
        service = self.ctx.campaigns
        if service is None:
            return None
        if self._store is None:
            self._store = DeskDispositions(service.store._database)  # the campaign database
        return self._store

    async def _resolve(self, agent_id: str) -> None:
        """A call the pool gave the agent with no live runner here: its lead from the
        campaign database (in a handler, never in the pool's listener), read on the store's
        worker; the call stays unresolved until read, so a request meanwhile waits for its own
        read instead of seeing no call."""
        call_id = self._unresolved.get(agent_id)
        store = self._dispositions()
        if call_id is None or store is None:
            self._unresolved.pop(agent_id, None)
            return
        try:
            lead = await self.ctx.dialer.calls.run(store.lead_of, call_id)  # off the loop
        except Exception:  # the store failed: the desk shows no lead for this call
            log.exception("desk of %s: the lead of call %s could not be read", agent_id,
                          call_id)
            lead = None
        if self._unresolved.get(agent_id) != call_id:
            return  # resolved meanwhile, or a newer call came: that one's read decides
        del self._unresolved[agent_id]
        if lead is None:
            return
        self.calls[agent_id] = {
            "call_id": call_id, "number": lead["number"], "name": lead["name"],
            "campaign": lead["campaign"], "fields": lead["fields"], "mode": "", "bot": "",
            "stage": "", "escalated": False, "escalation_reason": "", "hangup_reason": "",
            "events": [], "dtmf": [],
        }

    async def codes(self, campaign: str) -> tuple[str, ...]:
        """The campaign's disposition codes (the default list for a call of no campaign)."""
        service = self.ctx.campaigns
        if not campaign or service is None:
            return DEFAULT_DISPOSITIONS
        if campaign not in self._codes:
            try:
                spec = await self.ctx.dialer.calls.run(service.store.campaign, campaign)
                self._codes[campaign] = spec.dispositions
            except CampaignError:
                return DEFAULT_DISPOSITIONS
        return self._codes[campaign]

    async def state(self, agent_id: str) -> dict[str, Any]:
        """The desk's view of ``agent_id`` (see the module docstring)."""
        agent = self.ctx.dialer.pool.get(agent_id)
        now = self.ctx.clock()
        if agent.call_id:
            self._capture(agent_id, agent.call_id)  # the bot's findings as the call goes
        await self._resolve(agent_id)
        call = self.calls.get(agent_id)
        on_call = call is not None and call["call_id"] == agent.call_id
        disposed = self.disposed.get(call["call_id"]) if call else None
        return {
            "agent": agent_row(agent, self.since.get(agent_id, now), now, None),
            "call": call if on_call else None,
            "last": None if call is None or on_call else call,
            "disposition": disposed,
            "codes": list(await self.codes(call["campaign"] if call else "")),
            "needs_disposition": bool(call and call["campaign"] and disposed is None),
        }

    # -- handlers ---------------------------------------------------------------------------

    def _agent(self, request: web.Request) -> str:
        agent_id = request.match_info["agent_id"]
        if agent_id not in {a.agent_id for a in self.ctx.dialer.pool}:
            raise web.HTTPNotFound(text=json.dumps({"error": f"no agent {agent_id!r}"}),
                                   content_type="application/json")
        session: Session = request[SESSION]
        if session.role == "agent" and session.agent_id == agent_id:
            agent = self.ctx.dialer.pool.get(agent_id)
            if agent.desk_wrap_s is None:
                self.ctx.dialer.attach_desk(agent_id, self.ctx.settings.desk_max_wrap_s)
        return agent_id

    def _audit(self, request: web.Request, action: str, target: str, before: object,
               after: object) -> None:
        self.ctx.audit.record(AuditEntry(self.ctx.wall(), session_of(request).user, action,
                                         target, before, after))

    async def state_handler(self, request: web.Request) -> web.Response:
        return web.json_response(await self.state(self._agent(request)))

    async def feed_handler(self, request: web.Request) -> web.StreamResponse:
        agent_id = self._agent(request)
        session: Session = request[SESSION]
        if len(self._wake) >= self.ctx.settings.max_viewers:
            return _error(503, "too many desk feeds")
        response = web.StreamResponse(headers={
            "Content-Type": "text/event-stream", "Cache-Control": "no-store",
            "X-Accel-Buffering": "no"})
        await response.prepare(request)
        wake = asyncio.Event()
        self._wake.add(wake)
        last = ""
        try:
            while (self.ctx.sessions.get(session.sid) is session
                   and not self._closing.is_set()):
                wake.clear()
                text = json.dumps(await self.state(agent_id), separators=(",", ":"))
                if text != last:
                    await response.write(f"data: {text}\n\n".encode())
                    last = text
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), self.period_s)
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self._wake.discard(wake)
        return response

    async def close(self, app: web.Application | None = None) -> None:
        """End every desk feed (the app's ``on_shutdown``)."""
        self._closing.set()
        self._notify()

    async def _body(self, request: web.Request) -> dict[str, Any]:
        try:
            body = json.loads(await request.read() or b"{}")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise web.HTTPBadRequest(text=json.dumps({"error": "the body must be a JSON object"}),
                                     content_type="application/json")
        return body

    async def disposition(self, request: web.Request) -> web.Response:
        agent_id = self._agent(request)
        body = await self._body(request)
        await self._resolve(agent_id)
        call_id, code, notes = body.get("call_id"), body.get("code"), body.get("notes", "")
        call = self.calls.get(agent_id)
        agent = self.ctx.dialer.pool.get(agent_id)
        if not isinstance(call_id, str) or call is None or call["call_id"] != call_id or (
                call_id not in (agent.call_id, agent.last_call_id)):
            return _error(409, f"call {call_id!r} is not agent {agent_id}'s current or last "
                               "call")
        codes = await self.codes(call["campaign"])
        if code not in codes:
            return _error(400, f"field 'code': must be one of {', '.join(codes)}")
        if not isinstance(notes, str) or len(notes) > MAX_NOTES:
            return _error(400, f"field 'notes': text of at most {MAX_NOTES} characters")
        store = self._dispositions()
        if store is None or not call["campaign"]:
            return _error(409, f"call {call_id} is no campaign call: nowhere to store it")
        try:
            await self.ctx.dialer.calls.run(store.save, call_id, agent_id, str(code), notes,
                                            self.ctx.wall())
        except CampaignError as exc:
            return _error(409, str(exc))
        before = self.disposed.get(call_id)
        self.disposed[call_id] = {"code": code, "notes": notes, "agent": agent_id}
        self._audit(request, "disposition", call_id, before and before["code"],
                    {"agent": agent_id, "code": code})
        self._notify()  # the feeds show it at once
        return web.json_response({"call_id": call_id, "code": code, "agent": agent_id})

    async def pause(self, request: web.Request) -> web.Response:
        agent_id = self._agent(request)
        reason = (await self._body(request)).get("reason")
        if not isinstance(reason, str) or not _REASON.fullmatch(reason):
            return _error(400, "field 'reason': 1-40 of A-Z a-z 0-9 space _ . -")
        before = self.ctx.dialer.pause_agent(agent_id, reason)
        after = self.ctx.dialer.pool.get(agent_id).state
        self._audit(request, "pause_agent", agent_id, before.value, f"{after.value}:{reason}")
        return web.json_response({"agent": agent_id, "before": before.value,
                                  "state": after.value, "reason": reason})

    async def ready(self, request: web.Request) -> web.Response:
        agent_id = self._agent(request)
        agent = self.ctx.dialer.pool.get(agent_id)
        await self._resolve(agent_id)
        call = self.calls.get(agent_id)
        if (agent.state is AgentState.WRAP_UP and call is not None and call["campaign"]
                and call["call_id"] == agent.last_call_id and call["call_id"] not in self.disposed):
            return _error(409, f"set the disposition of call {call['call_id']} first")
        before = agent.state
        self.ctx.dialer.agent_ready(agent_id)
        self._audit(request, "ready", agent_id, before.value, agent.state.value)
        return web.json_response({"agent": agent_id, "before": before.value,
                                  "state": agent.state.value})


def add_routes(app: web.Application) -> None:
    """The desk's API routes in the dashboard's sub-app."""
    desk = Desk(app[CONTEXT])
    app.on_shutdown.append(desk.close)
    r = app.router
    r.add_get("/api/desk/{agent_id}/state", desk.state_handler)
    r.add_get("/api/desk/{agent_id}/feed", desk.feed_handler)
    r.add_post("/api/desk/{agent_id}/disposition", desk.disposition)
    r.add_post("/api/desk/{agent_id}/pause", desk.pause)
    r.add_post("/api/desk/{agent_id}/ready", desk.ready)
