"""A bot's transfer forecast reaches the dialer over both control wirings (direct and the HTTP
control API) and becomes a ``transfer_forecast`` progress event, without changing the call."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from bot_adapters.contract import BotAdapter, CallControl, CallInfo
from dialer.config import DialerConfig
from dialer.service import CallRequest, ProgressEvent, parse_forecast_detail
from exotel_sim.config import CustomerProfile, SimConfig, parse_script
from gateway.config import GatewayConfig
from voxgate.wiring import LocalStack
from voxgate_shared.control import ControlRequest

CUSTOMER = "+919900000001"


class InfoBot(BotAdapter):
    """Hands its call to the test (the gateway of this checkout may not relay forecasts yet)."""

    started: asyncio.Queue[tuple[CallInfo, CallControl]] | None = None

    def __init__(self, options: object = None) -> None:
        del options

    async def on_start(self, call: CallControl) -> None:
        assert InfoBot.started is not None
        InfoBot.started.put_nowait((call.info, call))


@pytest.mark.parametrize("control", ["direct", "http"])
async def test_transfer_forecast_becomes_a_progress_event(control: str) -> None:
    InfoBot.started = asyncio.Queue()
    cust = CustomerProfile(
        outcome="answer", ring_ms=(200, 200), bridge_script=parse_script(("hangup",))
    ).with_script("wait 4000", "hangup")
    sim = SimConfig(rest_latency_ms=10, event_latency_ms=5, setup_ms=50, customers={CUSTOMER: cust})
    cfg = DialerConfig(event_endpoint="grpc://127.0.0.1:0")
    gw = GatewayConfig(host="127.0.0.1", port=0)
    events: list[ProgressEvent] = []
    async with LocalStack(
        cfg, sim_config=sim, gateway_config=gw, control=control,  # type: ignore[arg-type]
        adapters={"info": InfoBot},
    ) as st:  # fmt: skip
        st.dialer.subscribe(events.append)
        handle = await st.dialer.place_call(CallRequest(CUSTOMER, bot="info"))
        async with asyncio.timeout(8):
            info, _call = await InfoBot.started.get()
        assert info.custom_parameters["vx_call"] == handle.call_id  # the bot sees no MAC
        request = ControlRequest(
            "transfer_forecast", info.call_sid, info.stream_sid, "closing",
            {"vx_call": st.dialer.binding.sign(handle.call_id)}, within_s=12.0, likelihood=0.7,
        )  # fmt: skip
        if control == "http":
            assert st.control_api is not None
            async with aiohttp.ClientSession() as s:
                url = st.control_api.url + "/v1/control"
                async with s.post(url, json=request.to_json()) as r:
                    assert r.status == 202
                bad = {**request.to_json(), "likelihood": 3}
                async with s.post(url, json=bad) as r:
                    assert r.status == 400
        else:
            await st.dialer.submit(request)
        async with asyncio.timeout(8):
            record = await handle.wait()
    forecasts = [e for e in events if e.kind == "transfer_forecast"]
    assert [(e.call_id, parse_forecast_detail(e.detail)) for e in forecasts] == [
        (handle.call_id, (12.0, 0.7))
    ]
    assert st.dialer.stats.transfer_forecasts == 1
    assert not record.escalated and record.disposition == "customer_hangup", record
