"""The deployment files (deploy/, docs/deploy.md) hold together: the compose file names the
services and health checks it must, every ``voxgate`` command line in them parses with the real
CLI (a renamed flag fails here), the image runs as a user of its own, the systemd units verify.

``docker compose config`` and ``systemd-analyze verify`` run where those tools exist; elsewhere
those tests skip, saying why.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from dialer.cli import event_flags
from dialer.config import DialerConfig
from voxgate.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "compose.yaml"
DOCKERFILE = DEPLOY / "Dockerfile"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
VOXGATE_SERVICES = ("dialer", "gateway-1", "gateway-2", "exotel")
ENV_EXAMPLE = DEPLOY / "voxgate.env.example"


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return data


def services() -> dict[str, Any]:
    found: dict[str, Any] = compose()["services"]
    return found


class CliRefused(Exception):
    """argparse refused a command line (its message says why)."""


def parse(argv: list[str]) -> argparse.Namespace:
    """``argv`` (without the program name) through the real ``voxgate`` parser."""
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            return build_parser().parse_args(argv)
    except SystemExit as exc:
        raise CliRefused(f"{shlex.join(argv)}: {err.getvalue().strip()}") from exc


def unit_keys(path: Path) -> dict[str, list[str]]:
    """``Key`` -> values of a systemd unit (sections merged; comments and blanks skipped)."""
    keys: dict[str, list[str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";", "[")):
            continue
        key, sep, value = line.partition("=")
        assert sep, f"{path.name}: not a key=value line: {line!r}"
        keys.setdefault(key.strip(), []).append(value.strip())
    return keys


def unit_argv(path: Path) -> list[str]:
    """The unit's ``ExecStart`` as ``voxgate`` arguments (``%i`` as a port)."""
    (exec_start,) = unit_keys(path)["ExecStart"]
    argv = shlex.split(exec_start.replace("%i", "8766"))
    assert Path(argv[0]).name == "voxgate", exec_start
    return argv[1:]


def doc_command_lines() -> Iterator[list[str]]:
    """Every ``voxgate ...`` line inside docs/deploy.md's code blocks."""
    text = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    for block in re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            line = line.split(" #", 1)[0].strip()
            words = shlex.split(line) if line else []
            while words and ("=" in words[0] and not words[0].startswith("-")):
                words = words[1:]  # VAR=value prefixes
            if words and Path(words[0]).name == "voxgate":
                yield words[1:]


def all_command_lines() -> list[tuple[str, list[str]]]:
    lines = [(f"compose {name}", [str(a) for a in svc["command"]])
             for name, svc in services().items() if name in VOXGATE_SERVICES]
    lines += [(f"systemd {unit.name}", unit_argv(unit)) for unit in UNITS]
    lines += [("docs/deploy.md", argv) for argv in doc_command_lines()]
    return lines


# -- the compose file --------------------------------------------------------------------------

def test_compose_runs_two_gateways_a_dialer_prometheus_and_a_dryrun_emulator() -> None:
    svc = services()
    assert set(svc) == {"dialer", "gateway-1", "gateway-2", "prometheus", "exotel"}
    assert svc["exotel"]["profiles"] == ["dryrun"]
    assert all("profiles" not in svc[name] for name in svc if name != "exotel")
    for name in VOXGATE_SERVICES:
        assert svc[name]["build"]["dockerfile"] == "deploy/Dockerfile", name
        assert svc[name]["command"][0] == {"dialer": "dialer", "exotel": "sim"}.get(
            name, "gateway"), name
    for name in ("dialer", "gateway-1", "gateway-2"):
        assert svc[name]["env_file"] == "${VOXGATE_ENV_FILE:-voxgate.env}", name
    for name in ("gateway-1", "gateway-2", "prometheus"):
        assert svc[name]["depends_on"]["dialer"]["condition"] == "service_healthy", name


