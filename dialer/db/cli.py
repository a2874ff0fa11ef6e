"""``voxgate db``: the dialer's database (SQLite or PostgreSQL, :mod:`dialer.db`) from the command
line. ``--db`` defaults to ``VOXGATE_DB``; a URL's password never reaches the output.

* ``voxgate db migrate [--db URL]`` -- apply the migrations the database lacks (every
  component: campaigns, call records, the service's campaigns, the dashboard's audit; each
  in its own transaction, safe while another process migrates too) and print each
  component's versions before and after. Run it before starting a new version of the dialers
  on a shared database. A SQLite file that does not exist yet is created.
* ``voxgate db status [--db URL]`` -- the dialect, each component's versions (and what a
  ``migrate`` would add) and every table's row count; changes nothing (a SQLite file is opened
  read-only).
* ``voxgate db copy SRC DST [--batch N]`` -- copy a database into a new, empty one, e.g.
  ``sqlite:///calls.db postgresql://...`` to move from SQLite to PostgreSQL
  (:mod:`dialer.db.copy`: ``DST`` migrated, every table in one transaction, ids kept, row
  counts verified and printed). ``SRC`` is only read.

A URL that names no database this opens, a server that does not answer, a ``SRC`` that does not
exist or a ``DST`` that is not empty: one line on stderr, exit 2 (nothing changed); a copy whose
counts do not match is rolled back, exit 1.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg

from dialer.db.copy import BATCH, CopyError, CopyRefused, copy_database, row_counts
from dialer.db.database import Database, DatabaseError, is_postgres_url, open_db, sqlite_path
from dialer.db.migrations import Migrations, migrate, pending
from voxgate_shared.redact import redact_text

__all__ = ["DB_ENV", "plans", "register"]

DB_ENV = "VOXGATE_DB"


def plans() -> tuple[Migrations, ...]:
    """Every component's migrations, in the order they are applied."""
    from dialer.campaign.service_runs import MIGRATIONS as SERVICE
    from dialer.campaign.store.desk import DESK_MIGRATIONS as DESK
    from dialer.campaign.store.intel import LEADS_MIGRATIONS as LEADS
    from dialer.campaign.store.schema import MIGRATIONS as CAMPAIGN
    from dialer.records import MIGRATIONS as RECORDS
    from dialer.web.audit_table import AUDIT_MIGRATIONS as AUDIT

    return (CAMPAIGN, DESK, LEADS, RECORDS, SERVICE, AUDIT)


