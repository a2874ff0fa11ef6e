"""Control routed to the owning dialer (issue 16): two ``voxgate gateway`` processes behind a
round-robin TCP proxy, two ``voxgate dialer run`` services (ids ``da`` and ``db``, each on its
embedded emulator) streaming through that proxy. Every gateway knows both dialers
(``--control-url da=URL --control-url db=URL``) and sends each call's transfer to the dialer
that placed it, whichever gateway serves the stream: every escalation (customers press 0) and
every scripted bot's hang-up reaches its owner (agent_handled, hangup_reason on record), 0 lost.
Before, a gateway had one ``--control-url``: the other dialer's requests got 403/404, its calls
were never escalated and its records lost the hang-up reason."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import aiohttp
from peers.ports import free_port
from test_dialer_processes import bearer, process

CUSTOMERS = ("+919900000001", "+919900000002")
LISTENER = "+919900000003"  # stays on the line: the scripted bot says goodbye and hangs up
AGENTS = ("+919800000001", "+919800000002")
# Each customer presses 0 for an agent; the agent's bridge ends 300 ms later.
WORLD = "[latency]\nrest_ms = 10\nevent_ms = 5\nsetup_ms = 50\n" + "".join(
    f'[customers."{n}"]\noutcome = "answer"\nring_ms = 200\n'
    'script = ["wait 500", "dtmf 0", "wait 8000", "hangup"]\n'
    'bridge_script = ["wait 300", "hangup"]\n' for n in CUSTOMERS
) + "".join(f'[agents."{n}"]\nanswer_ms = 100\n' for n in AGENTS) + (
    f'[customers."{LISTENER}"]\noutcome = "answer"\nring_ms = 200\n'
    'script = ["wait 20000", "hangup"]\n'
)
BYE = """
[script]
name = "bye"
start = "bye"

[prompts]
goodbye = "fixture:bot_goodbye"

[states.bye]
say = ["goodbye"]
action = "hangup"
reason = "routing_test"
"""


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()


@asynccontextmanager
async def round_robin(ports: list[int], served: list[int]) -> AsyncIterator[int]:
    """A TCP proxy on loopback handing each connection to the next of ``ports`` in turn;
    ``served`` gets each connection's port."""
    turn = itertools.cycle(ports)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        port = next(turn)
        served.append(port)
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    async with server:
        yield server.sockets[0].getsockname()[1]


async def _done(s: aiohttp.ClientSession, control: str, call_id: str) -> dict[str, object]:
    async with asyncio.timeout(30):
        while True:
            async with s.get(f"{control}/v1/calls/{call_id}") as r:
                record: dict[str, object] = await r.json()
            if record.get("done"):
                return record
            await asyncio.sleep(0.05)


async def test_each_escalation_reaches_the_dialer_that_placed_the_call(tmp_path: Path) -> None:
    world = tmp_path / "world.toml"
    world.write_text(WORLD)
    (tmp_path / "bye.toml").write_text(BYE)
    ids = ("da", "db")
    controls = {d: f"http://127.0.0.1:{free_port()}" for d in ids}
    routes = [arg for d in ids for arg in ("--control-url", f"{d}={controls[d]}")]
    served: list[int] = []
    async with AsyncExitStack() as stack:
        gw_ports = []
        for _ in range(2):
            line = await stack.enter_async_context(process(
                "gateway", "--port", "0", *routes, "--escalation-dtmf", "0",
                "--adapter-option", f"scripted.script={tmp_path / 'bye.toml'}",
                ready="gateway listening on"))
            gw_ports.append(int(line.rsplit(":", 1)[-1].split("/")[0]))
        proxy = await stack.enter_async_context(round_robin(gw_ports, served))
        for d in ids:
            env = {"VOXGATE_STREAM_URL": f"ws://127.0.0.1:{proxy}", "EXOTEL_API_BASE": "",
                   "VOXGATE_EVENT_ENDPOINT": "http://127.0.0.1:0/exotel/events"}
            await stack.enter_async_context(process(
                "dialer", "run", "--emulator", "--dialer-id", d,
                "--control-port", controls[d].rsplit(":", 1)[-1], "--sim-config", str(world),
                *(arg for i, n in enumerate(AGENTS) for arg in ("--agent", f"a{i}={n}")),
                ready="dialer control API at", env=env))
        s = await stack.enter_async_context(aiohttp.ClientSession(headers=bearer()))
        placed: list[tuple[str, str, str]] = []
        for d in ids:
            for number in (*CUSTOMERS, LISTENER):
                body = {"number": number, "bot": "scripted" if number == LISTENER else "echo"}
                async with s.post(f"{controls[d]}/v1/calls", json=body) as r:
                    assert r.status == 202, await r.text()
                    placed.append((d, number, (await r.json())["call_id"]))
        records = [(d, n, await _done(s, controls[d], c)) for d, n, c in placed]
    assert set(served) == set(gw_ports), served  # both gateways served streams
    escalated = [(d, r) for d, n, r in records if n != LISTENER
                 and (r["disposition"], r["escalation_reason"]) != ("agent_handled", "dtmf")]
    hung_up = [(d, r) for d, n, r in records if n == LISTENER
               and r["hangup_reason"] != "routing_test"]
    assert escalated == [] and hung_up == [], (escalated, hung_up)  # 0 lost
