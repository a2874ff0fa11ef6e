"""The dashboard's audit in the dialer's database (issue 18), on SQLite and PostgreSQL: a
supervisor's control is a row of ``audit_log`` (written off the loop through the dialer's
StoreCalls), and the audit page and ``/ui/api/audit`` show every dialer's entries on that
database, another dialer's too; no JSONL file is made unless ``--audit-log`` names one. Before,
the entries went only to a per-process ``{db}.audit.jsonl`` (a nonsense path for a
``postgresql://`` URL) and the page showed this process's alone."""

from __future__ import annotations

import time
from pathlib import Path

import aiohttp
from web_helpers import log_in, page_csrf, write_users

from dialer.campaign.model import CampaignSpec
from dialer.campaign.service_api import CampaignService
from dialer.config import DialerConfig
from dialer.control_api import ControlApiServer
from dialer.service import Dialer
from dialer.web.app import with_ui
from dialer.web.audit_table import AuditTable
from dialer.web.context import UiSettings

TOKEN = "web-audit-db-test-token-0123456789"
WE = ["sup", "pause", "c1", "running", "paused"]  # user, action, target, before, after
THEY = ["eve", "aim", "c1", 0.03, 0.02]


async def test_a_control_is_audited_in_the_database_and_every_dialers_entry_shown(
        tmp_path: Path, store_url: str) -> None:
    dialer = Dialer(DialerConfig(api_base="http://127.0.0.1:9", account_sid="ACweb",
                                 db_path=store_url))
    campaigns = CampaignService(dialer, store_url)
    campaigns.store.create_campaign(CampaignSpec("c1"), time.time())
    other = AuditTable(store_url)  # another dialer's dashboard on the same database
    other.add((time.time() - 60, "eve", "aim", "c1", 0.03, 0.02))
    settings = UiSettings(users=write_users(tmp_path / "users.json"))  # no --audit-log
    try:
        async with ControlApiServer(dialer, dialer=dialer, token=TOKEN,
                                    routes=with_ui(dialer, campaigns, settings,
                                                   campaigns.add_routes)) as api, \
                aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as s:
            await log_in(s, api.url, "sup")
            csrf = await page_csrf(s, f"{api.url}/ui/campaigns")
            async with s.post(f"{api.url}/ui/api/campaigns/c1/pause",
                              headers={"X-CSRF-Token": csrf}) as r:
                assert r.status == 200
            async with s.get(f"{api.url}/ui/api/audit") as r:
                shown = [list(e.values())[1:] for e in (await r.json())["entries"]]
            assert shown == [WE, THEY]
            async with s.get(f"{api.url}/ui/audit") as r:
                text = await r.text()
            assert "<td>sup</td><td>pause</td>" in text and "<td>eve</td><td>aim</td>" in text
        # in the table, seen from the other dialer
        assert [list(row[1:]) for row in other.recent(10)] == [WE, THEY]
    finally:
        other.close()
        campaigns.store.close()
        campaigns.started.close()
        await dialer.calls.close()
    made = [tmp_path] + ([Path(store_url).parent] if "://" not in store_url else [])
    assert not [p for d in made for p in d.iterdir() if p.suffix == ".jsonl"]
