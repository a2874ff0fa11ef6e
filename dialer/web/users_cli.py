"""``voxgate users``: the dashboard's users file (``--users FILE``, else ``VOXGATE_USERS``).

* ``voxgate users add NAME --role supervisor|agent [--agent-id ID]`` -- add or replace a
  user; the password is read from the terminal (asked twice) or, when stdin is not a terminal,
  from its first line -- never from the command line, where other users see it;
* ``voxgate users list`` -- names, roles and agent ids (no hashes);
* ``voxgate users remove NAME``.

The file is written with mode 0600 (see :mod:`dialer.web.users`).
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from typing import Any

from dialer.web.users import (
    ROLES,
    USERS_ENV,
    User,
    UsersError,
    hash_password,
    load_users,
    save_users,
)

__all__ = ["register"]


def register(subparsers: Any) -> None:
    users = subparsers.add_parser("users", help="the dashboard's users (voxgate dialer run "
                                                "--users FILE)")
    sub = users.add_subparsers(dest="users_command", metavar="ACTION")
    add = sub.add_parser("add", help="add or replace a user (password from the terminal or "
                                     "stdin)")
    add.add_argument("name")
    add.add_argument("--role", choices=ROLES, required=True)
    add.add_argument("--agent-id", default="", help="the dialer agent id of an agent user")
    add.set_defaults(func=_add)
    listing = sub.add_parser("list", help="list the users")
    listing.set_defaults(func=_list)
    remove = sub.add_parser("remove", help="remove a user")
    remove.add_argument("name")
    remove.set_defaults(func=_remove)
    for action in (add, listing, remove):
        action.add_argument("--users", default=None, metavar="FILE",
                            help=f"the users file (default: ${USERS_ENV})")

    def usage(args: argparse.Namespace) -> int:
        users.print_help()
        return 2

    users.set_defaults(func=usage)


def _path(args: argparse.Namespace) -> str:
    path: str = getattr(args, "users", None) or os.environ.get(USERS_ENV, "")
    if not path:
        raise UsersError(f"no users file: give --users FILE or set {USERS_ENV}")
    return path


def _password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("password: ")
        if getpass.getpass("again: ") != first:
            raise UsersError("the two passwords differ")
        return first
    return sys.stdin.readline().rstrip("\r\n")


def _fail(exc: Exception) -> int:
    print(f"voxgate users: {exc}", file=sys.stderr)
    return 1


def _add(args: argparse.Namespace) -> int:
    try:
        path = _path(args)
        users = load_users(path)
        User(args.name, args.role, "x", args.agent_id)  # checks name, role and agent id first
        users[args.name] = User(args.name, args.role, hash_password(_password()), args.agent_id)
        save_users(path, users)
    except (UsersError, OSError) as exc:
        return _fail(exc)
    print(f"user {args.name} ({args.role}) saved in {path}")
    return 0


def _list(args: argparse.Namespace) -> int:
    try:
        users = load_users(_path(args))
    except UsersError as exc:
        return _fail(exc)
    for user in sorted(users.values(), key=lambda u: u.name):
        print(f"{user.name}\t{user.role}\t{user.agent_id}")
    return 0


def _remove(args: argparse.Namespace) -> int:
    try:
        path = _path(args)
        users = load_users(path)
        if users.pop(args.name, None) is None:
            raise UsersError(f"no user {args.name!r} in {path}")
        save_users(path, users)
    except (UsersError, OSError) as exc:
        return _fail(exc)
    print(f"user {args.name} removed")
    return 0
