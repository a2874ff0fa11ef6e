"""Bot-first calls whose first events beat the 202 of ``POST /legs`` (issue 13), measured.

Runs the strict emulator (no ``custom_param`` in events, no ``GET /legs`` list; network latency
REST 40 ms round trip, events 20 ms, setup 100 ms), the gateway and the dialer in one process,
and places ``--calls`` bot-first calls to customers who answer 50-400 ms after ringing, with
``--race-share`` of the creates (default 0.3, the emulator's default) answered only after the
leg's first events were delivered (``leg_answered`` too when it came within 300 ms). Prints the
creates that raced, the events the dialer held for a leg no call knew yet and handed over, the
events given up (unknown), and how the calls ended: every answered customer must get the bot
(no ``no_answer`` record for a call that was answered).

Usage: ``.venv/bin/python bench/events_before_202.py [--calls 20] [--race-share 0.3]``
"""

from __future__ import annotations

import argparse
import asyncio
from collections import Counter

from dialer.config import DialerConfig
from dialer.service import CallRequest
from exotel_sim.config import CustomerProfile, SimConfig
from gateway.config import GatewayConfig
from voxgate.wiring import LocalStack


async def run(calls: int, race_share: float) -> str:
    customer = CustomerProfile(outcome="answer", ring_ms=(50, 400), patience_ms=0).with_script(
        "wait 300", "say cust_hello", "wait 300", "hangup")
    sim = SimConfig(rest_latency_ms=40, event_latency_ms=20, setup_ms=100, race_share=race_share,
                    default_customer=customer)
    config = DialerConfig(event_endpoint="http://127.0.0.1:0/exotel/events")
    gateway = GatewayConfig(host="127.0.0.1", port=0)
    async with LocalStack(config, sim_config=sim, gateway_config=gateway) as st:
        handles = [await st.dialer.place_call(CallRequest(f"+91990000{i:04d}", bot="echo"))
                   for i in range(calls)]
        async with asyncio.timeout(60 + calls):
            records = await asyncio.gather(*(h.wait() for h in handles))
        assert st.sim is not None
        raced = st.sim.sim.stats.counters.get("raced_creates", 0)
        hold = st.dialer.leg_hold.stats
        answered_to_bot = sum(1 for r in records if r.answered and r.ended_in == "bot")
        ends = Counter(r.disposition for r in records)
        return (f"calls {calls}, creates answered after the leg's first events {raced}; events "
                f"held for a leg not yet known {hold.held}, handed to their call "
                f"{hold.released}, given up {st.dialer.stats.unknown_events}; answered, then "
                f"with the bot {answered_to_bot}/{calls}; dispositions {dict(ends)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--race-share", type=float, default=0.3)
    args = parser.parse_args()
    print(asyncio.run(run(args.calls, args.race_share)))


if __name__ == "__main__":
    main()
