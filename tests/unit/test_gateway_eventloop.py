"""gateway.eventloop: uvloop when installed and wanted, asyncio's own loop otherwise."""

from __future__ import annotations

import asyncio
import sys

import pytest

from gateway.eventloop import run, uvloop_available


async def loop_module() -> str:
    return type(asyncio.get_running_loop()).__module__


def test_stdlib_loop_when_uvloop_is_not_wanted() -> None:
    assert run(loop_module(), use_uvloop=False).startswith("asyncio")


def test_uvloop_when_installed() -> None:
    expected = "uvloop" if uvloop_available() else "asyncio"
    assert run(loop_module()).startswith(expected)


def test_fallback_when_uvloop_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # makes `import uvloop` fail
    assert not uvloop_available()
    assert run(loop_module()).startswith("asyncio")
