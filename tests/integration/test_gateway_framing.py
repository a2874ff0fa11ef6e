"""The gateway's own RFC 6455 frame parser (gateway/wire.py), driven byte by byte from a raw
TCP client on 127.0.0.1: every framing rule it enforces, each with the close code the peer
gets, and the shapes of input a real client produces (frames split across reads, several
frames in one read, a frame in the same segment as the handshake)."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import struct

import pytest
from peers.ws_frames import client_frame

from gateway.config import GatewayConfig
from gateway.server import GatewayServer

START = json.dumps(
    {
        "event": "start",
        "stream_sid": "MZ1",
        "start": {
            "stream_sid": "MZ1",
            "call_sid": "CA1",
            "media_format": {"encoding": "audio/x-raw", "sample_rate": 8000},
        },
    }
).encode()
HANDSHAKE = (
    b"GET /stream/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
    b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Sec-WebSocket-Version: 13\r\n\r\n"
)


def media(pcm: bytes) -> bytes:
    return json.dumps(
        {"event": "media", "media": {"payload": base64.b64encode(pcm).decode()}}
    ).encode()


class RawClient:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def read_frame(self) -> tuple[int, bytes]:
        """One server frame (servers never mask): (opcode, payload)."""
        b0, b1 = await asyncio.wait_for(self.reader.readexactly(2), 3)
        assert not b1 & 0x80, "server frames are unmasked"
        n = b1 & 0x7F
        if n == 126:
            (n,) = struct.unpack("!H", await self.reader.readexactly(2))
        elif n == 127:
            (n,) = struct.unpack("!Q", await self.reader.readexactly(8))
        return b0 & 0x0F, await asyncio.wait_for(self.reader.readexactly(n), 3)

    async def finish(self) -> None:
        """The client's side of a normal close: close frame, the echo, then FIN."""
        self.writer.write(client_frame(0x8, struct.pack("!H", 1000)))
        assert await self.close_code() == 1000
        self.writer.close()

    async def close_code(self) -> int:
        """Read until the server's close frame; its code."""
        while True:
            opcode, payload = await self.read_frame()
            if opcode == 0x8:
                (code,) = struct.unpack("!H", payload[:2])
                return code


async def open_raw(gw: GatewayServer, first: bytes = b"") -> RawClient:
    reader, writer = await asyncio.open_connection("127.0.0.1", gw.port)
    writer.write(HANDSHAKE + first)
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 3)
    assert head.startswith(b"HTTP/1.1 101"), head
    return RawClient(reader, writer)


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (client_frame(0x1, b'{"event":"connected"}', masked=False), 1002),
        (client_frame(0x1, b'{"event":"connected"}', rsv=0x40), 1002),
        (client_frame(0x3, b"x"), 1002),  # reserved data opcode
        (client_frame(0xB, b"x"), 1002),  # reserved control opcode
        (client_frame(0x9, b"x" * 126), 1002),  # control frame over 125 bytes
        (client_frame(0x9, b"x", fin=False), 1002),  # fragmented control frame
        (client_frame(0x0, b"x"), 1002),  # continuation with nothing to continue
        (client_frame(0x8, b"\x03"), 1002),  # close payload of one byte
        (client_frame(0x8, struct.pack("!H", 1005)), 1002),  # a code never sent on the wire
        (client_frame(0x8, struct.pack("!H", 1000) + b"\xff"), 1007),  # reason not UTF-8
        (client_frame(0x1, b"\xc3\x28"), 1007),  # text not UTF-8
    ],
    ids=[
        "unmasked",
        "rsv",
        "opcode3",
        "opcode11",
        "long-ping",
        "fragmented-ping",
        "stray-continuation",
        "close-1-byte",
        "close-1005",
        "close-reason-utf8",
        "text-utf8",
    ],
)
async def test_framing_violations_close_with_their_code(frame: bytes, code: int) -> None:
    async with GatewayServer(GatewayConfig(port=0)) as gw:
        client = await open_raw(gw)
        client.writer.write(client_frame(0x1, START) + frame)
        assert await client.close_code() == code
        assert await asyncio.wait_for(client.reader.read(), 3) == b""  # the server half-closed
        client.writer.close()
        await asyncio.sleep(0.05)
        assert gw.metrics.closes[code] == 1
        assert gw.metrics.streams_active == 0


async def test_frame_over_max_size_is_refused_from_its_header() -> None:
    """1009 as soon as the header announces too much: the payload is never buffered."""
    async with GatewayServer(GatewayConfig(port=0, max_message_bytes=4096)) as gw:
        client = await open_raw(gw)
        header = struct.pack("!BBQ", 0x81, 0x80 | 127, 10**9) + os.urandom(4)
        client.writer.write(client_frame(0x1, START) + header)
        assert await client.close_code() == 1009
        client.writer.close()
        await asyncio.sleep(0.05)
        assert gw.metrics.protocol_errors["too_big"] == 1