def _flag(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def test_every_service_has_a_health_check_on_its_own_port() -> None:
    svc = services()
    routes = {"gateway-1": (":8765/readyz", "--port"), "gateway-2": (":8765/readyz", "--port"),
              "dialer": (":8770/readyz", "--control-port"), "exotel": (":8090/healthz", "--port")}
    for name, (route, port_flag) in routes.items():
        check = " ".join(svc[name]["healthcheck"]["test"])
        assert f"127.0.0.1{route}" in check, (name, check)
        assert route.startswith(":" + _flag([str(a) for a in svc[name]["command"]], port_flag))
    assert "/-/ready" in " ".join(svc["prometheus"]["healthcheck"]["test"])


def test_the_dialer_keeps_its_database_and_token_file_on_a_volume() -> None:
    svc = services()
    assert "voxgate-state:/var/lib/voxgate" in svc["dialer"]["volumes"]
    assert "voxgate-state" in compose()["volumes"]
    for name in ("gateway-1", "gateway-2", "prometheus"):  # they read the control token
        assert "voxgate-state:/var/lib/voxgate:ro" in svc[name]["volumes"], name
    docker = DOCKERFILE.read_text(encoding="utf-8")
    assert "VOXGATE_DB=/var/lib/voxgate/" in docker
    assert "VOXGATE_CONTROL_TOKEN_FILE=/var/lib/voxgate/control-token" in docker


def test_prometheus_scrapes_every_gateway_and_the_dialer() -> None:
    prom = yaml.safe_load((DEPLOY / "prometheus.yml").read_text(encoding="utf-8"))
    jobs = {job["job_name"]: job for job in prom["scrape_configs"]}
    targets = {t for job in jobs.values() for c in job["static_configs"] for t in c["targets"]}
    assert {"gateway-1:8765", "gateway-2:8765", "dialer:8770"} <= targets
    dialer = jobs["voxgate-dialer"]
    assert dialer["authorization"]["credentials_file"] == "/var/lib/voxgate/control-token"
    assert "./prometheus.yml:/etc/prometheus/prometheus.yml:ro" in (
        services()["prometheus"]["volumes"])


def test_the_env_examples_hold_no_real_value() -> None:
    names = set()
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            names.add(name)
            if name.endswith(("_KEY", "_TOKEN", "_SECRET", "_PASSWORD", "_AUTH", "_SID")):
                assert "CHANGE-ME" in value, name
    assert {"EXOTEL_API_KEY", "EXOTEL_API_TOKEN", "VOXGATE_EVENT_AUTH",
            "VOXGATE_GATEWAY_PASSWORD", "VOXGATE_STREAM_URL", "VOXGATE_CALL_SECRET"} <= names
    assert "CHANGE-ME" in _value(ENV_EXAMPLE, "VOXGATE_STREAM_URL")
    # the dry run's file talks to the emulator only
    assert _value(DEPLOY / "dryrun.env", "EXOTEL_API_BASE") == "http://exotel:8090"


def env_file(path: Path) -> dict[str, str]:
    pairs = (line.partition("=") for line in path.read_text(encoding="utf-8").splitlines()
             if line and not line.startswith("#"))
    return {name: value for name, _, value in pairs}


@pytest.mark.parametrize("name", ["voxgate.env.example", "dryrun.env"])
def test_the_dialer_accepts_the_env_files_with_the_compose_flags(name: str) -> None:
    env = {key: value.replace("CHANGE-ME", "+918000000000" if key == "EXOTEL_EXOPHONE"
                              else "s3cret-s3cret-s3cret")
           for key, value in env_file(DEPLOY / name).items()}
    args = parse([str(a) for a in services()["dialer"]["command"]])
    config = DialerConfig.load(None, event_flags(args) | env)
    assert not config.uses_embedded_emulator and config.stream_url and config.event_auth
    assert config.event_plan is not None


def _value(path: Path, name: str) -> str:
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith(f"{name}="):
            return line.partition("=")[2]
    raise AssertionError(f"{path.name} has no {name}")


def _compose_command() -> list[str] | None:
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True,
                                 check=False).returncode == 0:
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


@pytest.mark.parametrize("profile", [[], ["--profile", "dryrun"]], ids=["prod", "dryrun"])
def test_docker_compose_config_accepts_the_file(profile: list[str]) -> None:
    command = _compose_command()
    if command is None:
        pytest.skip("neither `docker compose` (the plugin) nor `docker-compose` is installed")
    env = {**os.environ, "VOXGATE_ENV_FILE": "voxgate.env.example"}
    done = subprocess.run([*command, "-f", str(COMPOSE), *profile, "config", "-q"],
                          capture_output=True, text=True, env=env, timeout=60, check=False)
    assert done.returncode == 0, done.stderr


