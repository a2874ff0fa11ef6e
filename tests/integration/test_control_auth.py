"""The control API wants a token by default (issue 14 items 5 and 9), over real sockets.

``voxgate dialer run`` with no ``VOXGATE_CONTROL_TOKEN`` makes a token file (0600) on its first
start and wants that token; ``/v1/health`` stays open; ``--no-control-auth`` is refused off
loopback; a credential that is not ASCII (or not even UTF-8) gets 401, never a 500."""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path

import aiohttp
import pytest
from peers.ports import free_port
from test_dialer_processes import process

from dialer.control_api import ControlApiServer
from gateway.control import RecordingControlHook
from voxgate.cli import main
from voxgate_shared.control_token import read_control_token


async def raw_post(port: int, auth: bytes, body: bytes) -> int:
    """POST /v1/control with ``auth`` as the Authorization header's raw bytes; the status."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"POST /v1/control HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"Authorization: " + auth + b"\r\nContent-Length: " + str(len(body)).encode()
                 + b"\r\nConnection: close\r\n\r\n" + body)
    await writer.drain()
    status = int((await reader.readline()).split()[1])
    writer.close()
    await writer.wait_closed()
    return status


async def test_credentials_that_are_not_ascii_get_401_not_500() -> None:
    token = "tökén-ü"
    hook = RecordingControlHook()
    body = b'{"kind": "hangup", "call_sid": "CA1", "reason": "x"}'
    async with ControlApiServer(hook, token=token) as api:
        for auth in (b"Bearer \xff\xfe", b"Bearer t\xc3\xb6k", "Bearer ték".encode(),
                     b"Basic \xe9t\xe9"):
            assert await raw_post(api.port, auth, body) == 401, auth
        assert await raw_post(api.port, b"Bearer " + token.encode(), body) == 202
    assert len(hook.requests) == 1 and api.rejected == 4


async def test_dialer_run_makes_a_token_and_wants_it(tmp_path: Path) -> None:
    path = Path(os.environ["VOXGATE_CONTROL_TOKEN_FILE"])  # per test (conftest)
    port = free_port()
    control = f"http://127.0.0.1:{port}"
    env = {"EXOTEL_API_BASE": "", "VOXGATE_CONTROL_TOKEN": "",
           "VOXGATE_EVENT_ENDPOINT": "http://127.0.0.1:0/exotel/events"}
    async with process("dialer", "run", "--emulator", "--control-port", str(port),
                       ready="dialer control API at", env=env), aiohttp.ClientSession() as s:
        token = read_control_token()
        assert token and stat.S_IMODE(os.stat(path).st_mode) == 0o600
        async with s.get(f"{control}/v1/health") as r:
            assert r.status == 200  # probes need no token
        for headers in ({}, {"Authorization": "Bearer wrong"}):
            async with s.get(f"{control}/v1/calls/nope", headers=headers) as r:
                assert r.status == 401
        async with s.get(f"{control}/v1/calls/nope",
                         headers={"Authorization": f"Bearer {token}"}) as r:
            assert r.status == 404  # past the token
    assert read_control_token() == token  # kept for the next start and for clients


def test_no_control_auth_only_on_loopback(capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXOTEL_API_BASE", "")
    assert main(["dialer", "run", "--emulator", "--no-control-auth", "--control-host",
                 "0.0.0.0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--no-control-auth is refused on 0.0.0.0" in err[0], err
