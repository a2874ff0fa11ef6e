"""Event intake over real sockets: a real gRPC client and real HTTP POSTs."""

from __future__ import annotations

import base64
from typing import Any

import aiohttp
import grpc
import pytest
from google.protobuf import struct_pb2

from dialer.events import ExotelEvent
from dialer.intake import EventIntake, HttpIntakeServer
from dialer.intake_grpc import GrpcIntakeServer
from dialer.intake_server import make_intake_server
from protos import exotel_events_pb2, exotel_events_pb2_grpc

pb2: Any = exotel_events_pb2


def body(name: str, sid: str, leg: str = "L1") -> dict[str, Any]:
    etype = "leg_lifecycle_event" if name.startswith("leg_") else "leg_action_event"
    return {
        "event_sid": sid, "event_type": etype, "event_name": name,
        "event_timestamp": "2026-11-21T09:16:16Z", "action_sid": "", "action_custom_parameter": "",
        "event_data": {"n": 1}, "data": {"leg_sid": leg, "contact_uri": "+911"},
    }


def as_message(b: dict[str, Any]) -> Any:
    ed, d = struct_pb2.Struct(), struct_pb2.Struct()
    ed.update(b["event_data"])
    d.update(b["data"])
    return pb2.CallbackEvent(
        event_sid=b["event_sid"], event_type=b["event_type"], event_name=b["event_name"],
        event_timestamp=b["event_timestamp"], event_data=ed, data=d,
    )


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


async def test_http_webhook_acks_dedups_and_reorders() -> None:
    got: list[ExotelEvent] = []
    intake = EventIntake(got.append)
    server = HttpIntakeServer(intake, auth="exo:secret")
    await server.start()
    try:
        headers = {"Authorization": basic("exo", "secret"), "User-Agent": "Exotel-Hermix/1"}
        async with aiohttp.ClientSession() as s:
            for b in [body("leg_ringing", "E1"), body("stream_started", "E3"),
                      body("leg_answered", "E2"), body("leg_answered", "E2")]:
                async with s.post(server.endpoint, json=b, headers=headers) as r:
                    assert r.status == 200 and (await r.json())["ok"]
            async with s.post(server.endpoint, json=body("leg_ringing", "E4")) as r:
                assert r.status == 401  # no credentials
            async with s.post(server.endpoint, data=b"not json", headers=headers) as r:
                assert r.status == 400
            async with s.post(server.endpoint, json={"event_sid": "x"}, headers=headers) as r:
                assert r.status == 400
            async with s.post(server.endpoint, data=b"x" * 70_000, headers=headers) as r:
                assert r.status == 413
        assert [e.name for e in got] == ["leg_ringing", "leg_answered", "stream_started"]
        st = intake.stats
        assert (st.unauthorized, st.malformed, intake.sequencer.stats.duplicates) == (1, 3, 1)
    finally:
        await server.stop()


async def test_grpc_intake_with_real_client() -> None:
    got: list[ExotelEvent] = []
    intake = EventIntake(got.append)
    server = make_intake_server(intake, "grpc://127.0.0.1:0", auth="exo:secret")
    assert isinstance(server, GrpcIntakeServer)
    await server.start()
    try:
        assert server.endpoint == f"grpc://exo%3Asecret@127.0.0.1:{server.port}"
        target = f"127.0.0.1:{server.port}"
        async with grpc.aio.insecure_channel(target) as channel:
            stub = exotel_events_pb2_grpc.ExotelCallbackServiceStub(channel)  # type: ignore[no-untyped-call]
            meta = (("authorization", basic("exo", "secret")), ("x-exotel-event-sid", "E1"))
            ack = await stub.TriggerCallbackEvent(as_message(body("leg_answered", "E1")),
                                                  metadata=meta)
            assert ack.ok
            ack = await stub.TriggerCallbackEvent(as_message(body("leg_answered", "E1")),
                                                  metadata=meta)
            assert ack.ok  # a duplicate is acknowledged, not delivered twice
            with pytest.raises(grpc.aio.AioRpcError) as bad:
                await stub.TriggerCallbackEvent(pb2.CallbackEvent(event_sid="E2"), metadata=meta)
            assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            with pytest.raises(grpc.aio.AioRpcError) as denied:
                await stub.TriggerCallbackEvent(as_message(body("leg_ringing", "E3")))
            assert denied.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert [e.name for e in got] == ["leg_answered"]
        assert got[0].event_data["n"] == 1
    finally:
        await server.stop()


async def test_sink_errors_are_counted_not_raised() -> None:
    def broken(ev: ExotelEvent) -> None:
        raise RuntimeError("bug")

    intake = EventIntake(broken)
    server = make_intake_server(intake, "http://127.0.0.1:0/hook")
    assert isinstance(server, HttpIntakeServer)
    await server.start()
    try:
        async with aiohttp.ClientSession() as s, s.post(
            server.endpoint, json=body("leg_ringing", "E1")
        ) as r:
            assert r.status == 200
        assert intake.stats.sink_errors == 1
    finally:
        await server.stop()


def test_unsupported_endpoint() -> None:
    with pytest.raises(ValueError):
        make_intake_server(EventIntake(lambda e: None), "ftp://x")
