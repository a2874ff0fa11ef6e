"""No secret in any log: the emulator (``voxgate sim``), the gateway (``voxgate gateway`` with
Basic auth) and the dialer (``voxgate dialer run`` with a control token, event auth, a stream URL
and a CRM URL carrying credentials, a CRM signing secret) run as a user runs them, each as its own
process at DEBUG, through one bot-first call the customer escalates to an agent. Every line they
print (stdout and stderr, start-up to exit) is searched for every form of every secret (plain,
URL-encoded, the base64 of a Basic-auth pair), while the logs must show the call happened and the
credential-bearing lines were logged (masked), so the test cannot pass on silent processes.

To cover a new credential: add it to :class:`Creds` (and to :meth:`Creds.forms` when it travels
as a ``user:password`` pair), then hand it to the process that takes it.
"""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager, closing
from dataclasses import astuple, dataclass
from pathlib import Path
from urllib.parse import quote

import aiohttp
import pytest
from aiohttp import web
from peers.ports import free_port
from test_dialer_ops_processes import until

from dialer.crm import CrmPusher
from dialer.records import CallRecord, RecordStore

CUSTOMER = "+919900000001"
AGENT = "+919800000001"


@dataclass(frozen=True)
class Creds:
    """Every secret the three processes are given (all distinct, none a substring of a log)."""

    api_token: str = "exotel-api-t0ken-7Hq"  # Exotel API token (the emulator's account)
    gateway_password: str = "gw-passw0rd-Xk2"  # Basic auth on the stream URL
    event_password: str = "ev-passw0rd-Lm9"  # Basic auth on the event endpoint
    control_token: str = "ctl-t0ken-Pz4"  # the dialer's control API bearer token
    crm_password: str = "crm-passw0rd-Qa1"  # Basic auth in the CRM URL
    crm_secret: str = "crm-hmac-s3cret-Vb8"  # the CRM push's HMAC signing secret
    call_secret: str = "vx-call-hmac-s3cret-Nd5"  # the HMAC key of vx_call (dialer.call_binding)

    api_key: str = "exotel-key"  # user names: not secret, but kept out of the Basic tokens
    gateway_user: str = "vox"
    event_user: str = "evuser"
    crm_user: str = "crmuser"

    def forms(self) -> list[str]:
        """Every form in which a secret could leak: plain, URL-encoded, Basic-auth base64."""
        pairs = [(self.api_key, self.api_token), (self.gateway_user, self.gateway_password),
                 (self.event_user, self.event_password), (self.crm_user, self.crm_password)]
        secrets = [s for s in astuple(self) if s not in (u for u, _ in pairs)]
        out = [*secrets, *(quote(s, safe="") for s in secrets)]
        out += [base64.b64encode(f"{u}:{p}".encode()).decode() for u, p in pairs]
        return sorted(set(out))


WORLD = """
[account]
sid = "ACredact"
key = "{c.api_key}"
token = "{c.api_token}"

[latency]
rest_ms = 10
event_ms = 5
setup_ms = 50

[delivery]
auth_user = "{c.event_user}"
auth_password = "{c.event_password}"

[customers."{customer}"]
outcome = "answer"
ring_ms = 200
script = ["streaming 100", "dtmf 0", "wait 8000", "hangup"]
bridge_script = ["wait 500", "hangup"]

[agents."{agent}"]
answer_ms = 200
"""


@dataclass
class Proc:
    name: str
    proc: asyncio.subprocess.Process
    log: Path
    signalled: bool = False

    @property
    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        """SIGINT, once (a second one means "quit now" to the dialer)."""
        if self.proc.returncode is None and not self.signalled:
            self.signalled = True
            self.proc.send_signal(signal.SIGINT)


@asynccontextmanager
async def voxgate(tmp: Path, name: str, *args: str, ready: str,
                  env: dict[str, str] | None = None) -> AsyncIterator[Proc]:
    """``voxgate --log-level DEBUG ARGS`` with stdout and stderr in ``tmp/NAME.log``; yields
    once ``ready`` is printed; SIGINT (then kill) on the way out, so exit logs are kept too."""
    log = tmp / f"{name}.log"
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "voxgate.cli", "--log-level", "DEBUG", *args,
            stdout=out, stderr=out, env={**os.environ, **(env or {})},
        )
    child = Proc(name, proc, log)
    try:
        await until(lambda: proc.returncode is not None or ready in child.text, limit=20)
        assert proc.returncode is None, f"{name} exited: {child.text}"
        yield child
    finally:
        if proc.returncode is None:
            child.stop()
            try:
                async with asyncio.timeout(15):
                    await proc.wait()
            except TimeoutError:
                proc.kill()
                await proc.wait()


@asynccontextmanager
async def crm_receiver(got: list[web.Request]) -> AsyncIterator[int]:
    """A CRM webhook on a free port that accepts every push."""

    async def push(request: web.Request) -> web.Response:
        await request.read()
        got.append(request)
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/crm", push)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield int(runner.addresses[0][1])
    finally:
        await runner.cleanup()


async def one_escalated_call(control: str, token: str) -> dict[str, object]:
    """Place a bot-first call and wait for its record."""
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(headers=headers) as s:
        body = {"number": CUSTOMER, "bot": "echo"}
        async with s.post(f"{control}/v1/calls", json=body) as r:
            assert r.status == 202, await r.text()
            call_id = (await r.json())["call_id"]
        record: dict[str, object] = {}

        async def done() -> bool:
            nonlocal record
            async with s.get(f"{control}/v1/calls/{call_id}") as r:
                record = await r.json()
            return bool(record.get("done"))

        await until(done, limit=30)
        return record


