"""Tests for the example adapter, with voxgate's fake call (run: pytest examples/keypad_bot)."""

from __future__ import annotations

from keypad_bot import KeypadBot

from bot_adapters.testing import FakeCall


async def test_digits_are_read_back_then_the_bot_hangs_up() -> None:
    call = FakeCall(KeypadBot({}))
    await call.start()
    assert call.played_labels == ["prompt"]
    for digit in "42#":
        await call.press(digit)
    assert call.played_labels == ["prompt", "readback"]
    assert not call.hangups  # not before the caller has heard the readback
    await call.wait_playout()
    assert call.hangups[0].reason == "entered:42"
    assert call.stop_reason == "hangup"


async def test_star_asks_for_a_human() -> None:
    call = FakeCall(KeypadBot({"skills": "billing,hindi"}))
    await call.start()
    await call.press("*")
    assert call.transfers[0].skills == ("billing", "hindi")
