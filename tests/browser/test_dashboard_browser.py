"""The supervisor dashboard in a real headless Chromium (issue 18): Debian's ``/usr/bin/chromium``
driven by Playwright for Python (never a downloaded browser; ``make test`` installs chromium
with apt-get when it is missing, and these tests skip, saying why, only where none can be had).

``voxgate dialer run`` on its embedded emulator, with a database, a users file and an
agent-first campaign of 12 leads and two agents created and started through the service's
control API. A supervisor logs in, sees a live figure change (the campaign's progress), pauses
and resumes the campaign (the store's status follows, read back through the control API) and
finds both on the audit page; an agent who logs in lands on its desk and gets 403 on the
supervisor's pages. Screenshots of the main pages go to ``artifacts/screenshots/``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
from web_helpers import PASSWORD, write_users

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "artifacts" / "screenshots"
TOKEN = "browser-test-control-token-0123456789"
AGENTS = ("+919800000071", "+919800000072")
LEADS = [f"+9199000001{i:02d}" for i in range(12)]
WORLD = ("[latency]\nrest_ms = 5\nevent_ms = 5\nsetup_ms = 20\n"
         '[customers.default]\noutcome = "answer"\nring_ms = 300\n'
         'script = ["wait 8000", "hangup"]\nbridge_script = ["wait 1500", "hangup"]\n'
         + "".join(f'[agents."{n}"]\nanswer_ms = 100\n' for n in AGENTS))
CAMPAIGN = f"""
name = "demo"
mode = "agent_first"
pacer = "progressive"
amd = false
[window]
start = "00:00"
end = "24:00"
[limits]
max_attempts = 1
max_lines = 2
[[agents]]
id = "a1"
number = "{AGENTS[0]}"
[[agents]]
id = "a2"
number = "{AGENTS[1]}"
"""

playwright_api = pytest.importorskip(
    "playwright.async_api", reason="the playwright package is not installed (pip install "
                                   "-e '.[dev]')")
pytestmark = pytest.mark.skipif(
    not os.access(CHROMIUM, os.X_OK),
    reason=f"no {CHROMIUM}: install Debian's chromium (make test does, as root, with apt-get)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def dialer_service(tmp_path: Path) -> AsyncIterator[str]:
    """``voxgate dialer run`` with the dashboard; yields its base URL. Its output is drained
    (and shown if the test fails) so that the pipe never fills."""
    (tmp_path / "world.toml").write_text(WORLD)
    users = write_users(tmp_path / "users.json", {"ann": "a1"})
    port = free_port()
    env = {**os.environ, "EXOTEL_API_BASE": "", "VOXGATE_CONTROL_TOKEN": TOKEN,
           "VOXGATE_DB": str(tmp_path / "service.db"),
           "VOXGATE_EVENT_ENDPOINT": "http://127.0.0.1:0/exotel/events"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "voxgate.cli", "--log-level", "WARNING", "dialer", "run",
        "--emulator", "--sim-config", str(tmp_path / "world.toml"), "--control-port",
        str(port), "--users", str(users), stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT, env=env)
    assert proc.stdout is not None
    out: list[str] = []
    up = asyncio.Event()

    async def drain() -> None:
        assert proc.stdout is not None
        while line := (await proc.stdout.readline()).decode():
            out.append(line)
            if "dashboard at" in line:
                up.set()

    reader = asyncio.create_task(drain())
    try:
        async with asyncio.timeout(20):
            while not up.is_set():
                assert proc.returncode is None, "".join(out)
                await asyncio.wait([reader, asyncio.create_task(up.wait())],
                                   return_when=asyncio.FIRST_COMPLETED)
                assert up.is_set() or not reader.done(), "".join(out)
        yield f"http://127.0.0.1:{port}"
    except BaseException:
        print("".join(out))
        raise
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGINT)
            try:
                async with asyncio.timeout(15):
                    await proc.wait()
            except TimeoutError:
                proc.kill()
                await proc.wait()
        await reader


async def control(s: aiohttp.ClientSession, method: str, url: str,
                  body: dict[str, str] | None = None) -> dict[str, object]:
    async with s.request(method, url, json=body,
                         headers={"Authorization": f"Bearer {TOKEN}"}) as r:
        assert r.status < 300, (r.status, await r.text())
        answer: dict[str, object] = await r.json()
        return answer


@pytest.mark.slow(20)
async def test_supervisor_and_agent_in_chromium(tmp_path: Path) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    leads = "phone\n" + "".join(f"{n}\n" for n in LEADS)
    async with dialer_service(tmp_path) as base, aiohttp.ClientSession() as api, \
            playwright_api.async_playwright() as pw:
        await control(api, "POST", f"{base}/v1/campaigns", {"campaign": CAMPAIGN, "leads": leads})
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            page = await browser.new_page(viewport={"width": 1400, "height": 900})
            await page.goto(f"{base}/ui/")
            assert page.url.startswith(f"{base}/ui/login")
            await page.fill("#user", "sup")
            await page.fill("#password", PASSWORD)
            await page.click("#login")
            await page.wait_for_url(f"{base}/ui/campaigns")
            progress = page.locator('tr[data-campaign="demo"] td.progress')
            await progress.wait_for()
            before = await progress.text_content()
            await control(api, "POST", f"{base}/v1/campaigns/demo/start")
            # a live figure changes (calls complete) without reloading the page
            await page.wait_for_function(
                "t => document.querySelector('tr[data-campaign=\"demo\"] td.progress')"
                ".textContent !== t", arg=before, timeout=30_000)
            await page.screenshot(path=str(SHOTS / "campaigns.png"), full_page=True)

            status = page.locator('tr[data-campaign="demo"] td.status')
            await page.get_by_role("button", name="Pause").click()
            await page.wait_for_function(
                "() => document.querySelector('tr[data-campaign=\"demo\"] td.status')"
                ".textContent === 'paused'", timeout=10_000)
            assert (await control(api, "GET", f"{base}/v1/campaigns/demo"))["status"] == "paused"
            await page.get_by_role("button", name="Resume").click()
            await page.wait_for_function(
                "() => document.querySelector('tr[data-campaign=\"demo\"] td.status')"
                ".textContent !== 'paused'", timeout=10_000)
            assert await status.text_content() in ("running", "done")
            assert (await control(api, "GET", f"{base}/v1/campaigns/demo"))["status"] != "paused"

            await page.goto(f"{base}/ui/agents")
            await page.locator('tr[data-agent="a1"]').wait_for()
            await page.screenshot(path=str(SHOTS / "agents.png"), full_page=True)
            await page.goto(f"{base}/ui/audit")
            rows = await page.locator("#audit tbody tr").all_text_contents()
            assert any("sup" in r and "pause" in r and "paused" in r for r in rows), rows
            assert any("sup" in r and "resume" in r and "running" in r for r in rows), rows
            await page.screenshot(path=str(SHOTS / "audit.png"), full_page=True)

            agent = await browser.new_context()  # its own cookies
            desk = await agent.new_page()
            await desk.goto(f"{base}/ui/login")
            await desk.fill("#user", "ann")
            await desk.fill("#password", PASSWORD)
            await desk.click("#login")
            await desk.wait_for_url(f"{base}/ui/desk/a1")
            await desk.locator('tr[data-agent="a1"]').wait_for()
            await desk.screenshot(path=str(SHOTS / "desk.png"), full_page=True)
            for path in ("/ui/campaigns", "/ui/agents", "/ui/audit", "/ui/desk/a2"):
                response = await desk.goto(f"{base}{path}")
                assert response is not None and response.status == 403, path
        finally:
            await browser.close()
    assert shutil.disk_usage(SHOTS).free > 0 and (SHOTS / "campaigns.png").stat().st_size > 0
