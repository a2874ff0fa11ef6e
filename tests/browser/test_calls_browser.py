"""The supervisor's calls and report pages in a real headless Chromium (issue 18), on
``voxgate dialer run`` with its embedded emulator (the service of
:mod:`test_dashboard_browser`): an agent-first campaign of 12 leads runs (each call bridged to
an agent, the bridge recorded); once three calls ended the supervisor opens the calls list
(the calls in flight are refreshed in the page), searches the campaign, opens a call that has
a recording and plays it in the page (the ``<audio>`` element reports time played), and opens
the campaign's report. Screenshots of the calls list, the call page and the report page go to
``artifacts/screenshots/``."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest
from test_dashboard_browser import (
    CAMPAIGN,
    CHROMIUM,
    FLAGS,
    LEADS,
    SHOTS,
    control,
    dialer_service,
    playwright_api,
    pytestmark,  # noqa: F401  (skipped where Chromium is missing)
)
from web_helpers import PASSWORD

AUDIO_FLAGS = [*FLAGS, "--autoplay-policy=no-user-gesture-required", "--mute-audio"]


@pytest.mark.slow(25)
async def test_supervisor_plays_a_calls_recording(tmp_path: Path) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    leads = "phone\n" + "".join(f"{n}\n" for n in LEADS)
    async with dialer_service(tmp_path) as base, aiohttp.ClientSession() as api, \
            playwright_api.async_playwright() as pw:
        await control(api, "POST", f"{base}/v1/campaigns", {"campaign": CAMPAIGN, "leads": leads})
        await control(api, "POST", f"{base}/v1/campaigns/demo/start")
        async with asyncio.timeout(60):  # a few calls ended (each bridged and recorded)
            while int(str((await control(api, "GET", f"{base}/v1/campaigns/demo"))  # noqa: ASYNC110
                          ["done"])) < 3:
                await asyncio.sleep(0.3)
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=AUDIO_FLAGS,
                                           headless=True)
        try:
            page = await browser.new_page(viewport={"width": 1400, "height": 900})
            await page.goto(f"{base}/ui/login?next=/ui/calls")
            await page.fill("#user", "sup")
            await page.fill("#password", PASSWORD)
            await page.click("#login")
            await page.wait_for_url(f"{base}/ui/calls")
            await page.fill('#search input[name="campaign"]', "demo")
            await page.click('#search button[type="submit"]')
            await page.wait_for_url("**/ui/calls?*campaign=demo*")
            # the calls in flight are refreshed in the page (calls.js polls the live list)
            await page.locator("#live-summary[data-updated]").wait_for(timeout=10_000)
            assert "in flight" in str(await page.locator("#live-summary").text_content())
            rows = page.locator("#calls tbody tr[data-call]")
            recorded = rows.filter(has_text="yes").first  # the Recording column
            await recorded.wait_for()
            assert 1 <= await rows.count() <= len(LEADS)
            await page.screenshot(path=str(SHOTS / "calls.png"), full_page=True)

            await recorded.locator("a").click()
            await page.wait_for_url("**/ui/calls/demo-*")
            audio = page.locator("audio#recording")
            await audio.wait_for()
            src = await audio.get_attribute("src")
            assert src is not None and src.startswith("/ui/api/calls/")
            await page.evaluate("() => document.querySelector('audio#recording').play()")
            await page.wait_for_function(
                "() => { const a = document.querySelector('audio#recording');"
                " return a.ended || a.currentTime > 0; }", timeout=15_000)
            await page.screenshot(path=str(SHOTS / "call.png"), full_page=True)

            await page.goto(f"{base}/ui/reports/demo")
            await page.locator("table#funnel").wait_for()
            await page.screenshot(path=str(SHOTS / "report.png"), full_page=True)
        finally:
            await browser.close()
    assert (SHOTS / "call.png").stat().st_size > 0
