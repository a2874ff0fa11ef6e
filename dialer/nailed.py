"""Nailed-up agents: an agent leg dialled ahead of time and kept alive on hold audio.

One :class:`NailedAgentKeeper` per nailed agent, run as a task of the dialer. It dials the
agent with a long ``time_limit`` (``custom_param`` ``nailed:<agent id>``), plays hold audio on
answer, marks the agent available in the pool, and re-dials (with backoff) whenever the leg
drops. While the agent is in a call, the leg's events are forwarded to that call's runner too;
when the call releases the agent, :meth:`resume` restarts the hold audio. The hold audio is
started again whenever it ends on its own while the agent waits (Exotel's ``loop`` is bounded:
100 loops of a 4 s clip are 400 s, and an agent may wait for hours); each start is tagged
(``action_custom_param``) so that only its own end restarts it.

The keeper gets its ports (:class:`~dialer.ports.KeeperPorts`: the Exotel API, the agent desk,
the leg registry, the clock), never the dialer.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from dialer.errors import ExotelApiError, ExotelError
from dialer.events import ExotelEvent, LegAction, LegLifecycle

if TYPE_CHECKING:
    from dialer.ports import KeeperPorts

log = logging.getLogger(__name__)

_RESUME = "resume"
HOLD_LOOPS = 100
MIN_HOLD_RUN = 1.0  # a hold that ends sooner than this after its start is not restarted
HOLD_DONE_EVENTS = frozenset({"play_completed", "say_completed", "play_failed_to_start"})


class NailedAgentKeeper:
    """Keeps one nailed-up agent leg live."""

    def __init__(self, ports: KeeperPorts, agent_id: str, number: str,
                 exophone: str = "") -> None:
        self.ports = ports
        self.agent_id = agent_id
        self.number = number
        self.exophone = exophone  # the caller id its leg shows ("": the dialer's)
        self.leg_sid = ""
        self.dials = 0
        self.drops = 0
        self._inbox: asyncio.Queue[ExotelEvent | str] = asyncio.Queue(256)
        self._hold_kind = ""
        self._hold_tag = ""
        self._hold_since = 0.0
        self._holds = 0
        self.hold_restarts = 0

    @property
    def custom_param(self) -> str:
        return f"nailed:{self.agent_id}"

    def deliver_event(self, event: ExotelEvent) -> None:
        """An event of this keeper's leg; forwarded to the call holding the agent, if any."""
        call_id = self.ports.desk.agent_call(self.agent_id)
        if call_id:
            self.ports.legs.deliver_to_call(call_id, event)
        self._put(event)

    def deliver_orphan(self, event: ExotelEvent) -> None:
        self._put(event)

    def resume(self) -> None:
        """The agent is back from a call: play hold audio again."""
        self._put(_RESUME)

    def _put(self, item: ExotelEvent | str) -> None:
        try:
            self._inbox.put_nowait(item)
        except asyncio.QueueFull:
            self.ports.stats.inbox_overflow += 1

    async def stop_hold(self) -> None:
        """Stop the hold audio (the agent is about to be bridged)."""
        if not self.leg_sid:
            return
        action = "stop_say" if self._hold_kind == "say" else "stop_play"
        try:
            await self.ports.api.leg_action(self.leg_sid, action)
        except ExotelApiError as exc:
            if exc.status not in (404, 409):
                raise
        self._hold_kind = self._hold_tag = ""

    async def _start_hold(self, *, say: bool = False) -> None:
        """Hold audio on the agent's leg: ``agent_hold_url`` (or, with ``say`` or no URL,
        ``agent_hold_text``), tagged so its own end can be told from a stop's."""
        cfg = self.ports.settings
        client = self.ports.api
        self._holds += 1
        tag = f"vx:agent_hold:{self._holds}"
        kind = "play" if cfg.hold_url and not say else "say"
        body: dict[str, object] = (
            {"url": cfg.hold_url} if kind == "play" else {"text": cfg.hold_text}
        )
        body |= {"loop": HOLD_LOOPS, "action_custom_param": tag}
        self._hold_kind, self._hold_tag = kind, tag
        self._hold_since = self.ports.clock.now()
        try:
            await client.leg_action(self.leg_sid, f"start_{kind}", body)
        except ExotelError as exc:
            self._hold_kind = self._hold_tag = ""
            log.warning("nailed agent %s: hold audio failed: %s", self.agent_id, exc)

    def _hold_ended(self, ev: LegAction) -> bool:
        """Is ``ev`` the end of the hold audio playing now (not of one we stopped)?"""
        if not self._hold_kind or ev.leg_sid != self.leg_sid:
            return False
        tag = ev.action_custom_parameter
        if tag.startswith("vx:"):
            return tag == self._hold_tag
        status = str(ev.event_data.get("status", "")).lower()
        return ev.name.startswith(self._hold_kind) and status != "interrupted"

    async def _after_hold(self, ev: LegAction) -> None:
        """The hold ended on its own: while the agent waits (no call), start it again."""
        kind = self._hold_kind
        self._hold_kind = self._hold_tag = ""
        if self.ports.desk.agent_call(self.agent_id) or not self.leg_sid:
            return
        if ev.name == "play_failed_to_start":
            log.warning("nailed agent %s: hold audio %s failed to start; saying the hold text",
                        self.agent_id, self.ports.settings.hold_url)
            await self._start_hold(say=True)
            return
        ran = self.ports.clock.now() - self._hold_since
        if ran < MIN_HOLD_RUN:
            log.warning("nailed agent %s: hold %s ended after %.1f s; not restarted",
                        self.agent_id, kind, ran)
            return
        self.hold_restarts += 1
        await self._start_hold()

    async def run(self) -> None:
        """Keep the leg up until cancelled."""
        backoff = 0.5
        p = self.ports
        while True:
            self.dials += 1
            try:
                data = await p.api.create_leg(
                    self.number, self.exophone or p.legs.exophone, p.legs.event_endpoint,
                    custom_param=self.custom_param,
                    time_limit=p.settings.time_limit,
                )
            except ExotelError as exc:
                log.warning("nailed agent %s: dial failed: %s", self.agent_id, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)
                continue
            self.leg_sid = str(data["leg_sid"])
            p.legs.register_leg(self.leg_sid, self)
            if await self._until_answered():
                backoff = 0.5
                await self._start_hold()
                p.desk.set_nailed_leg(self.agent_id, self.leg_sid)
                await self._until_dropped()
            self.drops += 1
            p.desk.set_nailed_leg(self.agent_id, "")
            p.legs.unregister_leg(self.leg_sid)
            self.leg_sid = ""
            self._hold_kind = self._hold_tag = ""
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 30.0)

    def _mine(self, item: ExotelEvent | str) -> LegLifecycle | None:
        if isinstance(item, LegLifecycle) and item.leg_sid == self.leg_sid:
            return item
        return None

    async def _until_answered(self) -> bool:
        while True:
            ev = self._mine(await self._inbox.get())
            if ev is None:
                continue
            if ev.name == "leg_answered":
                return True
            if ev.terminal:
                return False

    async def _until_dropped(self) -> None:
        while True:
            item = await self._inbox.get()
            if item == _RESUME:
                if not self.ports.desk.agent_call(self.agent_id) and self.leg_sid:
                    await self._start_hold()
                continue
            if isinstance(item, LegAction) and item.name in HOLD_DONE_EVENTS and (
                self._hold_ended(item)
            ):
                await self._after_hold(item)
                continue
            ev = self._mine(item)
            if ev is not None and ev.terminal:
                log.info("nailed agent %s: leg %s dropped (%s); re-dialling",
                         self.agent_id, self.leg_sid, ev.terminal_status)
                return
