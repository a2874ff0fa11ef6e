"""The dashboard's aiohttp sub-app, mounted at ``/ui/`` on the dialer service's control API
(:func:`mount`; the control API's bearer middleware leaves ``/ui/`` to the dashboard's session
auth, :mod:`dialer.web.auth`).

Routes: pages ``/ui/login``, ``/ui/campaigns``, ``/ui/agents``, ``/ui/audit``,
``/ui/desk/{agent_id}``, ``/ui/calls``, ``/ui/calls/{call_id}`` and ``/ui/reports/...``
(:mod:`.calls`, :mod:`.reports_page`) (``/ui/`` redirects to the user's first page); APIs
``/ui/api/live`` (SSE), ``/ui/api/snapshot``, ``/ui/api/history``, ``/ui/api/audit``, the
controls of :mod:`dialer.web.controls` and the calls' and reports'; ``/ui/static/`` the
assets shipped in the package (no CDN).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

from dialer.web import auth, calls, desk, reports_page
from dialer.web.context import CONTEXT, PREFIX, UiContext, UiSettings, session_of
from dialer.web.controls import Controls
from dialer.web.live import LiveFeed
from dialer.web.pages import audit_rows, page

if TYPE_CHECKING:
    from dialer.campaign.service_api import CampaignService
    from dialer.service import Dialer

__all__ = ["build_app", "mount", "with_ui"]


def _html(text: str) -> web.Response:
    return web.Response(text=text, content_type="text/html")


async def _home(request: web.Request) -> web.Response:
    session = session_of(request)
    if session.role == "agent":
        raise web.HTTPFound(f"{PREFIX}/desk/{session.agent_id}")
    raise web.HTTPFound(f"{PREFIX}/campaigns")


async def _campaigns(request: web.Request) -> web.Response:
    return _html(page("campaigns", "Campaigns", session_of(request)))


async def _agents(request: web.Request) -> web.Response:
    return _html(page("agents", "Agents", session_of(request)))


async def _audit(request: web.Request) -> web.Response:
    rows = audit_rows(await request.app[CONTEXT].audit.entries())
    return _html(page("audit", "Audit", session_of(request), rows_html=rows))


async def _audit_api(request: web.Request) -> web.Response:
    entries = await request.app[CONTEXT].audit.entries()
    return web.json_response({"entries": [dataclasses.asdict(e) for e in entries]})


async def _desk(request: web.Request) -> web.Response:
    agent_id = request.match_info["agent_id"]
    ctx = request.app[CONTEXT]
    if agent_id not in {a.agent_id for a in ctx.dialer.pool}:
        raise web.HTTPNotFound(text=f"no agent {agent_id!r}")
    return _html(page("desk", f"Desk of {agent_id}", session_of(request), agent=agent_id))


def build_app(ctx: UiContext) -> web.Application:
    """The ``/ui`` sub-app over ``ctx``."""
    app = web.Application(middlewares=[auth.middleware])
    app[CONTEXT] = ctx
    feed = LiveFeed(ctx)
    app.on_startup.append(feed.start)
    app.on_shutdown.append(feed.close)

    async def close_audit(_: web.Application) -> None:
        await ctx.audit.close()

    app.on_cleanup.append(close_audit)
    controls = Controls(feed)
    r = app.router
    r.add_get("/", _home)
    r.add_get("/login", auth.login_form)
    r.add_post("/login", auth.login)
    r.add_post("/logout", auth.logout)
    r.add_get("/campaigns", _campaigns)
    r.add_get("/agents", _agents)
    r.add_get("/audit", _audit)
    r.add_get("/desk/{agent_id}", _desk)
    r.add_get("/api/live", feed.live_handler)
    r.add_get("/api/snapshot", feed.snapshot_handler)
    r.add_get("/api/history", feed.history_handler)
    r.add_get("/api/audit", _audit_api)
    r.add_post("/api/campaigns/{name}/pause", controls.pause)
    r.add_post("/api/campaigns/{name}/resume", controls.resume)
    r.add_post("/api/campaigns/{name}/aim", controls.aim)
    r.add_post("/api/agents/{agent_id}/logout", controls.agent_logout)
    calls.add_routes(app)
    desk.add_routes(app)
    reports_page.add_routes(app)
    static = Path(str(resources.files("dialer.web").joinpath("static")))
    r.add_static("/static/", static, follow_symlinks=False)
    return app


def mount(app: web.Application, ctx: UiContext) -> None:
    """Add the dashboard under ``/ui/`` to ``app`` (the control API's)."""
    app.add_subapp(PREFIX, build_app(ctx))


def with_ui(dialer: Dialer, campaigns: CampaignService | None, settings: UiSettings | None,
            routes: Callable[[web.Application], None] | None
            ) -> Callable[[web.Application], None] | None:
    """The control API's extra routes: ``routes`` (the campaigns') and, with ``settings``, the
    dashboard (what ``voxgate dialer run --users FILE`` passes)."""
    if settings is None:
        return routes

    def add(app: web.Application) -> None:
        if routes is not None:
            routes(app)
        mount(app, UiContext(dialer, campaigns, settings))

    return add

