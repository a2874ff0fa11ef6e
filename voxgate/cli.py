"""The ``voxgate`` command: one subcommand per part, each registered by the part itself.

Every part exposes ``register(subparsers)`` in its ``cli`` module, adding its subcommand(s)
with ``set_defaults(func=...)``; ``func(args)`` returns the process exit code. Keeping the
registrations in the parts keeps this root free of their options.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from voxgate_shared import redact

# Modules that contribute subcommands, in help order.
SUBCOMMAND_MODULES: tuple[str, ...] = (
    "voxgate.demo_cli",  # demo, call
    "gateway.cli",  # gateway
    "exotel_sim.cli",  # sim
    "voxgate.embedding",  # dialer, campaign (lent the emulator: dialer.emulated.Embedding)
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="voxgate",
        description="Voice-bot gateway and dialer for Exotel programmable voice.",
    )
    parser.add_argument(
        "--log-level",
        default=None,
        help="logging level (DEBUG, INFO, WARNING, ERROR); default INFO, or WARNING for"
        " commands that draw a live progress display (demo, campaign run)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = args.log_level or getattr(args, "default_log_level", "INFO")
    logging.basicConfig(
        level=getattr(logging, str(level).upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Every subcommand logs through this filter: URLs' passwords, Authorization headers,
    # token= parameters and the environment's secrets never reach a log (voxgate_shared.redact).
    redact.install(secrets=redact.secrets_in_env(os.environ))
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    code: int = func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
