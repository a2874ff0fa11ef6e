"""The dashboard's report pages (supervisors): ``/ui/reports`` (the campaigns, each with its
two reports), ``/ui/reports/{campaign}`` (the campaign report), ``/ui/reports/{campaign}/agents``
(the agent report), and their downloads ``/ui/api/reports/{campaign}/{campaign|agents}.
{csv|jsonl|html}`` (:func:`dialer.reports.render.render`, the files ``voxgate report`` writes).

The figures are :func:`dialer.reports.load.report_of`'s, computed on the campaign store's
worker thread; tables and the reports' charts as inline SVG (the self-contained HTML report's
:func:`~dialer.reports.html.svg_bars`: nothing fetched, no script)."""

from __future__ import annotations

import html
from types import MethodType
from urllib.parse import quote

from aiohttp import web

from dialer.campaign.model import CampaignError
from dialer.reports.html import svg_bars
from dialer.reports.load import report_of
from dialer.reports.model import Report, cell_text
from dialer.reports.render import render
from dialer.web.context import CONTEXT, UiContext, session_of
from dialer.web.pages import page

__all__ = ["add_routes", "report_body"]

DOWNLOADS = ("csv", "jsonl", "html")
_TYPES = {"csv": "text/csv", "jsonl": "application/x-ndjson", "html": "text/html"}


def _e(value: object) -> str:
    return html.escape(str(value))


def _href(campaign: str, kind: str) -> str:
    base = f"/ui/reports/{quote(campaign, safe='')}"
    return base if kind == "campaign" else f"{base}/agents"


def report_body(report: Report) -> str:
    """A report's page body: the other report's link, the downloads, charts, tables."""
    name = report.campaign
    other = "agents" if report.kind == "campaign" else "campaign"
    parts = [f'<p class="downloads"><a href="{_e(_href(name, other))}">{other} report</a> '
             + " ".join(
                 f'<a download href="/ui/api/reports/{_e(quote(name, safe=""))}/'
                 f'{report.kind}.{fmt}">{fmt}</a>' for fmt in DOWNLOADS) + "</p>"]
    for chart in report.charts:
        parts.append(f'<figure class="chart"><figcaption>{_e(chart.title)}</figcaption>'
                     f"{svg_bars(chart)}</figure>")
    for table in report.tables:
        head = "".join(f"<th>{_e(c)}</th>" for c in table.columns)
        rows = "".join("<tr>" + "".join(f"<td>{_e(cell_text(c))}</td>" for c in row) + "</tr>"
                       for row in table.rows) or (
            f'<tr><td colspan="{len(table.columns)}">no row</td></tr>')
        notes = "".join(f'<p class="muted">{_e(n)}</p>' for n in table.notes)
        parts.append(f'<h2>{_e(table.title)}</h2><table class="figures" '
                     f'id="{_e(table.name)}"><thead><tr>{head}</tr></thead><tbody>{rows}'
                     f"</tbody></table>{notes}")
    return '<div class="report">' + "\n".join(parts) + "</div>"


async def _report(ctx: UiContext, kind: str, campaign: str) -> Report:
    service = ctx.campaigns
    if service is None:
        raise web.HTTPNotFound(text="this dialer runs no campaign service")
    try:
        return await ctx.dialer.calls.run(MethodType(report_of, service.store), kind, campaign)
    except CampaignError as exc:
        raise web.HTTPNotFound(text=str(exc)) from None


async def index(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    names = ([] if ctx.campaigns is None
             else await ctx.dialer.calls.run(ctx.campaigns.store.campaigns))
    rows = "".join(f'<li><a href="{_e(_href(n, "campaign"))}">{_e(n)}</a> · '
                   f'<a href="{_e(_href(n, "agents"))}">agents</a></li>' for n in names)
    body = f'<ul id="reports">{rows}</ul>' if rows else "<p>no campaign yet</p>"
    return web.Response(text=page("reports", "Reports", session_of(request), body_html=body),
                        content_type="text/html")


async def _page(request: web.Request, kind: str) -> web.Response:
    ctx = request.app[CONTEXT]
    campaign = request.match_info["campaign"]
    report = await _report(ctx, kind, campaign)
    title = f"{'Campaign' if kind == 'campaign' else 'Agent'} report: {campaign}"
    return web.Response(text=page("reports", title, session_of(request),
                                  body_html=report_body(report)), content_type="text/html")


async def campaign_page(request: web.Request) -> web.Response:
    return await _page(request, "campaign")


async def agents_page(request: web.Request) -> web.Response:
    return await _page(request, "agents")


async def download(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    campaign, kind, fmt = (request.match_info[k] for k in ("campaign", "kind", "fmt"))
    text = render(await _report(ctx, kind, campaign), fmt)
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in campaign)
    return web.Response(text=text, content_type=_TYPES[fmt], headers={
        "Content-Disposition": f'attachment; filename="{safe}-{kind}.{fmt}"'})


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/reports", index)
    r.add_get("/reports/{campaign}", campaign_page)
    r.add_get("/reports/{campaign}/agents", agents_page)
    r.add_get("/api/reports/{campaign}/{kind:campaign|agents}.{fmt:csv|jsonl|html}", download)
