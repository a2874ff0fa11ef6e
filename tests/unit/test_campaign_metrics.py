"""A running campaign's figures as Prometheus text, and the metrics server that serves them."""

from __future__ import annotations

import aiohttp

from dialer.campaign.metrics import render_campaign_metrics
from dialer.campaign.progress import CampaignSnapshot
from dialer.metrics import MetricsServer


def snapshot(**changes: object) -> CampaignSnapshot:
    values: dict[str, object] = dict(
        campaign="renewals", status="running", elapsed_s=60.0, leads=30, done=12, pending=15,
        in_flight=3, attempts=20, answered=14, escalated=4, bridged=3, abandoned=1,
        abandon_rate_24h=0.0714, abandon_rate_30d=0.05, occupancy=0.8125,
        agents={"idle": 1, "talking": 2}, due_now=5, next_due_at=1_790_000_000.0,
    )
    values.update(changes)
    return CampaignSnapshot(**values)  # type: ignore[arg-type]


def samples(text: str) -> dict[str, str]:
    return dict(line.rsplit(" ", 1) for line in text.splitlines() if not line.startswith("#"))


def test_every_figure_is_a_labelled_gauge() -> None:
    text = render_campaign_metrics(snapshot())
    got = samples(text)
    assert got['voxgate_campaign_leads{campaign="renewals"}'] == "30"
    assert got['voxgate_campaign_leads_due_now{campaign="renewals"}'] == "5"
    assert got['voxgate_campaign_leads_waiting{campaign="renewals"}'] == "10"
    assert got['voxgate_campaign_abandon_rate_24h{campaign="renewals"}'] == "0.071400"
    assert got['voxgate_campaign_agent_occupancy{campaign="renewals"}'] == "0.812500"
    assert got['voxgate_campaign_agents{campaign="renewals",state="talking"}'] == "2"
    assert got['voxgate_campaign_status{campaign="renewals",status="running"}'] == "1"
    assert got['voxgate_campaign_status{campaign="renewals",status="paused"}'] == "0"
    families = {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE")}
    assert {key.split("{")[0] for key in got} <= families
    assert all(line.endswith(" gauge") for line in text.splitlines() if line.startswith("# TYPE"))


def test_unknown_split_and_no_waiting_lead_leave_their_gauges_out() -> None:
    got = samples(render_campaign_metrics(snapshot(due_now=None, next_due_at=None)))
    assert not any(name in k for k in got for name in ("due_now", "leads_waiting", "next_due"))


async def test_metrics_server_joins_its_renderers() -> None:
    parts = ["a_total 1\n", "b 2\n"]
    async with MetricsServer([lambda: parts[0], lambda: parts[1]]) as server, \
            aiohttp.ClientSession() as http:
        async with http.get(server.url) as reply:
            assert reply.status == 200
            assert reply.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            assert await reply.text() == "a_total 1\nb 2\n"
        parts[1] = "b 3\n"  # rendered per scrape
        async with http.get(server.url) as reply:
            assert (await reply.text()).endswith("b 3\n")
        async with http.get(server.url.replace("/metrics", "/other")) as reply:
            assert reply.status == 404


def test_customers_waiting_for_an_agent_are_shown_and_served() -> None:
    from dialer.campaign.progress import one_line, render

    waiting = snapshot(waiting_for_agent=2, longest_wait_s=14.2)
    got = samples(render_campaign_metrics(waiting))
    assert got['voxgate_campaign_waiting_for_agent{campaign="renewals"}'] == "2"
    assert got['voxgate_campaign_longest_wait_seconds{campaign="renewals"}'] == "14.200000"
    assert one_line(waiting).endswith("waiting for an agent 2 (longest 14s)")
    assert render(waiting)[-1].endswith("waiting for an agent 2 (longest 14s)")
    assert "waiting for an agent" not in one_line(snapshot())
    line = one_line(snapshot())
    assert "bridged 3" in line and "agents idle 1, talking 2" in line


def test_label_values_are_escaped_in_every_renderer() -> None:
    """A campaign named with a quote, a backslash or a newline stays one valid sample line
    (voxgate_shared.prom escapes every label value; the campaign's labels once went out raw)."""
    text = render_campaign_metrics(snapshot(campaign='Q3 "big"\\push\nnew'))
    got = samples(text)
    assert got['voxgate_campaign_leads{campaign="Q3 \\"big\\"\\\\push\\nnew"}'] == "30"
    assert all(line.startswith(("#", "voxgate_campaign_")) for line in text.splitlines())
