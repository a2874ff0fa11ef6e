"""The dialer's settings when it talks to an embedded Exotel emulator (no ``EXOTEL_API_BASE``):
the emulator's address and credentials, a default ExoPhone, and its audio fixtures for the
greeting, the customer's hold audio and the nailed agents' hold audio where none is set, so
the dialer alone (``voxgate dialer run``) sounds as it does inside ``voxgate demo``.

The dialer never imports the emulator (nor the gateway): the composition root lends its
commands an :class:`Embedding` (``voxgate.embedding.SimEmbedding``) that parses an emulator's
settings and starts one, or the whole loopback stack, and hands back what the dialer needs of it
(:class:`EmbeddedExotel`, :class:`RunningStack`).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, Protocol

from dialer.config import DialerConfig

if TYPE_CHECKING:
    from dialer.records import RecordStore
    from dialer.service import Dialer

DEFAULT_EXOPHONE = "+918000000000"
FIXTURES = ("greeting", "hold_message", "hold_music")
"""The emulator's fixtures for the greeting, the hold audio and the agents' hold audio."""


class EmbeddedExotel(Protocol):
    """What the dialer reads of a running embedded emulator."""

    @property
    def base_url(self) -> str: ...
    @property
    def api_base(self) -> str: ...
    @property
    def account_sid(self) -> str: ...
    @property
    def api_key(self) -> str: ...
    @property
    def api_token(self) -> str: ...
    def audio_url(self, name: str) -> str: ...


class RunningStack(Protocol):
    """An emulator (when the config names no Exotel), a gateway and a dialer, running."""

    @property
    def dialer(self) -> Dialer: ...


class Embedding(Protocol):
    """What the composition root lends the dialer's commands to run without real Exotel.

    A *world* is the emulator's settings (its simulated customers and agents), opaque here."""

    def parse_world(self, text: str) -> Any:
        """An emulator's settings from TOML ``text``; raises ``ValueError`` (or ``TypeError``,
        ``OverflowError``) naming the key."""
        ...

    def emulator(self, world: Any, agent_numbers: Sequence[str],
                 config: DialerConfig) -> AbstractAsyncContextManager[EmbeddedExotel]:
        """An emulator on loopback running ``world`` (``None``: the default one), the
        ``agent_numbers`` answering as agents, trusting the intake's own certificate."""
        ...

    def local_stack(self, config: DialerConfig, world: Any, agent_numbers: Sequence[str],
                    records: RecordStore) -> AbstractAsyncContextManager[RunningStack]:
        """Emulator (when ``config`` names no Exotel), gateway and dialer in this process."""
        ...


def on_emulator(
    config: DialerConfig, sim: EmbeddedExotel, fixtures: tuple[str, str, str] = FIXTURES
) -> DialerConfig:
    """``config`` pointed at ``sim``; a fixture named ``""`` is not used."""
    greeting, hold, agent_hold = fixtures
    changes: dict[str, Any] = {
        "api_base": sim.api_base,
        "account_sid": sim.account_sid,
        "api_key": sim.api_key,
        "api_token": sim.api_token,
        "exophone": config.exophone or DEFAULT_EXOPHONE,
    }
    if not config.greeting_url and not config.greeting_text and greeting:
        changes["greeting_url"] = sim.audio_url(greeting)
    if not config.hold_url and hold:
        changes["hold_url"] = sim.audio_url(hold)
    if not config.agent_hold_url and agent_hold:
        changes["agent_hold_url"] = sim.audio_url(agent_hold)
    return config.replace(**changes)
