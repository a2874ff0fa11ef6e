"""Control routed to the owning dialer (issue 16): two ``voxgate gateway`` processes behind a
round-robin TCP proxy, two ``voxgate dialer run`` services (ids ``da`` and ``db``) dialling one
emulator (the test's, as Exotel), whose streams go through that proxy. Every gateway knows both
dialers (``--control-url da=URL --control-url db=URL``) and sends each call's requests to the
dialer that placed it, whichever gateway serves the stream: every escalation (customers press 0) and
every scripted bot's hang-up reaches its owner (agent_handled, hangup_reason on record), 0 lost.
The calls are campaigns in each dialer, created and started through the service (``voxgate
campaign run FILE --leads CSV --dialer URL``): per dialer one whose customers press 0 (echo bot,
the campaign's agents) and one whose scripted bot says goodbye and hangs up.
Before, a gateway had one ``--control-url``: the other dialer's requests got 403/404, its calls
were never escalated and its records lost the hang-up reason."""

from __future__ import annotations

import asyncio
import csv
import io
import itertools
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import aiohttp
import pytest
from calling_time import daytime_zone
from peers.ports import free_port
from test_campaign_service_processes import TOKEN, voxgate
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
    'script = ["streaming 100", "dtmf 0", "wait 8000", "hangup"]\n'
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


def campaign(name: str, bot: str, agents: tuple[str, ...]) -> str:
    return f"""
name = "{name}"
mode = "bot_first"
bot = "{bot}"
timezone = "{daytime_zone()}"
[limits]
max_attempts = 1
ring_timeout_s = 10
min_ring_s = 1
max_lines = 3
""" + "".join(f'[[agents]]\nid = "c{i}"\nnumber = "{n}"\n' for i, n in enumerate(agents))


async def start(tmp_path: Path, control: str, name: str, bot: str, agents: tuple[str, ...],
          numbers: tuple[str, ...]) -> None:
    """Creates and starts campaign ``name`` in the service at ``control``, as an operator does."""
    (tmp_path / f"{name}.toml").write_text(campaign(name, bot, agents))
    (tmp_path / f"{name}.csv").write_text("phone,timezone\n" + "".join(
        f"{n},{daytime_zone()}\n" for n in numbers))
    started = await asyncio.to_thread(voxgate, "run", str(tmp_path / f"{name}.toml"), "--leads",
                      str(tmp_path / f"{name}.csv"), "--dialer", control)
    assert started.returncode == 0 and "started" in started.stdout, started


async def records(s: aiohttp.ClientSession, control: str, name: str,
                  leads: int) -> list[dict[str, object]]:
    """Each attempt's call record of campaign ``name``, once it has finished."""
    async with asyncio.timeout(30):
        while True:
            async with s.get(f"{control}/v1/campaigns/{name}") as r:
                state = await r.json()
            if not state["running"] and state["done"] == leads:
                break
            await asyncio.sleep(0.1)
    async with s.get(f"{control}/v1/campaigns/{name}/export?attempts=1") as r:
        assert r.status == 200, await r.text()
        exported = await r.text()
    found = []
    for row in csv.DictReader(io.StringIO(exported)):
        async with s.get(f"{control}/v1/calls/{row['call_id']}") as r:
            found.append(await r.json())
    assert len(found) == leads, exported
    return found


@pytest.mark.slow(10)
async def test_each_escalation_reaches_the_dialer_that_placed_the_call(tmp_path: Path) -> None:
    (tmp_path / "bye.toml").write_text(BYE)
    controls = {d: f"http://127.0.0.1:{free_port()}" for d in IDS}
    routes = [arg for d in IDS for arg in ("--control-url", f"{d}={controls[d]}")]
    token = {"VOXGATE_CONTROL_TOKEN": TOKEN}
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
                ready="dialer control API at", env=env))
        s = await stack.enter_async_context(aiohttp.ClientSession(
            headers={"Authorization": f"Bearer {token['VOXGATE_CONTROL_TOKEN']}"}))
        await asyncio.gather(*(start(tmp_path, controls[d], f"{kind}{d}", bot, agents, numbers)
                               for d in IDS for kind, bot, agents, numbers in (
                                   ("esc", "echo", AGENTS[d], CUSTOMERS[d]),
                                   ("bye", "scripted", (), (LISTENERS[d],)))))
        esc = await asyncio.gather(*(records(s, controls[d], f"esc{d}", 2) for d in IDS))
        bye = await asyncio.gather(*(records(s, controls[d], f"bye{d}", 1) for d in IDS))
    escalated = [(d, r) for d, rs in zip(IDS, esc, strict=True) for r in rs
                 if (r["disposition"], r["escalation_reason"]) != ("agent_handled", "dtmf")]
    hung_up = [(d, r) for d, rs in zip(IDS, bye, strict=True) for r in rs
               if r["hangup_reason"] != "routing_test"]
    assert set(served) == set(gw_ports), served  # both gateways served streams
    assert escalated == [] and hung_up == [], (escalated, hung_up)  # 0 lost
