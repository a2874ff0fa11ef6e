"""``voxgate dialer run``'s dashboard options: ``--users FILE`` (or ``VOXGATE_USERS``) turns the
dashboard on at ``/ui/`` of the control port; ``--behind-tls`` marks its cookies ``Secure`` when
a TLS proxy serves it; ``--audit-log FILE`` also writes the audit's entries to FILE
as JSON lines (they are always in the database's ``audit_log`` table: :mod:`dialer.web.audit`)."""

from __future__ import annotations

import argparse
import logging
import os
import stat
from pathlib import Path

from dialer.web.context import UiSettings
from dialer.web.users import USERS_ENV, UsersError, load_users

__all__ = ["add_arguments", "settings_from"]

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--users", default=None, metavar="FILE",
                        help=f"serve the dashboard at /ui/ with these users (${USERS_ENV}; "
                             "voxgate users add)")
    parser.add_argument("--behind-tls", action="store_true",
                        help="the dashboard is reached through a TLS proxy: Secure cookies")
    parser.add_argument("--audit-log", default=None, metavar="FILE",
                        help="also write the dashboard's audit entries to FILE (JSON lines; "
                             "they are always in the database)")


def settings_from(args: argparse.Namespace) -> UiSettings | None:
    """The dashboard's settings, ``None`` when it is off (no users file named);
    :class:`~dialer.web.users.UsersError` for a users file that cannot be used."""
    users = getattr(args, "users", None) or os.environ.get(USERS_ENV, "")
    if not users:
        return None
    path = Path(users)
    found = load_users(path)  # a file that does not parse: refused now, not at the first login
    if not found:
        log.warning("dashboard: no users in %s yet: add one with voxgate users add NAME --role "
                    "supervisor --users %s", path, path)
    elif stat.S_IMODE(path.stat().st_mode) & 0o077:
        raise UsersError(f"users file {path}: others may read it; chmod 600 {path}")
    audit = args.audit_log
    return UiSettings(users=path, behind_tls=bool(args.behind_tls),
                      audit=Path(audit) if audit else None)
