"""Marks are echoed and tracked; barge-in during a long bot utterance clears at the played
position (real sockets, a real-time playing peer)."""

from __future__ import annotations

import asyncio

from gateway_helpers import Marker, Talker
from peers.exotel_peer import ExotelPeer

import audio_fixtures
from bot_adapters.contract import PlayedPosition
from gateway.config import GatewayConfig
from gateway.server import GatewayServer


async def test_marks_follow_their_audio_and_finish_labels() -> None:
    Marker.instances.clear()
    adapters = {"marker": Marker}
    async with GatewayServer(GatewayConfig(port=0), adapters=adapters) as gw:
        async with ExotelPeer(gw.stream_url("marker"), playback=True) as peer:
            await peer.start()
            await peer.wait_for(lambda r: len(r.echoed_marks) == 3, timeout=5)
            bot = Marker.instances[0]
            await asyncio.sleep(0.05)
            assert bot.named("finished") == ["a", "b", "c"]
            assert peer.received.marks == ["a", "b", "c"]
            assert peer.received.played == 9600 + 6400
            await peer.stop()
            assert await peer.wait_closed() == 1000
        assert bot.named("stop") == ["callended"]


async def test_barge_in_clears_at_the_played_position() -> None:
    Talker.instances.clear()
    adapters = {"talker": Talker}
    config = GatewayConfig(port=0, barge_in_min_speech_ms=200, chunk_target_ms=200)
    async with GatewayServer(config, adapters=adapters) as gw:
        async with ExotelPeer(gw.stream_url("talker"), playback=True) as peer:
            await peer.start()
            await peer.stream(bytes(16000), chunk_ms=100, realtime=True)  # 1 s silence
            speech = audio_fixtures.load("cust_hello").pcm
            await peer.stream(speech, chunk_ms=100, realtime=True)
            await peer.wait_for(lambda r: bool(r.clears), timeout=3)
            bot = Talker.instances[0]
            await asyncio.sleep(0.3)  # the playing chunk (<= 200 ms) finishes
            (heard,) = bot.named("barge_in")
            assert isinstance(heard, PlayedPosition)
            assert heard.label == "bot_ask_interest"
            assert heard.total_ms == 4880  # 4873 ms padded to whole 20 ms frames
            assert 1000 <= heard.heard_ms < 3500
            # What the peer actually played matches the reported cut to within one chunk.
            assert abs(peer.received.played - heard.heard_ms * 16) <= 3200
            assert peer.received.played < len(peer.received.audio)
            kinds = [name for name, _ in bot.events]
            assert kinds.index("speech_start") < kinds.index("barge_in")
            assert "finished" not in kinds
        assert gw.metrics.barge_ins == 1
