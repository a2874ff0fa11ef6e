"""The agent desk in a real headless Chromium (issue 18), on ``voxgate dialer run`` with its
embedded emulator (the service of :mod:`test_dashboard_browser`). A campaign of two named leads
and one agent ``a1`` is created paused and started (the agent joins the pool, nothing is
dialled); agent ``ann`` logs in to a1's desk, then the campaign resumes. The first call is
bridged to a1: the desk shows the lead's name, number and plan at once. After the call the
agent stays in wrap-up (the desk holds it: the campaign has no wrap-up of its own), sets a
disposition with notes and clicks ready: the pacer sees a1 ready (the supervisor's live
snapshot says so, and the second lead's call is bridged to a1 and shown on the desk), and the
disposition is in the campaign database with a1's id.

Two campaigns: bot-first (issue 18's must-show, an *escalated* call), where a separate
``voxgate gateway`` process (``--control-url`` at the service's control API, escalation on
DTMF 0) serves the streams and each customer presses 0 once the bot is heard, so the call is
escalated and bridged to a1, and the desk shows that too (escalated, reason ``dtmf``); and
agent-first, where the progressive pacer dials for a1 and the call goes straight to it.
Screenshots of the desk during the call and after go to ``artifacts/screenshots/``."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import test_dashboard_browser
from test_dashboard_browser import (
    AGENTS,
    CHROMIUM,
    FLAGS,
    SHOTS,
    TOKEN,
    control,
    dialer_service,
    free_port,
    playwright_api,
    pytestmark,  # noqa: F401  (skipped where Chromium is missing)
)
from test_dialer_processes import process
from web_helpers import PASSWORD, log_in

AGENT_FIRST_WORLD = ("[latency]\nrest_ms = 5\nevent_ms = 5\nsetup_ms = 20\n"
                     '[customers.default]\noutcome = "answer"\nring_ms = 300\n'
                     'script = ["wait 30000", "hangup"]\nbridge_script = ["wait 5000", "hangup"]\n'
                     f'[agents."{AGENTS[0]}"]\nanswer_ms = 100\n')
BOT_FIRST_WORLD = ("[latency]\nrest_ms = 5\nevent_ms = 5\nsetup_ms = 20\n"
                   '[customers.default]\noutcome = "answer"\nring_ms = 300\n'
                   # 0: a human, once the bot is there
                   'script = ["pause 300", "streaming 100", "dtmf 0", "wait 30000", "hangup"]\n'
                   'bridge_script = ["wait 4000", "hangup"]\n'
                   f'[agents."{AGENTS[0]}"]\nanswer_ms = 100\n')
CAMPAIGN = """
name = "desk"
{how}
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
number = "{number}"
"""
AGENT_FIRST = 'mode = "agent_first"\npacer = "progressive"'
BOT_FIRST = 'mode = "bot_first"\npacer = "bot_first"\nbot = "echo"'
LEADS = "phone,name,plan\n+919900000201,Asha Rao,gold\n+919900000202,Ravi Iyer,silver\n"


@contextlib.asynccontextmanager
async def escalating_gateway(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[None]:
    """``voxgate gateway`` (escalation on DTMF 0, its control requests to the control API of
    the dialer service started next, on a port chosen here) and the service's stream URL set
    to it."""
    port = free_port()
    monkeypatch.setattr(test_dashboard_browser, "free_port", lambda: port)
    async with process("gateway", "--port", "0", "--control-url", f"http://127.0.0.1:{port}",
                       "--escalation-dtmf", "0", ready="gateway listening on",
                       env={"VOXGATE_CONTROL_TOKEN": TOKEN}) as line:
        gateway = int(line.rsplit(":", 1)[-1].split("/")[0])
        monkeypatch.setenv("VOXGATE_STREAM_URL", f"ws://127.0.0.1:{gateway}")
        yield


@pytest.mark.slow(15)
async def test_an_agent_takes_an_escalated_call_disposes_it_and_is_ready(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(test_dashboard_browser, "WORLD", BOT_FIRST_WORLD)
    async with escalating_gateway(monkeypatch):
        await take_dispose_ready(tmp_path, BOT_FIRST, "desk-escalated")


@pytest.mark.slow(20)
async def test_an_agent_takes_a_call_disposes_it_and_is_ready(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(test_dashboard_browser, "WORLD", AGENT_FIRST_WORLD)
    await take_dispose_ready(tmp_path, AGENT_FIRST, "desk")


async def take_dispose_ready(tmp_path: Path, how: str, shots: str) -> None:
    """The desk's whole round on a campaign dialled as ``how`` says (its mode, pacer and bot);
    screenshots ``{shots}-call.png`` and ``{shots}-after.png``."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    escalated = "bot_first" in how
    campaign = CAMPAIGN.format(how=how, number=AGENTS[0])
    jar = aiohttp.CookieJar(unsafe=True)
    async with dialer_service(tmp_path) as base, aiohttp.ClientSession() as api, \
            aiohttp.ClientSession(cookie_jar=jar) as sup, \
            playwright_api.async_playwright() as pw:
        await control(api, "POST", f"{base}/v1/campaigns", {"campaign": campaign, "leads": LEADS})
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

            # the call is bridged to a1: its lead (and, bot-first, its escalation) on the desk
            await page.wait_for_function(
                "() => document.getElementById('desk-state').textContent === 'talking'"
                " && !document.getElementById('call-panel').hidden", timeout=30_000)
            lead = page.locator("#lead tbody")
            assert await lead.locator('td[data-key="name"]').text_content() == "Asha Rao"
            assert await lead.locator('td[data-key="number"]').text_content() == "+919900000201"
            assert await lead.locator('td[data-key="plan"]').text_content() == "gold"
            bot = page.locator("#bot tbody")
            assert await bot.locator('td[data-key="escalated"]').text_content() == (
                "yes" if escalated else "no")
            assert await bot.locator('td[data-key="escalation reason"]').text_content() == (
                "dtmf" if escalated else "")
            await page.screenshot(path=str(SHOTS / f"{shots}-call.png"), full_page=True)

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
            await page.screenshot(path=str(SHOTS / f"{shots}-after.png"), full_page=True)
            await page.click("#ready")

            # the pacer saw a1 ready: the second lead's call is bridged to a1
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
