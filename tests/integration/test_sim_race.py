"""exotel_sim: a leg's first events can beat the 202 of its POST /legs (EXOTEL.md section 3),
as Exotel's media servers send them independently of the REST answer; ``race_share`` says how
many legs do. Over real sockets: the events are at the endpoint when the 202 comes back."""

from __future__ import annotations

import pytest

from exotel_sim.config import CustomerProfile, SimConfig, SimConfigError
from exotel_sim.server import SimServer
from exotel_sim.testing import HttpEventSink, SimClient, fast_config

QUICK = "+919000000071"  # answers 30 ms after ringing
SLOW = "+919000000072"  # rings 5 s


def config(share: float) -> SimConfig:
    return fast_config(race_share=share, race_window_ms=200, customers={
        QUICK: CustomerProfile(outcome="answer", ring_ms=(30, 30), scripts=((),), patience_ms=0),
        SLOW: CustomerProfile(outcome="answer", ring_ms=(5000, 5000), scripts=((),),
                              patience_ms=0),
    })


async def test_every_leg_races_its_202_with_race_share_one() -> None:
    async with SimServer(config(1.0)) as server, HttpEventSink() as sink, \
            SimClient(server.api_base, server.api_key, server.api_token) as client:
        quick = await client.create_leg(QUICK, sink.url)
        # nothing awaited since the 202: the events were acknowledged before it
        assert sink.names(quick) == ["leg_connecting", "leg_ringing", "leg_answered"]
        slow = await client.create_leg(SLOW, sink.url)
        assert sink.names(slow) == ["leg_connecting", "leg_ringing"]  # no answer in the window
        stats = await client.inspect("/stats")
        assert stats["counters"]["raced_creates"] == 2


async def test_no_leg_races_with_race_share_zero() -> None:
    async with SimServer(config(0.0)) as server, HttpEventSink() as sink, \
            SimClient(server.api_base, server.api_key, server.api_token) as client:
        sid = await client.create_leg(SLOW, sink.url)
        assert "leg_ringing" not in sink.names(sid)
        await sink.wait_for(lambda e: e.name == "leg_ringing")


def test_race_and_lenient_options_from_the_config_file() -> None:
    text = """
[delivery]
race_share = 1.0
race_window_ms = 50
loss_probability = 0.1
[lenient]
list_legs = true
event_custom_param = true
"""
    cfg = SimConfig.from_toml(text)
    assert (cfg.race_share, cfg.race_window_ms, cfg.loss_probability) == (1.0, 50, 0.1)
    assert cfg.list_legs and cfg.event_custom_param
    default = SimConfig.from_toml("")
    assert default.race_share == 0.3 and not default.list_legs and not default.event_custom_param


def test_race_and_lenient_options_are_checked() -> None:
    for text in ("[delivery]\nrace_share = 1.5", "[delivery]\nloss_probability = -0.1",
                 "[delivery]\nrace_window_ms = -1", "[lenient]\nlist_legs = 1",
                 "[lenient]\nlist_everything = true"):
        with pytest.raises(SimConfigError):
            SimConfig.from_toml(text)
