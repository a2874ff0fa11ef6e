"""Adapter edge cases over real sockets: long hooks, failing starts and factories, a failing
control hook, and the ``python -m gateway.cli`` process."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from gateway_helpers import BadStart, HangsUp, SlowTalker, broken_factory
from peers.exotel_peer import ExotelPeer

from gateway.config import GatewayConfig
from gateway.control import ControlRequest
from gateway.errors import CloseCode
from gateway.server import GatewayServer

ROOT = Path(__file__).resolve().parents[2]


async def test_audio_played_in_a_long_hook_goes_out_before_the_hook_returns() -> None:
    SlowTalker.instances.clear()
    async with GatewayServer(GatewayConfig(port=0), adapters={"slow": SlowTalker}) as gw:
        async with ExotelPeer(gw.stream_url("slow")) as peer:
            await peer.start()
            await peer.wait_for(lambda r: len(r.audio) >= 41600 and r.marks == ["bye"], 0.8)
            bot = SlowTalker.instances[0]
            assert bot.named("start_done") == []  # still inside on_start
            await peer.stop()
            assert await peer.wait_closed() == 1000
        assert bot.named("start_done") == [None]


@pytest.mark.parametrize("how", ["raise", "rate"])
async def test_failing_start_closes_with_4006(how: str) -> None:
    BadStart.instances.clear()
    config = GatewayConfig(port=0, adapter_options={"bad": {"how": how}})
    async with GatewayServer(config, adapters={"bad": BadStart}) as gw:
        async with ExotelPeer(gw.stream_url("bad")) as peer:
            await peer.start()
            assert await peer.wait_closed() == CloseCode.ADAPTER_ERROR
        assert gw.metrics.adapter_errors["raised"] == 1
        assert BadStart.instances[0].named("stop") == ["error"]


async def test_factory_failure_closes_with_4006() -> None:
    async with GatewayServer(GatewayConfig(port=0), adapters={"broken": broken_factory}) as gw:
        async with ExotelPeer(gw.stream_url("broken")) as peer:
            await peer.start()  # (the gateway waits for it, to report the failed call)
            assert await peer.wait_closed() == CloseCode.ADAPTER_ERROR
        assert gw.metrics.adapter_errors["init"] == 1


class FailingHook:
    def __init__(self) -> None:
        self.calls = 0

    async def submit(self, request: ControlRequest) -> None:
        self.calls += 1
        raise ConnectionError("dialer down")


async def test_control_hook_failure_is_counted_and_the_call_goes_on() -> None:
    HangsUp.instances.clear()
    hook = FailingHook()
    async with GatewayServer(GatewayConfig(port=0), hook, adapters={"bot": HangsUp}) as gw:
        async with ExotelPeer(gw.stream_url("bot")) as peer:
            await peer.start()
            await peer.dtmf("9")  # transfer -> the hook fails
            await peer.dtmf("1")
            bot = HangsUp.instances[0]
            for _ in range(50):
                if bot.named("dtmf") == ["9", "1"]:
                    break
                await asyncio.sleep(0.02)
            assert bot.named("dtmf") == ["9", "1"]
            assert peer.received.close_code is None
        assert hook.calls == 1
        assert gw.metrics.control_errors == 1 and gw.metrics.control_requests == 1


def test_gateway_process_starts_serves_and_stops_on_sigterm() -> None:
    env = dict(os.environ, VOXGATE_LOG_LEVEL="WARNING")
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "--port", "0", "--no-vad"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.search(r"listening on ws://127\.0\.0\.1:(\d+)", line)
        assert match, line
        port = int(match.group(1))

        async def one_call() -> int | None:
            async with ExotelPeer(f"ws://127.0.0.1:{port}/stream/echo") as peer:
                await peer.start()
                await peer.send_media(bytes(3200))
                await peer.wait_for(lambda r: len(r.audio) == 3200)
                await peer.stop()
                return await peer.wait_closed()

        assert asyncio.run(one_call()) == 1000
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=8) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_gateway_cli_rejects_bad_options() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "--adapter-option", "nodot"],
        capture_output=True, text=True, cwd=ROOT, timeout=30,
    )
    assert proc.returncode == 2
    assert "ADAPTER.KEY=VALUE" in proc.stderr
