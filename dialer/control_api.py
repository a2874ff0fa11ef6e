"""The dialer's HTTP control API, for a gateway running in another process.

``POST /v1/control`` with the JSON of :meth:`voxgate_shared.control.ControlRequest.to_json` (the
gateway's ``HttpControlHook`` sends it): ``transfer``, ``hangup``, ``transfer_forecast``,
``bot_failed`` (the bot's adapter failed and the gateway is closing the stream; the call gets
the stream fallback) or ``greeting_wait`` (answered once the call's greeting has stopped).
Each must be bound to its call: ``custom_parameters.vx_call`` carries the dialer's MAC and
``call_sid`` is the call's customer leg (:meth:`dialer.service.Dialer.bound_call`). Answers:
``202`` accepted, ``400`` malformed (the message names the field), ``403`` not bound to the
call (counted as ``unbound``, ``bad_mac`` or ``leg_mismatch``), ``404`` the call is no longer
live. An operator ends a call by id with ``POST /v1/calls/{call_id}/hangup`` (``{"reason":
...}`` optional; ``202``, ``404``). ``GET /v1/health`` answers ``{"ok": true,
"active_calls": N, "stopping": false}`` (``503`` with ``"ok": false`` once the dialer is
stopping). ``GET /metrics`` gives the dialer's counters in Prometheus text
(:mod:`dialer.metrics`; 503 until a dialer is attached).

With a :class:`~dialer.service.Dialer` attached (``dialer=``), calls can be placed too:
``POST /v1/calls`` ``{"number", "mode", "bot", "custom", "call_id", "skills", "amd",
"stream_params", "ring_timeout", "caller_id"}`` -> ``202 {"call_id"}`` (``ring_timeout``
seconds and ``caller_id`` an ExoPhone: optional, the dialer's ``customer_ring_timeout`` and
``exophone`` otherwise); ``GET /v1/calls/{call_id}`` -> ``{"state": ..., "done": false}``
while live, the stored record (``"done": true``) after (also for a call an earlier, killed run
placed, once :mod:`dialer.restart` settled it), ``{"state": STAGE, "done": false, "settling":
true}`` for such a call while the restart still settles it, ``404`` when unknown.
A new call is checked before it is placed (:func:`parse_call_request`): ``400`` names the
field (an unknown field, a number that is not a phone number or ``sip:`` URI, ``skills`` that
is not a list of strings, a bot the gateway does not serve, ``bot_first`` with no stream URL
...), ``409`` a ``call_id`` already used (live or on record: its record would be overwritten),
``503`` while the dialer is stopping (:meth:`~dialer.service.Dialer.stop_accepting`).

Authentication: with a token (``token=``, by default the environment's
``VOXGATE_CONTROL_TOKEN``; ``voxgate dialer run`` always has one unless ``--no-control-auth``
on loopback, see :mod:`voxgate_shared.control_token`) every route but ``/v1/health`` wants
``Authorization: Bearer TOKEN`` (compared as bytes in constant time, so a non-ASCII header is a
``401`` like any other wrong token); ``/ui/`` (the dashboard, :mod:`dialer.web`, mounted
only with a users file) is left to the dashboard's own session auth.
The gateway's ``HttpControlHook`` sends the same token.
Refusals are counted (``DialerStats.control_refused`` by reason).

Run it beside a :class:`~dialer.service.Dialer`::

    async with Dialer(cfg) as dialer, ControlApiServer(dialer, "127.0.0.1", 0) as api:
        gateway_hook = HttpControlHook(api.url)
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import re
from collections.abc import Awaitable, Callable, Collection
from typing import TYPE_CHECKING, Any

from aiohttp import web

from dialer.errors import ControlRefused, UnknownCall
from dialer.metrics import metrics_response, render_dialer_metrics, start_app
from dialer.readiness import ExotelProbe, local_reason
from voxgate_shared import health
from voxgate_shared.control import ControlHook, ControlRequest
from voxgate_shared.control_token import CONTROL_TOKEN_ENV, token_bytes

if TYPE_CHECKING:
    from dialer.service import CallRequest, Dialer

log = logging.getLogger(__name__)

MAX_BODY = 16 * 1024
CALL_FIELDS = ("number", "mode", "bot", "custom", "call_id", "skills", "amd", "stream_params",
               "ring_timeout", "caller_id")
CALL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
SIP_URI = re.compile(r"sips?:[^\s@]+@[^\s@]+")
OPEN_PATHS = frozenset({"/v1/health", *health.PATHS})
UI_PATHS = ("/ui/",)  # the dashboard's session auth (dialer.web.auth) guards them

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class BadField(ValueError):
    """A field of a ``POST /v1/calls`` body that cannot be used (``400``)."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"field {name!r}: {message}")
        self.field = name
        self.reason = message


