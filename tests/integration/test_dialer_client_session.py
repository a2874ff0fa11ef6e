"""The Exotel client's transport seam: a caller's aiohttp session carries the requests."""

from __future__ import annotations

import types

import aiohttp
import pytest

from dialer.errors import ExotelApiError
from dialer.exotel_client import ExotelClient
from exotel_sim.config import SimConfig
from exotel_sim.server import SimServer


async def test_requests_go_through_the_session_passed_in_and_it_stays_open() -> None:
    sent: list[str] = []

    async def on_start(session: aiohttp.ClientSession, ctx: types.SimpleNamespace,
                       params: aiohttp.TraceRequestStartParams) -> None:
        sent.append(f"{params.method} {params.url.path}")

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_start)
    async with SimServer(SimConfig(rest_latency_ms=0)) as sim, aiohttp.ClientSession(
        trace_configs=[trace]
    ) as session:
        client = ExotelClient(sim.api_base, sim.account_sid, sim.api_key, sim.api_token,
                              session=session)
        async with client:
            assert await client.hangup("nope") is False  # 404: authenticated, answered
        assert len(sent) == 1 and sent[0].endswith("/legs/nope/actions/hangup"), sent
        assert not session.closed  # the caller's session: the client does not close it
        wrong = ExotelClient(sim.api_base, sim.account_sid, sim.api_key, "wrong",
                             session=session)
        with pytest.raises(ExotelApiError) as denied:  # credentials travel per request
            await wrong.get_leg("x")
        assert denied.value.status == 401
