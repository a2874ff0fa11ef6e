"""The ``voxgate`` command: one subcommand per part, each registered by the part itself.

Every part exposes ``register(subparsers)`` in its ``cli`` module, adding its subcommand(s)
with ``set_defaults(func=...)``; ``func(args)`` returns the process exit code. Keeping the
registrations in the parts keeps this root free of their options.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from voxgate_shared import logs

# Modules that contribute subcommands, in help order.
SUBCOMMAND_MODULES: tuple[str, ...] = (
    "voxgate.demo_cli",  # demo, call
    "gateway.cli",  # gateway
    "exotel_sim.cli",  # sim
    "voxgate.embedding",  # dialer, campaign (lent the emulator: dialer.emulated.Embedding)
    "dialer.db.cli",  # db
    "dialer.web.users_cli",  # users (the dashboard's)
    "dialer.reports.cli",  # report
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
    parser.add_argument("--log-format", choices=logs.FORMATS, default=None,
                        help="text (default) or json: one object per line with time, level, "
                        f"logger, message, call_id, leg_sid, stream_sid (${logs.FORMAT_ENV})")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMAND_MODULES:
        importlib.import_module(name).register(sub)
    for command in _subcommands(parser):  # also after the command: voxgate gateway --log-format
        command.add_argument("--log-format", choices=logs.FORMATS, default=argparse.SUPPRESS,
                             help=f"text or json (${logs.FORMAT_ENV})")
    return parser


def _subcommands(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """Every (nested) subcommand's parser under ``parser``."""
    found: list[argparse.ArgumentParser] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                found += [child, *_subcommands(child)]
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = args.log_level or getattr(args, "default_log_level", "INFO")
    # Every subcommand logs through the redaction filter: URLs' passwords, Authorization
    # headers, token= parameters and the environment's secrets never reach a log, in either
    # format (voxgate_shared.redact, voxgate_shared.logs).
    try:
        logs.configure(str(level), args.log_format)
    except ValueError as exc:
        print(f"voxgate: {exc} (${logs.FORMAT_ENV})", file=sys.stderr)
        return 2
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    code: int = func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
