"""A failing bot is reported to the dialer before its stream closes (``bot_failed``), over real
sockets: hooks that raise, overrun, block the event loop or fall behind; adapters that cannot be
built, loaded or found. Also: a hook that blocks the loop is logged with its call and counted."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import ClassVar

import pytest
from gateway_helpers import Crasher, Recorder, broken_factory
from peers.exotel_peer import ExotelPeer

import bot_adapters.registry as registry
from bot_adapters.contract import BotAdapter, CallControl
from gateway.config import GatewayConfig
from gateway.control import ControlRequest, RecordingControlHook
from gateway.errors import CloseCode
from gateway.server import GatewayServer

CALL = "CAfailing"


class WatchingHook(RecordingControlHook):
    """Keeps the requests, and whether the peer had seen the close when each arrived."""

    def __init__(self) -> None:
        super().__init__()
        self.peer: ExotelPeer | None = None
        self.closed_before: list[bool] = []

    async def submit(self, request: ControlRequest) -> None:
        await asyncio.sleep(0.1)  # time enough for a close frame, had one been sent
        assert self.peer is not None
        self.closed_before.append(self.peer.received.close_code is not None)
        await super().submit(request)


class Blocks(Recorder):
    """Holds the event loop (``time.sleep``) in the hook named by option ``block_in``."""

    instances: ClassVar[list[Recorder]] = []

    def hold_the_loop(self, hook: str) -> None:
        if self.options.get("block_in") == hook:
            time.sleep(float(self.options.get("seconds", "0.6")))  # no await: the loop stalls

    async def on_start(self, call: CallControl) -> None:
        await super().on_start(call)
        self.hold_the_loop("on_start")

    async def on_dtmf(self, digit: str) -> None:
        await super().on_dtmf(digit)
        self.hold_the_loop("on_dtmf")

    async def on_stop(self, reason: str) -> None:
        await super().on_stop(reason)
        self.hold_the_loop("on_stop")


class Slow(Recorder):
    """Each ``on_audio`` takes 0.15 s (within the deadline): it falls behind a fast peer."""

    instances: ClassVar[list[Recorder]] = []

    async def on_audio(self, pcm: bytes) -> None:
        await asyncio.sleep(0.15)


async def fails(
    adapter: str,
    factories: Mapping[str, object],
    *,
    send: str = "media",
    start: bool = True,
    **config: object,
) -> tuple[GatewayServer, WatchingHook, ExotelPeer]:
    """One stream to ``adapter`` that the gateway closes; returns the server (stopped), its
    hook and the peer (closed, its close code in ``peer.received``)."""
    hook = WatchingHook()
    cfg = GatewayConfig(port=0, **config)  # type: ignore[arg-type]
    async with GatewayServer(cfg, hook, adapters=factories) as gw:  # type: ignore[arg-type]
        async with ExotelPeer(gw.stream_url(adapter), call_sid=CALL,
                              custom_parameters={"vx_call": "vx1"}) as peer:
            hook.peer = peer
            if start:
                await peer.start()
            if send == "media":
                await peer.send_media(bytes(320))
            elif send == "dtmf":
                await peer.dtmf("5")
            elif send == "burst":
                for _ in range(12):
                    await peer.send_media(bytes(320))
            await peer.wait_closed(timeout=5)
    return gw, hook, peer


@pytest.mark.parametrize(
    ("options", "code", "kind", "reason"),
    [
        ({"raise_in": "on_audio"}, CloseCode.ADAPTER_ERROR, "raised", "adapter_error:on_audio"),
        ({"hang_in": "on_audio"}, CloseCode.ADAPTER_TIMEOUT, "timeout",
         "adapter_timeout:on_audio"),
    ],
)
async def test_a_failing_hook_is_reported_before_the_stream_closes(
    options: dict[str, str], code: int, kind: str, reason: str
) -> None:
    Crasher.instances.clear()
    gw, hook, peer = await fails("crasher", {"crasher": Crasher}, adapter_deadline=0.3,
                                 adapter_options={"crasher": options})
    assert peer.received.close_code == code
    assert [(r.kind, r.reason, r.call_sid) for r in hook.requests] == [
        ("bot_failed", reason, CALL)
    ]
    assert hook.requests[0].custom_parameters["vx_call"] == "vx1"
    assert hook.closed_before == [False]  # the dialer hears it before the close
    assert gw.metrics.adapter_errors[kind] == 1
    assert gw.metrics.bot_failures == {reason.partition(":")[0]: 1}
    assert Crasher.instances[0].named("stop") == ["error"]


@pytest.mark.parametrize("hook_name", ["on_start", "on_dtmf"])
async def test_a_hook_that_blocks_the_loop_is_logged_counted_and_ends_its_call(
    hook_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    Blocks.instances.clear()
    caplog.set_level(logging.ERROR, "gateway.connection")
    gw, hook, peer = await fails(
        "blocks", {"blocks": Blocks}, send="dtmf", adapter_deadline=0.2,
        adapter_options={"blocks": {"block_in": hook_name}},
    )
    assert peer.received.close_code == CloseCode.ADAPTER_TIMEOUT
    assert [(r.kind, r.reason) for r in hook.requests] == [
        ("bot_failed", f"adapter_blocked:{hook_name}")
    ]
    assert gw.metrics.adapter_errors == {"blocked": 1}
    text = gw.metrics.render()
    assert 'voxgate_gateway_adapter_errors_total{kind="blocked"} 1' in text
    assert 'voxgate_gateway_bot_failures_reported_total{kind="adapter_blocked"} 1' in text
    [line] = [r.getMessage() for r in caplog.records if "blocked the event loop" in r.message]
    assert f"call {CALL}" in line and "stream MZ0001" in line
    assert f"adapter blocks {hook_name} blocked the event loop for 0.6 s" in line
    assert Blocks.instances[0].named("stop") == ["error"]


async def test_on_stop_that_blocks_is_logged_but_the_call_ends_normally(
    caplog: pytest.LogCaptureFixture,
) -> None:
    Blocks.instances.clear()
    caplog.set_level(logging.ERROR, "gateway.connection")
    hook = RecordingControlHook()
    config = GatewayConfig(port=0, adapter_deadline=0.2,
                           adapter_options={"blocks": {"block_in": "on_stop"}})
    async with GatewayServer(config, hook, adapters={"blocks": Blocks}) as gw:
        async with ExotelPeer(gw.stream_url("blocks")) as peer:
            await peer.start()
            await peer.stop()
            assert await peer.wait_closed() == CloseCode.NORMAL
    assert gw.metrics.adapter_errors == {"blocked": 1} and hook.requests == []
    assert any("on_stop blocked the event loop" in r.message for r in caplog.records)


async def test_a_hook_within_its_deadline_is_no_failure() -> None:
    Blocks.instances.clear()
    hook = RecordingControlHook()
    config = GatewayConfig(port=0, adapter_deadline=1.0,
                           adapter_options={"blocks": {"block_in": "on_start", "seconds": "0.1"}})
    async with GatewayServer(config, hook, adapters={"blocks": Blocks}) as gw:
        async with ExotelPeer(gw.stream_url("blocks")) as peer:
            await peer.start()
            await peer.dtmf("1")
            await peer.stop()
            assert await peer.wait_closed() == CloseCode.NORMAL
    assert gw.metrics.adapter_errors == {} and hook.requests == []


async def test_an_adapter_that_falls_behind_is_reported() -> None:
    Slow.instances.clear()
    gw, hook, peer = await fails("slow", {"slow": Slow}, send="burst", adapter_queue=4)
    assert peer.received.close_code == CloseCode.ADAPTER_TIMEOUT
    assert [(r.kind, r.reason) for r in hook.requests] == [("bot_failed", "adapter_overflow")]
    assert gw.metrics.adapter_errors["overflow"] == 1


async def test_a_factory_that_raises_is_reported_once_start_names_the_call(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR, "gateway.connection")
    gw, hook, peer = await fails("broken", {"broken": broken_factory}, send="")
    assert peer.received.close_code == CloseCode.ADAPTER_ERROR
    assert [(r.kind, r.reason, r.call_sid, r.stream_sid) for r in hook.requests] == [
        ("bot_failed", "adapter_init:init", CALL, "MZ0001")
    ]
    assert gw.metrics.adapter_errors == {"init": 1}
    assert gw.metrics.closes == {CloseCode.ADAPTER_ERROR: 1}
    [line] = [r.getMessage() for r in caplog.records if "could not be built" in r.message]
    assert line.startswith(f"stream MZ0001 (call {CALL}): adapter broken could not be built")
    assert "no model" in line


async def test_a_factory_failure_with_no_start_closes_after_the_deadline() -> None:
    gw, hook, peer = await fails("broken", {"broken": broken_factory}, send="", start=False,
                                 adapter_deadline=0.3)
    assert peer.received.close_code == CloseCode.ADAPTER_ERROR
    assert hook.requests == []  # no call to report it for
    assert gw.metrics.adapter_errors == {"init": 1}


async def test_an_unknown_adapter_is_reported_and_closed_with_4005() -> None:
    gw, hook, peer = await fails("nobody", {}, send="")
    assert peer.received.close_code == CloseCode.UNKNOWN_ADAPTER
    assert [(r.kind, r.reason) for r in hook.requests] == [("bot_failed", "adapter_init:unknown")]
    assert gw.metrics.closes == {CloseCode.UNKNOWN_ADAPTER: 1}


async def test_an_adapter_that_fails_to_load_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(name: str) -> BotAdapter:
        raise registry.AdapterLoadError(f"adapter {name!r} failed to load: no module")

    monkeypatch.setattr("gateway.server.load_adapter", fail)
    gw, hook, peer = await fails("brokenpkg", {}, send="")
    assert peer.received.close_code == CloseCode.ADAPTER_ERROR
    assert [(r.kind, r.reason) for r in hook.requests] == [("bot_failed", "adapter_init:load")]
    assert gw.metrics.adapter_errors == {"load": 1}


async def test_a_peer_that_hangs_up_first_gets_no_failure_report() -> None:
    """The customer's stop ends the call: a bot that raises in ``on_stop`` is logged, not
    reported (the call is over)."""

    class RaisesOnStop(Recorder):
        instances: ClassVar[list[Recorder]] = []

        async def on_stop(self, reason: str) -> None:
            raise RuntimeError("cleanup bug")

    hook = RecordingControlHook()
    async with GatewayServer(GatewayConfig(port=0), hook,
                             adapters={"bot": RaisesOnStop}) as gw:
        async with ExotelPeer(gw.stream_url("bot")) as peer:
            await peer.start()
            await peer.stop()
            await peer.wait_closed()
    assert hook.requests == []
