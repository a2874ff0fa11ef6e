"""The dashboard's calls and report pages (issue 18) over real sockets: a two-lead campaign run on
the emulator (one customer presses 0 and is bridged to an agent, the bridge recorded; one talks
to the bot until it hangs up), then the dashboard mounted on the control API of that dialer.
Search filters and paging, a call's page and its sections, the recording streamed through the
dashboard (the emulator's WAV, byte for byte) for a supervisor and the agent who took the call
and refused to another agent, the report pages and downloads; no page or API answer holds
Exotel's recording URL, the emulator's address or the account's credentials. Before, none of
these routes existed (``/ui/calls`` and ``/ui/reports/...`` answered 404)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import aiohttp
from calling_time import daytime_zone
from web_helpers import log_in, write_users

from dialer.campaign.model import AgentSpec, CampaignSpec, Lead, Limits
from dialer.campaign.runner import CampaignRunner
from dialer.campaign.service_api import CampaignService
from dialer.config import DialerConfig
from dialer.control_api import ControlApiServer
from dialer.records import CallRecord
from dialer.web.app import with_ui
from dialer.web.context import UiSettings
from exotel_sim.config import AgentProfile, CustomerProfile, SimConfig, parse_script
from gateway.config import GatewayConfig
from voxgate.wiring import LocalStack

TOKEN = "web-calls-test-token-0123456789"
KEY, SECRET = "web-calls-key-7f3a", "web-calls-secret-9c1e"
QUICK = CustomerProfile(outcome="answer", ring_ms=(100, 200)).with_script("wait 400", "hangup")
WANTS_HUMAN = CustomerProfile(
    outcome="answer", ring_ms=(100, 200),
    bridge_script=parse_script(["say cust_hello", "hangup"]),
).with_script("pause 300", "streaming 100", "dtmf 0", "wait 8000", "hangup")  # 0 once bot is up
HUMAN, BOT = "+919900000911", "+919900000912"


@dataclass
class Site:
    base: str
    sim_base: str
    records: dict[str, CallRecord]  # by number


@asynccontextmanager
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    sim = SimConfig(rest_latency_ms=5, event_latency_ms=5, setup_ms=20, default_customer=QUICK,
                    customers={HUMAN: WANTS_HUMAN},
                    # both campaign agents answer as agents (either may be offered the call;
                    # a number with no agent profile is a customer who hangs up at once)
                    agents={n: AgentProfile(answer_ms=200, greet_after_ms=100)
                            for n in ("+919800000001", "+919800000002")})
    cfg = DialerConfig(customer_ring_timeout=15, record_bridges=True, api_key=KEY,
                       api_token=SECRET)
    async with LocalStack(cfg, sim_config=sim,
                          gateway_config=GatewayConfig(port=0, escalation_dtmf="0")) as st:
        service = CampaignService(st.dialer, str(tmp_path / "c.db"))
        try:
            spec = CampaignSpec("w1", bot="echo", pacer="bot_first", mode="bot_first", amd=False,
                                timezone=daytime_zone(), limits=Limits(max_lines=2),
                                agents=(AgentSpec("a1", "+919800000001"),
                                        AgentSpec("a2", "+919800000002")))
            service.store.create_campaign(spec, time.time())
            service.store.add_leads("w1", [Lead(HUMAN, name="Asha", custom={"plan": "gold"}),
                                           Lead(BOT)], time.time())
            runner = CampaignRunner(st.dialer, service.store, "w1", tick_s=0.1)
            async with asyncio.timeout(30):
                await runner.run(until_done=True)
            records = {r.number: r for r in st.dialer.store.records()}
            took = records[HUMAN].agent_id  # ann is the agent who took the bridged call
            users = write_users(tmp_path / "users.json",
                                {"ann": took, "bob": "a2" if took == "a1" else "a1"})
            settings = UiSettings(users=users, audit=tmp_path / "audit.jsonl")
            async with ControlApiServer(st.dialer, dialer=st.dialer, token=TOKEN,
                                        routes=with_ui(st.dialer, service, settings,
                                                       service.add_routes)) as api:
                assert st.sim is not None
                yield Site(api.url, st.sim.api_base, records)
        finally:
            service.store.close()
            service.started.close()


def client() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


def no_secret(text: str, st: Site) -> None:
    """Nothing the browser must not get: Exotel's URL, the emulator's address, credentials."""
    for secret in (KEY, SECRET, "/sim/recordings", st.sim_base.split("/v2")[0],
                   *(r.recording_url for r in st.records.values() if r.recording_url)):
        assert secret not in text, secret


async def test_search_call_page_recording_and_reports(tmp_path: Path) -> None:
    async with site(tmp_path) as st, client() as s:
        human, bot = st.records[HUMAN], st.records[BOT]
        assert human.bridged and human.agent_id in ("a1", "a2") and human.recording_url
        assert await (await log_in(s, st.base, "sup")).text() is not None

        async def api(query: str) -> dict[str, object]:
            async with s.get(f"{st.base}/ui/api/calls?{query}") as r:
                assert r.status == 200, await r.text()
                text = await r.text()
                no_secret(text, st)
                return dict(await r.json())

        def ids(answer: dict[str, object]) -> set[str]:
            return {str(c["call_id"]) for c in answer["calls"]}  # type: ignore[attr-defined]

        both = {human.call_id, bot.call_id}
        assert ids(await api("campaign=w1")) == both
        assert ids(await api("campaign=nope")) == set()
        assert ids(await api(f"number={quote(HUMAN)}")) == {human.call_id}
        assert ids(await api("number=%2B9199000009")) == both  # a prefix
        assert ids(await api(f"agent={human.agent_id}")) == {human.call_id}
        assert ids(await api(f"disposition={bot.disposition}&campaign=w1")) >= {bot.call_id}
        assert ids(await api(f"call_id={bot.call_id}")) == {bot.call_id}
        today = datetime.now(UTC).date()
        assert ids(await api(f"from={today}&to={today}")) == both
        assert ids(await api(f"from={today + timedelta(days=1)}")) == set()
        first = await api("campaign=w1&per=1")
        assert len(ids(first)) == 1 and first["next"]
        second = await api("campaign=w1&per=1&page=2")
        assert ids(first) | ids(second) == both and second["next"] is None
        async with s.get(f"{st.base}/ui/api/calls?from=yesterday") as r:
            assert r.status == 400 and "from" in (await r.json())["error"]

        async with s.get(f"{st.base}/ui/calls?campaign=w1") as r:
            assert r.status == 200
            listing = await r.text()
        assert f'href="/ui/calls/{human.call_id}"' in listing and 'id="live"' in listing
        no_secret(listing, st)

        async with s.get(f"{st.base}/ui/calls/{human.call_id}") as r:
            assert r.status == 200
            call = await r.text()
        no_secret(call, st)
        for section in ("summary", "recording-section", "bot", "dtmf", "timeline-section",
                        "lead", "latencies"):
            assert f'id="{section}"' in call, section
        assert "bridged" in call and "escalation" in call and "Asha" in call and "gold" in call
        src = f"/ui/api/calls/{human.call_id}/recording"
        assert f'<audio id="recording" controls preload="metadata" src="{src}">' in call
        async with s.get(f"{st.base}/ui/calls/no-such-call") as r:
            assert r.status == 404

        async with aiohttp.ClientSession() as plain, plain.get(human.recording_url) as r:
            wav = await r.read()
        assert wav[:4] == b"RIFF" and len(wav) > 1000
        async with s.get(f"{st.base}{src}") as r:
            assert r.status == 200 and r.headers["Content-Type"] == "audio/wav"
            assert await r.read() == wav
        async with s.get(f"{st.base}/ui/api/calls/{bot.call_id}/recording") as r:
            assert r.status == 404

        async with s.get(f"{st.base}/ui/reports/w1") as r:
            assert r.status == 200
            report = await r.text()
        assert 'id="funnel"' in report and "<svg" in report
        assert 'href="/ui/api/reports/w1/campaign.csv"' in report
        no_secret(report, st)
        async with s.get(f"{st.base}/ui/reports/w1/agents") as r:
            assert r.status == 200 and 'id="agents"' in await r.text()
        async with s.get(f"{st.base}/ui/api/reports/w1/agents.csv") as r:
            assert r.status == 200 and "w1-agents.csv" in r.headers["Content-Disposition"]
            assert human.agent_id in await r.text()
        async with s.get(f"{st.base}/ui/reports/nope") as r:
            assert r.status == 404

        async with client() as ann:
            await log_in(ann, st.base, "ann")
            async with ann.get(f"{st.base}{src}") as r:
                assert r.status == 200 and await r.read() == wav
            async with ann.get(f"{st.base}/ui/calls/{human.call_id}") as r:
                assert r.status == 403  # an agent has no calls list nor call pages
        async with client() as bob:
            await log_in(bob, st.base, "bob")
            async with bob.get(f"{st.base}{src}") as r:
                assert r.status == 403
