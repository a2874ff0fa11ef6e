"""The supervisor's controls, each audited (:class:`~dialer.web.audit.AuditLog`: who, what,
when, before and after):

* ``POST /ui/api/campaigns/{name}/pause`` and ``.../resume``: the campaign's stored status
  (its runner stops or starts dialling within a tick, as ``voxgate campaign pause`` does);
* ``POST /ui/api/campaigns/{name}/aim`` ``{"aim": 0.02}``: the running pacer's abandonment aim,
  within ``(0, cap]`` where ``cap`` is the campaign's legal ``limits.abandon_target`` (``400``
  above it; ``409`` when the campaign is not running here or its pacer has no aim). The aim
  lasts for the run: the next run starts from the campaign file's;
* ``POST /ui/api/agents/{id}/logout``: the agent is never offered a call again until the
  service restarts (one on a call finishes it first).

The auth middleware has checked the session, the supervisor role and the CSRF token.
"""

from __future__ import annotations

import json
import math

from aiohttp import web

from dialer.web.audit import AuditEntry
from dialer.web.context import CONTEXT, UiContext, session_of
from dialer.web.live import LiveFeed, pacer_aim

__all__ = ["Controls"]


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


class Controls:
    def __init__(self, feed: LiveFeed) -> None:
        self.feed = feed

    def _audit(self, request: web.Request, action: str, target: str, before: object,
               after: object) -> None:
        ctx: UiContext = request.app[CONTEXT]
        ctx.audit.record(AuditEntry(ctx.wall(), session_of(request).user, action, target,
                                    before, after))
        self.feed.refresh()

    async def _status(self, request: web.Request, status: str) -> web.Response:
        ctx: UiContext = request.app[CONTEXT]
        name = request.match_info["name"]
        service = ctx.campaigns
        run_on_worker = ctx.dialer.calls.run  # the store's reads and writes off the loop
        if service is None or name not in await run_on_worker(service.store.campaigns):
            return _error(404, f"no campaign named {name!r}")
        before = await run_on_worker(service.store.status, name)
        if before == "done":
            return _error(409, f"campaign {name!r} is done")
        await run_on_worker(service.store.set_status, name, status, ctx.wall())
        self._audit(request, "pause" if status == "paused" else "resume", name, before, status)
        return web.json_response({"name": name, "status": status, "before": before})

    async def pause(self, request: web.Request) -> web.Response:
        return await self._status(request, "paused")

    async def resume(self, request: web.Request) -> web.Response:
        return await self._status(request, "running")

    async def aim(self, request: web.Request) -> web.Response:
        ctx: UiContext = request.app[CONTEXT]
        name = request.match_info["name"]
        service = ctx.campaigns
        run = service.runs.get(name) if service is not None else None
        if run is None:
            return _error(409, f"campaign {name!r} is not running in this service")
        runner = run[0]
        try:
            body = json.loads(await request.read())
            aim = body["aim"] if isinstance(body, dict) else None
        except (ValueError, KeyError):
            aim = None
        if isinstance(aim, bool) or not isinstance(aim, (int, float)) or not math.isfinite(aim):
            return _error(400, "field 'aim': must be a number, e.g. 0.02")
        cap = runner.spec.limits.abandon_target
        if not 0 < aim <= cap:
            return _error(400, f"field 'aim': must be above 0 and at most the campaign's "
                               f"legal cap {cap:g} (limits.abandon_target), got {aim:g}")
        before = pacer_aim(runner.pacer)
        pacer = runner.pacer
        control = getattr(pacer, "control", None)
        if control is not None and hasattr(control, "aim"):
            control.aim = float(aim)
            if hasattr(pacer, "aim"):
                pacer.aim = float(aim)
        elif hasattr(pacer, "drop_target"):
            pacer.drop_target = float(aim)
        else:
            return _error(409, f"campaign {name!r}: its {pacer.name} pacer has no "
                               "abandonment aim")
        self._audit(request, "aim", name, before, float(aim))
        return web.json_response({"name": name, "aim": float(aim), "before": before,
                                  "cap": cap})

    async def agent_logout(self, request: web.Request) -> web.Response:
        ctx: UiContext = request.app[CONTEXT]
        agent_id = request.match_info["agent_id"]
        try:
            before = ctx.dialer.pool.log_out(agent_id)
        except KeyError:
            return _error(404, f"no agent {agent_id!r}")
        after = ctx.dialer.pool.get(agent_id).state
        self._audit(request, "agent_logout", agent_id, before.value, after.value)
        return web.json_response({"agent": agent_id, "before": before.value,
                                  "state": after.value})
