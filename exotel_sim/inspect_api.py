"""The inspection API (``/sim/...``, JSON, no auth): what tests and reports read.

``GET /sim/legs`` and ``/sim/legs/{sid}`` (state, profile, history, streams),
``/sim/legs/{sid}/timeline`` (what that party heard and said, ms on the emulator's clock,
with the dead-air gaps and the overlaps of different sources),
``/sim/bridges/{sid}``, ``/sim/events`` (every event with its attempts and outcome; filters
``leg_sid``, ``bridge_sid``, ``name``), ``/sim/recordings/{sid}.wav``, ``/sim/stats``
(``?reset=1`` zeroes the lag figures), ``/sim/audio/{name}.wav`` (the fixtures, for
``start_play``).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from aiohttp import web

import audio_fixtures
from exotel_sim.api import SIM_KEY, bridge_json, leg_json
from exotel_sim.engine import Sim
from exotel_sim.leg import Leg
from exotel_sim.timeline import cross_overlaps, silences
from voxgate_shared import health

SILENCE_REPORT_MS = 300  # dead air shorter than this is not listed


def _leg(request: web.Request) -> Leg:
    sim = request.app[SIM_KEY]
    leg = sim.legs.get(request.match_info["leg_sid"])
    if leg is None:
        raise web.HTTPNotFound(text='{"error": "no such leg"}', content_type="application/json")
    return leg


def _profile(leg: Leg) -> dict[str, Any]:
    """The leg's simulated party as configured (scripts in their string form)."""
    if leg.agent is not None:
        return {"kind": "agent", **dataclasses.asdict(leg.agent)}
    customer = leg.customer
    assert customer is not None
    profile = dataclasses.asdict(customer)
    profile["scripts"] = [[step.spec() for step in script] for script in customer.scripts]
    profile["bridge_script"] = [step.spec() for step in customer.bridge_script]
    return {"kind": "customer", **profile}


def leg_detail(sim: Sim, leg: Leg) -> dict[str, Any]:
    detail = leg_json(sim, leg)
    detail.update({
        "kind": leg.kind,
        "outcome": leg.outcome,
        "script_choice": leg.script_choice,
        "profile": _profile(leg),
        "created_ms": round(leg.created_ms),
        "answered_ms": None if leg.answered_ms is None else round(leg.answered_ms),
        "ended_ms": None if leg.ended_ms is None else round(leg.ended_ms),
        "streams": leg.streams + ([leg.stream.summary()] if leg.stream is not None else []),
        "history": leg.history,
        "custom_param": leg.custom_param,
    })
    return detail


async def list_legs(request: web.Request) -> web.Response:
    sim = request.app[SIM_KEY]
    state = request.query.get("state")
    legs = [
        {"leg_sid": leg.sid, "contact_uri": leg.req.contact_uri, "kind": leg.kind,
         "state": leg.state.value, "outcome": leg.outcome,
         "terminal_status": leg.terminal.value if leg.terminal else None,
         "termination_reason": leg.reason or None}
        for leg in sim.legs.values() if state is None or leg.state.value == state
    ]
    return web.json_response({"legs": legs, "now_ms": round(sim.clock.now_ms())})


async def get_leg(request: web.Request) -> web.Response:
    sim = request.app[SIM_KEY]
    return web.json_response(leg_detail(sim, _leg(request)))


async def get_timeline(request: web.Request) -> web.Response:
    sim = request.app[SIM_KEY]
    leg = _leg(request)
    now = sim.clock.now_ms()
    heard = leg.timeline.heard_intervals()
    gaps: list[tuple[float, float]] = []
    if leg.answered_ms is not None:
        end = leg.ended_ms if leg.ended_ms is not None else now
        gaps = silences(heard, leg.timeline.speech_intervals(), leg.answered_ms, end,
                        SILENCE_REPORT_MS)
    body = {"leg_sid": leg.sid, "now_ms": round(now),
            "answered_ms": None if leg.answered_ms is None else round(leg.answered_ms),
            "ended_ms": None if leg.ended_ms is None else round(leg.ended_ms),
            **leg.timeline.to_json(),
            "silences": [{"start_ms": round(a), "end_ms": round(b)} for a, b in gaps],
            "longest_silence_ms": round(max((b - a for a, b in gaps), default=0.0)),
            "overlaps": [[a.to_json(), b.to_json()] for a, b in cross_overlaps(heard)]}
    return web.json_response(body)


async def get_bridge(request: web.Request) -> web.Response:
    sim = request.app[SIM_KEY]
    bridge = sim.bridges.get(request.match_info["bridge_sid"])
    if bridge is None:
        raise web.HTTPNotFound(text='{"error": "no such bridge"}',
                               content_type="application/json")
    return web.json_response(bridge_json(sim, bridge))


async def list_events(request: web.Request) -> web.Response:
    sim = request.app[SIM_KEY]
    q = request.query
    out = []
    for record in sim.delivery.records:
        data = record.event.payload.get("data", {})
        if "leg_sid" in q and data.get("leg_sid") != q["leg_sid"]:
            continue
        if "bridge_sid" in q and data.get("bridge_sid") != q["bridge_sid"]:
            continue
        if "name" in q and record.event.name != q["name"]:
            continue
        out.append(record.to_json())
    return web.json_response({"events": out, "pending": sim.delivery.pending(),
                              "counts": sim.delivery.counts})


async def get_recording(request: web.Request) -> web.Response:
    sim = request.app[SIM_KEY]
    wav = sim.recordings.get(request.match_info["rec_sid"])
    if wav is None:
        raise web.HTTPNotFound(text="no such recording")
    return web.Response(body=wav, content_type="audio/wav")


async def get_stats(request: web.Request) -> web.Response:
    sim = request.app[SIM_KEY]
    body = {
        "now_ms": round(sim.clock.now_ms()),
        "active_legs": sim.active_legs,
        "active_streams": sim.active_streams,
        "legs_total": len(sim.legs),
        "bridges_total": len(sim.bridges),
        "lag": sim.stats.lag.to_json(),
        "counters": dict(sim.stats.counters),
        "events": sim.delivery.counts,
        "events_pending": sim.delivery.pending(),
        "task_failures": sim.tasks.failures + sum(leg.tasks.failures for leg in sim.legs.values()),
    }
    if request.query.get("reset") == "1":
        sim.stats.lag.reset()
    return web.json_response(body)


async def get_audio(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    if name not in audio_fixtures.names():
        raise web.HTTPNotFound(text="no such fixture")
    return web.FileResponse(audio_fixtures.path(name), headers={"Content-Type": "audio/wav"})


def add_routes(app: web.Application) -> None:
    health.add_routes(app, "emulator", "emulator")  # ready once it serves: the API is up
    app.router.add_get("/sim/legs", list_legs)
    app.router.add_get("/sim/legs/{leg_sid}", get_leg)
    app.router.add_get("/sim/legs/{leg_sid}/timeline", get_timeline)
    app.router.add_get("/sim/bridges/{bridge_sid}", get_bridge)
    app.router.add_get("/sim/events", list_events)
    app.router.add_get("/sim/recordings/{rec_sid}.wav", get_recording)
    app.router.add_get("/sim/stats", get_stats)
    app.router.add_get("/sim/audio/{name}.wav", get_audio)
