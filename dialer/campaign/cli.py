"""``voxgate campaign run|check|status|pause|resume|export``: campaigns from the command line.

* ``voxgate campaign run CAMPAIGN --db FILE [--leads CSV] [--dnc FILE] [--config DIALER.toml]
  [--sim-config SIM.toml] [--max-seconds S] [--keep-running] [--metrics-port P]`` --
  ``CAMPAIGN`` is a campaign
  TOML file (created or updated in the database) or the name of a campaign already in it (to
  resume after a stop or a crash). Leads and do-not-call numbers (one per line) are imported
  first, numbers written nationally in the campaign's ``default_country`` (the stored one when
  resumed by name). The dialer's settings come from ``--config`` and the environment
  (``EXOTEL_*``); with no ``EXOTEL_API_BASE`` an embedded emulator is started (``--sim-config``
  sets its simulated customers). Shows a live view (redrawn in place on a terminal, a line
  every 2 s otherwise; logs default to WARNING); returns when every lead is finished (or after
  ``--max-seconds``). Dialler call records go to the same SQLite file. One dialer per
  campaign: a second ``run`` is refused while the first holds the campaign's lease. SIGINT or
  SIGTERM stops new dials and lets calls in flight finish; a second one quits at once. With
  ``--metrics-port`` (0: any free port; the URL is printed) ``GET /metrics`` serves the
  campaign's live figures (:mod:`dialer.campaign.metrics`) and its dialer's counters
  (:mod:`dialer.metrics`) in Prometheus text.
* ``voxgate campaign check CAMPAIGN [--db FILE] [--leads CSV] [--dnc FILE] [--config
  DIALER.toml] [--sim-config SIM.toml]`` -- a dry run: the checks ``run`` makes first (the same
  one-line errors and exit code 2), then what ``run`` would do, changing nothing (``--db`` is
  only read, and only if it exists): the campaign's settings and what it dials, the stored
  campaign as ``status`` shows it, the leads it would import (new, already there, duplicate and
  bad rows, the first 20 by line), the do-not-call numbers and how many leads they scrub, the
  new leads by time zone (inside their calling window now, or waiting and until when) and the
  ``stream_params`` warnings. The last line is ``result: ready`` (exit 0) or ``result: usable;
  worth a look: ...`` (exit 1: ``run`` would go ahead, but something deserves a look first):
  bad or duplicate lead rows, bad do-not-call lines, ``stream_params`` warnings, leads called in
  the campaign's time zone for want of their own, leads whose zones share no calling hour, skills
  the calls can ask for that no agent has, a campaign paused or held by another dialer,
  a campaign file that changes the stored ``default_country``, agent-first agents not nailed
  up, no caller id for Exotel.
* ``voxgate campaign status --db FILE [NAME]`` -- the status (running, paused, done) and whether
  a dialer is attached (from its heartbeat), counts and abandonment rates, and the pending leads
  split into due now and waiting (calling window, retry delay), with when the next one is due.
* ``voxgate campaign pause|resume --db FILE NAME`` -- a running ``run`` stops or restarts
  dialling within a tick (calls in flight continue).
* ``voxgate campaign export --db FILE NAME [--out FILE] [--format csv|jsonl] [--attempts]`` --
  one row per lead (or per attempt with ``--attempts``); times in ISO 8601 UTC, empty when
  unset. CSV or JSON lines, by ``--format`` or ``--out``'s extension (``.csv``, ``.jsonl``; any
  other without ``--format`` is refused); CSV to standard output.

Bad input gets one line on stderr naming the file and the line or key (``voxgate campaign:
renewals.toml: limits.max_attempts: must be an integer >= 1, got 2.5``) and exit code 2, never a
traceback; ``run`` checks the campaign file, lead CSV, do-not-call file, dialer and emulator
configs and the bot before it creates the database or imports anything (a stored campaign is
read from ``--db`` without changing it).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import logging
import sqlite3
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dialer.campaign.client import DialerClient
from dialer.campaign.inputs import RunInputs, dnc_notes, import_headline, lead_notes, unzoned_notes
from dialer.campaign.leads_cli import register_leads
from dialer.campaign.loading import (
    check_report,
    check_writable,
    existing_store,
    load_inputs,
    open_store,
)
from dialer.campaign.model import (
    CampaignError,
)
from dialer.campaign.progress import (
    CampaignSnapshot,
    LiveView,
    paused_text,
    status_lines,
)
from dialer.campaign.runner import CampaignRunner
from dialer.campaign.store import CampaignStore, Lease
from dialer.errors import ConfigError
from dialer.mode import add_flag, dial_mode
from dialer.signals import graceful_signals
from voxgate_shared.health import exotel_mode

if TYPE_CHECKING:
    from dialer.emulated import Embedding
    from dialer.service import Dialer

log = logging.getLogger("dialer.campaign")


def non_negative(text: str) -> float:
    """An argparse type: a number >= 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def register(subparsers: Any, embedding: Embedding | None = None) -> None:
    """Add ``campaign run|check|status|pause|resume|export`` (called by :mod:`voxgate.embedding`,
    which lends ``run`` and ``check`` the emulator and the loopback stack: without ``embedding``
    they need ``EXOTEL_API_BASE`` and refuse ``--sim-config``)."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "campaign", help="run a lead-list campaign; check, status, pause, resume, export"
    )
    sub = p.add_subparsers(dest="campaign_command", metavar="ACTION")
    run = sub.add_parser("run", help="run (or resume) a campaign")
    run.add_argument("campaign", help="campaign TOML file, or the name of a stored campaign")
    run.add_argument("--db", help="SQLite file for campaign state and records (not with --dialer)")
    run.add_argument("--leads", help="lead CSV to import first")
    run.add_argument("--dnc", help="do-not-call numbers to add first, one per line")
    run.add_argument("--config", metavar="FILE", help="dialer TOML file")
    run.add_argument("--sim-config", metavar="FILE", help="embedded emulator TOML file")
    run.add_argument(
        "--max-seconds", type=non_negative, default=None, help="stop dialling after S s"
    )
    run.add_argument(
        "--keep-running", action="store_true", help="do not stop when every lead is finished"
    )
    run.add_argument(
        "--metrics-port", type=int, default=None, metavar="PORT",
        help="serve Prometheus metrics (campaign and dialer) on GET /metrics at this port "
        "(0: any free port; the URL is printed)",
    )
    run.add_argument("--metrics-host", default="127.0.0.1", help="address for --metrics-port")
    add_flag(run)
    DIALER_HELP = ("act on the campaigns of a running `voxgate dialer run` at this URL (its "
                   "control API; token from VOXGATE_CONTROL_TOKEN or the token file)")
    run.add_argument("--dialer", metavar="URL", help=DIALER_HELP + ": create the campaign from "
                     "the TOML and --leads (sent as the request's body), then start it there")
    JOIN_HELP = ("join the dialers running the campaign on the same database instead of "
                 "taking it alone (each dials for the agents it holds)")
    run.add_argument("--join", action="store_true", help=JOIN_HELP)
    # live progress: keep the console to the view and warnings
    run.set_defaults(func=run_command, default_log_level="WARNING", embedding=embedding)
    start = sub.add_parser("start", help="start a stored campaign on a running dialer service")
    start.add_argument("campaign", metavar="NAME")
    start.add_argument("--dialer", metavar="URL", required=True, help=DIALER_HELP)
    start.add_argument("--join", action="store_true", help=JOIN_HELP)
    start.add_argument("--agents", type=int, default=None, metavar="N",
                       help="with --join: hold at most N of the campaign's unassigned agents")
    start.set_defaults(func=start_command, leads=None, dnc=None)
    agents = sub.add_parser("agents", help="the campaign's agents across dialers")
    agents_sub = agents.add_subparsers(dest="agents_command", metavar="ACTION", required=True)
    move = agents_sub.add_parser("move", help="move an agent to another dialer (no restart)")
    move.add_argument("name")
    move.add_argument("agent")
    move.add_argument("--to", required=True, metavar="DIALER", help="the dialer id")
    move.add_argument("--dialer", metavar="URL", required=True, help=DIALER_HELP)
    move.set_defaults(func=agents_move_command)
    check = sub.add_parser(
        "check", help="dry run: check the inputs and show what run would do, changing nothing"
    )
    check.add_argument("campaign", help="campaign TOML file, or the name of a stored campaign")
    check.add_argument("--db", help="campaign database to compare with (read only, never created)")
    check.add_argument("--leads", help="lead CSV run would import")
    check.add_argument("--dnc", help="do-not-call numbers run would add, one per line")
    check.add_argument("--config", metavar="FILE", help="dialer TOML file")
    check.add_argument("--sim-config", metavar="FILE", help="embedded emulator TOML file")
    check.set_defaults(func=check_command, embedding=embedding)
    status = sub.add_parser("status", help="show campaign counts and abandonment")
    status.add_argument("name", nargs="?", help="campaign (default: all)")
    status.add_argument("--db")
    status.add_argument("--dialer", metavar="URL", help=DIALER_HELP)
    status.set_defaults(func=status_command)
    for action in ("pause", "resume"):
        cmd = sub.add_parser(action, help=f"{action} dialling of a campaign")
        cmd.add_argument("name")
        cmd.add_argument("--db")
        cmd.add_argument("--dialer", metavar="URL", help=DIALER_HELP)
        cmd.set_defaults(func=pause_command if action == "pause" else resume_command)
    export = sub.add_parser("export", help="export leads (or attempts) as CSV or JSON lines")
    export.add_argument("name")
    export.add_argument("--db")
    export.add_argument("--dialer", metavar="URL", help=DIALER_HELP)
    export.add_argument("--out", help="file (default: standard output)")
    export.add_argument("--format", metavar="csv|jsonl",
                        help="default: from --out's extension (.csv, .jsonl), csv to stdout")
    export.add_argument("--attempts", action="store_true", help="one row per attempt")
    export.set_defaults(func=export_command)
    register_leads(sub, _reported, DIALER_HELP)  # leads import, history import, explain

    def usage(args: argparse.Namespace) -> int:
        p.print_help()
        return 2

    p.set_defaults(func=usage)


def _print(line: str) -> None:
    print(line, flush=True)


def prepare(args: argparse.Namespace, store: CampaignStore, inputs: RunInputs | None = None) -> str:
    """Create/update the campaign and import leads and DNC numbers; returns its name."""
    if inputs is None:
        inputs = load_inputs(args)
    now = time.time()
    name = inputs.name
    if inputs.spec is not None:
        store.create_campaign(inputs.spec, now)
    else:
        store.campaign(name)  # raises when unknown
    if inputs.leads is not None:
        added = store.add_leads(name, inputs.leads.leads, now)
        _print(import_headline("imported", inputs.leads, added))
        fields = inputs.settings.stream_params
        for line in lead_notes(inputs.leads, fields, name, args.leads).lines:
            _print(line)
        for line in unzoned_notes(inputs.leads.leads, inputs.settings.timezone).lines:
            log.warning("campaign %s: %s", name, line.strip().removeprefix("warning: "))
    if inputs.dnc is not None:
        store.add_dnc(inputs.dnc, now, "import")
        for line in dnc_notes(inputs.dnc, inputs.dnc_errors, args.dnc).lines:
            _print(line)
    return name


async def run_campaign(args: argparse.Namespace, inputs: RunInputs | None = None) -> int:
    from dialer.records import RecordStore

    embedding: Embedding | None = getattr(args, "embedding", None)
    if inputs is None:
        inputs = load_inputs(args)
    store = open_store(args.db)
    owner = uuid.uuid4().hex
    try:
        join = bool(getattr(args, "join", False))
        if inputs.name in store.campaigns() and not join:
            # refused before the campaign, its leads or its agents change under another dialer
            store.acquire(inputs.name, Lease.here(owner), time.time())
        name = prepare(args, store, inputs)
        spec = store.campaign(name)
        if store.status(name) == "paused":
            _print(paused_text(name, args.db))
        assert inputs.config is not None  # load_inputs always reads it
        # the campaign's ring time, caller id and wrap-up go with each call and agent
        # (CampaignRunner), as in the dialer service
        config = inputs.config
        try:
            records = RecordStore(args.db)
        except sqlite3.Error as exc:
            raise CampaignError(f"cannot open database {args.db}: {exc}") from None
        view = LiveView()
        latest: list[CampaignSnapshot] = []

        def report(snapshot: CampaignSnapshot) -> None:
            latest[:] = [snapshot]
            view(snapshot)

        if embedding is None:
            raise CampaignError("no embedded gateway in this build: run it with voxgate")
        # the campaign's agents answer as agents on an embedded emulator
        local = embedding.local_stack(config, inputs.sim, [a.number for a in spec.agents],
                                      records)
        async with local as stack, contextlib.AsyncExitStack() as extras:
            if args.metrics_port is not None:
                await serve_metrics(extras, args, stack.dialer, latest,
                                    exotel_mode(config.api_base, config.uses_embedded_emulator))
            runner = CampaignRunner(stack.dialer, store, name, report=report, owner=owner,
                                    join=join)
            with stop_on_signals(runner) as received:
                # the drain is bounded (drain_timeout): a call never settled is recorded
                # as lost when the dialer stops, the run never hangs on it
                stats = await runner.run(
                    until_done=not args.keep_running, max_seconds=args.max_seconds,
                    drain_timeout_s=config.drain_timeout,
                )
        view.finish()
        records.close()
        _print(
            f"campaign {name}: {stats.done}/{stats.leads} leads finished, {stats.attempts} "
            f"attempts, {stats.answered} answered, {stats.escalated} escalated, "
            f"{stats.abandoned} abandoned" + (f" (stopped by {received[0]})" if received else "")
        )
        return 0
    finally:
        # the lease taken above if the runner never ran (a no-op once it has released it)
        store.detach(inputs.name, time.time(), owner=owner)
        store.close()


async def serve_metrics(
    extras: contextlib.AsyncExitStack, args: argparse.Namespace, dialer: Dialer,
    latest: list[CampaignSnapshot], mode: str,
) -> None:
    """``--metrics-port``: the dialer's and the campaign's latest figures on ``GET /metrics``,
    and ``/healthz`` and ``/readyz`` (ready: the dialer's store open, intake bound, Exotel
    reachable), for as long as ``extras`` is open."""
    from dialer.campaign.metrics import render_campaign_metrics
    from dialer.metrics import MetricsServer, render_dialer_metrics
    from dialer.readiness import ExotelProbe, local_reason

    c = dialer.config
    probe = ExotelProbe(c.api_base, c.account_sid, c.api_key, c.api_token)

    async def not_ready() -> str | None:
        return local_reason(dialer) or await probe.check()

    server = MetricsServer(
        [lambda: render_dialer_metrics(dialer),
         lambda: render_campaign_metrics(latest[0]) if latest else ""],
        args.metrics_host, args.metrics_port, role="campaign", mode=mode, ready=not_ready,
    )
    try:
        await extras.enter_async_context(server)
    except OSError as exc:
        raise CampaignError(
            f"--metrics-port {args.metrics_port}: cannot listen on {args.metrics_host}: "
            f"{exc.strerror or exc}"
        ) from None
    _print(f"metrics at {server.url}")


@contextmanager
def stop_on_signals(runner: CampaignRunner) -> Iterator[list[str]]:
    """SIGINT (Ctrl-C) or SIGTERM: the first stops new dials and lets calls in flight finish
    (``run`` then returns as usual); a second one cancels the run at once (its attempts in flight
    are settled by the next run of the campaign). Yields the names of the signals received."""

    def first(name: str) -> None:
        print(f"\nvoxgate campaign: {name}: no new dials; calls in flight finish ({name} again "
              "to quit at once)", file=sys.stderr)
        runner.stop()

    with graceful_signals(first, "\nvoxgate campaign: {sig}: quitting now") as received:
        yield received


def _fail(exc: BaseException) -> int:
    print(f"voxgate campaign: {exc}", file=sys.stderr)
    return 2


def _reported(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """``command`` with its errors as one line on stderr and exit code 2, never a traceback."""

    @functools.wraps(command)
    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except (CampaignError, ConfigError) as exc:
            return _fail(exc)
        except sqlite3.Error as exc:
            return _fail(CampaignError(f"database {args.db}: {exc}"))

    return run


def _client(args: argparse.Namespace) -> DialerClient | None:
    """The running service of ``--dialer``, or ``None`` (embedded: ``--db`` is needed)."""
    if getattr(args, "dialer", None):
        return DialerClient(args.dialer)
    if not args.db:
        raise CampaignError("--db FILE is needed (or --dialer URL of a running dialer service)")
    return None


def remote_run(args: argparse.Namespace, client: DialerClient) -> int:
    """``run --dialer``: create the campaign there (a TOML file) or name a stored one; start."""
    name = args.campaign
    if Path(args.campaign).suffix == ".toml" or Path(args.campaign).exists():
        created = client.create(args.campaign, args.leads, args.dnc)
        name = created["name"]
        _print(f"campaign {name}: created on {client.base} ({created['leads']} leads)")
    join = bool(getattr(args, "join", False))
    client.start(name, join=join, agents=getattr(args, "agents", None))
    _print(f"campaign {name}: {'joined' if join else 'started'} on {client.base} (voxgate "
           f"campaign status {name} --dialer {client.base})")
    return 0


@_reported
def start_command(args: argparse.Namespace) -> int:
    """``start NAME --dialer URL [--join]``: start (or join) a stored campaign there."""
    return remote_run(args, DialerClient(args.dialer))


@_reported
def agents_move_command(args: argparse.Namespace) -> int:
    """``agents move NAME AGENT --to DIALER --dialer URL``."""
    moved = DialerClient(args.dialer).move_agent(args.name, args.agent, args.to)
    _print(f"campaign {args.name}: agent {args.agent} moved from {moved['from'] or 'no dialer'} "
           f"to dialer {moved['to']}")
    return 0


@_reported
def run_command(args: argparse.Namespace) -> int:
    client = _client(args)
    if client is not None:
        return remote_run(args, client)
    try:
        inputs = load_inputs(args)
        assert inputs.config is not None  # load_inputs always reads it
        _print(dial_mode(inputs.config, args))  # refuses an implicit mode (dialer.mode)
        return asyncio.run(run_campaign(args, inputs))
    except OSError as exc:  # e.g. the embedded servers cannot listen
        return _fail(exc)
    except (KeyboardInterrupt, asyncio.CancelledError):
        return 130


@_reported
def check_command(args: argparse.Namespace) -> int:
    """``campaign check``: :func:`~dialer.campaign.check.check_report`, printed. Exit 0: ready;
    1: usable, with problems worth a look (listed last); 2: an error ``run`` would stop on."""
    notes = check_report(args)
    for line in notes.lines:
        _print(line)
    return 1 if notes.problems else 0


def _with_store(args: argparse.Namespace) -> CampaignStore:
    return existing_store(args.db)


@_reported
def status_command(args: argparse.Namespace) -> int:
    client = _client(args)
    if client is not None:
        if not args.name:
            raise CampaignError("status --dialer needs the campaign's name")
        for line in client.status(args.name)["lines"]:
            _print(line)
        return 0
    store = _with_store(args)
    try:
        names = [args.name] if args.name else store.campaigns()
        if args.name:
            store.campaign(args.name)  # raises when unknown
        if not names:
            _print(f"no campaigns in {args.db}")
        now = time.time()
        for name in names:
            stats, pending = store.stats(name, now), store.pending(name, now)
            for line in status_lines(name, stats, pending, now):
                _print(line)
    finally:
        store.close()
    return 0


def _set_status(args: argparse.Namespace, status: str) -> int:
    client = _client(args)
    if client is not None:
        client.set_status(args.name, "pause" if status == "paused" else "resume")
        _print(f"campaign {args.name}: {status}")
        return 0
    store = _with_store(args)
    try:
        store.set_status(args.name, status, time.time())
    finally:
        store.close()
    _print(f"campaign {args.name}: {status}")
    return 0


@_reported
def pause_command(args: argparse.Namespace) -> int:
    return _set_status(args, "paused")


@_reported
def resume_command(args: argparse.Namespace) -> int:
    return _set_status(args, "running")


def _export_local(args: argparse.Namespace) -> str:
    store = _with_store(args)
    try:
        if args.name not in store.campaigns():  # (its settings are not needed: not parsed)
            raise CampaignError(f"no campaign named {args.name!r}")
        attempts = args.attempts
        return store.export_attempts_csv(args.name) if attempts else store.export_csv(args.name)
    finally:
        store.close()


@_reported
def export_command(args: argparse.Namespace) -> int:
    from dialer.reports.cli import write_out
    from dialer.reports.exports import export_format, jsonl_from_csv

    if args.out:
        check_writable(args.out, "--out")
    try:
        fmt = export_format(args.format, args.out)
    except ValueError as exc:
        raise CampaignError(str(exc)) from None
    client = _client(args)
    if client is not None:
        out = client.export(args.name, args.attempts)
    else:
        out = _export_local(args)
    if fmt == "jsonl":
        out = jsonl_from_csv(out)
    if args.out:
        write_out(args.out, out)
        rows = out.count(chr(10)) - (fmt == "csv")
        _print(f"exported {max(0, rows)} rows to {args.out}")
    else:
        sys.stdout.write(out)
    return 0
