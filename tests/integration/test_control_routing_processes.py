"""Control routed to the owning dialer (issue 16): two ``voxgate gateway`` processes behind a
round-robin TCP proxy, two ``voxgate dialer run`` services (ids ``da`` and ``db``) dialling one
emulator (the test's, as Exotel), whose streams go through that proxy. Every gateway knows both
dialers (``--control-url da=URL --control-url db=URL``) and sends each call's requests to the
dialer that placed it, whichever gateway serves the stream: every escalation (customers press 0) and
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
from test_dialer_processes import process

from exotel_sim.config import SimConfig
from exotel_sim.server import SimServer

IDS = ("da", "db")
# Per dialer k: two customers who press 0 for an agent (the agent's bridge ends 300 ms later),
# one who stays on the line while the scripted bot says goodbye and hangs up, two agents.
CUSTOMERS = {d: (f"+9199000000{k}1", f"+9199000000{k}2") for k, d in enumerate(IDS)}
LISTENERS = {d: f"+9199000000{k}3" for k, d in enumerate(IDS)}
AGENTS = {d: (f"+9198000000{k}1", f"+9198000000{k}2") for k, d in enumerate(IDS)}
WORLD = "[latency]\nrest_ms = 10\nevent_ms = 5\nsetup_ms = 50\n" + "".join(
    f'[customers."{n}"]\noutcome = "answer"\nring_ms = 200\n'
    'script = ["wait 500", "dtmf 0", "wait 8000", "hangup"]\n'
    'bridge_script = ["wait 300", "hangup"]\n' for d in IDS for n in CUSTOMERS[d]
) + "".join(f'[agents."{n}"]\nanswer_ms = 100\n' for d in IDS for n in AGENTS[d]) + "".join(
    f'[customers."{n}"]\noutcome = "answer"\nring_ms = 200\n'
    'script = ["wait 20000", "hangup"]\n' for n in LISTENERS.values()
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
    (tmp_path / "bye.toml").write_text(BYE)
    controls = {d: f"http://127.0.0.1:{free_port()}" for d in IDS}
    routes = [arg for d in IDS for arg in ("--control-url", f"{d}={controls[d]}")]
    token = {"VOXGATE_CONTROL_TOKEN": "routing-test-token-0123456789"}
    served: list[int] = []
    async with AsyncExitStack() as stack:
        sim = await stack.enter_async_context(SimServer(SimConfig.from_toml(WORLD)))
        gw_ports = []
        for _ in range(2):
            line = await stack.enter_async_context(process(
                "gateway", "--port", "0", *routes, "--escalation-dtmf", "0",
                "--adapter-option", f"scripted.script={tmp_path / 'bye.toml'}",
                ready="gateway listening on", env=token))
            gw_ports.append(int(line.rsplit(":", 1)[-1].split("/")[0]))
        proxy = await stack.enter_async_context(round_robin(gw_ports, served))
        for d in IDS:  # both dial the one emulator, each with its own database and agents
            env = {**token, "VOXGATE_STREAM_URL": f"ws://127.0.0.1:{proxy}",
                   "EXOTEL_API_BASE": sim.api_base, "EXOTEL_ACCOUNT_SID": sim.account_sid,
                   "EXOTEL_API_KEY": sim.api_key, "EXOTEL_API_TOKEN": sim.api_token,
                   "EXOTEL_EXOPHONE": "+918000000000", "VOXGATE_DB": str(tmp_path / f"{d}.db"),
                   "VOXGATE_EVENT_ENDPOINT": "http://127.0.0.1:0/exotel/events"}
            await stack.enter_async_context(process(
                "dialer", "run", "--dialer-id", d,
                "--control-port", controls[d].rsplit(":", 1)[-1],
                *(arg for i, n in enumerate(AGENTS[d]) for arg in ("--agent", f"a{i}={n}")),
                ready="dialer control API at", env=env))
        s = await stack.enter_async_context(aiohttp.ClientSession(
            headers={"Authorization": f"Bearer {token['VOXGATE_CONTROL_TOKEN']}"}))
        placed: list[tuple[str, str, str]] = []
        for d in IDS:
            for number in (*CUSTOMERS[d], LISTENERS[d]):
                body = {"number": number,
                        "bot": "scripted" if number == LISTENERS[d] else "echo"}
                async with s.post(f"{controls[d]}/v1/calls", json=body) as r:
                    assert r.status == 202, await r.text()
                    placed.append((d, number, (await r.json())["call_id"]))
        records = [(d, n, await _done(s, controls[d], c)) for d, n, c in placed]
    assert set(served) == set(gw_ports), served  # both gateways served streams
    escalated = [(d, r) for d, n, r in records if n != LISTENERS[d]
                 and (r["disposition"], r["escalation_reason"]) != ("agent_handled", "dtmf")]
    hung_up = [(d, r) for d, n, r in records if n == LISTENERS[d]
               and r["hangup_reason"] != "routing_test"]
    assert escalated == [] and hung_up == [], (escalated, hung_up)  # 0 lost
