"""Batched loop turns (``batch_ms``, gateway/batching.py): on only while enough streams are
open, and the audio still comes back bit-exact and in order."""

from __future__ import annotations

import asyncio
import base64
import json

import pytest
from websockets.asyncio.client import ClientConnection, connect

from gateway.batching import LoopBatcher
from gateway.config import GatewayConfig
from gateway.server import GatewayServer


def start(sid: str) -> str:
    return json.dumps(
        {
            "event": "start",
            "stream_sid": sid,
            "start": {
                "stream_sid": sid,
                "call_sid": "CA" + sid,
                "media_format": {"encoding": "audio/x-raw", "sample_rate": 8000},
            },
        }
    )


def media(pcm: bytes) -> str:
    return json.dumps({"event": "media", "media": {"payload": base64.b64encode(pcm).decode()}})


async def echo_back(ws: ClientConnection, pcm: bytes) -> bytes:
    await ws.send(media(pcm))
    got = b""
    while len(got) < len(pcm):
        message = json.loads(await asyncio.wait_for(ws.recv(), 3))
        if message["event"] == "media":
            got += base64.b64decode(message["media"]["payload"])
    return got


async def test_batching_runs_only_while_enough_streams_are_open() -> None:
    config = GatewayConfig(port=0, batch_ms=2, batch_min_streams=2)
    async with GatewayServer(config) as gw:
        assert gw.batcher is not None and not gw.batcher.running
        async with connect(gw.stream_url("echo")) as one:
            await one.send(start("MZ1"))
            pcm1 = bytes(range(256)) * 25
            assert await echo_back(one, pcm1[:3200]) == pcm1[:3200]
            assert not gw.batcher.running  # one stream: below the threshold
            async with connect(gw.stream_url("echo")) as two:
                await two.send(start("MZ2"))
                await asyncio.sleep(0.05)
                assert gw.batcher.running
                pcm2 = bytes(reversed(range(256))) * 25
                results = await asyncio.gather(
                    echo_back(one, pcm1[3200:]), echo_back(two, pcm2[:3200])
                )
                assert results == [pcm1[3200:], pcm2[:3200]]
                turns = gw.batcher.turns
                await asyncio.sleep(0.1)
                assert gw.batcher.turns > turns  # holding turns while idle streams stay open
            await asyncio.sleep(0.05)
            assert not gw.batcher.running  # back under the threshold
    assert not gw.batcher.running


async def test_batching_off_by_default() -> None:
    async with GatewayServer(GatewayConfig(port=0)) as gw:
        assert gw.batcher is None


async def test_batcher_holds_each_turn_to_its_interval() -> None:
    batcher = LoopBatcher(0.01)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    batcher.start()
    batcher.start()  # idempotent
    await asyncio.sleep(0.03)  # the loop's turns, each slept out to 10 ms
    batcher.stop()
    turns = batcher.turns
    elapsed = loop.time() - t0
    assert 1 <= turns <= elapsed / 0.01 + 1  # no turn shorter than the interval
    assert not batcher.running
    await asyncio.sleep(0.03)
    assert batcher.turns == turns  # stopped: no more turns held
    with pytest.raises(ValueError):
        LoopBatcher(0)


def test_config_refuses_bad_batching() -> None:
    with pytest.raises(ValueError):
        GatewayConfig(batch_ms=-1)
    with pytest.raises(ValueError):
        GatewayConfig(batch_ms=100)
    with pytest.raises(ValueError):
        GatewayConfig(batch_min_streams=0)
