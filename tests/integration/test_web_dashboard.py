"""The dashboard's access control, sessions, CSRF, throttling, roles, controls and live feed
(issue 18), over real sockets: the control API server of ``voxgate dialer run`` with the
dashboard mounted at ``/ui/`` beside the campaign routes, on a dialer (not started: no call is
placed) with a stored campaign and two agents. Before, ``/ui/`` did not exist (the control
API's bearer token answered 401)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import stat
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from web_helpers import PASSWORD, log_in, login_form_token, page_csrf, write_users

from dialer.agents import AgentState
from dialer.campaign.model import AgentSpec, CampaignSpec, Lead, Limits
from dialer.campaign.runner import CampaignRunner
from dialer.campaign.service_api import CampaignService
from dialer.config import DialerConfig
from dialer.control_api import ControlApiServer
from dialer.service import Dialer
from dialer.web.app import with_ui
from dialer.web.context import UiSettings

TOKEN = "web-dashboard-test-token-0123456789"


@dataclass
class Site:
    base: str
    dialer: Dialer
    campaigns: CampaignService
    audit: Path
    api: ControlApiServer


@asynccontextmanager
async def site(tmp_path: Path, behind_tls: bool = False) -> AsyncIterator[Site]:
    dialer = Dialer(DialerConfig(api_base="http://127.0.0.1:9", account_sid="ACweb",
                                 db_path=str(tmp_path / "d.db")))
    dialer.pool.add("a1", "+919800000001")
    dialer.pool.add("a2", "+919800000002")
    campaigns = CampaignService(dialer, str(tmp_path / "d.db"))
    spec = CampaignSpec("c1", mode="agent_first", pacer="predictive", retry={},
                        limits=Limits(max_lines=4, abandon_target=0.03),
                        agents=(AgentSpec("a1", "+919800000001"),))
    campaigns.store.create_campaign(spec, time.time())
    campaigns.store.add_leads("c1", [Lead("+919900000001")], time.time())
    users = write_users(tmp_path / "users.json", {"ann": "a1"})
    settings = UiSettings(users=users, behind_tls=behind_tls, audit=tmp_path / "audit.jsonl")
    try:
        async with ControlApiServer(dialer, dialer=dialer, token=TOKEN,
                                    routes=with_ui(dialer, campaigns, settings,
                                                   campaigns.add_routes)) as api:
            yield Site(api.url, dialer, campaigns, tmp_path / "audit.jsonl", api)
    finally:
        campaigns.store.close()
        campaigns.started.close()


def client() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))  # 127.0.0.1 cookies


async def test_nothing_without_a_session_but_the_login_page(tmp_path: Path) -> None:
    async with site(tmp_path) as st, client() as s:
        async with s.get(f"{st.base}/ui/campaigns", allow_redirects=False) as r:
            assert r.status == 302 and r.headers["Location"].startswith("/ui/login")
        for path in ("/ui/api/snapshot", "/ui/api/live", "/ui/api/audit"):
            async with s.get(f"{st.base}{path}") as r:
                assert r.status == 401, path
        async with s.post(f"{st.base}/ui/api/campaigns/c1/pause") as r:
            assert r.status == 401
        async with s.get(f"{st.base}/ui/login") as r:
            assert r.status == 200 and "Log in" in await r.text()
            assert r.headers["X-Frame-Options"] == "DENY"
        async with s.get(f"{st.base}/ui/static/vendor/uplot/uPlot.iife.min.js") as r:
            assert r.status == 200  # shipped in the package, no CDN
        async with s.get(f"{st.base}/v1/campaigns/c1") as r:
            assert r.status == 401  # the control API keeps its bearer token
        async with s.get(f"{st.base}/v1/health") as r:
            assert r.status == 200
        assert st.campaigns.store.status("c1") == "running"


async def test_login_sets_a_strict_http_only_cookie_and_logout_ends_it(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with site(tmp_path) as st, client() as s:
        r = await log_in(s, st.base, "sup", "wrong password")
        assert r.status == 401
        r = await log_in(s, st.base, "sup")
        assert r.status == 302 and r.headers["Location"] == "/ui/"
        cookie = r.cookies["vx_session"]
        assert cookie["httponly"] and cookie["samesite"] == "Strict" and not cookie["secure"]
        assert len(cookie.value) >= 40
        csrf = await page_csrf(s, f"{st.base}/ui/campaigns")
        async with s.get(f"{st.base}/ui/api/snapshot") as r:
            snap = await r.json()
        assert [c["name"] for c in snap["campaigns"]] == ["c1"]
        assert snap["campaigns"][0]["cap"] == 0.03
        assert {a["id"]: a["state"] for a in snap["agents"]} == {"a1": "ready", "a2": "ready"}
        async with s.post(f"{st.base}/ui/logout", data={"csrf": csrf},
                          allow_redirects=False) as r:
            assert r.status == 302
        async with s.get(f"{st.base}/ui/api/snapshot") as r:
            assert r.status == 401
    assert "sup" in caplog.text  # who logged in is logged; no secret is
    assert PASSWORD not in caplog.text and cookie.value not in caplog.text
    assert csrf not in caplog.text


async def test_cookies_are_secure_behind_tls(tmp_path: Path) -> None:
    async with site(tmp_path, behind_tls=True) as st, client() as s:
        token = await login_form_token(s, st.base)  # its cookie is Secure too: sent by hand
        async with s.post(f"{st.base}/ui/login", allow_redirects=False,
                          headers={"Cookie": f"vx_login={token}"},
                          data={"user": "sup", "password": PASSWORD, "csrf": token}) as r:
            assert r.status == 302 and r.cookies["vx_session"]["secure"]


async def test_a_login_form_without_its_token_is_refused(tmp_path: Path) -> None:
    async with site(tmp_path) as st, client() as s:
        await login_form_token(s, st.base)
        async with s.post(f"{st.base}/ui/login", allow_redirects=False,
                          data={"user": "sup", "password": PASSWORD, "csrf": "forged"}) as r:
            assert r.status == 403
        assert "vx_session" not in {c.key for c in s.cookie_jar}


async def test_state_changes_want_the_csrf_token_and_are_audited(tmp_path: Path) -> None:
    async with site(tmp_path) as st, client() as s:
        await log_in(s, st.base, "sup")
        csrf = await page_csrf(s, f"{st.base}/ui/campaigns")
        for headers in ({}, {"X-CSRF-Token": "forged"}):
            async with s.post(f"{st.base}/ui/api/campaigns/c1/pause", headers=headers) as r:
                assert r.status == 403
        assert st.campaigns.store.status("c1") == "running"
        async with s.post(f"{st.base}/ui/api/campaigns/c1/pause",
                          headers={"X-CSRF-Token": csrf}) as r:
            assert r.status == 200
        assert st.campaigns.store.status("c1") == "paused"
        async with s.post(f"{st.base}/ui/api/campaigns/c1/resume",
                          headers={"X-CSRF-Token": csrf}) as r:
            assert r.status == 200
        assert st.campaigns.store.status("c1") == "running"
        async with s.post(f"{st.base}/ui/api/campaigns/nope/pause",
                          headers={"X-CSRF-Token": csrf}) as r:
            assert r.status == 404
        async with s.get(f"{st.base}/ui/api/audit") as r:
            entries = (await r.json())["entries"]
        assert [(e["user"], e["action"], e["target"], e["before"], e["after"])
                for e in entries] == [("sup", "resume", "c1", "paused", "running"),
                                      ("sup", "pause", "c1", "running", "paused")]
        async with s.get(f"{st.base}/ui/audit") as r:
            assert "resume" in await r.text()
    lines = [json.loads(line) for line in st.audit.read_text().splitlines()]
    assert [line["action"] for line in lines] == ["pause", "resume"]
    assert stat.S_IMODE(os.stat(st.audit).st_mode) == 0o600


async def test_failed_logins_are_throttled_per_user(tmp_path: Path) -> None:
    async with site(tmp_path) as st, client() as s:
        for _ in range(5):
            assert (await log_in(s, st.base, "sup", "guess guess")).status == 401
        r = await log_in(s, st.base, "sup")  # the right password, while locked
        assert r.status == 429 and "vx_session" not in r.cookies
        async with s.get(f"{st.base}/metrics",
                         headers={"Authorization": f"Bearer {TOKEN}"}) as r:
            metrics = await r.text()
        assert 'control_refused_total{reason="ui_login_failed"} 5' in metrics
        assert 'control_refused_total{reason="ui_throttled"} 1' in metrics


async def test_an_agent_sees_only_its_own_desk(tmp_path: Path) -> None:
    async with site(tmp_path) as st, client() as s:
        r = await log_in(s, st.base, "ann")
        assert r.status == 302 and r.headers["Location"] == "/ui/desk/a1"
        csrf = await page_csrf(s, f"{st.base}/ui/desk/a1")
        for path in ("/ui/campaigns", "/ui/agents", "/ui/audit", "/ui/desk/a2",
                     "/ui/api/snapshot", "/ui/api/audit"):
            async with s.get(f"{st.base}{path}") as r:
                assert r.status == 403, path
        for path in ("/ui/api/campaigns/c1/pause", "/ui/api/agents/a2/logout"):
            async with s.post(f"{st.base}{path}", headers={"X-CSRF-Token": csrf}) as r:
                assert r.status == 403, path
        assert st.campaigns.store.status("c1") == "running"
        async with s.get(f"{st.base}/ui/api/live") as r:
            first = await anext_event(r)
        assert [a["id"] for a in first["agents"]] == ["a1"] and first["campaigns"] == []


async def anext_event(response: aiohttp.ClientResponse) -> dict[str, Any]:
    """The next ``data:`` event of a server-sent event stream."""
    while True:
        line = (await asyncio.wait_for(response.content.readline(), 10)).decode()
        if line.startswith("data: "):
            event: dict[str, Any] = json.loads(line[6:])
            return event


async def test_the_live_feed_shows_a_control_and_an_agent_logout(tmp_path: Path) -> None:
    async with site(tmp_path) as st, client() as s:
        await log_in(s, st.base, "sup")
        csrf = await page_csrf(s, f"{st.base}/ui/agents")
        async with s.get(f"{st.base}/ui/api/live") as live:
            assert live.headers["Content-Type"].startswith("text/event-stream")
            first = await anext_event(live)
            assert first["campaigns"][0]["status"] == "running"
            async with s.post(f"{st.base}/ui/api/agents/a2/logout",
                              headers={"X-CSRF-Token": csrf}) as r:
                assert r.status == 200
            async with s.post(f"{st.base}/ui/api/campaigns/c1/pause",
                              headers={"X-CSRF-Token": csrf}) as r:
                assert r.status == 200
            while True:  # the next change shows both
                snap = await anext_event(live)
                agents = {a["id"]: a["state"] for a in snap["agents"]}
                if snap["campaigns"][0]["status"] == "paused" and agents["a2"] == "offline":
                    break
    assert st.dialer.pool.get("a2").state is AgentState.OFFLINE
    assert st.dialer.pool.acquire((), call_id="x") is st.dialer.pool.get("a1")  # a2 not offered


async def test_the_dial_aim_stays_within_the_legal_cap(tmp_path: Path) -> None:
    async with site(tmp_path) as st, client() as s:
        await log_in(s, st.base, "sup")
        csrf = await page_csrf(s, f"{st.base}/ui/campaigns")
        url = f"{st.base}/ui/api/campaigns/c1/aim"
        async with s.post(url, json={"aim": 0.02}, headers={"X-CSRF-Token": csrf}) as r:
            assert r.status == 409  # not running in this service
        runner = CampaignRunner(st.dialer, st.campaigns.store, "c1")
        idle = asyncio.create_task(asyncio.sleep(0))  # stands for the run's task
        st.campaigns.runs["c1"] = (runner, idle)
        for bad in (0.05, 0, "x", None):
            async with s.post(url, json={"aim": bad}, headers={"X-CSRF-Token": csrf}) as r:
                assert r.status == 400, bad
                assert "aim" in (await r.json())["error"]
        async with s.post(url, json={"aim": 0.025}, headers={"X-CSRF-Token": csrf}) as r:
            assert r.status == 200 and (await r.json())["before"] == 0.02
        assert runner.pacer.control.aim == 0.025  # type: ignore[attr-defined]
        async with s.get(f"{st.base}/ui/api/snapshot") as r:
            assert (await r.json())["campaigns"][0]["aim"] == 0.025
        st.campaigns.runs.clear()


async def test_a_live_feed_ends_when_the_server_stops(tmp_path: Path) -> None:
    """The SSE response never ends by itself: the server's shutdown ends it (before, a viewer
    held a stopping dialer service for aiohttp's whole shutdown timeout, 60 s)."""
    async with site(tmp_path) as st, client() as s:
        await log_in(s, st.base, "sup")
        async with s.get(f"{st.base}/ui/api/live") as live:
            await anext_event(live)
            stopping = asyncio.create_task(st.api.stop())
            rest = await live.content.read()  # returns at the end of the stream
            await stopping
    assert b"data:" not in rest or rest.endswith(b"\n\n")


async def test_the_shift_is_kept_for_the_charts_with_no_viewer(tmp_path: Path) -> None:
    async with site(tmp_path) as st, client() as s:
        await log_in(s, st.base, "sup")
        async with s.get(f"{st.base}/ui/api/history") as r:
            history = await r.json()
    fields = history["fields"]
    point = history["campaigns"]["c1"][0]  # taken at start, before anyone asked
    assert dict(zip(fields, point, strict=True))["done"] == 0.0 and "in_flight" in fields
