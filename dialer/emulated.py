"""The dialer's settings when it talks to an embedded Exotel emulator (no ``EXOTEL_API_BASE``):
the emulator's address and credentials, a default ExoPhone, and its audio fixtures for the
greeting, the customer's hold audio and the nailed agents' hold audio where none is set, so
the dialer alone (``voxgate dialer run``) sounds as it does inside ``voxgate demo``."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from dialer.config import DialerConfig

if TYPE_CHECKING:
    from exotel_sim.config import SimConfig
    from exotel_sim.server import SimServer

DEFAULT_EXOPHONE = "+918000000000"
FIXTURES = ("greeting", "hold_message", "hold_music")
"""The emulator's fixtures for the greeting, the hold audio and the agents' hold audio."""


def on_emulator(
    config: DialerConfig, sim: SimServer, fixtures: tuple[str, str, str] = FIXTURES
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


def trusting_event_cert(world: SimConfig, config: DialerConfig) -> SimConfig:
    """``world`` trusting the event intake's own certificate (``event_certfile``), so an
    embedded emulator delivers over TLS to a self-signed intake as Exotel does to a CA-signed
    one (certificates are checked either way)."""
    if config.event_certfile and not world.tls_ca_file:
        return dataclasses.replace(world, tls_ca_file=config.event_certfile)
    return world
