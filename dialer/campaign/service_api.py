"""Campaigns owned by the long-running dialer service (``voxgate dialer run``): the control API's
``/v1/campaigns`` routes, each campaign run by a :class:`~dialer.campaign.runner.CampaignRunner`
on the service's own :class:`~dialer.service.Dialer` (its agents, its control API: a separate
``voxgate gateway --control-url`` reaches the campaign's calls).

Routes (token-protected like every control route):

* ``POST /v1/campaigns`` ``{"campaign": "<campaign TOML>", "leads": "<lead CSV>", "dnc":
  "<numbers, one a line>"}`` (``leads`` and ``dnc`` optional) -> ``201 {"name", "leads"}``.
  The files travel as the request's body, not as paths: the service may run on another host or
  in a container that cannot read the operator's files, and a path would let any holder of the
  token make the service read its own files. ``400`` names the field; ``409`` a name in use.
* ``POST /v1/campaigns/{name}/start`` -> ``202`` (``409`` when it runs already here; a run
  refused because another dialer holds the campaign logs why), ``.../pause``, ``.../resume`` ->
  ``200 {"name", "status"}``. ``{"join": true}`` joins the dialers running the campaign on the
  same database instead of taking it alone (a campaign with ``shared = true`` always joins);
  ``"agents": N``: a joining dialer holds at most N of the campaign's unassigned agents
  (default: all it finds unassigned).
* ``POST /v1/campaigns/{name}/agents/{agent}/move`` ``{"to": "<dialer id>"}`` -> ``200 {"name",
  "agent", "from", "to"}``: the agent dials for that dialer from its next heartbeat (logged;
  ``400`` for an unknown agent or a dialer not running the campaign).
* ``GET /v1/campaigns/{name}`` -> ``{"name", "status", "running", "lines"}`` (``lines``: what
  ``voxgate campaign status`` prints).
* ``GET /v1/campaigns/{name}/export`` (``?attempts=1``: one row per attempt) -> CSV.
* The CRM's leads (``POST .../leads``, ``PATCH``/``DELETE .../leads/{phone}``) and ``GET
  .../next``: :mod:`dialer.campaign.leads_api`.

Unknown campaigns answer ``404``. The campaigns live in the service's database
(``VOXGATE_DB``), beside its call records, as ``voxgate campaign run --db`` keeps them.

A restarted service resumes the campaigns it was running (:meth:`CampaignService.resume`): it
records each campaign it starts (:class:`~dialer.campaign.service_runs.ServiceRuns`), and
whether it joined with which agent share, until the run ends with the campaign done; a joined
campaign is joined again, as the other dialers still running it refuse a run taken alone.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from aiohttp import web

from dialer.campaign.inputs import parse_dnc
from dialer.campaign.lead_model import CampaignModel
from dialer.campaign.leads_api import LeadsApi
from dialer.campaign.leads_csv import parse_leads
from dialer.campaign.model import CampaignError, CampaignSpec, campaign_from_toml
from dialer.campaign.progress import status_lines
from dialer.campaign.runner import CampaignRunner
from dialer.campaign.service_runs import ServiceRuns
from dialer.campaign.store import CampaignStore

if TYPE_CHECKING:
    from dialer.service import Dialer

log = logging.getLogger(__name__)

MAX_CAMPAIGN_BODY = 16 * 1024 * 1024  # a lead CSV of ~100k rows
FIELDS = ("campaign", "leads", "dnc")


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


class CampaignService:
    """The service's campaigns (see the module docstring); :meth:`close` stops their runs."""

    def __init__(self, dialer: Dialer, db_path: str, bots: Collection[str] | None = None) -> None:
        self.dialer = dialer
        self.store = CampaignStore(db_path)
        self.started = ServiceRuns(db_path)  # after the store: it made the file (0600)
        self.bots = None if bots is None else frozenset(bots)  # the gateway's (None: unchecked)
        self.runs: dict[str, tuple[CampaignRunner, asyncio.Task[Any]]] = {}
        self.stopping = False

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/campaigns", self._create)
        app.router.add_get("/v1/campaigns/{name}", self._status)
        app.router.add_get("/v1/campaigns/{name}/export", self._export)
        app.router.add_post("/v1/campaigns/{name}/start", self._start)
        app.router.add_post("/v1/campaigns/{name}/pause", self._pause)
        app.router.add_post("/v1/campaigns/{name}/resume", self._resume)
        app.router.add_post("/v1/campaigns/{name}/agents/{agent}/move", self._move_agent)
        LeadsApi(  # the CRM's leads, .../next (dialer.campaign.leads_api)
            self.store, exists=self._exists, calls=self.dialer.calls, stats=self.dialer.stats,
            running_model=self._running_model,
        ).add_routes(app)

    async def stop(self) -> None:
        """No campaign starts any more; the runs stop dialling and their calls in flight
        finish (bounded by the drain timeout)."""
        self.stopping = True
        for runner, _ in self.runs.values():
            runner.stop()
        tasks = [task for _, task in self.runs.values()]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def close(self) -> None:
        await self.stop()
        self.started.close()
        await self.dialer.calls.run(self.store.close)  # after its queued calls (FIFO)

    def resume(self) -> list[str]:
        """Start again every campaign this service started and whose run had not ended with
        the campaign done (the service was killed or stopped mid-run); returns their names.
        Each run first awaits the dialer's restart reconcile (see the runner)."""
        resumed = []
        for run in self.started.recorded_runs():
            name = run.name
            if not self._known(name) or self.store.stats(name, time.time()).status == "done":
                self.started.ended(name)
                continue
            log.warning("campaign %s: resumed (the service was running it when it stopped)%s",
                        name, " joining the dialers running it" if run.join else "")
            self._launch(name, run.join, run.share)  # joined again, never taken alone
            resumed.append(name)
        return resumed

    def _launch(self, name: str, join: bool = False, share: int | None = None) -> None:
        runner = CampaignRunner(self.dialer, self.store, name, owner=uuid.uuid4().hex, join=join,
                                agent_share=share)
        task = asyncio.create_task(self._run(name, runner), name=f"campaign {name}")
        self.runs[name] = (runner, task)
        self.started.started(name, time.time(), join, share)

    def _known(self, name: str) -> bool:
        """For synchronous callers before any run (:meth:`resume`); handlers: :meth:`_exists`."""
        return name in self.store.campaigns()

    def _running_model(self, name: str) -> CampaignModel | None:
        run = self.runs.get(name)
        return run[0].leads.model if run is not None else None

    async def _exists(self, name: str) -> bool:
        return name in await self.dialer.calls.run(self.store.campaigns)

    async def _body(self, request: web.Request) -> dict[str, Any]:
        raw = await request.content.read(MAX_CAMPAIGN_BODY + 1)
        if len(raw) > MAX_CAMPAIGN_BODY:
            raise web.HTTPRequestEntityTooLarge(max_size=MAX_CAMPAIGN_BODY,
                                                actual_size=len(raw))
        body = json.loads(raw)
        if not isinstance(body, dict):
            raise ValueError("the body must be a JSON object")
        return body

    async def _create(self, request: web.Request) -> web.Response:
        try:
            body = await self._body(request)
        except web.HTTPRequestEntityTooLarge:
            return _error(413, f"body too large (at most {MAX_CAMPAIGN_BODY} bytes)")
        except ValueError as exc:
            return _error(400, str(exc))
        unknown = sorted(set(body) - set(FIELDS))
        if unknown:
            return _error(400, f"field {unknown[0]!r}: unknown (known: {', '.join(FIELDS)})")
        for name in FIELDS:
            if name in body and not isinstance(body[name], str):
                return _error(400, f"field {name!r}: must be the file's text (a string)")
        field = "campaign"
        try:
            spec = campaign_from_toml(body.get("campaign", ""))
            if await self._exists(spec.name):
                return _error(409, f"field 'campaign': a campaign named {spec.name!r} exists")
            problem = self._unusable(spec)
            if problem:
                return _error(400, f"field 'campaign': {problem}")
            country = spec.default_country
            field = "leads"
            leads = parse_leads(body["leads"], default_country=country) if "leads" in body \
                else None
            field = "dnc"
            dnc = parse_dnc(body["dnc"], "dnc", country)[0] if "dnc" in body else None
        except CampaignError as exc:
            return _error(400, f"field {field!r}: {exc}")
        now = time.time()
        run = self.dialer.calls.run
        await run(self.store.create_campaign, spec, now)
        added = (await run(self.store.add_leads, spec.name, leads.leads, now)
                 if leads is not None else 0)
        if dnc:
            await run(self.store.add_dnc, dnc, now, "import")
        log.info("campaign %s created through the control API (%d leads)", spec.name, added)
        return web.json_response({"name": spec.name, "leads": added}, status=201)

    def _unusable(self, spec: CampaignSpec) -> str:
        """Why the service cannot dial ``spec``'s calls (``""``: it can)."""
        if spec.mode != "bot_first":
            return ""
        if not self.dialer.can_stream:
            return "bot_first needs the gateway's stream URL (VOXGATE_STREAM_URL), unset here"
        if self.bots is not None and spec.bot not in self.bots:
            return (f"bot {spec.bot!r}: the gateway does not serve it (it serves: "
                    f"{', '.join(sorted(self.bots)) or 'none'})")
        return ""

    async def _start(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if not await self._exists(name):
            return _error(404, f"no campaign named {name!r}")
        if name in self.runs:
            return _error(409, f"campaign {name!r} is running already")
        if self.dialer.stopping or self.stopping:
            return _error(503, "the dialer is stopping: no campaign starts")
        try:
            raw = await request.content.read(4096)
            body = json.loads(raw) if raw.strip() else {}
            join = body.get("join", False) if isinstance(body, dict) else None
            share = body.get("agents") if isinstance(body, dict) else None
        except ValueError:
            join = share = None
        if not isinstance(join, bool):
            return _error(400, "field 'join': must be true or false")
        if share is not None and (type(share) is not int or share < 0):
            return _error(400, "field 'agents': the number of agents this dialer takes (>= 0)")
        self._launch(name, join, share)
        log.info("campaign %s started through the control API%s", name,
                 " (joining the dialers running it)" if join else "")
        return web.json_response({"name": name, "started": True, "join": join}, status=202)

    async def _move_agent(self, request: web.Request) -> web.Response:
        name, agent = request.match_info["name"], request.match_info["agent"]
        if not await self._exists(name):
            return _error(404, f"no campaign named {name!r}")
        try:
            body = await self._body(request)
            to = body.get("to")
            if not isinstance(to, str) or not to:
                raise ValueError("field 'to': the dialer id to move the agent to")
            before = await self.dialer.calls.run(self.store.move_agent, name, agent, to)
        except web.HTTPRequestEntityTooLarge:
            return _error(413, "body too large")
        except (ValueError, CampaignError) as exc:
            return _error(400, str(exc))
        log.warning("campaign %s: agent %s moved from %s to dialer %s through the control API",
                    name, agent, before or "no dialer", to)
        return web.json_response({"name": name, "agent": agent, "from": before, "to": to})

    async def _run(self, name: str, runner: CampaignRunner) -> None:
        try:
            stats = await runner.run(until_done=True,
                                     drain_timeout_s=self.dialer.config.drain_timeout)
            log.info("campaign %s: run ended: %d/%d leads finished, %d escalated", name,
                     stats.done, stats.leads, stats.escalated)
            if stats.status == "done" or (stats.done >= stats.leads and stats.in_flight == 0):
                self.started.ended(name)  # done: not resumed by the next start
        except Exception:
            log.exception("campaign %s: run failed", name)
        finally:
            self.runs.pop(name, None)

    async def _set(self, request: web.Request, status: str) -> web.Response:
        name = request.match_info["name"]
        if not await self._exists(name):
            return _error(404, f"no campaign named {name!r}")
        await self.dialer.calls.run(self.store.set_status, name, status, time.time())
        return web.json_response({"name": name, "status": status})

    async def _pause(self, request: web.Request) -> web.Response:
        return await self._set(request, "paused")

    async def _resume(self, request: web.Request) -> web.Response:
        return await self._set(request, "running")

    async def _status(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if not await self._exists(name):
            return _error(404, f"no campaign named {name!r}")
        now = time.time()
        stats = await self.dialer.calls.run(self.store.stats, name, now)
        pending = await self.dialer.calls.run(self.store.pending, name, now)
        lines = status_lines(name, stats, pending, now)
        return web.json_response({"name": name, "status": stats.status,
                                  "running": name in self.runs, "leads": stats.leads,
                                  "done": stats.done, "lines": list(lines)})

    async def _export(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if not await self._exists(name):
            return _error(404, f"no campaign named {name!r}")
        attempts = request.query.get("attempts", "") in ("1", "true")
        out = await self.dialer.calls.run(
            self.store.export_attempts_csv if attempts else self.store.export_csv, name)
        return web.Response(text=out, content_type="text/csv")
