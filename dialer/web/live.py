"""The live feed: ``GET /ui/api/live`` (server-sent events), ``GET /ui/api/snapshot`` (the same
snapshot once, JSON) and ``GET /ui/api/history`` (the figures kept over the shift, for charts).

:class:`LiveFeed` gathers the inputs of :func:`dialer.web.snapshot.live_snapshot` from the
dialer and its campaign runners at most once per ``period_s`` whatever the number of viewers,
and keeps a point per campaign every ``history_every_s`` (12 hours of them) in memory, taken
by a sampler task whether or not anyone watches. While anyone watches, a publisher task takes
a fresh snapshot every ``period_s``, serialises it once for every supervisor, and wakes every
viewer at once (a change reaches the viewers within ``period_s`` and the time to write it:
``bench/dashboard.py``). Each
viewer gets an event (``data: {json}``) when the snapshot changed, at most once per
``period_s``, and a heartbeat comment (``: hb``) every ``heartbeat_s`` otherwise. A viewer
whose session expires or logs out is disconnected, and every viewer when the server shuts
down; an agent's feed holds only its own row.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from typing import TYPE_CHECKING, Any

from aiohttp import web

from dialer.agents import Agent
from dialer.web.context import CONTEXT, SESSION, UiContext
from dialer.web.sessions import Session
from dialer.web.snapshot import CampaignView, live_snapshot

if TYPE_CHECKING:
    from dialer.pacing.types import Pacer

__all__ = ["LiveFeed", "pacer_aim"]

log = logging.getLogger(__name__)

HISTORY_FIELDS = ("done", "in_flight", "answer_rate", "abandon_24h", "occupancy",
                  "waiting_for_agent")


def pacer_aim(pacer: Pacer) -> float | None:
    """The pacer's abandonment aim (``None``: a pacer without one, e.g. progressive)."""
    control = getattr(pacer, "control", None)
    if control is not None and hasattr(control, "aim"):
        return float(control.aim)
    target = getattr(pacer, "drop_target", None)
    return None if target is None else float(target)


