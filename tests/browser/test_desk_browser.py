"""The agent desk in a real headless Chromium (issue 18), on ``voxgate dialer run`` with its
embedded emulator (the service of :mod:`test_dashboard_browser`, with customers who stay on
the line until an agent takes them and then talk 5 s). An agent-first campaign of two named
leads and one agent ``a1`` is created paused and started (the agent joins the pool, nothing
is dialled); agent ``ann`` logs in to a1's desk, then the campaign resumes. The first call is
bridged to a1: the desk shows the lead's name, number and plan at once. After the call the
agent stays in wrap-up (the desk holds it: the campaign has no wrap-up of its own), sets a
disposition with notes and clicks ready: the pacer sees a1 ready (the supervisor's live
snapshot says ``ready`` and the progressive pacer dials the second lead, bridged to a1 and
shown on the desk), and the disposition is in the campaign database with a1's id. Screenshots
of the desk during the call and after go to ``artifacts/screenshots/``."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import aiohttp
import pytest
import test_dashboard_browser
from test_dashboard_browser import (
    AGENTS,
    CHROMIUM,
    FLAGS,
    SHOTS,
    control,
    dialer_service,
    playwright_api,
    pytestmark,  # noqa: F401  (skipped where Chromium is missing)
)
from web_helpers import PASSWORD, log_in

WORLD = ("[latency]\nrest_ms = 5\nevent_ms = 5\nsetup_ms = 20\n"
         '[customers.default]\noutcome = "answer"\nring_ms = 300\n'
         'script = ["wait 30000", "hangup"]\nbridge_script = ["wait 5000", "hangup"]\n'
         f'[agents."{AGENTS[0]}"]\nanswer_ms = 100\n')
CAMPAIGN = f"""
name = "desk"
mode = "agent_first"
pacer = "progressive"
amd = false
dispositions = ["sale", "callback", "not_interested"]
[window]
start = "00:00"
end = "24:00"
[limits]
max_attempts = 1
max_lines = 1
[[agents]]
id = "a1"
number = "{AGENTS[0]}"
"""
LEADS = "phone,name,plan\n+919900000201,Asha Rao,gold\n+919900000202,Ravi Iyer,silver\n"


async def test_an_agent_takes_a_call_disposes_it_and_is_ready(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    monkeypatch.setattr(test_dashboard_browser, "WORLD", WORLD)
    jar = aiohttp.CookieJar(unsafe=True)
    async with dialer_service(tmp_path) as base, aiohttp.ClientSession() as api, \
            aiohttp.ClientSession(cookie_jar=jar) as sup, \
            playwright_api.async_playwright() as pw:
        await control(api, "POST", f"{base}/v1/campaigns", {"campaign": CAMPAIGN, "leads": LEADS})
        await control(api, "POST", f"{base}/v1/campaigns/desk/pause")
        await control(api, "POST", f"{base}/v1/campaigns/desk/start")  # a1 joins the pool
        await log_in(sup, base, "sup")
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            page = await browser.new_page(viewport={"width": 1200, "height": 900})
            for _ in range(100):  # the run adds its agents as it starts
                await page.goto(f"{base}/ui/login")
                await page.fill("#user", "ann")
                await page.fill("#password", PASSWORD)
                await page.click("#login")
                await page.wait_for_url(f"{base}/ui/desk/a1")
                if await page.locator("#desk").count():
                    break
                await page.wait_for_timeout(200)
            state = page.locator("#desk-state")
            await page.wait_for_function(
                "() => document.getElementById('desk-state').textContent === 'ready'")
            await control(api, "POST", f"{base}/v1/campaigns/desk/resume")

            # the call is bridged to a1: its lead appears on the desk
            await page.wait_for_function(
                "() => document.getElementById('desk-state').textContent === 'talking'"
                " && !document.getElementById('call-panel').hidden", timeout=30_000)
            lead = page.locator("#lead tbody")
            assert await lead.locator('td[data-key="name"]').text_content() == "Asha Rao"
            assert await lead.locator('td[data-key="number"]').text_content() == "+919900000201"
            assert await lead.locator('td[data-key="plan"]').text_content() == "gold"
            await page.screenshot(path=str(SHOTS / "desk-call.png"), full_page=True)

            # after the call: wrap-up held by the desk until disposition + ready
            await page.wait_for_function(
                "() => document.getElementById('desk-state').textContent === 'wrap_up'",
                timeout=30_000)
            call_id = (await page.locator("#disposition-call").text_content() or "").strip()
            assert call_id
            await page.select_option("#code", "callback")
            await page.fill("#notes", "call back after 6 pm")
            await page.click("#save-disposition")
            await page.wait_for_function(
                "() => document.getElementById('saved').textContent === 'saved: callback'")
            assert await state.text_content() == "wrap_up"  # saving alone does not free it
            await page.screenshot(path=str(SHOTS / "desk-after.png"), full_page=True)
            await page.click("#ready")

            # the pacer saw a1 ready: it dials the second lead, bridged to a1
            await page.wait_for_function(
                "() => document.querySelector('#lead td[data-key=\"name\"]')"
                "?.textContent === 'Ravi Iyer'", timeout=30_000)
            async with asyncio.timeout(10):  # the snapshot is cached up to a second
                while True:
                    async with sup.get(f"{base}/ui/api/snapshot") as r:
                        snap = await r.json()
                    a1 = next(a for a in snap["agents"] if a["id"] == "a1")
                    if a1["state"] != "wrap_up":
                        break
                    await asyncio.sleep(0.2)
            assert a1["calls"] >= 1 and a1["state"] in ("ready", "ringing", "talking")
        finally:
            await browser.close()
    with sqlite3.connect(tmp_path / "service.db") as db:
        rows = db.execute("SELECT call_id, campaign, agent_id, code, notes "
                          "FROM agent_dispositions").fetchall()
    assert rows == [(call_id, "desk", "a1", "callback", "call back after 6 pm")]
    audit = (tmp_path / "audit.jsonl")
    if audit.exists():
        assert '"disposition"' in audit.read_text()
