"""The Exotel REST API (aiohttp): ``/v2/accounts/{sid}/legs|bridges..``, ``/v1/..ActiveStreams``.

Every answer uses Exotel's envelope ``{"request_id", "method", "http_code", "response":
{"error_data", "data"}}``. The middleware applies, in order: the configured network latency
(half before handling, half after), HTTP Basic auth (401), the account check (403), the
request rate limit (429), and turns :class:`~exotel_sim.errors.ApiError` into its status.
Handlers parse the body first (400 with the field), then act through :class:`Sim`.
See docs/exotel.md section 2.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from exotel_sim import requests as rq
from exotel_sim.engine import Sim
from exotel_sim.errors import (
    ApiError,
    BadRequest,
    Forbidden,
    NotFound,
    RateLimited,
    Unauthorized,
)
from exotel_sim.events import rfc3339
from exotel_sim.leg import Bridge, Leg

log = logging.getLogger("exotel_sim.api")

SIM_KEY: web.AppKey[Sim] = web.AppKey("sim", Sim)
REQUEST_ID: web.RequestKey[str] = web.RequestKey("request_id", str)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class TokenBucket:
    """Request rate limit: ``rate`` per second with bursts of ``burst`` (0: unlimited)."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.tokens = float(burst)
        self.at = time.monotonic()

    def take(self) -> bool:
        if self.rate <= 0:
            return True
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


def envelope(request: web.Request, status: int, data: Any = None,
             error: dict[str, object] | None = None) -> web.Response:
    body = {
        "request_id": request.get(REQUEST_ID, uuid.uuid4().hex),
        "method": request.method,
        "http_code": status,
        "response": {"error_data": error, "data": data},
    }
    return web.json_response(body, status=status)


