"""The example adapter package (examples/keypad_bot), installed and found through the
``voxgate.bot_adapters`` entry point like any third-party adapter, driven by the fake call."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from bot_adapters.registry import available_adapters, load_adapter
from bot_adapters.testing import FakeCall


def test_example_is_installed_under_its_entry_point() -> None:
    assert {"keypad", "scripted", "relay"} <= set(available_adapters())


async def test_example_reads_digits_back_and_hangs_up() -> None:
    bot = load_adapter("keypad")({"max_digits": "3"})
    call = FakeCall(bot)
    await call.start()
    await call.wait_playout()
    for digit in "907":  # the third digit completes the entry
        await call.press(digit)
    assert call.played_labels == ["prompt", "readback"]
    readback = call.played[-1].pcm
    assert len(readback) == 3 * 2 * 8000 * 240 // 1000  # three 240 ms key slots
    await call.press("1")  # ignored while reading back
    await call.wait_playout()
    assert [h.reason for h in call.hangups] == ["entered:907"]


async def test_example_barge_in_restarts_the_entry() -> None:
    bot = load_adapter("keypad")({})
    call = FakeCall(bot)
    await call.start()
    for digit in "12#":
        await call.press(digit)
    await call.send_silence(100)
    await call.speech_start()
    assert call.played_labels[-1] == "prompt" and not call.hangups
    await call.wait_playout()
    await call.press("5")
    await call.press("#")
    await call.wait_playout()
    assert call.hangups[0].reason == "entered:5"


def test_example_tests_pass_in_a_copy_outside_the_repo(tmp_path: Path) -> None:
    # A developer starts from a copy of the example: its own pyproject must set pytest-asyncio
    # up (voxgate's pytest settings only apply inside voxgate's tree).
    example = Path(__file__).resolve().parents[2] / "examples" / "keypad_bot"
    copy = tmp_path / "keypad_bot"
    shutil.copytree(example, copy, ignore=shutil.ignore_patterns("*.egg-info", "__pycache__"))
    pytest_args = ["-q", "-p", "no:cacheprovider", "-W", "error::pytest.PytestDeprecationWarning"]
    run = subprocess.run(
        [sys.executable, "-m", "pytest", *pytest_args, "tests"],
        cwd=copy,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert "2 passed" in run.stdout
