"""``voxgate call`` as a bot developer uses it: a scripted emulated customer (``--customer``),
adapter options, and one-line errors for what would only fail the call."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def voxgate_call(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EXOTEL_", "VOXGATE_"))}
    return subprocess.run(
        [sys.executable, "-m", "voxgate.cli", "--log-level", "WARNING", "call", "--emulator",
         *args],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=90,
    )


def record_of(stdout: str) -> dict[str, object]:
    record: dict[str, object] = json.loads(stdout[stdout.index("\n{") + 1 :])
    return record


@pytest.mark.slow(10)
def test_keys_from_the_customer_reach_the_keypad_bot_which_hangs_up() -> None:
    proc = voxgate_call("+919800000001", "--bot", "keypad",
                        "--customer", "pause 300; dtmf 4; wait 300; dtmf 2; wait 300; dtmf #; "
                        "wait 4000; hangup")
    assert proc.returncode == 0, proc.stderr
    record = record_of(proc.stdout)
    assert record["disposition"] == "bot_completed", record  # the bot hung up after "42#"


@pytest.mark.slow(5)
def test_adapter_options_reach_the_bot() -> None:
    proc = voxgate_call("+919800000002", "--bot", "keypad", "--adapter-option",
                        "keypad.max_digits=1", "--customer", "pause 300; dtmf 7; wait 4000; hangup")
    assert proc.returncode == 0, proc.stderr
    assert record_of(proc.stdout)["disposition"] == "bot_completed"  # one digit was enough


@pytest.mark.slow(5)
def test_what_would_only_fail_the_call_is_refused_first() -> None:
    for args, needle in [
        (("--bot", "keypd"), "no bot adapter named 'keypd'"),
        (("--bot", "scripted", "--adapter-option", "scripted.script=/nope.toml"),
         "adapter 'scripted' refuses its options"),
        (("--customer", "pause 300; sing loudly"), "--customer: "),
        (("--sim-config", "/no/such/world.toml"), "--sim-config /no/such/world.toml"),
    ]:
        proc = voxgate_call("+919800000003", *args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert needle in proc.stderr and "Traceback" not in proc.stderr, (args, proc.stderr)
        assert "call " not in proc.stdout  # nothing was dialled
