"""Echo over real sockets: fixture speech in both media formats comes back bit-exact after
the codec round trip."""

from __future__ import annotations

import pytest
from peers.exotel_peer import ExotelPeer

import audio_fixtures
from gateway.audio import Resampler, mulaw_to_pcm16, pcm16_to_mulaw
from gateway.config import GatewayConfig
from gateway.server import GatewayServer


@pytest.mark.parametrize(
    ("encoding", "clip_name", "rate", "url_rate"),
    [
        ("audio/x-raw", "cust_hello", 8000, None),
        ("raw", "cust_hello_16k", 16000, 16000),
        ("audio/x-mulaw", "cust_hello", 8000, None),
    ],
)
async def test_echo_is_bit_exact(
    encoding: str, clip_name: str, rate: int, url_rate: int | None
) -> None:
    clip = audio_fixtures.load(clip_name)
    assert clip.sample_rate == rate
    query = {"sample-rate": url_rate} if url_rate else {}
    async with GatewayServer(GatewayConfig(port=0)) as gw:
        url = gw.stream_url("echo", **query)
        async with ExotelPeer(url, encoding=encoding, sample_rate=rate) as peer:
            await peer.start()
            sent = await peer.stream(clip.pcm, chunk_ms=100)
            # Keep the line alive like Exotel does, so held tails get flushed.
            await peer.stream(bytes(rate * 2 // 2), chunk_ms=100)
            await peer.wait_for(lambda r: len(r.audio) >= sent, timeout=5)
            expected = peer.to_wire(clip.pcm[: len(clip.pcm) - len(clip.pcm) % 2])
            if "mulaw" in encoding:
                expected = pcm16_to_mulaw(mulaw_to_pcm16(expected))
            assert bytes(peer.received.audio[:sent]) == expected
            frame = rate // 50 * (1 if "mulaw" in encoding else 2)
            assert all(n % frame == 0 for _, n in peer.received.chunks)
            await peer.stop()
            assert await peer.wait_closed() == 1000
        assert gw.metrics.frames_in > 0 and gw.metrics.streams_active == 0


async def test_echo_at_24k_and_adapter_rate_option() -> None:
    clip = audio_fixtures.load("cust_hello_16k")
    pcm24 = Resampler(16000, 24000).convert(clip.pcm)
    config = GatewayConfig(port=0, adapter_options={"echo": {"sample_rate": "24000"}})
    async with GatewayServer(config) as gw:
        url = gw.stream_url("echo", **{"sample-rate": 24000})
        async with ExotelPeer(url, encoding="audio/x-raw", sample_rate=24000) as peer:
            await peer.start(media_format={"encoding": "audio/x-raw"})  # rate from the URL
            sent = await peer.stream(pcm24, chunk_ms=100)
            await peer.stream(bytes(48000), chunk_ms=100)
            await peer.wait_for(lambda r: len(r.audio) >= sent, timeout=5)
            assert bytes(peer.received.audio[:sent]) == pcm24[:sent]
            assert all(n % 960 == 0 for _, n in peer.received.chunks)
