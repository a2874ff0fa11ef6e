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

# Modules that contribute subcommands, in help order, with the commands each adds.
SUBCOMMAND_MODULES: dict[str, tuple[str, ...]] = {
    "voxgate.demo_cli": ("demo", "call"),
    "gateway.cli": ("gateway",),
    "exotel_sim.cli": ("sim",),
    # dialer, campaign (lent the emulator: dialer.emulated.Embedding)
    "voxgate.embedding": ("dialer", "campaign"),
    "dialer.db.cli": ("db",),
    "dialer.web.users_cli": ("users",),  # the dashboard's
    "dialer.reports.cli": ("report",),
}
MODULE_OF: dict[str, str] = {c: m for m, cs in SUBCOMMAND_MODULES.items() for c in cs}
_VALUED = ("--log-level", "--log-format")  # the global options that take a value


def command_of(argv: Sequence[str]) -> str | None:
    """The subcommand named in ``argv`` (after the global options), ``None`` when there is none."""
    tokens = iter(argv)
    for token in tokens:
        if token in _VALUED:
            next(tokens, None)
        elif not token.startswith("-"):
            return token
    return None


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser; given the command line, only the module of its subcommand is imported (each
    part's imports cost a process start up to a second or two), else every part (help)."""
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
    module = MODULE_OF.get(command_of(argv) or "") if argv is not None else None
    for name in (module,) if module else SUBCOMMAND_MODULES:
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
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv)
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
