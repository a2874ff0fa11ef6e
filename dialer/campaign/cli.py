"""``voxgate campaign run|status|pause|resume|export``: campaigns from the command line.

* ``voxgate campaign run CAMPAIGN --db FILE [--leads CSV] [--dnc FILE] [--config DIALER.toml]
  [--sim-config SIM.toml] [--max-seconds S] [--keep-running]`` -- ``CAMPAIGN`` is a campaign
  TOML file (created or updated in the database) or the name of a campaign already in it (to
  resume after a stop or a crash). Leads and do-not-call numbers (one per line) are imported
  first. The dialer's settings come from ``--config`` and the environment (``EXOTEL_*``); with no
  ``EXOTEL_API_BASE`` an embedded emulator is started (``--sim-config`` sets its simulated
  customers). Shows a live view (redrawn in place on a terminal, a line every 2 s otherwise;
  logs default to WARNING); returns when every lead is finished (or after
  ``--max-seconds``). Dialler call records go to the same SQLite file.
* ``voxgate campaign status --db FILE [NAME]`` -- the status (running, paused, done) and whether
  a dialer is attached (from its heartbeat), counts and abandonment rates, and the pending leads
  split into due now and waiting (calling window, retry delay), with when the next one is due.
* ``voxgate campaign pause|resume --db FILE NAME`` -- a running ``run`` stops or restarts
  dialling within a tick (calls in flight continue).
* ``voxgate campaign export --db FILE NAME [--out FILE.csv] [--attempts]`` -- one row per lead
  (or per attempt with ``--attempts``); times in ISO 8601 UTC, empty when unset.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dialer.campaign.leads_csv import parse_leads
from dialer.campaign.model import CampaignError, Lead, campaign_from_toml, normalise_phone
from dialer.campaign.progress import LiveView, dialer_text, pending_text
from dialer.campaign.runner import CampaignRunner
from dialer.campaign.store import CampaignStats, CampaignStore, PendingLeads
from dialer.config import DialerConfig
from dialer.errors import ConfigError
from dialer.records import RecordStore
from dialer.stream_params import MAX_CHARS, add_stream_params

log = logging.getLogger("dialer.campaign")


def register(subparsers: Any) -> None:
    """Add ``campaign run|status|pause|resume|export`` (called by :mod:`voxgate.cli`)."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "campaign", help="run a lead-list campaign; status, pause, resume, export"
    )
    sub = p.add_subparsers(dest="campaign_command", metavar="ACTION")
    run = sub.add_parser("run", help="run (or resume) a campaign")
    run.add_argument("campaign", help="campaign TOML file, or the name of a stored campaign")
    run.add_argument("--db", required=True, help="SQLite file for campaign state and records")
    run.add_argument("--leads", help="lead CSV to import first")
    run.add_argument("--dnc", help="do-not-call numbers to add first, one per line")
    run.add_argument("--config", metavar="FILE", help="dialer TOML file")
    run.add_argument("--sim-config", metavar="FILE", help="embedded emulator TOML file")
    run.add_argument("--max-seconds", type=float, default=None, help="stop dialling after S s")
    run.add_argument(
        "--keep-running", action="store_true", help="do not stop when every lead is finished"
    )
    # live progress: keep the console to the view and warnings
    run.set_defaults(func=run_command, default_log_level="WARNING")
    status = sub.add_parser("status", help="show campaign counts and abandonment")
    status.add_argument("name", nargs="?", help="campaign (default: all)")
    status.add_argument("--db", required=True)
    status.set_defaults(func=status_command)
    for action in ("pause", "resume"):
        cmd = sub.add_parser(action, help=f"{action} dialling of a campaign")
        cmd.add_argument("name")
        cmd.add_argument("--db", required=True)
        cmd.set_defaults(func=pause_command if action == "pause" else resume_command)
    export = sub.add_parser("export", help="export leads (or attempts) as CSV")
    export.add_argument("name")
    export.add_argument("--db", required=True)
    export.add_argument("--out", help="file (default: standard output)")
    export.add_argument("--attempts", action="store_true", help="one row per attempt")
    export.set_defaults(func=export_command)

    def usage(args: argparse.Namespace) -> int:
        p.print_help()
        return 2

    p.set_defaults(func=usage)


def _print(line: str) -> None:
    print(line, flush=True)


def too_long_for_stream(fields: tuple[str, ...], leads: Sequence[Lead], name: str) -> int:
    """How many ``leads`` would have a ``stream_params`` value shortened at dial time."""
    if not fields:
        return 0
    url = f"ws://gateway/stream/bot?vx_call={name}-9999999999-1"
    count = 0
    for lead in leads:
        values = {"name": lead.name, **lead.custom}
        chosen = {f: values[f] for f in fields if values.get(f, "") != ""}
        count += bool(add_stream_params(url, chosen).truncated)
    return count