def _check_auth(sim: Sim, request: web.Request) -> None:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Basic "):
        raise Unauthorized("authentication required (HTTP Basic with API key and token)")
    try:
        user, _, password = base64.b64decode(header[6:], validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise Unauthorized("malformed Authorization header") from None
    if (user, password) != (sim.config.api_key, sim.config.api_token):
        raise Unauthorized("invalid API key or token")
    account = request.match_info.get("account_sid")
    if account is not None and account != sim.config.account_sid:
        raise Forbidden(f"account {account} is not accessible with these credentials")


# The leg a dialer's readiness probe asks for (dialer.readiness.PROBE_LEG): its 404 is no news.
READINESS_PROBE = "/legs/voxgate-readyz-probe"


@web.middleware
async def api_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Latency, auth, rate limit and the error envelope for ``/v1`` and ``/v2``."""
    if not request.path.startswith(("/v1/", "/v2/")):
        return await handler(request)
    sim = request.app[SIM_KEY]
    request[REQUEST_ID] = uuid.uuid4().hex
    half = sim.config.rest_latency_ms / 2000
    if half:
        await asyncio.sleep(half)
    try:
        _check_auth(sim, request)
        if not request.app[BUCKET_KEY].take():
            sim.stats.count("rate_limited")
            raise RateLimited("request rate limit exceeded")
        response = await handler(request)
    except ApiError as exc:
        sim.stats.count(f"http_{exc.status}")
        level = logging.ERROR if exc.status >= 500 else logging.INFO
        if request.path.endswith(READINESS_PROBE):  # a dialer's /readyz asking: DEBUG
            level = logging.DEBUG
        log.log(level, "%s %s -> %d %s", request.method, request.path, exc.status, exc.message)
        response = envelope(request, exc.status, error=exc.error_data())
        if exc.status == 429:
            response.headers["Retry-After"] = "1"
    except web.HTTPException as exc:  # unknown route, wrong method, body too large
        if exc.status < 400:
            raise
        sim.stats.count(f"http_{exc.status}")
        response = envelope(request, exc.status, error={
            "code": exc.status, "error": exc.reason.lower().replace(" ", "_"),
            "message": exc.reason, "description": exc.reason})
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        sim.stats.count("http_500")
        response = envelope(request, 500, error={"code": 500, "error": "internal_error",
                                                 "message": "internal error"})
    if half:
        await asyncio.sleep(half)
    return response


BUCKET_KEY: web.AppKey[TokenBucket] = web.AppKey("bucket", TokenBucket)


async def _body(request: web.Request) -> Any:
    raw = await request.read()
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadRequest(f"body: not valid JSON ({exc})", field="body") from exc


def leg_json(sim: Sim, leg: Leg) -> dict[str, Any]:
    """``GET /legs/{sid}``."""
    now = sim.clock.now_ms()
    end = leg.ended_ms if leg.ended_ms is not None else now
    duration = 0 if leg.answered_ms is None else round((end - leg.answered_ms) / 1000)
    playing = leg.play is not None and not leg.play.done and leg.play.end_ms > now
    saying = leg.say is not None and not leg.say.done and leg.say.end_ms > now
    return {
        "leg_sid": leg.sid,
        "account_sid": sim.config.account_sid,
        "contact_uri": leg.req.contact_uri,
        "exophone": leg.req.exophone,
        "caller_id": leg.req.exophone,
        "direction": "outbound",
        "network_type": leg.req.network_type,
        "state": leg.state.value,
        "terminal_status": leg.terminal.value if leg.terminal else None,
        "termination_reason": leg.reason or None,
        "custom_param": leg.custom_param,
        "date_created": rfc3339(leg.created_epoch),
        "date_updated": rfc3339(leg.updated_epoch or leg.created_epoch),
        "start_time": rfc3339(leg.created_epoch),
        "answer_time": rfc3339(sim.clock.epoch(leg.answered_ms)) if leg.answered_ms else None,
        "end_time": rfc3339(sim.clock.epoch(leg.ended_ms)) if leg.ended_ms else None,
        "duration": duration,
        "time_limit": leg.time_limit,
        "bridge_status": "bridged" if leg.bridge is not None else "none",
        "bridge_sid": leg.bridge.sid if leg.bridge is not None else None,
        "recording_status": "recording" if leg.recording is not None else "none",
        "play_status": "playing" if playing else "none",
        "say_status": "saying" if saying else "none",
        "stream_status": leg.stream.state if leg.stream is not None else "none",
        "amd_result": leg.amd_result or None,
    }


def bridge_json(sim: Sim, bridge: Bridge) -> dict[str, Any]:
    """``GET /bridges/{sid}``."""
    return {
        "bridge_sid": bridge.sid,
        "account_sid": sim.config.account_sid,
        "leg_sids": [leg.sid for leg in bridge.legs],
        "state": bridge.state.value,
        "bridge_event_endpoint": bridge.endpoint,
        "absorb_dtmf": bridge.absorb_dtmf,
        "created_at": rfc3339(bridge.created_epoch),
        "ended_at": rfc3339(sim.clock.epoch(bridge.ended_ms)) if bridge.ended_ms else None,
        "recording_status": "recording" if bridge.recording is not None else "none",
        "recordings": [
            {"recording_sid": sid, "url": sim.recording_url(sid)} for sid in bridge.recordings
        ],
    }


# -- handlers ------------------------------------------------------------------------------

async def create_leg(request: web.Request) -> web.Response:
    sim = request.app[SIM_KEY]
    cmd = rq.parse_create_leg(await _body(request))
    leg = sim.create_leg(cmd)
    created_at = rfc3339(leg.created_epoch)
    if sim.races():  # the leg's first events reach the endpoint before this answer
        await sim.race_ahead(leg)
    return envelope(request, 202, {  # the fields Exotel documents for the 202
        "leg_sid": leg.sid,
        "created_at": created_at,
        "account_sid": sim.config.account_sid,
        "contact_uri": cmd.contact_uri,
        "network_type": cmd.network_type,
        "exophone": cmd.exophone,
    })


LIST_LIMIT = 500


async def list_legs(request: web.Request) -> web.Response:
    """``GET /legs[?contact_uri=&custom_param=&state=]``: the latest 500 matching legs, as
    ``{"legs": [...]}``. Exotel documents no list form: only with the lenient ``list_legs``
    option; else 404, as an API without it answers."""
    sim = request.app[SIM_KEY]
    if not sim.config.list_legs:
        raise NotFound("GET /legs (a list of legs) is not part of this API "
                       "(the emulator's [lenient] list_legs option)")
    q = request.query
    legs = [
        leg for leg in sim.legs.values()
        if q.get("contact_uri", leg.req.contact_uri) == leg.req.contact_uri
        and q.get("custom_param", leg.custom_param) == leg.custom_param
        and q.get("state", leg.state.value) == leg.state.value
    ][-LIST_LIMIT:]
    return envelope(request, 200, {"legs": [leg_json(sim, leg) for leg in legs]})


async def get_leg(request: web.Request) -> web.Response:
    sim = request.app[SIM_KEY]
    return envelope(request, 200, leg_json(sim, sim.leg(request.match_info["leg_sid"])))


async def update_leg(request: web.Request) -> web.Response:
    sim = request.app[SIM_KEY]
    leg = sim.leg(request.match_info["leg_sid"])
    cmd = rq.parse_update_leg(await _body(request))
    sim.update_leg(leg, cmd)
    return envelope(request, 202, leg_json(sim, leg))


async def delete_leg(request: web.Request) -> web.Response:
    sim = request.app[SIM_KEY]
    leg = sim.leg(request.match_info["leg_sid"])
    param = rq.parse_action_param(await _body(request))
    action_sid = sim.leg_shortcut(leg, "hangup", None, param)
    return envelope(request, 202, {"leg_sid": leg.sid, "action_sid": action_sid})


_LEG_BODIES: dict[str, Callable[[Any], Any]] = {
    "start_stream": rq.parse_start_stream,
    "start_say": rq.parse_start_say,
    "start_play": rq.parse_start_play,
}


def _shortcut_command(name: str, body: Any, parsers: dict[str, Callable[[Any], Any]]
                      ) -> tuple[Any, str]:
    """The parsed body of a shortcut action and its ``action_custom_param``."""
    parser = parsers.get(name)
    if parser is None:
        return None, rq.parse_action_param(body)
    cmd = parser(body)
    return cmd, cmd.action_custom_param


async def leg_shortcut(request: web.Request) -> web.Response:
    sim = request.app[SIM_KEY]
    leg = sim.leg(request.match_info["leg_sid"])
    name = request.match_info["action"]
    cmd, param = _shortcut_command(name, await _body(request), _LEG_BODIES)
    action_sid = sim.leg_shortcut(leg, name, cmd, param)
    return envelope(request, 202, {"leg_sid": leg.sid, "action_sid": action_sid,
                                   "action": name})


async def leg_actions(request: web.Request) -> web.Response:
    sim = request.app[SIM_KEY]
    leg = sim.leg(request.match_info["leg_sid"])
    verbs, param = rq.parse_actions(await _body(request), rq.LEG_VERBS)
    action_sid = sim.leg_verbs(leg, verbs, param)
    return envelope(request, 202, {"leg_sid": leg.sid, "action_sid": action_sid,
                                   "verbs": [v.name for v in verbs]})


async def create_bridge(request: web.Request) -> web.Response:
    sim = request.app[SIM_KEY]
    cmd = rq.parse_create_bridge(await _body(request))
    bridge = sim.create_bridge(cmd)
    return envelope(request, 202, bridge_json(sim, bridge))


async def get_bridge(request: web.Request) -> web.Response:
    sim = request.app[SIM_KEY]
    return envelope(request, 200, bridge_json(sim, sim.bridge(request.match_info["bridge_sid"])))


_BRIDGE_BODIES: dict[str, Callable[[Any], Any]] = {
    "start_say": rq.parse_start_say,
    "start_play": rq.parse_start_play,
}


async def bridge_shortcut(request: web.Request) -> web.Response:
    sim = request.app[SIM_KEY]
    bridge = sim.bridge(request.match_info["bridge_sid"])
    name = request.match_info["action"]
    cmd, param = _shortcut_command(name, await _body(request), _BRIDGE_BODIES)
    action_sid = sim.bridge_shortcut(bridge, name, cmd, param)
    return envelope(request, 202, {"bridge_sid": bridge.sid, "action_sid": action_sid,
                                   "action": name})


async def bridge_actions(request: web.Request) -> web.Response:
    sim = request.app[SIM_KEY]
    bridge = sim.bridge(request.match_info["bridge_sid"])
    verbs, param = rq.parse_actions(await _body(request), rq.BRIDGE_VERBS)
    action_sid = sim.bridge_verbs(bridge, verbs, param)
    return envelope(request, 202, {"bridge_sid": bridge.sid, "action_sid": action_sid,
                                   "verbs": [v.name for v in verbs]})


async def active_streams(request: web.Request) -> web.Response:
    """``GET /v1/Accounts/{sid}/ActiveStreams``: the v1 API answers without the v2 envelope."""
    sim = request.app[SIM_KEY]
    return web.json_response({
        "ActiveStreamCount": sim.active_streams,
        "ThrottleLimit": sim.config.stream_throttle,
    })


def add_routes(app: web.Application) -> None:
    base = "/v2/accounts/{account_sid}"
    app.router.add_post(f"{base}/legs", create_leg)
    app.router.add_get(f"{base}/legs", list_legs)
    app.router.add_get(f"{base}/legs/{{leg_sid}}", get_leg)
    app.router.add_put(f"{base}/legs/{{leg_sid}}", update_leg)
    app.router.add_delete(f"{base}/legs/{{leg_sid}}", delete_leg)
    app.router.add_post(f"{base}/legs/{{leg_sid}}/actions", leg_actions)
    app.router.add_post(f"{base}/legs/{{leg_sid}}/actions/{{action}}", leg_shortcut)
    app.router.add_post(f"{base}/bridges", create_bridge)
    app.router.add_get(f"{base}/bridges/{{bridge_sid}}", get_bridge)
    app.router.add_post(f"{base}/bridges/{{bridge_sid}}/actions", bridge_actions)
    app.router.add_post(f"{base}/bridges/{{bridge_sid}}/actions/{{action}}", bridge_shortcut)
    app.router.add_get("/v1/Accounts/{account_sid}/ActiveStreams", active_streams)
    app.router.add_get("/v1/Accounts/{account_sid}/ActiveStreams.json", active_streams)


def make_bucket(sim: Sim) -> TokenBucket:
    return TokenBucket(sim.config.rate_limit_per_s, sim.config.rate_burst)