async def test_fragments_adding_up_past_max_size_get_1009() -> None:
    async with GatewayServer(GatewayConfig(port=0, max_message_bytes=4096)) as gw:
        client = await open_raw(gw)
        client.writer.write(client_frame(0x1, START))
        client.writer.write(client_frame(0x1, b"x" * 3000, fin=False))
        client.writer.write(client_frame(0x0, b"x" * 3000, fin=False))
        assert await client.close_code() == 1009
        client.writer.close()


async def test_new_message_inside_a_fragmented_one_is_a_protocol_error() -> None:
    async with GatewayServer(GatewayConfig(port=0)) as gw:
        client = await open_raw(gw)
        client.writer.write(client_frame(0x1, START[:10], fin=False))
        client.writer.write(client_frame(0x1, START))
        assert await client.close_code() == 1002
        client.writer.close()


async def test_frame_in_the_handshake_segment_and_frames_split_byte_by_byte() -> None:
    """Pipelined: the start frame rides in the handshake's segment; then one media message
    arrives a byte per write, and two more in a single write. All are echoed bit-exact."""
    async with GatewayServer(GatewayConfig(port=0)) as gw:
        client = await open_raw(gw, client_frame(0x1, START))
        pcm = bytes(range(256)) * 25  # 6,400 bytes: two 3,200-byte echoes
        wire = client_frame(0x1, media(pcm[:3200]))
        for i in range(len(wire)):
            client.writer.write(wire[i : i + 1])
            await client.writer.drain()
        client.writer.write(
            client_frame(0x1, media(pcm[3200:4800])) + client_frame(0x1, media(pcm[4800:]))
        )
        echoed = b""
        while len(echoed) < len(pcm):
            opcode, payload = await client.read_frame()
            assert opcode == 0x1
            message = json.loads(payload)
            if message["event"] == "media":
                echoed += base64.b64decode(message["media"]["payload"])
        assert echoed == pcm
        assert gw.metrics.frames_in == 3
        await client.finish()


async def test_ping_between_fragments_gets_its_pong_and_the_message_arrives() -> None:
    async with GatewayServer(GatewayConfig(port=0)) as gw:
        client = await open_raw(gw)
        message = media(bytes(3200))
        client.writer.write(client_frame(0x1, START))
        client.writer.write(client_frame(0x1, message[:100], fin=False))
        client.writer.write(client_frame(0x9, b"are you there"))
        client.writer.write(client_frame(0x0, message[100:]))
        assert await client.read_frame() == (0xA, b"are you there")
        opcode, payload = await client.read_frame()
        assert (opcode, json.loads(payload)["event"]) == (0x1, "media")
        await client.finish()


async def test_peer_close_is_echoed_and_the_server_closes_first() -> None:
    async with GatewayServer(GatewayConfig(port=0)) as gw:
        client = await open_raw(gw)
        client.writer.write(client_frame(0x1, START))
        client.writer.write(client_frame(0x8, struct.pack("!H", 4321) + b"bye"))
        assert await client.close_code() == 4321
        assert await asyncio.wait_for(client.reader.read(), 3) == b""
        client.writer.close()


async def test_peer_that_never_finishes_the_close_is_dropped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """We close (the idle timeout here); a peer that never answers is aborted after the
    close timeout."""
    monkeypatch.setattr("gateway.server.CLOSE_TIMEOUT", 0.3)
    async with GatewayServer(GatewayConfig(port=0, idle_timeout=0.2)) as gw:
        client = await open_raw(gw)
        client.writer.write(client_frame(0x1, START))
        assert await client.close_code() == 4008
        assert await asyncio.wait_for(client.reader.read(), 3) == b""
        await asyncio.sleep(0.6)  # the client never sends its close nor its FIN
        assert gw.metrics.streams_active == 0
        assert gw.open_connections == 0


async def test_our_close_answered_by_the_peer_ends_the_connection_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The call ends (stop): we send 1000, the peer answers with its close frame, and we
    end TCP there and then, not at the close timeout."""
    monkeypatch.setattr("gateway.server.CLOSE_TIMEOUT", 30.0)
    async with GatewayServer(GatewayConfig(port=0)) as gw:
        client = await open_raw(gw)
        stop = json.dumps({"event": "stop", "stream_sid": "MZ1", "stop": {"reason": "x"}})
        client.writer.write(client_frame(0x1, START) + client_frame(0x1, stop.encode()))
        assert await client.close_code() == 1000
        client.writer.write(client_frame(0x1, b'{"event":"late"}'))  # read, then dropped
        client.writer.write(client_frame(0x8, struct.pack("!H", 1000)))
        assert await asyncio.wait_for(client.reader.read(), 1) == b""
        client.writer.close()
        await asyncio.sleep(0.05)
        assert gw.open_connections == 0
        assert gw.metrics.unknown_events == 0
