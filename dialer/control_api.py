"""The dialer's HTTP control API, for a gateway running in another process.

``POST /v1/control`` with the JSON of :meth:`gateway.control.ControlRequest.to_json` (the
gateway's ``HttpControlHook`` sends it): ``transfer``, ``hangup``, ``transfer_forecast``, or
``bot_failed`` (the bot's adapter failed and the gateway is closing the stream; the call gets
the stream fallback). Answers: ``202`` accepted, ``400`` malformed (the
message names the field), ``404`` no live call for ``call_sid``/``custom_parameters.vx_call``.
``GET /v1/health`` answers ``{"ok": true, "active_calls": N}``. ``GET /metrics`` gives the
dialer's counters in Prometheus text (:mod:`dialer.metrics`; 503 until a dialer is attached).

With a :class:`~dialer.service.Dialer` attached (``dialer=``), calls can be placed too:
``POST /v1/calls`` ``{"number", "mode", "bot", "custom", "call_id", "skills"}`` -> ``202
{"call_id"}``; ``GET /v1/calls/{call_id}`` -> ``{"state": ..., "done": false}`` while live, the
stored record (``"done": true``) after, ``404`` when unknown.

Run it beside a :class:`~dialer.service.Dialer`::

    async with Dialer(cfg) as dialer, ControlApiServer(dialer, "127.0.0.1", 0) as api:
        gateway_hook = HttpControlHook(api.url)
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from aiohttp import web

from dialer.errors import UnknownCall
from dialer.metrics import metrics_response, render_dialer_metrics, start_app
from gateway.control import ControlHook, ControlRequest

if TYPE_CHECKING:
    from dialer.service import Dialer

log = logging.getLogger(__name__)

MAX_BODY = 16 * 1024


class ControlApiServer:
    """aiohttp server in front of any :class:`gateway.control.ControlHook` (the dialer)."""

    def __init__(self, hook: ControlHook, host: str = "127.0.0.1", port: int = 0, *,
                 dialer: Dialer | None = None) -> None:
        self.hook = hook
        self.dialer = dialer
        self.host, self.port = host, port
        self._runner: web.AppRunner | None = None
        self.accepted = 0
        self.rejected = 0

    @property
    def url(self) -> str:
        """Base URL to give the gateway (``--control-url``)."""
        return f"http://{self.host}:{self.port}"

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_post("/v1/control", self._control)
        app.router.add_get("/v1/health", self._health)
        app.router.add_get("/metrics", self._metrics)
        if self.dialer is not None:
            app.router.add_post("/v1/calls", self._place)
            app.router.add_get("/v1/calls/{call_id}", self._call)
        return app

    async def start(self) -> None:
        self._runner, self.port = await start_app(self.app(), self.host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> ControlApiServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _control(self, request: web.Request) -> web.Response:
        try:
            body = json.loads(await request.read())
            req = ControlRequest.from_json(body)
        except web.HTTPRequestEntityTooLarge:
            self.rejected += 1
            return web.json_response({"error": "body too large"}, status=413)
        except ValueError as exc:  # JSON errors are ValueErrors too
            self.rejected += 1
            log.warning("malformed control request: %s", exc)
            return web.json_response({"error": str(exc)}, status=400)
        try:
            await self.hook.submit(req)
        except UnknownCall:
            self.rejected += 1
            return web.json_response({"error": f"no live call {req.call_sid}"}, status=404)
        self.accepted += 1
        return web.json_response({"accepted": True}, status=202)

    async def _place(self, request: web.Request) -> web.Response:
        from dialer.service import CallRequest

        assert self.dialer is not None
        try:
            body: Any = json.loads(await request.read())
            if not isinstance(body, dict) or not isinstance(body.get("number"), str):
                raise ValueError("field 'number' must be a string")
            req = CallRequest(
                number=body["number"], mode=body.get("mode", "bot_first"),
                bot=str(body.get("bot", "")), custom=dict(body.get("custom", {})),
                call_id=str(body.get("call_id", "")), skills=tuple(body.get("skills", ())),
            )
            handle = await self.dialer.place_call(req)
        except (ValueError, TypeError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response({"call_id": handle.call_id}, status=202)

    async def _call(self, request: web.Request) -> web.Response:
        assert self.dialer is not None
        call_id = request.match_info["call_id"]
        runner = self.dialer.runner(call_id)
        if runner is not None:
            return web.json_response({"call_id": call_id, "state": runner.flow.state.value,
                                      "done": False})
        record = self.dialer.store.get(call_id)
        if record is None:
            return web.json_response({"error": f"no call {call_id}"}, status=404)
        return web.json_response({**record.to_json(), "done": True})

    async def _metrics(self, request: web.Request) -> web.Response:
        if self.dialer is None:
            return web.Response(status=503, text="no dialer attached\n")
        return metrics_response(render_dialer_metrics(self.dialer))

    async def _health(self, request: web.Request) -> web.Response:
        active = getattr(self.hook, "active_calls", None)
        return web.json_response({"ok": True, "active_calls": active})
