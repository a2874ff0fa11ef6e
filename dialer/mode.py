"""Explicit mode for the commands that dial (``voxgate call``, ``dialer run``, ``campaign run``):
real Exotel or the emulator is never one forgotten variable apart.

A command dials through Exotel when ``EXOTEL_API_BASE`` is set (with the account, key and
token), or the emulator when asked to (``--emulator`` or ``VOXGATE_EMULATOR=1``); with neither
(or both) it refuses to start. The first line of its output names the mode:
``mode: exotel (https://host)`` or ``mode: emulator`` (:func:`voxgate_shared.health.exotel_mode`,
also in ``/healthz``). ``voxgate demo`` always runs on the emulator and needs no flag.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping

from dialer.config import DialerConfig
from dialer.errors import ConfigError
from voxgate_shared.health import exotel_mode

EMULATOR_ENV = "VOXGATE_EMULATOR"
CREDENTIALS = {"EXOTEL_ACCOUNT_SID": "account_sid", "EXOTEL_API_KEY": "api_key",
               "EXOTEL_API_TOKEN": "api_token"}


def add_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--emulator", action="store_true",
        help=f"dial the embedded Exotel emulator (${EMULATOR_ENV}=1); without it the command "
        "needs EXOTEL_API_BASE and the account's credentials",
    )


def emulator_asked(args: argparse.Namespace, env: Mapping[str, str] = os.environ) -> bool:
    value = env.get(EMULATOR_ENV, "").strip().lower()
    return bool(getattr(args, "emulator", False)) or value in ("1", "true", "yes", "on")


def dial_mode(config: DialerConfig, args: argparse.Namespace,
              env: Mapping[str, str] = os.environ) -> str:
    """The command's first output line (``mode: ...``); ConfigError (one line, exit 2) when
    the mode is not explicit."""
    asked = emulator_asked(args, env)
    if config.api_base:
        if asked:
            raise ConfigError(
                f"EXOTEL_API_BASE is set (real Exotel) and --emulator/{EMULATOR_ENV} asks for "
                "the emulator: choose one")
        missing = [var for var, name in CREDENTIALS.items() if not getattr(config, name)]
        if missing:
            raise ConfigError(f"EXOTEL_API_BASE is set, so the command dials through Exotel, "
                              f"which needs {', '.join(missing)} too")
        return f"mode: {exotel_mode(config.api_base, emulated=False)}"
    if asked:
        return "mode: emulator"
    raise ConfigError(
        "no Exotel settings (EXOTEL_API_BASE and the account's credentials) and no --emulator: "
        f"refusing to dial; set them for real Exotel, or pass --emulator ({EMULATOR_ENV}=1) "
        "for the emulator")