def register(subparsers: Any) -> None:
    """Add ``db migrate``, ``db status`` and ``db copy`` (:mod:`voxgate.cli`)."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "db", help="the dialer's database: migrate it, show it, copy it (SQLite, PostgreSQL)")
    sub = p.add_subparsers(dest="db_command", metavar="ACTION")
    db_help = f"a path, sqlite:///PATH or postgresql://... (default: ${DB_ENV})"
    m = sub.add_parser("migrate", help="apply the migrations the database lacks")
    m.add_argument("--db", default=None, metavar="URL", help=db_help)
    m.set_defaults(func=migrate_command)
    s = sub.add_parser("status", help="dialect, migration versions and row counts")
    s.add_argument("--db", default=None, metavar="URL", help=db_help)
    s.set_defaults(func=status_command)
    c = sub.add_parser("copy", help="copy a database into a new, empty one "
                                    "(e.g. SQLite to PostgreSQL)")
    c.add_argument("src", metavar="SRC", help="the database to copy (only read)")
    c.add_argument("dst", metavar="DST", help="a new, empty database (migrated first)")
    c.add_argument("--batch", type=int, default=BATCH, metavar="N",
                   help=f"rows per batch (default {BATCH})")
    c.set_defaults(func=copy_command)

    def usage(args: argparse.Namespace) -> int:
        p.print_help()
        return 2

    p.set_defaults(func=usage)


class _Refused(Exception):
    """One line for stderr, exit 2."""


def _fail(message: object, code: int = 2) -> int:
    """One line (a driver's message can hold several) on stderr, without a password."""
    print(f"voxgate db: {' '.join(redact_text(str(message)).split())}", file=sys.stderr)
    return code


@contextmanager
def _opened(url: str, *, existing: bool = False, read_only: bool = False) -> Iterator[Database]:
    """The database ``url``; with ``existing``, a SQLite file must be there already (none is
    created)."""
    if not url:
        raise _Refused(f"no database: give --db URL or set {DB_ENV}")
    if existing and not is_postgres_url(url):
        path = sqlite_path(url)
        if path != ":memory:" and not Path(path).is_file():
            raise _Refused(f"no database at {path}")
    db = open_db(url, read_only=read_only)
    try:
        yield db
    finally:
        db.close()


def _run(body: Any) -> int:
    """``body()``'s exit code; the errors a database gives, one line each."""
    try:
        code: int = body()
    except (_Refused, CopyRefused, DatabaseError) as exc:
        return _fail(exc)
    except CopyError as exc:
        return _fail(exc, 1)
    except (sqlite3.Error, psycopg.Error, OSError) as exc:
        return _fail(f"{type(exc).__name__}: {exc}".strip())
    return code


def _versions(versions: set[int]) -> str:
    """``{1, 2, 3}`` -> ``1-3``; ``{1, 3}`` -> ``1,3``; none -> ``none``."""
    if not versions:
        return "none"
    ordered = sorted(versions)
    if ordered == list(range(ordered[0], ordered[-1] + 1)) and len(ordered) > 1:
        return f"{ordered[0]}-{ordered[-1]}"
    return ",".join(map(str, ordered))


def _applied(db: Database, plan: Migrations) -> set[int]:
    known = {m.version for m in plan.for_dialect(db.dialect)}
    return known - {m.version for m in pending(db, plan)}


def migrate_command(args: argparse.Namespace) -> int:
    def body() -> int:
        with _opened(args.db or os.environ.get(DB_ENV, "")) as db:
            print(f"database {db.display} ({db.dialect})")
            total = 0
            for plan in plans():
                before = _applied(db, plan)
                done = migrate(db, plan)
                total += len(done)
                print(f"  {plan.component:<10} before {_versions(before):<6} "
                      f"after {_versions(before | set(done))}")
            print(f"applied {total} migration{'s' * (total != 1)}")
        return 0

    return _run(body)


def status_command(args: argparse.Namespace) -> int:
    def body() -> int:
        with _opened(args.db or os.environ.get(DB_ENV, ""), existing=True,
                     read_only=True) as db:
            print(f"database {db.display} ({db.dialect})")
            behind = 0
            for plan in plans():
                missing = [m.version for m in pending(db, plan)]
                behind += len(missing)
                note = f"; lacks {_versions(set(missing))}" if missing else ""
                print(f"  {plan.component:<10} versions {_versions(_applied(db, plan))}{note}")
            with db.connection() as conn:
                for table, n in row_counts(conn):
                    print(f"  {table:<18} {n:>12,} row{'s' * (n != 1)}")
            if behind:
                print(f"{behind} migration(s) to apply: voxgate db migrate --db URL")
        return 0

    return _run(body)


def copy_command(args: argparse.Namespace) -> int:
    if args.batch < 1:
        return _fail(f"--batch {args.batch}: want a positive number of rows")

    def body() -> int:
        with _opened(args.src, existing=True, read_only=True) as src, _opened(args.dst) as dst:
            print(f"copying {src.display} ({src.dialect}) to {dst.display} ({dst.dialect})",
                  flush=True)
            counts = copy_database(src, dst, plans(), batch=args.batch)
            for table, n in counts:
                print(f"  {table:<18} {n:>12,} row{'s' * (n != 1)}")
            total = sum(n for _, n in counts)
            print(f"copied {total:,} rows in {len(counts)} tables; every table's row count "
                  f"matches the source")
        return 0

    return _run(body)
