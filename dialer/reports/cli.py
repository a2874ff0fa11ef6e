"""``voxgate report campaign|agents NAME --db URL [--format table|csv|jsonl|html] [--out FILE]``:
a campaign's reports (:mod:`dialer.reports`) from its database, read only.

Bad input (no such database or campaign, an unknown format, an ``--out`` that cannot be written)
gets one line on stderr (``voxgate report: ...``) and exit code 2, never a traceback."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from dialer.campaign.loading import check_writable, open_store
from dialer.campaign.model import CampaignError
from dialer.db import DatabaseError, driver_errors, is_postgres_url, sqlite_path
from dialer.private_files import open_private
from dialer.reports.load import KINDS, report_of
from dialer.reports.render import FORMATS, render
from voxgate_shared.redact import redact_url

__all__ = ["register", "write_out"]


def register(subparsers: Any) -> None:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "report", help="a campaign's report (funnel, rates, latencies) or its agents' figures"
    )
    p.add_argument("kind", metavar="campaign|agents", help="campaign or agents")
    p.add_argument("name", help="the campaign's name")
    p.add_argument("--db", required=True, metavar="URL",
                   help="campaign database: a SQLite file or URL, or postgresql://... (read only)")
    p.add_argument("--format", default="table", metavar="|".join(FORMATS),
                   help="table (default), csv, jsonl or html (one self-contained file)")
    p.add_argument("--out", help="file (default: standard output)")
    p.set_defaults(func=report_command)


def report_command(args: argparse.Namespace) -> int:
    try:
        text = _report(args)
    except (CampaignError, ValueError, OSError, DatabaseError) as exc:
        line = " ".join(part.strip() for part in str(exc).splitlines())  # a driver's too
        print(f"voxgate report: {line}", file=sys.stderr)
        return 2
    if args.out:
        print(f"report written to {args.out}")
    else:
        sys.stdout.write(text)
    return 0


def _report(args: argparse.Namespace) -> str:
    if args.kind not in KINDS:
        raise CampaignError(f"unknown report {args.kind!r}: campaign or agents")
    if args.format not in FORMATS:
        raise CampaignError(f"--format {args.format}: one of {', '.join(FORMATS)}")
    if args.out:
        check_writable(args.out, "--out")
    if not is_postgres_url(args.db) and not Path(sqlite_path(args.db)).exists():
        raise CampaignError(f"no campaign database at {args.db}")
    store = open_store(args.db, read_only=True)
    try:
        text = render(report_of(store, args.kind, args.name), args.format)
    except driver_errors() as exc:
        raise CampaignError(f"database {redact_url(args.db)}: {exc}") from None
    finally:
        store.close()
    if args.out:
        write_out(args.out, text)
    return text


def write_out(path: str, text: str) -> None:
    """Write ``text`` to ``path`` (made 0600); :class:`CampaignError` naming ``--out`` when it
    cannot be written."""
    try:
        with open_private(path) as fh:
            fh.write(text)
    except OSError as exc:
        raise CampaignError(f"--out {path}: {exc.strerror or exc}") from None
