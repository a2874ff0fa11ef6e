"""``GET /v1/calls/{id}`` on the dialer's control API for a call that is not live in this run:
the live call first, then the stored record, then a call an earlier (killed) run left that the
restart still settles (``"settling": true`` with the stage it was in), then ``404``. Before, a
call the killed run left answered ``no call`` until the restart's reconcile had its record,
which waits for Exotel (here: unreachable, so it never comes)."""

from __future__ import annotations

import time
from pathlib import Path

import aiohttp
from peers.ports import free_port

from dialer import live_state
from dialer.config import DialerConfig
from dialer.control_api import ControlApiServer
from dialer.records import CallRecord, RecordStore
from dialer.service import Dialer


def left_by_a_killed_run(call_id: str) -> dict[str, object]:
    return live_state.snapshot(
        call_id=call_id, request={"number": "+919900000901", "mode": "bot_first", "bot": "echo"},
        stage="bot", started_at=time.time() - 5,
        outcome={"customer_leg_sid": "LEGgone", "answered": True},
        timeline=[("dial", 0.0), ("answered", 1.2)])


async def test_a_call_not_live_here_is_answered_from_the_store(tmp_path: Path) -> None:
    store = RecordStore(tmp_path / "calls.db")
    store.save_live("vx-left", left_by_a_killed_run("vx-left"))
    store.save(CallRecord(call_id="vx-done", number="+919900000902", mode="bot_first",
                          disposition="completed", answered=True))
    # Exotel unreachable: the restart keeps asking, the call it left stays unsettled
    config = DialerConfig(api_base=f"http://127.0.0.1:{free_port()}/v2/accounts/AC1",
                          account_sid="AC1", api_key="k", api_token="t",
                          exophone="+918000000000", event_endpoint="http://127.0.0.1:0/e",
                          request_timeout=1.0, max_retries=0)
    async with Dialer(config, store=store) as dialer, \
            ControlApiServer(dialer, dialer=dialer, token="") as api, \
            aiohttp.ClientSession() as s:
        async with s.get(f"{api.url}/v1/calls/vx-left") as r:
            left = (r.status, await r.json())
        async with s.get(f"{api.url}/v1/calls/vx-done") as r:
            done = (r.status, await r.json())
        async with s.get(f"{api.url}/v1/calls/vx-never") as r:
            never = (r.status, await r.json())
    store.close()
    assert left == (200, {"call_id": "vx-left", "state": "bot", "done": False,
                          "settling": True})
    assert done[0] == 200 and done[1]["done"] is True
    assert (done[1]["call_id"], done[1]["disposition"]) == ("vx-done", "completed")
    assert never == (404, {"error": "no call vx-never"})
