"""A dialer's nailed-up agents: one :class:`~dialer.nailed.NailedAgentKeeper` per agent, each
running in a task of the dialer's, dialling and holding its agent's leg.

A keeper's task first hangs up the legs an earlier run left up for that agent (else the agent's
phone answers ``busy`` for hours), then keeps the leg up. At the dialer's stop the keepers are
stopped (no re-dials) and their legs hung up, their last events awaited (at most
:data:`~dialer.nailed_watch.END_WAIT`) so that the intake acknowledges them before it closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine, Mapping
from types import MappingProxyType
from typing import Any

from dialer.nailed import NailedAgentKeeper
from dialer.nailed_watch import END_WAIT, NailedWatch, hang_up_leftover_legs, hang_up_legs
from dialer.ports import ExotelApi, KeeperPorts

log = logging.getLogger("dialer.service")

__all__ = ["NailedKeepers"]

Spawn = Callable[[Coroutine[Any, Any, None], str], "asyncio.Task[object]"]


class NailedKeepers:
    """The keepers of one dialer (see the module docstring). ``spawn`` runs a task in the
    dialer's task group; keepers added before the dialer runs start with :meth:`start_all`."""

    def __init__(self, ports: KeeperPorts, client: ExotelApi, watch: NailedWatch,
                 spawn: Spawn) -> None:
        self._ports = ports
        self._client = client
        self._watch = watch
        self._spawn = spawn
        self._keepers: dict[str, NailedAgentKeeper] = {}
        self._tasks: dict[str, asyncio.Task[object]] = {}

    @property
    def keepers(self) -> Mapping[str, NailedAgentKeeper]:
        """The keepers, by agent id (read-only)."""
        return MappingProxyType(self._keepers)

    def get(self, agent_id: str) -> NailedAgentKeeper | None:
        return self._keepers.get(agent_id)

    def add(self, agent_id: str, number: str, caller_id: str, *, running: bool) -> None:
        """A keeper for the agent, started at once when the dialer is ``running``."""
        keeper = NailedAgentKeeper(self._ports, agent_id, number, caller_id)
        self._keepers[agent_id] = keeper
        if running:
            self._start(keeper)

    def start_all(self) -> None:
        """The dialer starts: every keeper added before it runs."""
        for keeper in self._keepers.values():
            self._start(keeper)

    def _start(self, keeper: NailedAgentKeeper) -> None:
        self._tasks[keeper.agent_id] = self._spawn(self._keep(keeper), f"nailed-{keeper.agent_id}")

    async def _keep(self, keeper: NailedAgentKeeper) -> None:
        try:
            await hang_up_leftover_legs(self._client, keeper.agent_id, keeper.custom_param)
        except Exception:  # never keep the agent offline for the sake of the clean-up
            log.exception("nailed agent %s: looking for leftover legs failed", keeper.agent_id)
        await keeper.run()

    async def hang_up_all(self) -> None:
        """The dialer stops: stop the keepers (no re-dials), then hang up their legs."""
        tasks = [t for t in self._tasks.values() if not t.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
        self._tasks.clear()
        legs = {k.agent_id: k.leg_sid for k in self._keepers.values() if k.leg_sid}
        # their last events are acknowledged before the intake closes (no retries to a
        # dead endpoint)
        settled = self._watch.await_end(legs.values())
        hung_up = await hang_up_legs(self._client, legs)
        self._watch.stop_awaiting(set(legs.values()) - set(hung_up))
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(END_WAIT):
                await settled.wait()