@pytest.mark.slow(5)
async def test_no_secret_in_any_process_log_through_an_escalated_call(tmp_path: Path) -> None:
    c = Creds()
    world = tmp_path / "world.toml"
    world.write_text(WORLD.format(c=c, customer=CUSTOMER, agent=AGENT))
    control_port = free_port()
    control = f"http://127.0.0.1:{control_port}"
    pushes: list[web.Request] = []
    async with AsyncExitStack() as stack:
        crm_port = await stack.enter_async_context(crm_receiver(pushes))
        sim_port, gw_port = free_port(), free_port()
        starts = {
            "sim": ("sim", "--port", str(sim_port), "--config", str(world)),
            "gateway": ("gateway", "--port", str(gw_port), "--auth-user", c.gateway_user,
                        "--control-url", control, "--escalation-dtmf", "0"),
            "dialer": ("dialer", "run", "--control-port", str(control_port),
                       "--agent", f"a1={AGENT}"),
        }
        ready = {"sim": "api base", "gateway": "gateway listening on",
                 "dialer": "dialer control API at"}
        env = {
            "gateway": {"VOXGATE_GATEWAY_PASSWORD": c.gateway_password,
                        "VOXGATE_CONTROL_TOKEN": c.control_token},
            "dialer": {
                "EXOTEL_API_BASE": f"http://127.0.0.1:{sim_port}/v2/accounts/ACredact",
                "EXOTEL_ACCOUNT_SID": "ACredact",
                "EXOTEL_API_KEY": c.api_key, "EXOTEL_API_TOKEN": c.api_token,
                "EXOTEL_EXOPHONE": "+918000000000",
                "VOXGATE_EVENT_ENDPOINT": "http://127.0.0.1:0/exotel/events",
                "VOXGATE_EVENT_AUTH": f"{c.event_user}:{c.event_password}",
                "VOXGATE_STREAM_URL":
                    f"ws://{c.gateway_user}:{c.gateway_password}@127.0.0.1:{gw_port}",
                "VOXGATE_CRM_URL": f"http://{c.crm_user}:{c.crm_password}@127.0.0.1:{crm_port}/crm",
                "VOXGATE_CRM_SECRET": c.crm_secret,
                "VOXGATE_CONTROL_TOKEN": c.control_token,
                "VOXGATE_CALL_SECRET": c.call_secret,
                "VOXGATE_DB": str(tmp_path / "calls.db"),
            },
        }
        async with asyncio.TaskGroup() as tg:  # all three start at once (ports chosen here)
            up = {name: tg.create_task(stack.enter_async_context(voxgate(
                tmp_path, name, *args, ready=ready[name], env=env.get(name))))
                for name, args in starts.items()}
        sim, gateway, dialer = (up[name].result() for name in ("sim", "gateway", "dialer"))
        record = await one_escalated_call(control, c.control_token)
        assert (record["disposition"], record["escalation_reason"], record["agent_id"]) == (
            "agent_handled", "dtmf", "a1"), record
        await until(lambda: bool(pushes), limit=15)
        assert pushes[0].headers.get("X-Voxgate-Signature"), pushes[0].headers
        for p in (dialer, gateway, sim):  # all stop at once; the stack waits for each
            p.stop()
    # all three have exited: their logs are whole
    logs = {p.name: p.text for p in (sim, gateway, dialer)}
    leaked = {name: [s for s in c.forms() if s in text] for name, text in logs.items()}
    assert not any(leaked.values()), f"secrets logged: {leaked}\n{logs}"
    # the logs are there and did log the call and the lines that carried credentials, masked
    assert "exotel_sim listening on" in logs["sim"] and "token from the config file" in logs["sim"]
    # the handshake was logged at DEBUG; its Authorization line, if any, masked
    assert "GET /stream/echo?vx_call=" in logs["gateway"], logs["gateway"]
    auth_lines = [ln for ln in logs["gateway"].splitlines() if "Authorization:" in ln]
    assert all(ln.endswith("Authorization: Basic ***") for ln in auth_lines), auth_lines
    assert "control request transfer" in logs["gateway"], logs["gateway"]
    assert f"ws://***@127.0.0.1:{gw_port}" in logs["dialer"], logs["dialer"]
    assert f"http://***@127.0.0.1:{crm_port}/crm" in logs["dialer"], logs["dialer"]
    assert "dialer up: events at http://" in logs["dialer"], logs["dialer"]
    assert all(len(text.splitlines()) >= 5 for text in logs.values()), logs


async def test_a_failed_crm_push_keeps_no_credentials(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A push error is logged and kept in the database: an invalid CRM URL's error quotes the
    URL, and its password must not come with it."""
    c = Creds()
    store = RecordStore(tmp_path / "calls.db")
    store.save(CallRecord("c1", "+911", "bot_first"), push_to_crm=True)
    url = f"http://{c.crm_user}:{c.crm_password}@[bad/crm"  # refused before any connection
    async with aiohttp.ClientSession() as session:
        await CrmPusher(store, url, c.crm_secret, base_backoff=0.0).push_due(session)
    store.close()
    with closing(sqlite3.connect(tmp_path / "calls.db")) as db:
        (error,) = db.execute("SELECT last_error FROM crm_outbox").fetchone()
    assert "InvalidUrl" in error and "***@" in error, error
    assert c.crm_password not in error and c.crm_password not in caplog.text, caplog.text
    assert "CRM push of call c1 failed" in caplog.text
