"""The gateway's own WebSocket wire (gateway/wire.py) against a real websockets client:
fragmented messages, pings, invalid UTF-8, binary frames, handshake timeout, rejected
upgrades."""

from __future__ import annotations

import asyncio
import base64
import json

from websockets.asyncio.client import connect

from gateway.config import GatewayConfig
from gateway.server import GatewayServer

START = {
    "event": "start", "stream_sid": "MZ1",
    "start": {"stream_sid": "MZ1", "call_sid": "CA1",
              "media_format": {"encoding": "audio/x-raw", "sample_rate": 8000}},
}


def media(pcm: bytes) -> str:
    return json.dumps({"event": "media", "media": {"payload": base64.b64encode(pcm).decode()}})


async def test_fragmented_message_and_ping_are_handled() -> None:
    async with GatewayServer(GatewayConfig(port=0)) as gw:
        async with connect(gw.stream_url("echo")) as ws:
            await ws.send(json.dumps(START))
            text = media(bytes(range(0, 256, 2)) * 25)  # 3,200 bytes of audio
            parts = [text[i : i + 500] for i in range(0, len(text), 500)]
            await ws.send(parts)  # one message in several frames
            pong = await ws.ping()
            await asyncio.wait_for(pong, 2)
            echoed = json.loads(await asyncio.wait_for(ws.recv(), 2))
            assert echoed["media"]["payload"] == json.loads(text)["media"]["payload"]
        assert gw.metrics.frames_in == 1


async def test_binary_json_message_is_accepted() -> None:
    async with GatewayServer(GatewayConfig(port=0)) as gw:
        async with connect(gw.stream_url("echo")) as ws:
            await ws.send(json.dumps(START).encode())  # a binary frame holding JSON
            await ws.send(media(bytes(3200)).encode())
            echoed = json.loads(await asyncio.wait_for(ws.recv(), 2))
            assert echoed["event"] == "media"


async def test_invalid_utf8_text_closes_with_1007() -> None:
    async with GatewayServer(GatewayConfig(port=0)) as gw:
        async with connect(gw.stream_url("echo")) as ws:
            await ws.send(b'{"event":"\xff"}', text=True)
            await asyncio.wait_for(ws.wait_closed(), 3)
            assert ws.close_code == 1007
        assert gw.metrics.closes[1007] == 1
        assert gw.metrics.protocol_errors["websocket"] == 1
        assert gw.metrics.streams_active == 0


async def test_handshake_timeout_drops_a_silent_connection() -> None:
    async with GatewayServer(GatewayConfig(port=0, handshake_timeout=0.3)) as gw:
        reader, writer = await asyncio.open_connection("127.0.0.1", gw.port)
        writer.write(b"GET /stream/echo HTTP/1.1\r\nHost: x\r\n")  # never finished
        assert await asyncio.wait_for(reader.read(), 3) == b""
        writer.close()


async def test_plain_get_on_a_stream_path_is_refused_without_upgrade() -> None:
    async with GatewayServer(GatewayConfig(port=0)) as gw:
        reader, writer = await asyncio.open_connection("127.0.0.1", gw.port)
        writer.write(b"GET /stream/echo HTTP/1.1\r\nHost: x\r\n\r\n")
        response = await asyncio.wait_for(reader.read(), 3)
        writer.close()
        status = response.split(b"\r\n", 1)[0]
        assert status.startswith(b"HTTP/1.1 426") or status.startswith(b"HTTP/1.1 400")
        assert b"Server: voxgate-gateway" in response
        assert gw.metrics.streams_total == 0
