"""``GET /healthz`` (live: the process serves) and ``GET /readyz`` (ready for work) for every
voxgate process, with the same JSON body everywhere::

    {"status": "live" | "ready" | "not ready", "role": "dialer", "mode": "emulator", "reason": ...}

``role``: gateway, dialer, campaign or emulator. ``mode``: ``exotel (<api base>)`` or
``emulator`` for the processes that talk to Exotel (absent for the gateway, which does not).
``/readyz`` answers 503 with the ``reason`` when not ready. Neither is logged above DEBUG.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

HEALTHZ = "/healthz"
READYZ = "/readyz"
PATHS = frozenset({HEALTHZ, READYZ})

# A readiness check: None when ready, else why not.
ReadyCheck = Callable[[], Awaitable[str | None]]

log = logging.getLogger("voxgate.health")


def body(status: str, role: str, mode: str | None, reason: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"status": status, "role": role}
    if mode is not None:
        out["mode"] = mode
    if reason is not None:
        out["reason"] = reason
    return out


def live(role: str, mode: str | None) -> tuple[int, str]:
    """``/healthz``'s status code and JSON text."""
    return 200, json.dumps(body("live", role, mode))


def ready(role: str, mode: str | None, reason: str | None) -> tuple[int, str]:
    """``/readyz``'s status code and JSON text (``reason``: None when ready)."""
    if reason is None:
        return 200, json.dumps(body("ready", role, mode))
    log.debug("%s not ready: %s", role, reason)
    return 503, json.dumps(body("not ready", role, mode, reason))


def add_routes(app: web.Application, role: str, mode: str | None,
               check: ReadyCheck | None = None) -> None:
    """``/healthz`` and ``/readyz`` on an aiohttp app (``check``: None means ready once
    serving)."""

    async def healthz(request: web.Request) -> web.Response:
        log.debug("GET %s from %s", request.path, request.remote)
        status, text = live(role, mode)
        return web.Response(status=status, text=text, content_type="application/json")

    async def readyz(request: web.Request) -> web.Response:
        log.debug("GET %s from %s", request.path, request.remote)
        status, text = ready(role, mode, await check() if check is not None else None)
        return web.Response(status=status, text=text, content_type="application/json")

    app.router.add_get(HEALTHZ, healthz)
    app.router.add_get(READYZ, readyz)


def exotel_mode(api_base: str, emulated: bool) -> str:
    """The ``mode`` of a process that talks to Exotel at ``api_base`` (credentials never
    shown: a URL's user part is dropped)."""
    if emulated:
        return "emulator"
    parts = urlsplit(api_base)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"exotel ({parts.scheme}://{host}{port})"
