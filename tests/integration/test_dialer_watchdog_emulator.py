"""The per-call watchdog on the wire (issue 16): the emulator as Exotel loses every
``leg_terminated`` (and the ``stream_stopped`` the hang-up causes); the dialer still settles
the call from ``GET /legs/{sid}`` over real sockets. Without the watchdog the call never ends.
The fake-Exotel tests (``tests/unit/test_dialer_watchdog.py``) cover the other stages."""

from __future__ import annotations

import pytest
from test_dialer_flows import CUSTOMER, ENDPOINTS, call, customer

from dialer.config import DialerConfig
from exotel_sim.config import SimConfig
from gateway.config import GatewayConfig
from voxgate.wiring import LocalStack


@pytest.mark.parametrize("transport", ["grpc"])
async def test_lost_leg_terminated_is_settled_on_the_emulator(transport: str) -> None:
    sim = SimConfig(rest_latency_ms=10, event_latency_ms=5, setup_ms=50,
                    customers={CUSTOMER: customer("wait 300", "hangup")},
                    lost_events=frozenset({"leg_terminated", "stream_stopped"}))
    cfg = DialerConfig(event_endpoint=ENDPOINTS[transport], watchdog_interval=0.5)
    gw = GatewayConfig(host="127.0.0.1", port=0, escalation_dtmf="0")
    async with LocalStack(cfg, sim_config=sim, gateway_config=gw) as st:
        rec = await call(st, limit=20.0)
        assert (rec.disposition, rec.answered) == ("customer_hangup", True)
        assert rec.termination_reason == "completed"
        assert st.dialer.store.get(rec.call_id) == rec
        assert st.dialer.stats.watchdog_settled.get("ended") == 1
        assert st.sim is not None
        assert st.sim.sim.delivery.counts["lost"] >= 1
