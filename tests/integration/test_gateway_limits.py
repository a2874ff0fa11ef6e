"""Issue 14's gateway bounds over real sockets on 127.0.0.1: a name flood keeps the per-stream
memory and log bounded (item 3), streams that never start are closed and cannot fill the
gateway (item 4), nested custom parameters close 4000 (item 10), unknown adapter names are
resolved once and logged a bounded number of times (item 12), one idle close is counted once
(item 13), and the DEBUG handshake log shows no credentials (item 6)."""

from __future__ import annotations

import asyncio
import base64
import logging
import struct
from collections.abc import Callable

import pytest
from peers.exotel_peer import ExotelPeer
from test_gateway_framing import START, client_frame, open_raw
from websockets.asyncio.client import connect

import gateway.server as server_module
from bot_adapters.contract import AdapterFactory
from gateway.config import GatewayConfig
from gateway.connection import IGNORED_LOGGED, StreamConnection
from gateway.errors import CloseCode
from gateway.server import GatewayServer


async def until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:  # noqa: ASYNC109
    """Wait for a condition on the gateway's state (checked every loop turn or so)."""
    async with asyncio.timeout(timeout):
        while not predicate():  # noqa: ASYNC110 - the server's counters have no event
            await asyncio.sleep(0.01)


def only_connection(gw: GatewayServer) -> StreamConnection:
    (conn,) = gw._connections
    return conn


