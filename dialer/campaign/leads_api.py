"""The CRM's lead API (issue 19), token-protected like every ``/v1`` route, applied at once
(a running campaign's next claim sees it; no restart):

* ``POST /v1/campaigns/{name}/leads``: a JSON list of leads (objects with the lead CSV's
  columns: ``phone``, ``name``, ``timezone`` or ``region``, ``priority``, ``call_by``,
  ``callback_at``, ``withdraw``, custom fields) or a lead CSV (``Content-Type: text/csv``):
  new leads added, existing ones updated, withdrawn with ``withdraw`` -> ``200 {"added",
  "updated", "withdrawn"}``;
* ``PATCH /v1/campaigns/{name}/leads/{phone}`` ``{"priority", "call_by", "callback_at",
  "custom"}`` (any of them) -> ``200 {"phone", "updated"}``;
* ``DELETE /v1/campaigns/{name}/leads/{phone}``: withdrawn, never dialled again (a lead being
  dialled finishes its call) -> ``200 {"phone", "withdrawn", "was"}``;
* ``GET /v1/campaigns/{name}/next?n=10``: the next leads in the claim's order and why
  (``campaign explain``'s JSON).

Bad input answers ``400`` naming the field (a bad phone, an unknown field, a deadline in the
past or unparseable, a priority that is no integer), ``413`` a body over
:data:`MAX_LEADS_BODY`, ``404`` an unknown campaign or lead; each is logged and counted
(the dialer's ``control_refused{reason="lead_input"}``).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from aiohttp import web

from dialer.campaign.lead_model import CampaignModel
from dialer.campaign.lead_updates import FieldError, LeadUpdate, parse_patch, split_row
from dialer.campaign.leads_csv import parse_leads
from dialer.campaign.model import CampaignError, CampaignSpec, Lead, normalise_phone
from dialer.campaign.store.intel import LeadIntelStore, LeadRow

if TYPE_CHECKING:
    from dialer.campaign.store import CampaignStore
    from dialer.stats import DialerStats
    from dialer.store_calls import StoreCalls

log = logging.getLogger(__name__)

__all__ = ["MAX_LEADS_BODY", "LeadsApi", "explain_next", "leads_with_updates"]

MAX_LEADS_BODY = 4 * 1024 * 1024
MAX_NEXT = 100


class BadInput(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def leads_with_updates(text: str, spec: CampaignSpec, now: float
                       ) -> list[tuple[Lead, LeadUpdate]]:
    """A lead CSV's leads with their deadlines and withdrawal; :class:`FieldError` or
    :class:`CampaignError` for the first bad row (its line named)."""
    parsed = parse_leads(text, default_country=spec.default_country)
    if parsed.errors:
        first = parsed.errors[0]
        raise CampaignError(f"line {first.line}: {first.reason}")
    out = []
    for lead in parsed.leads:
        try:
            custom, update = split_row(dict(lead.custom), now)
        except FieldError as exc:
            raise FieldError(exc.field, f"lead {lead.phone}: {exc.detail}") from None
        out.append((Lead(lead.phone, lead.name, lead.timezone, lead.priority, custom), update))
    return out


def _json_as_csv(items: Any) -> str:
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise CampaignError("the body must be a JSON list of lead objects (or a lead CSV)")
    names: list[str] = []
    for item in items:
        for key, value in item.items():
            if not isinstance(value, str | int | float) or isinstance(value, bool):
                raise FieldError(str(key)[:40], f"must be a string or a number, got {value!r}"[:80])
            if key not in names:
                names.append(key)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=names or ["phone"])
    writer.writeheader()
    writer.writerows(items)
    return out.getvalue()


def explain_next(model: CampaignModel, rows: Sequence[LeadRow], now: float, numbered: bool = True
                 ) -> list[dict[str, Any]]:
    """Why ``rows`` (the next leads, :meth:`LeadIntelStore.next_leads`) are next, as JSON-able
    dicts (numbered by their place in the order)."""
    return [model.explain(row, now, i if numbered else None) for i, row in enumerate(rows, 1)]


class LeadsApi:
    """The routes above, on the campaign service's store (see the module docstring)."""

    def __init__(self, store: CampaignStore, *, exists: Callable[[str], Awaitable[bool]],
                 calls: StoreCalls, stats: DialerStats,
                 running_model: Callable[[str], CampaignModel | None]) -> None:
        """``exists``: whether the service has the campaign; ``running_model``: the model of
        the campaign's running runner (``None`` when it does not run here)."""
        self.store = store
        self.intel = LeadIntelStore(store._database)
        self._exists = exists
        self._calls = calls
        self._stats = stats
        self._running_model = running_model

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/campaigns/{name}/leads", self._wrap(self._add))
        app.router.add_patch("/v1/campaigns/{name}/leads/{phone}", self._wrap(self._patch))
        app.router.add_delete("/v1/campaigns/{name}/leads/{phone}", self._wrap(self._delete))
        app.router.add_get("/v1/campaigns/{name}/next", self._wrap(self._next))

    def _wrap(self, handler: Callable[[web.Request, CampaignSpec], Awaitable[web.Response]]
              ) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def route(request: web.Request) -> web.Response:
            name = request.match_info["name"]
            try:
                if not await self._exists(name):
                    raise BadInput(404, f"no campaign named {name!r}")
                spec = await self._run(self.store.campaign, name)
                return await handler(request, spec)
            except (BadInput, FieldError, CampaignError) as exc:
                status = exc.status if isinstance(exc, BadInput) else 400
                self._stats.refused("lead_input")
                log.warning("campaign %s: lead API %s %s refused (%d): %s", name,
                            request.method, request.path, status, exc)
                return web.json_response({"error": str(exc)}, status=status)
        return route

    async def _run(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await self._calls.run(fn, *args)

    async def _read(self, request: web.Request) -> bytes:
        raw = bytearray()
        while chunk := await request.content.read(MAX_LEADS_BODY + 1 - len(raw)):
            raw += chunk
            if len(raw) > MAX_LEADS_BODY:
                raise BadInput(413, f"body too large (at most {MAX_LEADS_BODY} bytes)")
        return bytes(raw)

    def _phone(self, request: web.Request, spec: CampaignSpec) -> str:
        try:
            return normalise_phone(request.match_info["phone"], spec.default_country)
        except CampaignError as exc:
            raise FieldError("phone", str(exc)) from None

    async def _add(self, request: web.Request, spec: CampaignSpec) -> web.Response:
        raw = await self._read(request)
        try:
            text = raw.decode()
        except UnicodeDecodeError:
            raise CampaignError("the body must be UTF-8") from None
        now = time.time()
        if request.content_type != "text/csv":
            try:
                text = _json_as_csv(json.loads(text))
            except json.JSONDecodeError as exc:
                raise CampaignError(f"not JSON (send text/csv for a CSV): {exc}") from None
        rows = leads_with_updates(text, spec, now)
        done = await self._run(self.intel.upsert, spec.name, rows, now)
        log.info("campaign %s: %d leads added, %d updated, %d withdrawn through the lead API",
                 spec.name, done.added, done.updated, done.withdrawn)
        return web.json_response({"added": done.added, "updated": done.updated,
                                  "withdrawn": done.withdrawn})

    async def _patch(self, request: web.Request, spec: CampaignSpec) -> web.Response:
        phone = self._phone(request, spec)
        try:
            body = json.loads(await self._read(request))
        except ValueError as exc:
            raise CampaignError(f"not JSON: {exc}") from None
        if not isinstance(body, dict) or not body:
            raise CampaignError("the body must be a JSON object of the fields to change")
        update = parse_patch(body, time.time())
        if not await self._run(self.intel.patch, spec.name, phone, update, time.time()):
            raise BadInput(404, f"no lead {phone} in campaign {spec.name!r}")
        log.info("campaign %s: lead %s updated through the lead API (%s)", spec.name, phone,
                 ", ".join(update.fields))
        return web.json_response({"phone": phone, "updated": list(update.fields)})

    async def _delete(self, request: web.Request, spec: CampaignSpec) -> web.Response:
        phone = self._phone(request, spec)
        was = await self._run(self.intel.withdraw, spec.name, phone)
        if was is None:
            raise BadInput(404, f"no lead {phone} in campaign {spec.name!r}")
        log.info("campaign %s: lead %s withdrawn through the lead API (was %s)", spec.name,
                 phone, was)
        return web.json_response({"phone": phone, "withdrawn": True, "was": was})

    async def _next(self, request: web.Request, spec: CampaignSpec) -> web.Response:
        text = request.query.get("n", "10")
        if not text.isdigit() or not 1 <= int(text) <= MAX_NEXT:
            raise FieldError("n", f"must be an integer within 1..{MAX_NEXT}")
        model = self._running_model(spec.name)
        if model is None:
            model = CampaignModel.from_json(
                spec, await self._run(self.intel.load_model, spec.name))
        now = time.time()
        rows = await self._run(self.intel.next_leads, spec.name, now, int(text))
        leads = explain_next(model, rows, now)  # on the loop: the runner's model is live
        return web.json_response({"name": spec.name, "next": leads})
