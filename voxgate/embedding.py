"""The emulator and the loopback stack lent to the dialer's commands (``voxgate dialer run``,
``voxgate campaign run|check``), which never import them: :class:`SimEmbedding` implements
:class:`dialer.emulated.Embedding` over :mod:`exotel_sim` and :class:`voxgate.wiring.LocalStack`,
and :func:`register` adds those commands with it (:mod:`voxgate.cli`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from dialer import cli as dialer_cli
from dialer.campaign import cli as campaign_cli
from dialer.config import DialerConfig
from dialer.emulated import EmbeddedExotel, RunningStack
from dialer.records import RecordStore
from exotel_sim.config import SimConfig  # settings only: light

# The emulator's server and the loopback stack are imported when a command uses them: a dialer
# on real Exotel (or on an emulator of its own process) never loads them (a process start the
# lighter).


def _world(world: Any) -> SimConfig:
    if world is None:
        return SimConfig()
    if not isinstance(world, SimConfig):
        raise TypeError(f"an emulator world is a SimConfig, not {type(world).__name__}")
    return world


class SimEmbedding:
    """:class:`dialer.emulated.Embedding` on the Exotel emulator (:mod:`exotel_sim`)."""

    def parse_world(self, text: str) -> SimConfig:
        return SimConfig.from_toml(text)

    @asynccontextmanager
    async def _emulator(self, world: Any, agent_numbers: Sequence[str],
                        config: DialerConfig) -> AsyncIterator[EmbeddedExotel]:
        from exotel_sim.server import SimServer
        from voxgate.wiring import trusting_event_cert

        chosen = trusting_event_cert(_world(world).with_agents(agent_numbers), config)
        async with SimServer(chosen) as sim:
            yield sim

    def emulator(self, world: Any, agent_numbers: Sequence[str],
                 config: DialerConfig) -> AbstractAsyncContextManager[EmbeddedExotel]:
        return self._emulator(world, agent_numbers, config)

    def local_stack(self, config: DialerConfig, world: Any, agent_numbers: Sequence[str],
                    records: RecordStore) -> AbstractAsyncContextManager[RunningStack]:
        from voxgate.wiring import LocalStack

        sim = _world(world).with_agents(agent_numbers) if config.uses_embedded_emulator else None
        return LocalStack(config, sim_config=sim, store=records)


EMBEDDING = SimEmbedding()


def register(subparsers: Any) -> None:
    """Add ``dialer`` and ``campaign`` (their own modules' options), lent :data:`EMBEDDING`."""
    dialer_cli.register(subparsers, EMBEDDING)
    campaign_cli.register(subparsers, EMBEDDING)