def prepare(args: argparse.Namespace, store: CampaignStore) -> str:
    """Create/update the campaign and import leads and DNC numbers; returns its name."""
    now = time.time()
    path = Path(args.campaign)
    if path.suffix == ".toml" or path.exists():
        spec = campaign_from_toml(path.read_text(encoding="utf-8"))
        store.create_campaign(spec, now)
        name = spec.name
    else:
        name = args.campaign
        store.campaign(name)  # raises when unknown
    if args.leads:
        result = parse_leads(Path(args.leads).read_text(encoding="utf-8"))
        added = store.add_leads(name, result.leads, now)
        _print(
            f"imported {added} new leads ({len(result.leads) - added} already there, "
            f"{result.duplicates} duplicate rows, {len(result.errors)} bad rows)"
        )
        for error in result.errors[:20]:
            _print(f"  line {error.line}: {error.reason}")
        long = too_long_for_stream(store.campaign(name).stream_params, result.leads, name)
        if long:
            _print(
                f"  {long} leads have stream_params values longer than the stream URL allows "
                f"({MAX_CHARS} characters): they will be shortened (logged per call)"
            )
    if args.dnc:
        phones = []
        for raw in Path(args.dnc).read_text(encoding="utf-8").splitlines():
            if raw.strip() and not raw.startswith("#"):
                phones.append(normalise_phone(raw.strip()))
        store.add_dnc(phones, now, "import")
        _print(f"do-not-call list: {len(phones)} numbers")
    return name


async def run_campaign(args: argparse.Namespace) -> int:
    from exotel_sim.config import SimConfig
    from voxgate.wiring import LocalStack

    store = CampaignStore(args.db)
    try:
        name = prepare(args, store)
        spec = store.campaign(name)
        config = DialerConfig.load(args.config)
        config = config.replace(
            customer_ring_timeout=int(spec.limits.ring_timeout_s),
            exophone=spec.exophone or config.exophone,
        )
        sim = SimConfig.from_file(args.sim_config) if args.sim_config else None
        records = RecordStore(args.db)
        view = LiveView()
        async with LocalStack(config, sim_config=sim, store=records) as stack:
            runner = CampaignRunner(stack.dialer, store, name, report=view)
            stats = await runner.run(until_done=not args.keep_running, max_seconds=args.max_seconds)
        view.finish()
        records.close()
        _print(
            f"campaign {name}: {stats.done}/{stats.leads} leads finished, {stats.attempts} "
            f"attempts, {stats.answered} answered, {stats.escalated} escalated, "
            f"{stats.abandoned} abandoned"
        )
        return 0
    finally:
        store.close()


def run_command(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(run_campaign(args))
    except (CampaignError, ConfigError, OSError) as exc:
        print(f"voxgate campaign: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _with_store(args: argparse.Namespace) -> CampaignStore:
    if not Path(args.db).exists():
        raise CampaignError(f"no campaign database at {args.db}")
    return CampaignStore(args.db)


def status_lines(name: str, s: CampaignStats, pending: PendingLeads, now: float) -> list[str]:
    """``campaign status`` for one campaign at ``now``: the status and whether a dialer is
    attached, the counts, and the pending leads split into due now and waiting."""
    dialer = dialer_text(s.heartbeat_at, s.last_seen_at, now, dialled=s.attempts > 0)
    due_now = min(s.pending, pending.due_now)  # the two reads are not one transaction
    return [
        f"{name}: {s.status} ({dialer}); leads {s.leads} (pending {s.pending}, in flight "
        f"{s.in_flight}, finished {s.done}); attempts {s.attempts}, answered "
        f"{s.answered}, escalated {s.escalated}, abandoned {s.abandoned}; abandonment "
        f"{s.rate_24h:.2%} (24 h), {s.rate_30d:.2%} (30 days)",
        f"  {pending_text(s.pending, due_now, pending.next_due_at, now)}",
    ]


def status_command(args: argparse.Namespace) -> int:
    try:
        store = _with_store(args)
        names = [args.name] if args.name else store.campaigns()
        now = time.time()
        for name in names:
            for line in status_lines(name, store.stats(name, now), store.pending(name, now), now):
                _print(line)
        store.close()
        return 0
    except CampaignError as exc:
        print(f"voxgate campaign: {exc}", file=sys.stderr)
        return 2


def _set_status(args: argparse.Namespace, status: str) -> int:
    try:
        store = _with_store(args)
        store.set_status(args.name, status, time.time())
        store.close()
        _print(f"campaign {args.name}: {status}")
        return 0
    except CampaignError as exc:
        print(f"voxgate campaign: {exc}", file=sys.stderr)
        return 2


def pause_command(args: argparse.Namespace) -> int:
    return _set_status(args, "paused")


def resume_command(args: argparse.Namespace) -> int:
    return _set_status(args, "running")


def export_command(args: argparse.Namespace) -> int:
    try:
        store = _with_store(args)
        store.campaign(args.name)
        out = store.export_attempts_csv(args.name) if args.attempts else store.export_csv(args.name)
        store.close()
    except CampaignError as exc:
        print(f"voxgate campaign: {exc}", file=sys.stderr)
        return 2
    if args.out:
        Path(args.out).write_text(out, encoding="utf-8")
        _print(f"exported {max(0, out.count(chr(10)) - 1)} rows to {args.out}")
    else:
        sys.stdout.write(out)
    return 0