class LiveFeed:
    def __init__(self, ctx: UiContext, period_s: float = 0.5, heartbeat_s: float = 15.0,
                 history_every_s: float = 10.0, history_points: int = 4320) -> None:
        self.ctx = ctx
        self.period_s = period_s
        self.heartbeat_s = heartbeat_s
        self.history_every_s = history_every_s
        self.started = ctx.clock()
        self.since: dict[str, float] = {}  # agent id -> when it entered its state
        self.history: dict[str, deque[list[float]]] = {}
        self._points = history_points
        self._next_point = 0.0
        self._at = -1e18
        self._snapshot: dict[str, Any] = {}
        self._text: str | None = None  # the snapshot as JSON (made once for all supervisors)
        self._tick = asyncio.Event()  # set (then replaced) when a snapshot was published
        self._publisher: asyncio.Task[None] | None = None
        self.viewers = 0
        self._closing = asyncio.Event()
        self._sampler: asyncio.Task[None] | None = None
        self._taking = asyncio.Lock()  # one snapshot taken at a time (its store reads awaited)
        ctx.dialer.pool.subscribe(self._agent_changed)

    async def start(self, app: web.Application | None = None) -> None:
        """Keep the shift's points whether or not anyone watches (the app's ``on_startup``)."""
        self._sampler = asyncio.create_task(self._sample(), name="dashboard history")
        self._publisher = asyncio.create_task(self._publish(), name="dashboard live feed")

    async def _publish(self) -> None:
        while not self._closing.is_set():
            if self.viewers:
                self.refresh()
                try:
                    await self.snapshot()
                except Exception:
                    log.exception("dashboard: the live snapshot failed")
                tick, self._tick = self._tick, asyncio.Event()
                tick.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), self.period_s)

    async def _sample(self) -> None:
        while not self._closing.is_set():
            try:
                await self.snapshot()
            except Exception:  # a store that failed once: the next sample tries again
                log.exception("dashboard: the live snapshot failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), self.history_every_s)

    async def close(self, app: web.Application | None = None) -> None:
        """End every live feed and the sampler now (the app's ``on_shutdown``: the server
        would otherwise wait for these endless responses for its whole shutdown timeout)."""
        self._closing.set()
        self._tick.set()
        for task in (self._sampler, self._publisher):
            if task is not None:
                await task

    def _agent_changed(self, agent: Agent) -> None:
        self.since[agent.agent_id] = self.ctx.clock()

    async def _views(self) -> list[CampaignView]:
        """Each campaign's figures, its store reads on the store's worker (off the loop)."""
        service = self.ctx.campaigns
        if service is None:
            return []
        run_on_worker, store = self.ctx.dialer.calls.run, service.store
        wall = self.ctx.wall()
        views = []
        for name in await run_on_worker(store.campaigns):
            spec = await run_on_worker(store.campaign, name)
            run = service.runs.get(name)
            cap = spec.limits.abandon_target
            if run is not None:
                runner = run[0]
                views.append(CampaignView(name, cap, spec.pacer,
                                          live=await runner.snapshot_async(),
                                          aim=pacer_aim(runner.pacer)))
            else:
                views.append(CampaignView(name, cap, spec.pacer,
                                          stats=await run_on_worker(store.stats, name, wall)))
        return views

    def _stages(self) -> list[str]:
        calls = getattr(self.ctx.dialer, "_calls", {})  # the dialer's live CallRunners
        return [runner.flow.state.value for runner in list(calls.values())]

    async def snapshot(self) -> dict[str, Any]:
        """The current snapshot (recomputed when older than ``period_s``; the store read on
        its worker, never on the event loop)."""
        async with self._taking:
            return await self._take()

    async def _take(self) -> dict[str, Any]:
        now = self.ctx.clock()
        if now - self._at < self.period_s:
            return self._snapshot
        campaigns = await self._views()
        self._at = now
        self._text = None
        self._snapshot = live_snapshot(
            campaigns=campaigns, agents=self.ctx.dialer.pool.agents, since=self.since,
            paused=self.ctx.paused, stages=self._stages(), now=now, started=self.started,
            wall=self.ctx.wall())
        if now >= self._next_point:
            self._next_point = now + self.history_every_s
            for row in self._snapshot["campaigns"]:
                points = self.history.setdefault(row["name"], deque(maxlen=self._points))
                points.append([self._snapshot["at"], *(float(row[f]) for f in HISTORY_FIELDS)])
        return self._snapshot

    def refresh(self) -> None:
        """Forget the cached snapshot (a control changed something: show it at once)."""
        self._at = -1e18

    async def text_for(self, session: Session) -> str:
        """The event's JSON for ``session`` (a supervisor's made once per snapshot)."""
        if session.role != "supervisor":
            return json.dumps(await self.for_session(session), separators=(",", ":"))
        snap = await self.snapshot()
        if self._text is None:
            self._text = json.dumps(snap, separators=(",", ":"))
        return self._text

    async def for_session(self, session: Session) -> dict[str, Any]:
        snap = await self.snapshot()
        if session.role == "supervisor":
            return snap
        return {"at": snap["at"], "campaigns": [], "stages": {},
                "agents": [a for a in snap["agents"] if a["id"] == session.agent_id]}

    # -- handlers -------------------------------------------------------------------------

    async def snapshot_handler(self, request: web.Request) -> web.Response:
        return web.json_response(await self.for_session(request[SESSION]))

    async def history_handler(self, request: web.Request) -> web.Response:
        return web.json_response({"fields": ["at", *HISTORY_FIELDS],
                                  "campaigns": {k: list(v) for k, v in self.history.items()}})

    async def live_handler(self, request: web.Request) -> web.StreamResponse:
        ctx: UiContext = request.app[CONTEXT]
        session: Session = request[SESSION]
        if self.viewers >= ctx.settings.max_viewers:
            return web.json_response({"error": "too many live viewers"}, status=503)
        response = web.StreamResponse(headers={
            "Content-Type": "text/event-stream", "Cache-Control": "no-store",
            "X-Accel-Buffering": "no"})
        await response.prepare(request)
        self.viewers += 1
        last = ""
        quiet = 0.0
        try:
            while ctx.sessions.get(session.sid) is session and not self._closing.is_set():
                text = await self.text_for(session)
                if text != last:
                    await response.write(f"data: {text}\n\n".encode())
                    last, quiet = text, 0.0
                elif quiet >= self.heartbeat_s:
                    await response.write(b": hb\n\n")
                    quiet = 0.0
                with contextlib.suppress(TimeoutError):  # the publisher's next snapshot
                    await asyncio.wait_for(self._tick.wait(), 2 * self.period_s)
                quiet += self.period_s
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self.viewers -= 1
        return response
