"""``voxgate gateway`` refuses, at start, adapter options it could only fail calls with."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gateway.cli import check_adapters, check_auth_default

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


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"])
def test_loopback_serves_without_auth(host: str) -> None:
    check_auth_default(host, None, insecure=False)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.0.0.5", "gateway.example.com"])
def test_off_loopback_without_auth_is_refused_unless_explicit(host: str) -> None:
    with pytest.raises(ValueError, match="not loopback and no --auth-user"):
        check_auth_default(host, None, insecure=False)
    check_auth_default(host, "KEY", insecure=False)  # authenticated: fine
    check_auth_default(host, None, insecure=True)  # the operator's explicit choice


def test_the_process_refuses_a_public_address_without_auth_in_one_line() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "--host", "0.0.0.0", "--port", "0"],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "--insecure-no-auth" in lines[0], proc.stderr
    assert "listening" not in proc.stdout