async def test_a_name_flood_keeps_the_stream_bounded_and_alive(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """3,000 unique unknown-event names and 300 unique stale-mark names: the stream keeps at
    most IGNORED_LOGGED + 1 names and logs as many lines (the old code kept and logged every
    one), counts them all, and still echoes audio."""
    caplog.set_level(logging.INFO, logger="gateway.connection")
    async with GatewayServer(GatewayConfig(port=0)) as gw:
        async with ExotelPeer(gw.stream_url("echo")) as peer:
            await peer.start()
            for i in range(3000):
                await peer.send_json({"event": f"flood-{i:05d}-" + "x" * 1000})
            for i in range(300):
                await peer.send_json({"event": "mark", "mark": {"name": f"m{i}-" + "y" * 200}})
            await peer.send_media(bytes(3200))
            await peer.wait_for(lambda r: len(r.audio) >= 3200)
            conn = only_connection(gw)
            assert len(conn._ignored) <= IGNORED_LOGGED + 1
            assert gw.metrics.unknown_events == 3000 and gw.metrics.stale_marks == 300
            assert peer.received.close_code is None
    ignored = [r for r in caplog.records if "ignored" in r.getMessage()]
    assert len(ignored) == IGNORED_LOGGED + 1
    assert max(len(r.getMessage()) for r in ignored) < 200


async def test_a_stream_that_never_starts_is_closed_though_it_sends_connected() -> None:
    config = GatewayConfig(port=0, start_timeout=0.5, idle_timeout=30)
    async with GatewayServer(config) as gw:
        url = gw.stream_url("echo")
        async with ExotelPeer(url, stream_sid="MZgood") as good, ExotelPeer(url) as idle:
            await good.start()

            async def keep_sending_connected() -> None:
                while idle.received.close_code is None:
                    await idle.send_json({"event": "connected"})
                    await asyncio.sleep(0.1)

            sender = asyncio.create_task(keep_sending_connected())
            assert await idle.wait_closed(timeout=5) == CloseCode.IDLE_TIMEOUT
            assert idle.received.close_reason == "no start"
            await asyncio.gather(sender, return_exceptions=True)
            await good.send_media(bytes(3200))
            await good.wait_for(lambda r: len(r.audio) >= 3200)
            assert good.received.close_code is None
        assert gw.metrics.protocol_errors["no_start"] == 1
        assert gw.metrics.closes[CloseCode.IDLE_TIMEOUT] == 1


async def _refused(url: str) -> bool:
    """True when the gateway drops the TCP connection before answering the handshake."""
    try:
        async with connect(url, open_timeout=3):
            return False
    except TimeoutError:
        return False
    except Exception:  # reset, or EOF before the response
        return True


async def test_pending_connections_per_ip_are_capped_until_a_stream_starts() -> None:
    config = GatewayConfig(port=0, ip_limit_exempt=(), max_pending_per_ip=2)
    async with GatewayServer(config) as gw:
        url = gw.stream_url("echo")
        async with ExotelPeer(url) as first, ExotelPeer(url, stream_sid="MZ2"):
            assert await _refused(url)
            assert gw.metrics.refused_connections["pending_per_ip"] == 1
            await first.start()
            await until(lambda: len(gw._pending) == 1)
            async with ExotelPeer(url, stream_sid="MZ3") as third:  # a slot again
                await third.start()
                await third.send_media(bytes(3200))
                await third.wait_for(lambda r: len(r.audio) >= 3200)
        assert "voxgate_gateway_refused_connections_total{cap=\"pending_per_ip\"} 1" in (
            gw.metrics.render()
        )


async def test_pending_connections_are_capped_in_total_loopback_included() -> None:
    async with GatewayServer(GatewayConfig(port=0, max_pending=2)) as gw:
        url = gw.stream_url("echo")
        async with ExotelPeer(url), ExotelPeer(url):
            assert await _refused(url)
        assert gw.metrics.refused_connections["pending"] == 1


async def test_connections_per_ip_capped_when_configured() -> None:
    config = GatewayConfig(port=0, ip_limit_exempt=(), max_connections_per_ip=2)
    async with GatewayServer(config) as gw:
        url = gw.stream_url("echo")
        async with ExotelPeer(url) as a, ExotelPeer(url, stream_sid="MZ2") as b:
            await a.start()
            await b.start()
            assert await _refused(url)
        assert gw.metrics.refused_connections["per_ip"] == 1
        async with ExotelPeer(url) as c:  # both closed: room again
            await c.start()


async def test_nested_custom_parameters_close_4000_not_1011() -> None:
    async with GatewayServer(GatewayConfig(port=0)) as gw:
        async with ExotelPeer(gw.stream_url("echo")) as peer:
            deep = "[" * 1000 + "]" * 1000
            await peer.send_raw(
                '{"event":"start","stream_sid":"MZ1","start":{"stream_sid":"MZ1",'
                '"media_format":{"encoding":"audio/x-raw","sample_rate":8000},'
                '"custom_parameters":{"vx_call":' + deep + "}}}"
            )
            assert await peer.wait_closed() == CloseCode.MALFORMED_MESSAGE
        assert gw.metrics.protocol_errors["malformed"] == 1


async def test_unknown_adapter_names_resolve_once_and_log_a_bounded_number_of_times(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    lookups: list[str] = []
    real = server_module.load_adapter

    def counting(name: str) -> AdapterFactory:
        lookups.append(name)
        return real(name)

    monkeypatch.setattr(server_module, "load_adapter", counting)
    caplog.set_level(logging.ERROR, logger="gateway.connection")
    async with GatewayServer(GatewayConfig(port=0)) as gw:
        url = gw.stream_url("nobody")
        for i in range(12):
            async with ExotelPeer(url, stream_sid=f"MZ{i}") as peer:
                await peer.start()
                assert await peer.wait_closed() == CloseCode.UNKNOWN_ADAPTER
        assert gw.metrics.adapter_errors["unknown"] == 12
    assert lookups == ["nobody"]
    assert len([r for r in caplog.records if "could not be built" in r.getMessage()]) == 10


async def test_an_idle_close_is_counted_and_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The peer answers the idle close late: the watchdog, which wakes every 75 ms here,
    counted and logged the close again on each wake-up until the connection was gone."""
    caplog.set_level(logging.WARNING, logger="gateway.server")
    async with GatewayServer(GatewayConfig(port=0, idle_timeout=0.3)) as gw:
        client = await open_raw(gw)
        client.writer.write(client_frame(0x1, START))
        assert await client.close_code() == CloseCode.IDLE_TIMEOUT
        await asyncio.sleep(0.5)  # several watchdog wake-ups while our close answer is due
        client.writer.write(client_frame(0x8, struct.pack("!H", CloseCode.IDLE_TIMEOUT)))
        await until(lambda: gw.active_streams == 0)
        client.writer.close()
        assert gw.metrics.protocol_errors["idle"] == 1
        assert gw.metrics.closes[CloseCode.IDLE_TIMEOUT] == 1
    assert len([r for r in caplog.records if "idle for" in r.getMessage()]) == 1


async def test_debug_handshake_log_shows_no_credentials(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    password = "Tok3n-very-secret"
    token = base64.b64encode(f"KEY:{password}".encode()).decode()
    config = GatewayConfig(port=0, auth_user="KEY", auth_password=password)
    async with GatewayServer(config) as gw:
        headers = {"Authorization": f"Basic {token}"}
        async with ExotelPeer(gw.stream_url("echo"), headers=headers) as peer:
            await peer.start()
            await peer.stop()
            await peer.wait_closed()
    text = "\n".join(  # the gateway's side (the test's client logs what it sends)
        r.getMessage() for r in caplog.records if not r.name.startswith("websockets.client")
    )
    assert "< Authorization:" in text  # websockets did log the header ...
    assert password not in text and token not in text  # ... without its value
