"""The dialer as ops run it, over real sockets (emulator + gateway + dialer on loopback): the
control API's token and checks (each refusal counted), nailed-up agents whose dials fail
(logged once, counted), a nailed agent who hangs up is never shown idle, and the Dialer's
exit path hangs up the nailed legs (``campaign run`` and ``voxgate call`` leave through it)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
from test_dialer_flows import customer, until
from test_dialer_processes import scrape

from dialer.agents import AgentState
from dialer.config import DialerConfig
from dialer.control_api import ControlApiServer
from dialer.service import CallRequest, Dialer, DialerStopping
from exotel_sim.config import AgentProfile, SimConfig
from exotel_sim.server import SimServer
from gateway.control import HttpControlHook
from gateway.errors import ControlHookError
from voxgate.wiring import LocalStack
from voxgate_shared.control import ControlRequest

CUSTOMER = "+919900000001"
BUSY = "+919900000002"
AGENT = "+919800000001"
TOKEN = "s3cret-token"


def sim_world(**kw: Any) -> SimConfig:
    return SimConfig(rest_latency_ms=5, event_latency_ms=5, setup_ms=20, **kw)


@asynccontextmanager
async def stack(**sim: Any) -> AsyncIterator[LocalStack]:
    cfg = DialerConfig(event_endpoint="http://127.0.0.1:0/exotel/events", recording_wait=0.5)
    async with LocalStack(cfg, sim_config=sim_world(**sim)) as st:
        yield st


@asynccontextmanager
async def api(st: LocalStack, **kw: Any) -> AsyncIterator[tuple[ControlApiServer,
                                                                aiohttp.ClientSession]]:
    server = ControlApiServer(st.dialer, dialer=st.dialer, **kw)
    async with server, aiohttp.ClientSession() as s:
        yield server, s


async def refused(st: LocalStack, s: aiohttp.ClientSession, url: str) -> dict[str, float]:
    async with s.get(url + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"}) as r:
        got = scrape(await r.text())
    return {k.split('"')[1]: v for k, v in got.items()
            if k.startswith("voxgate_dialer_control_refused_total{")}


async def test_the_control_api_wants_the_token_and_the_gateway_sends_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VOXGATE_CONTROL_TOKEN", TOKEN)
    world = {CUSTOMER: customer("wait 5000", "hangup")}
    async with stack(customers=world) as st, api(st) as (server, s):
        url = server.url
        body = {"number": CUSTOMER, "bot": "echo"}
        for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": TOKEN}):
            async with s.post(url + "/v1/calls", json=body, headers=headers) as r:
                assert r.status == 401 and r.headers["WWW-Authenticate"].startswith("Bearer")
        for path in ("/metrics", "/v1/calls/x"):
            async with s.get(url + path) as r:
                assert r.status == 401, path
        async with s.post(url + "/v1/control", json={}) as r:
            assert r.status == 401
        async with s.get(url + "/v1/health") as r:
            assert r.status == 200  # probes need no token
        auth = {"Authorization": f"Bearer {TOKEN}"}
        async with s.post(url + "/v1/calls", json=body, headers=auth) as r:
            assert r.status == 202
            call_id = (await r.json())["call_id"]
        assert st.dialer.stats.placed == 1  # nothing was placed without the token
        await until(lambda: st.dialer.runner(call_id) is not None
                    and st.dialer.runner(call_id).flow.state.value == "bot")  # type: ignore[union-attr]
        runner = st.dialer.runner(call_id)
        assert runner is not None
        hangup = ControlRequest("hangup", runner.flow.customer_leg, "", "bot_hangup",
                                {"vx_call": st.dialer.binding.sign(call_id)})
        async with HttpControlHook(url, token="wrong") as bad:
            with pytest.raises(ControlHookError) as err:
                await bad.submit(hangup)
            assert err.value.status == 401
        async with s.post(f"{url}/v1/calls/{call_id}/hangup", json={"reason": "supervisor"}) as r:
            assert r.status == 401
        async with HttpControlHook(url) as hook:  # the token from the environment
            await hook.submit(hangup)
        await until(lambda: st.dialer.store.get(call_id) is not None)
        rec = st.dialer.store.get(call_id)
        assert rec is not None and rec.hangup_reason == "bot_hangup"
        assert (await refused(st, s, url))["unauthorized"] == 8


async def test_a_call_is_checked_before_it_is_placed() -> None:
    world = {BUSY: customer(outcome="busy")}
    async with stack(customers=world) as st, api(st, token="", bots={"echo"}) as (server, s):
        url = server.url + "/v1/calls"
        bad = {
            "skills": {"number": CUSTOMER, "mode": "agent_first", "skills": "sales"},
            "number": {"number": "call me maybe"},
            "bot": {"number": CUSTOMER, "bot": "nosuchbot"},
            "foo": {"number": CUSTOMER, "amd": True, "foo": 1},
            "amd": {"number": CUSTOMER, "amd": "yes"},
            "call_id": {"number": CUSTOMER, "call_id": "nailed:n1"},
            "custom": {"number": CUSTOMER, "custom": {"lead": 7}},
            "stream_params": {"number": CUSTOMER, "stream_params": {"vx_x": "1"}},
        }
        for name, body in bad.items():
            async with s.post(url, json=body) as r:
                assert r.status == 400, (name, await r.text())
                assert f"field '{name}'" in (await r.json())["error"], name
        assert st.dialer.stats.placed == 0
        # a number written nationally is normalised as campaigns do
        async with s.post(url, json={"number": "99000 00002", "call_id": "dup1"}) as r:
            assert r.status == 202
        await until(lambda: st.dialer.store.get("dup1") is not None)
        rec = st.dialer.store.get("dup1")
        assert rec is not None and rec.number == BUSY and rec.disposition == "busy"
        async with s.post(url, json={"number": CUSTOMER, "call_id": "dup1"}) as r:
            assert r.status == 409, await r.text()
            assert "already used (on record)" in (await r.json())["error"]
        assert st.dialer.store.get("dup1").number == BUSY  # type: ignore[union-attr]
        async with s.post(url, json={"number": CUSTOMER, "call_id": "live1",
                                     "skills": ["sales"], "stream_params": {"name": "Asha"}}) as r:
            assert r.status == 202
        async with s.post(url, json={"number": BUSY, "call_id": "live1"}) as r:
            assert r.status == 409 and "(live)" in (await r.json())["error"]
        st.dialer.stop_accepting()
        async with s.post(url, json={"number": BUSY}) as r:
            assert r.status == 503
        async with s.get(server.url + "/v1/health") as r:
            assert r.status == 503 and (await r.json()) == {
                "ok": False, "active_calls": 1, "stopping": True}
        with pytest.raises(DialerStopping):
            await st.dialer.place_call(CallRequest(BUSY))
        got = await refused(st, s, server.url)
        assert got == {"malformed": len(bad), "duplicate_call_id": 2, "stopping": 1}


def sim_dialer_config(sim: SimServer) -> DialerConfig:
    """A dialer of ``sim`` with no gateway (no stream URL)."""
    return DialerConfig(api_base=sim.api_base, account_sid=sim.account_sid, api_key=sim.api_key,
                        api_token=sim.api_token, exophone="+918000000000",
                        event_endpoint="http://127.0.0.1:0/e")


async def test_bot_first_is_refused_without_a_stream_url() -> None:
    async with SimServer(sim_world()) as sim:
        async with Dialer(sim_dialer_config(sim)) as dialer, ControlApiServer(dialer, dialer=dialer,
                                                           token="") as server, \
                aiohttp.ClientSession() as s:
            async with s.post(server.url + "/v1/calls", json={"number": CUSTOMER}) as r:
                assert r.status == 400
                error = (await r.json())["error"]
            assert "field 'mode'" in error and "VOXGATE_STREAM_URL" in error
            assert dialer.stats.placed == 0


async def test_failing_nailed_dials_are_logged_once_and_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="dialer.nailed")
    async with stack(agents={AGENT: AgentProfile(answer_ms=100, talk_ms=0)}) as st:
        d = st.dialer
        # someone else holds the agent's phone: every dial of the keeper answers busy
        other = (await d.client.create_leg(AGENT, d.exophone, d.event_endpoint,
                                           custom_param="someone-else"))["leg_sid"]
        d.add_agent("n1", AGENT, nailed=True)
        watch = d.nailed_watch.stats
        await until(lambda: "n1" in watch and watch["n1"].failures["busy"] >= 3, limit=8)
        warnings = [r.getMessage() for r in caplog.records if "dial ended busy" in r.message]
        assert len(warnings) == 1, warnings  # rate-limited: the first of the run
        assert "nailed agent n1 (+919800000001): dial ended busy without an answer" in (
            warnings[0])
        assert d.pool.get("n1").state is AgentState.OFFLINE
        await d.client.hangup(other)
        await until(lambda: d.pool.get("n1").state is AgentState.IDLE, limit=20)
        assert any("nailed agent n1 is up again" in r.getMessage() for r in caplog.records)
        async with aiohttp.ClientSession() as s:
            server = ControlApiServer(d, dialer=d, token="")
            async with server, s.get(server.url + "/metrics") as r:
                got = scrape(await r.text())
        busy = got['voxgate_dialer_nailed_dial_failures_total{agent="n1",outcome="busy"}']
        assert busy >= 3
        assert got['voxgate_dialer_nailed_dials_total{agent="n1"}'] >= busy + 1
        assert got['voxgate_dialer_agent_state{agent="n1",state="idle"}'] == 1
        assert got['voxgate_dialer_agent_state{agent="n1",state="offline"}'] == 0


@pytest.mark.slow(5)
async def test_a_nailed_agent_who_hangs_up_is_never_shown_idle_on_the_dead_leg() -> None:
    agent = AgentProfile(answer_ms=100, talk_ms=1200)  # hangs up 1.2 s into the call
    world = {CUSTOMER: customer("wait 20000", "hangup", bridge=("wait 20000", "hangup"))}
    async with stack(customers=world, agents={AGENT: agent}) as st:
        d = st.dialer
        states: list[tuple[str, str]] = []
        d.pool.subscribe(lambda a: states.append((a.state.value, a.nailed_leg_sid)))
        freed: list[str] = []
        d.subscribe(lambda ev: freed.append(ev.detail) if ev.kind == "agent_freed" else None)
        d.add_agent("n1", AGENT, nailed=True)
        await until(lambda: d.pool.get("n1").state is AgentState.IDLE)
        first_leg = d.pool.get("n1").nailed_leg_sid
        freed.clear()
        states.clear()
        handle = await d.place_call(CallRequest(CUSTOMER, mode="agent_first"))
        async with asyncio.timeout(10):
            rec = await handle.wait()
        assert rec.disposition == "agent_handled" and rec.agent_leg_sid == first_leg
        await until(lambda: d.pool.get("n1").state is AgentState.IDLE
                    and d.pool.get("n1").nailed_leg_sid not in ("", first_leg))
        # talking -> offline (the leg is gone) -> idle on the new leg; never idle on the old one
        assert ("idle", first_leg) not in states, states
        assert [s for s, _ in states][:2] == ["talking", "offline"], states
        assert freed == ["n1"]  # once: when the new leg came up


async def test_leaving_the_dialer_hangs_up_the_nailed_legs() -> None:
    async with SimServer(sim_world(agents={AGENT: AgentProfile(answer_ms=100, talk_ms=0)})) as sim:
        async with Dialer(sim_dialer_config(sim)) as dialer:
            dialer.add_agent("n1", AGENT, nailed=True)
            await until(lambda: dialer.pool.get("n1").state is AgentState.IDLE)
            leg = dialer.pool.get("n1").nailed_leg_sid
            assert sim.sim.legs[leg].state.value == "answered"
        assert sim.sim.legs[leg].state.value == "terminated"  # the emulator is still up
        assert [x.custom_param for x in sim.sim.legs.values()] == ["nailed:n1"]  # no re-dial