def _string_map(body: dict[str, Any], name: str) -> dict[str, str]:
    value = body.get(name, {})
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise BadField(name, "must be an object of strings")
    return value


def contact_uri(value: Any, name: str = "number") -> str:
    """A number to dial, normalised as campaigns do (``98123 45678`` -> ``+919812345678``:
    national numbers are India's), or a ``sip:`` URI as it is; :class:`BadField` otherwise."""
    from dialer.campaign.model import CampaignError, normalise_phone

    if not isinstance(value, str) or not value.strip():
        raise BadField(name, "must be a phone number (a string)")
    if SIP_URI.fullmatch(value.strip()):
        return value.strip()
    try:
        return normalise_phone(value)
    except CampaignError as exc:
        raise BadField(name, f"{exc}: write it with + and the country code (or as a national "
                             "number of India), or as a sip: URI") from None


def parse_call_request(body: Any, *, bots: Collection[str] | None = None,
                       can_stream: bool = True) -> CallRequest:
    """The :class:`~dialer.service.CallRequest` of a ``POST /v1/calls`` body; raises
    :class:`BadField` (or ``ValueError``) naming what cannot be used.

    ``number`` is normalised (``98123 45678`` -> ``+919812345678``; a ``sip:`` URI is kept);
    ``bots`` (when given) are the bots the gateway serves; ``can_stream`` False refuses
    ``bot_first`` (the dialer has no stream URL to give Exotel)."""
    from dialer.service import CallRequest

    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    unknown = sorted(set(body) - set(CALL_FIELDS))
    if unknown:
        raise BadField(unknown[0], f"unknown (known: {', '.join(CALL_FIELDS)})")
    number = contact_uri(body.get("number"))
    mode = body.get("mode", "bot_first")
    if mode not in ("bot_first", "agent_first"):
        raise BadField("mode", f"must be bot_first or agent_first, got {mode!r}")
    if mode == "bot_first" and not can_stream:
        raise BadField("mode", "bot_first needs the gateway's stream URL, and the dialer has "
                               "none (VOXGATE_STREAM_URL): only agent_first calls can be placed")
    bot = body.get("bot", "")
    if not isinstance(bot, str):
        raise BadField("bot", "must be a string")
    if bot and bots is not None and bot not in bots and mode == "bot_first":
        raise BadField("bot", f"no bot {bot!r} (the gateway serves: "
                              f"{', '.join(sorted(bots)) or 'none'})")
    call_id = body.get("call_id", "")
    if not isinstance(call_id, str) or (call_id and not CALL_ID.fullmatch(call_id)):
        raise BadField("call_id", "must be 1-64 letters, digits, '_', '.' or '-', starting "
                                  "with a letter or digit")
    skills = body.get("skills", [])
    if not isinstance(skills, list) or not all(isinstance(s, str) and s for s in skills):
        raise BadField("skills", 'must be a list of strings, e.g. ["sales"]')
    amd = body.get("amd", False)
    if not isinstance(amd, bool):
        raise BadField("amd", "must be true or false")
    custom = _string_map(body, "custom")
    params = _string_map(body, "stream_params")
    ring_timeout = body.get("ring_timeout")
    caller_id = body.get("caller_id", "")
    # checked by CallRequest, one at a time so the error names its field
    _check("ring_timeout", lambda: CallRequest(number, ring_timeout=ring_timeout))
    _check("caller_id", lambda: CallRequest(number, caller_id=caller_id))
    try:
        return CallRequest(number=number, mode=mode, bot=bot, custom=custom, call_id=call_id,
                           skills=tuple(skills), amd=amd, stream_params=params,
                           ring_timeout=ring_timeout, caller_id=caller_id)
    except ValueError as exc:
        raise BadField("stream_params", str(exc)) from None


