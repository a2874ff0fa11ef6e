"""``voxgate gateway`` refuses, at start, adapter options it could only fail calls with."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gateway.cli import check_adapters

ROOT = Path(__file__).resolve().parents[2]


def test_options_the_adapters_accept_pass() -> None:
    check_adapters({"echo": {}, "scripted": {"script": "sales"}})


@pytest.mark.parametrize(
    ("options", "needle"),
    [
        ({"scriptd": {"script": "sales"}}, "no bot adapter named 'scriptd' (installed: "),
        ({"scripted": {"script": "/no/such/script.toml"}}, "adapter 'scripted' refuses"),
        ({"scripted": {"end_silence_ms": "soon"}}, "end_silence_ms must be an integer"),
        ({"relay": {"url": "ftp://bot"}}, "adapter 'relay' refuses"),
    ],
)
def test_a_bad_name_or_option_is_refused_with_its_message(
    options: dict[str, dict[str, str]], needle: str,
) -> None:
    with pytest.raises(ValueError) as info:
        check_adapters(options)
    assert needle in str(info.value)


def test_the_process_exits_2_before_it_listens() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "--port", "0",
         "--adapter-option", "scripted.script=/no/such/script.toml"],
        capture_output=True, text=True, cwd=ROOT, timeout=30,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("voxgate gateway: adapter 'scripted' refuses its options")
    assert "listening" not in proc.stdout and "Traceback" not in proc.stderr
