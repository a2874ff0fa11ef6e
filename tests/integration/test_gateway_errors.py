"""Bad input closes only its own stream with a documented code; other streams go on."""

from __future__ import annotations

import asyncio

import pytest
from gateway_helpers import Crasher
from peers.exotel_peer import ExotelPeer
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

import audio_fixtures
from gateway.config import GatewayConfig
from gateway.errors import CloseCode
from gateway.server import GatewayServer

BAD_INPUT = [
    ("not json at all", CloseCode.MALFORMED_MESSAGE, "malformed"),
    ('{"event":"media","stream_sid":"MZ0001","media":{"payload":"%%%"}}',
     CloseCode.BAD_PAYLOAD, "bad_base64"),
    ('{"event":"media","stream_sid":"MZ0001","media":{"payload":"AAAA"}}',  # 3 bytes
     CloseCode.BAD_AUDIO, "bad_audio"),
    ('{"event":"start","stream_sid":"MZ0001","start":{"stream_sid":"MZ0001"}}',
     CloseCode.OUT_OF_ORDER, "out_of_order"),
]


@pytest.mark.parametrize(("message", "code", "kind"), BAD_INPUT)
async def test_malformed_stream_closed_while_parallel_stream_loses_nothing(
    message: str, code: int, kind: str
) -> None:
    clip = audio_fixtures.load("cust_yes")
    async with GatewayServer(GatewayConfig(port=0)) as gw:
        url = gw.stream_url("echo")
        async with ExotelPeer(url, stream_sid="MZgood") as good, ExotelPeer(url) as bad:
            await good.start()
            await bad.start()
            half = len(clip.pcm) // 2 // 1600 * 1600
            sent = await good.stream(clip.pcm[:half])
            await bad.send_raw(message)
            assert await bad.wait_closed() == code
            sent += await good.stream(clip.pcm[half:])
            await good.stream(bytes(3200))  # keep-alive flushes the held tail
            await good.wait_for(lambda r: len(r.audio) >= sent, timeout=5)
            assert bytes(good.received.audio[:sent]) == clip.pcm[:sent]
            assert good.received.close_code is None
        assert gw.metrics.protocol_errors[kind] == 1
        assert gw.metrics.closes[code] == 1


async def test_media_before_start_and_after_stop() -> None:
    async with GatewayServer(GatewayConfig(port=0)) as gw:
        async with ExotelPeer(gw.stream_url("echo")) as peer:
            await peer.send_media(bytes(320))
            assert await peer.wait_closed() == CloseCode.OUT_OF_ORDER


async def test_oversized_message_gets_1009() -> None:
    async with GatewayServer(GatewayConfig(port=0, max_message_bytes=4096)) as gw:
        async with ExotelPeer(gw.stream_url("echo")) as peer:
            await peer.start()
            await peer.send_media(bytes(8000))
            assert await peer.wait_closed() == CloseCode.MESSAGE_TOO_BIG
        assert gw.metrics.protocol_errors["too_big"] == 1


async def test_unknown_events_are_ignored_and_counted() -> None:
    async with GatewayServer(GatewayConfig(port=0)) as gw:
        async with ExotelPeer(gw.stream_url("echo")) as peer:
            await peer.start()
            await peer.send_json({"event": "brand_new_event", "stream_sid": "MZ0001"})
            await peer.send_media(bytes(3200))
            await peer.wait_for(lambda r: len(r.audio) >= 3200)
            assert gw.metrics.unknown_events == 1


async def test_unknown_adapter_gets_4005() -> None:
    async with GatewayServer(GatewayConfig(port=0)) as gw:
        async with ExotelPeer(gw.stream_url("nobody")) as peer:
            await peer.start()  # (the gateway waits for it, to report the failed call)
            assert await peer.wait_closed() == CloseCode.UNKNOWN_ADAPTER


@pytest.mark.parametrize(
    ("options", "code", "kind"),
    [
        ({"raise_in": "on_audio"}, CloseCode.ADAPTER_ERROR, "raised"),
        ({"hang_in": "on_audio"}, CloseCode.ADAPTER_TIMEOUT, "timeout"),
    ],
)
async def test_failing_bot_ends_only_its_call(
    options: dict[str, str], code: int, kind: str
) -> None:
    Crasher.instances.clear()
    config = GatewayConfig(port=0, adapter_deadline=0.3, adapter_options={"crasher": options})
    async with GatewayServer(config, adapters={"crasher": Crasher}) as gw:
        async with ExotelPeer(gw.stream_url("crasher")) as bad, ExotelPeer(
            gw.stream_url("echo"), stream_sid="MZ2"
        ) as good:
            await bad.start()
            await good.start()
            await bad.send_media(bytes(320))
            assert await bad.wait_closed() == code
            await good.send_media(bytes(3200))
            await good.wait_for(lambda r: len(r.audio) >= 3200)
        assert gw.metrics.adapter_errors[kind] == 1
        assert Crasher.instances[0].named("stop") == ["error"]


async def test_idle_stream_is_closed_with_4008() -> None:
    async with GatewayServer(GatewayConfig(port=0, idle_timeout=0.4)) as gw:
        async with ExotelPeer(gw.stream_url("echo")) as peer:
            await peer.start()
            assert await peer.wait_closed(timeout=3) == CloseCode.IDLE_TIMEOUT


async def test_graceful_shutdown_closes_live_calls_with_1001_after_deadline() -> None:
    gw = GatewayServer(GatewayConfig(port=0, shutdown_deadline=0.3))
    await gw.start()
    url = gw.stream_url("echo")
    async with ExotelPeer(url) as peer:
        await peer.start()
        await gw.stop()
        assert await peer.wait_closed() == CloseCode.GOING_AWAY
    with pytest.raises(OSError):
        async with connect(url, open_timeout=1):
            pass


async def test_graceful_shutdown_lets_calls_finish_within_deadline() -> None:
    gw = GatewayServer(GatewayConfig(port=0, shutdown_deadline=5))
    await gw.start()
    async with ExotelPeer(gw.stream_url("echo")) as peer:
        await peer.start()
        stopping = asyncio.create_task(gw.stop())
        await asyncio.sleep(0.2)
        await peer.send_media(bytes(3200))  # the call goes on during shutdown
        await peer.wait_for(lambda r: len(r.audio) >= 3200)
        await peer.stop()
        assert await peer.wait_closed() == 1000
        await stopping


async def test_bad_sample_rate_query() -> None:
    async with GatewayServer(GatewayConfig(port=0)) as gw:
        async with ExotelPeer(gw.stream_url("echo", **{"sample-rate": "fast"})) as peer:
            assert await peer.wait_closed() == CloseCode.UNSUPPORTED_FORMAT
        async with ExotelPeer(gw.stream_url("echo", **{"sample-rate": 44100})) as peer:
            await peer.start(media_format={"encoding": "audio/x-raw"})
            assert await peer.wait_closed() == CloseCode.UNSUPPORTED_FORMAT


async def test_streams_over_max_streams_get_503() -> None:
    async with GatewayServer(GatewayConfig(port=0, max_streams=1)) as gw:
        async with ExotelPeer(gw.stream_url("echo")) as first:
            await first.start()
            await first.send_media(bytes(3200))
            await first.wait_for(lambda r: len(r.audio) == 3200)
            with pytest.raises(InvalidStatus) as info:
                async with connect(gw.stream_url("echo")):
                    pass
            assert info.value.response.status_code == 503
        assert gw.metrics.rejected_busy == 1