def _check(name: str, make: Callable[[], object]) -> None:
    """``make()``; its ``ValueError`` as the :class:`BadField` ``name``."""
    try:
        make()
    except ValueError as exc:
        raise BadField(name, str(exc).removeprefix(f"CallRequest.{name} ")) from None


class ControlApiServer:
    """aiohttp server in front of any :class:`voxgate_shared.control.ControlHook` (the dialer).

    ``token``: the bearer token every route but ``/v1/health`` wants (``None``: the
    environment's ``VOXGATE_CONTROL_TOKEN``; empty: none). ``bots``: the bots ``POST
    /v1/calls`` may ask for (``None``: not checked)."""

    def __init__(self, hook: ControlHook, host: str = "127.0.0.1", port: int = 0, *,
                 dialer: Dialer | None = None, token: str | None = None,
                 bots: Collection[str] | None = None, mode: str | None = None,
                 routes: Callable[[web.Application], None] | None = None) -> None:
        self.hook = hook
        self.routes = routes  # more routes (the service's campaigns), behind the same token
        self.dialer = dialer
        self.host, self.port = host, port
        self.token = os.environ.get(CONTROL_TOKEN_ENV, "") if token is None else token
        self.bots = None if bots is None else frozenset(bots)
        self._runner: web.AppRunner | None = None
        self.probe: ExotelProbe | None = None
        if dialer is not None:  # /readyz asks Exotel (cached)
            c = dialer.config
            self.probe = ExotelProbe(c.api_base, c.account_sid, c.api_key, c.api_token)
            mode = mode or health.exotel_mode(c.api_base, emulated=False)
        self.mode = mode
        self.accepted = 0
        self.rejected = 0

    @property
    def url(self) -> str:
        """Base URL to give the gateway (``--control-url``)."""
        return f"http://{self.host}:{self.port}"

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY, middlewares=[self._auth])
        app.router.add_post("/v1/control", self._control)
        app.router.add_get("/v1/health", self._health)
        app.router.add_get("/metrics", self._metrics)
        health.add_routes(app, "dialer", self.mode, self._not_ready)
        if self.dialer is not None:
            app.router.add_post("/v1/calls", self._place)
            app.router.add_get("/v1/calls/{call_id}", self._call)
            app.router.add_post("/v1/calls/{call_id}/hangup", self._hangup)
        if self.routes is not None:
            self.routes(app)
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

    # -- refusals -------------------------------------------------------------------------

    def _refuse(self, reason: str, status: int, message: str) -> web.Response:
        """Count a refused request (``DialerStats.control_refused``) and answer it."""
        self.rejected += 1
        stats = getattr(self.dialer or self.hook, "stats", None)
        if stats is not None and hasattr(stats, "refused"):
            stats.refused(reason)
        return web.json_response({"error": message}, status=status)

    @web.middleware
    async def _auth(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not self.token or request.path in OPEN_PATHS or request.path.startswith(UI_PATHS):
            return await handler(request)
        scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            token_bytes(credentials.strip()), token_bytes(self.token)
        ):
            return await handler(request)
        log.warning("control API: refused %s %s from %s: bad or missing bearer token",
                    request.method, request.path, request.remote)
        response = self._refuse("unauthorized", 401, "unauthorized: want Authorization: "
                                                     "Bearer <VOXGATE_CONTROL_TOKEN>")
        response.headers["WWW-Authenticate"] = 'Bearer realm="voxgate"'
        return response

    async def _json(self, request: web.Request) -> Any:
        """The body as JSON; ``HTTPRequestEntityTooLarge`` or ``ValueError`` when unusable."""
        return json.loads(await request.read())

    # -- routes ---------------------------------------------------------------------------

    async def _control(self, request: web.Request) -> web.Response:
        try:
            req = ControlRequest.from_json(await self._json(request))
        except web.HTTPRequestEntityTooLarge:
            return self._refuse("too_large", 413, "body too large")
        except ValueError as exc:  # JSON errors are ValueErrors too
            log.warning("malformed control request: %s", exc)
            return self._refuse("malformed", 400, str(exc))
        try:
            await self.hook.submit(req)
        except ControlRefused as exc:  # counted and logged by the dialer
            self.rejected += 1
            return web.json_response({"error": f"forbidden: {exc.reason}: not bound to the "
                                               "call named"}, status=403)
        except UnknownCall:
            self.rejected += 1
            return web.json_response({"error": "no live call for this stream"}, status=404)
        except ValueError as exc:  # a kind this dialer does not handle
            return self._refuse("malformed", 400, str(exc))
        self.accepted += 1
        return web.json_response({"accepted": True}, status=202)

    async def _place(self, request: web.Request) -> web.Response:
        from dialer.service import DialerStopping

        dialer = self.dialer
        assert dialer is not None
        if dialer.stopping:
            return self._refuse("stopping", 503, "the dialer is stopping: no new calls")
        try:
            req = parse_call_request(await self._json(request), bots=self.bots,
                                     can_stream=dialer.can_stream)
        except web.HTTPRequestEntityTooLarge:
            return self._refuse("too_large", 413, "body too large")
        except ValueError as exc:
            log.warning("control API: refused a call: %s", exc)
            return self._refuse("malformed", 400, str(exc))
        # no await between this check and place_call registering the id: no race
        used = "live" if dialer.runner(req.call_id) is not None else (
            "on record" if dialer.store.get(req.call_id) is not None else ""
        )
        if used:
            return self._refuse("duplicate_call_id", 409,
                                f"field 'call_id': {req.call_id!r} is already used ({used})")
        try:
            handle = await dialer.place_call(req)
        except DialerStopping as exc:
            return self._refuse("stopping", 503, str(exc))
        self.accepted += 1
        return web.json_response({"call_id": handle.call_id}, status=202)

    async def _hangup(self, request: web.Request) -> web.Response:
        assert self.dialer is not None
        call_id = request.match_info["call_id"]
        reason = "operator"
        raw = await request.read()
        if raw:
            try:
                body = json.loads(raw)
            except ValueError as exc:
                return self._refuse("malformed", 400, str(exc))
            got = body.get("reason", reason) if isinstance(body, dict) else None
            if not isinstance(got, str) or not got:
                return self._refuse("malformed", 400, "field 'reason' must be a string")
            reason = got[:64]
        try:
            self.dialer.hangup_call(call_id, reason)
        except UnknownCall:
            return web.json_response({"error": f"no live call {call_id}"}, status=404)
        log.info("control API: call %s hung up on request (%s)", call_id, reason)
        self.accepted += 1
        return web.json_response({"call_id": call_id, "hangup": reason}, status=202)

    async def _call(self, request: web.Request) -> web.Response:
        assert self.dialer is not None
        call_id = request.match_info["call_id"]
        runner = self.dialer.runner(call_id)
        if runner is not None:
            return web.json_response({"call_id": call_id, "state": runner.flow.state.value,
                                      "done": False})
        record = self.dialer.store.get(call_id)
        if record is not None:
            return web.json_response({**record.to_json(), "done": True})
        left = next((state for state in self.dialer.store.live_calls()
                     if state.get("call_id") == call_id), None)
        if left is not None:  # a killed run's call, its record still to come from Exotel
            return web.json_response({"call_id": call_id, "state": left.get("stage", ""),
                                      "done": False, "settling": True})
        return web.json_response({"error": f"no call {call_id}"}, status=404)

    async def _metrics(self, request: web.Request) -> web.Response:
        if self.dialer is None:
            return web.Response(status=503, text="no dialer attached\n")
        return metrics_response(render_dialer_metrics(self.dialer))

    async def _not_ready(self) -> str | None:
        reason = local_reason(self.dialer or self.hook)
        if reason is None and self.probe is not None:
            reason = await self.probe.check()
        return reason

    async def _health(self, request: web.Request) -> web.Response:
        active = getattr(self.hook, "active_calls", None)
        stopping = bool(getattr(self.dialer or self.hook, "stopping", False))
        return web.json_response({"ok": not stopping, "active_calls": active,
                                  "stopping": stopping}, status=503 if stopping else 200)
