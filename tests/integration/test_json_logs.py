"""``--log-format json`` / ``VOXGATE_LOG_FORMAT=json`` (issue 16, "Operable"), in child
processes: one JSON object per line with time, level, logger, message and the call's ids as
fields; the redaction filter still masks secrets; health checks and the dialer's readiness
probe are not logged at INFO."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

import aiohttp
import pytest

SNIPPET = """
import logging
from voxgate_shared import logs
logs.configure("INFO")
log = logging.getLogger("dialer.runner")
log.info("create leg via https://key:%s@api.example/v2", "pw-in-url", extra={"leg_sid": "L1"})
logs.bind(call_id="c-7", stream_sid="S9")
log.warning("token=%s refused; env secret %s", "tok123", "Sup3rS3cret-value")
try:
    raise RuntimeError("boom Sup3rS3cret-value")
except RuntimeError:
    log.exception("failed")
"""


def run_python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=30, env={**os.environ, **env})


def test_json_lines_carry_the_ids_and_stay_redacted() -> None:
    done = run_python(SNIPPET, VOXGATE_LOG_FORMAT="json",
                      EXOTEL_API_TOKEN="Sup3rS3cret-value")
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    assert len(lines) == 3
    first, second, third = lines
    assert set(first) == {"time", "level", "logger", "message", "leg_sid"}
    assert (first["level"], first["logger"], first["leg_sid"]) == ("INFO", "dialer.runner", "L1")
    assert first["time"].endswith("+00:00")
    assert (second["call_id"], second["stream_sid"], second["level"]) == ("c-7", "S9", "WARNING")
    assert "RuntimeError" in third["exc"] and third["call_id"] == "c-7"
    for secret in ("pw-in-url", "tok123", "Sup3rS3cret-value"):
        assert secret not in done.stderr, secret


def test_text_is_the_default_and_a_bad_format_is_one_line() -> None:
    done = run_python(SNIPPET, EXOTEL_API_TOKEN="Sup3rS3cret-value")
    assert " WARNING dialer.runner: token=" in done.stderr and "Sup3rS3cret" not in done.stderr
    bad = subprocess.run([sys.executable, "-m", "voxgate.cli", "sim", "--port", "0"],
                         capture_output=True, text=True, timeout=30,
                         env={**os.environ, "VOXGATE_LOG_FORMAT": "xml"})
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        "voxgate: log format 'xml': want one of text, json ($VOXGATE_LOG_FORMAT)"]


@pytest.mark.slow(5)
def test_every_command_takes_the_flag_before_or_after_its_name(tmp_path: object) -> None:
    for argv in (["--log-format", "json", "sim", "--config", "/nonexistent.toml"],
                 ["sim", "--config", "/nonexistent.toml", "--log-format", "json"]):
        done = subprocess.run([sys.executable, "-m", "voxgate.cli", *argv], capture_output=True,
                              text=True, timeout=30)
        assert done.returncode == 2
        line = json.loads(done.stderr.strip())
        assert (line["level"], line["logger"]) == ("ERROR", "exotel_sim")
        assert "nonexistent.toml" in line["message"]


async def test_health_checks_and_the_readiness_probe_are_not_logged_at_info() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "voxgate.cli", "--log-level", "INFO", "--log-format", "json",
        "sim", "--port", "0", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        assert proc.stdout is not None
        base = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode().split()[-1]
        auth = {"Authorization": aiohttp.encode_basic_auth("sim_key", "sim_token")}
        async with aiohttp.ClientSession(headers=auth) as http:
            for path in ("/healthz", "/readyz", "/v2/accounts/ACsim/legs/voxgate-readyz-probe",
                         "/v2/accounts/ACsim/legs/other-leg"):
                async with http.get(base + path) as reply:
                    await reply.read()
    finally:
        proc.terminate()
        _, err_b = await proc.communicate()
    lines = [json.loads(line) for line in err_b.decode().splitlines()]
    # the unknown leg is news (INFO, as before); the probe and the health checks are not
    assert [line["message"] for line in lines] == [
        "GET /v2/accounts/ACsim/legs/other-leg -> 404 leg other-leg not found"], lines