# -- the image ---------------------------------------------------------------------------------

def test_the_image_is_multi_stage_slim_and_runs_as_its_own_user() -> None:
    lines = [line.strip() for line in DOCKERFILE.read_text(encoding="utf-8").splitlines()]
    stages = [line for line in lines if line.startswith("FROM ")]
    assert len(stages) >= 2 and all("python:3.11-slim" in s for s in stages), stages
    final = lines[lines.index(stages[-1]):]
    users = [line.split()[1] for line in final if line.startswith("USER ")]
    assert users, "the runtime stage sets no USER (it would run as root)"
    assert users[-1].split(":")[0] not in ("root", "0"), users[-1]
    assert not any(line.startswith("RUN") and "gcc" in line for line in final)
    assert 'ENTRYPOINT ["voxgate"]' in final


def test_no_secret_is_baked_into_the_image() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert not re.search(r"(TOKEN|PASSWORD|SECRET|_KEY|_AUTH)\s*=", text.replace(
        "VOXGATE_CONTROL_TOKEN_FILE=", ""))
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert {".git", ".venv", "deploy/voxgate.env"} <= set(ignored)
    assert "/deploy/voxgate.env" in (ROOT / ".gitignore").read_text(encoding="utf-8").split()


# -- the systemd units -------------------------------------------------------------------------

HARDENING = {"User": "voxgate", "NoNewPrivileges": "yes", "ProtectSystem": "strict",
             "StateDirectory": "voxgate", "EnvironmentFile": "/etc/voxgate/voxgate.env"}


def test_the_units_are_hardened() -> None:
    assert {u.name for u in UNITS} == {"voxgate-dialer.service", "voxgate-gateway.service",
                                       "voxgate-gateway@.service"}
    for unit in UNITS:
        keys = unit_keys(unit)
        for key, value in HARDENING.items():
            assert keys.get(key) == [value], (unit.name, key)
        assert keys["KillSignal"] == ["SIGTERM"]
    dialer = unit_keys(DEPLOY / "systemd" / "voxgate-dialer.service")
    timeout = float(dialer["TimeoutStopSec"][0])
    drain = float(_flag(unit_argv(DEPLOY / "systemd" / "voxgate-dialer.service"),
                        "--drain-timeout"))
    assert timeout > drain, "systemd would kill the dialer before its drain ends"


def test_systemd_analyze_verifies_the_units(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (the key checks above still ran)")
    beside = Path(sys.executable).parent / "voxgate"
    voxgate = str(beside) if beside.exists() else shutil.which("voxgate") or "voxgate"
    paths = []
    for unit in UNITS:  # ExecStart must name an executable: this environment's voxgate
        name = unit.name.replace("@.", "@8765.")
        text = unit.read_text(encoding="utf-8").replace("/opt/voxgate/bin/voxgate", voxgate)
        (tmp_path / name).write_text(text, encoding="utf-8")
        paths.append(str(tmp_path / name))
    done = subprocess.run([analyze, "verify", "--man=no", *paths], capture_output=True,
                          text=True, timeout=60, check=False)
    ours = [line for line in (done.stdout + done.stderr).splitlines() if "voxgate" in line]
    assert done.returncode == 0 and not ours, done.stdout + done.stderr


# -- every voxgate command line parses with the real CLI ---------------------------------------

def test_every_voxgate_command_line_parses() -> None:
    lines = all_command_lines()
    assert len(lines) >= 8 and any(src == "docs/deploy.md" for src, _ in lines)
    refused = []
    for source, argv in lines:
        try:
            parse(argv)
        except CliRefused as exc:
            refused.append(f"{source}: {exc}")
    assert not refused, "\n".join(refused)


def test_a_renamed_flag_is_caught() -> None:
    argv = [str(a) for a in services()["gateway-1"]["command"]]
    parse(argv)
    renamed = [("--control-endpoint" if a == "--control-url" else a) for a in argv]
    with pytest.raises(CliRefused, match="--control-endpoint"):
        parse(renamed)
