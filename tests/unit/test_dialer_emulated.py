"""The dialer's settings on an embedded emulator: the same audio as in the demo."""

from __future__ import annotations

from dialer.config import DialerConfig
from dialer.emulated import on_emulator
from exotel_sim.config import SimConfig
from exotel_sim.server import SimServer


async def test_the_emulator_fills_in_address_credentials_and_audio_left_unset() -> None:
    async with SimServer(SimConfig()) as sim:
        config = on_emulator(DialerConfig(), sim)
        assert (config.api_base, config.api_key) == (sim.api_base, sim.api_key)
        assert config.exophone == "+918000000000"
        assert config.hold_url == sim.audio_url("hold_message")
        assert config.greeting_url == sim.audio_url("greeting")
        assert config.agent_hold_url == sim.audio_url("hold_music")
        own = on_emulator(DialerConfig(hold_url="https://cdn.example/hold.wav",
                                       greeting_text="Hello", exophone="+918047112233"), sim)
        assert own.hold_url == "https://cdn.example/hold.wav" and own.greeting_url == ""
        assert own.exophone == "+918047112233"
        none = on_emulator(DialerConfig(), sim, ("", "", ""))
        assert (none.greeting_url, none.hold_url, none.agent_hold_url) == ("", "", "")
