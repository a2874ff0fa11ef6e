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
  the campaign's time zone for want of their own, a campaign paused or held by another dialer,
  a campaign file that changes the stored ``default_country``, agent-first agents not nailed
  up, no caller id for Exotel.
* ``voxgate campaign status --db FILE [NAME]`` -- the status (running, paused, done) and whether
  a dialer is attached (from its heartbeat), counts and abandonment rates, and the pending leads
  split into due now and waiting (calling window, retry delay), with when the next one is due.
* ``voxgate campaign pause|resume --db FILE NAME`` -- a running ``run`` stops or restarts
  dialling within a tick (calls in flight continue).
* ``voxgate campaign export --db FILE NAME [--out FILE.csv] [--attempts]`` -- one row per lead
  (or per attempt with ``--attempts``); times in ISO 8601 UTC, empty when unset.

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
import math
import os
import signal
import sqlite3
import sys
import time
import tomllib
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from dialer.campaign.compliance import next_window_open
from dialer.campaign.leads_csv import ImportResult, parse_leads
from dialer.campaign.model import (
    CampaignError,
    CampaignSpec,
    Lead,
    campaign_from_toml,
    normalise_phone,
)
from dialer.campaign.progress import (
    CampaignSnapshot,
    LiveView,
    dialer_text,
    iso_utc,
    pending_text,
    span,
)
from dialer.campaign.runner import CampaignRunner
from dialer.campaign.store import CampaignStats, CampaignStore, Lease, PendingLeads
from dialer.config import DialerConfig
from dialer.errors import ConfigError
from dialer.stream_params import MAX_CHARS, add_stream_params

if TYPE_CHECKING:
    from dialer.service import Dialer
    from exotel_sim.config import SimConfig

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


def register(subparsers: Any) -> None:
    """Add ``campaign run|check|status|pause|resume|export`` (called by :mod:`voxgate.cli`)."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "campaign", help="run a lead-list campaign; check, status, pause, resume, export"
    )
    sub = p.add_subparsers(dest="campaign_command", metavar="ACTION")
    run = sub.add_parser("run", help="run (or resume) a campaign")
    run.add_argument("campaign", help="campaign TOML file, or the name of a stored campaign")
    run.add_argument("--db", required=True, help="SQLite file for campaign state and records")
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
    # live progress: keep the console to the view and warnings
    run.set_defaults(func=run_command, default_log_level="WARNING")
    check = sub.add_parser(
        "check", help="dry run: check the inputs and show what run would do, changing nothing"
    )
    check.add_argument("campaign", help="campaign TOML file, or the name of a stored campaign")
    check.add_argument("--db", help="campaign database to compare with (read only, never created)")
    check.add_argument("--leads", help="lead CSV run would import")
    check.add_argument("--dnc", help="do-not-call numbers run would add, one per line")
    check.add_argument("--config", metavar="FILE", help="dialer TOML file")
    check.add_argument("--sim-config", metavar="FILE", help="embedded emulator TOML file")
    check.set_defaults(func=check_command)
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


def _stream_values(lead: Lead) -> dict[str, str]:
    """The lead fields ``stream_params`` may name: its name and custom fields."""
    return {"name": lead.name, **lead.custom}


def too_long_for_stream(fields: tuple[str, ...], leads: Sequence[Lead], name: str) -> int:
    """How many ``leads`` would have a ``stream_params`` value shortened at dial time."""
    if not fields:
        return 0
    url = f"ws://gateway/stream/bot?vx_call={name}-9999999999-1"
    count = 0
    for lead in leads:
        values = _stream_values(lead)
        chosen = {f: values[f] for f in fields if values.get(f, "") != ""}
        count += bool(add_stream_params(url, chosen).truncated)
    return count


def read_text(path: str) -> str:
    """The UTF-8 text of ``path`` (a leading BOM dropped); :class:`CampaignError` naming the
    file when it cannot be read or is not UTF-8."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise CampaignError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise CampaignError(f"{path}: is a directory, not a file") from None
    except OSError as exc:
        raise CampaignError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CampaignError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    return text.removeprefix("\ufeff")


def check_writable(path: str, what: str) -> None:
    """Refuse (:class:`CampaignError`) an output ``path`` that is a directory or whose
    directory is missing or not writable; ``what`` names the option (``--out``)."""
    target = Path(path)
    if target.is_dir():
        raise CampaignError(f"{what} {path}: is a directory")
    parent = target.parent
    if not parent.is_dir():
        raise CampaignError(f"{what} {path}: no such directory {str(parent)!r}")
    writable = os.access(target, os.W_OK) if target.exists() else os.access(parent, os.W_OK)
    if not writable:
        raise CampaignError(f"{what} {path}: not writable")


def check_db_path(path: str) -> None:
    """Refuse (``cannot open database X: ...``) a database path that is a directory or whose
    directory is missing."""
    target = Path(path)
    if target.is_dir():
        raise CampaignError(f"cannot open database {path}: is a directory")
    if not target.parent.is_dir():
        raise CampaignError(
            f"cannot open database {path}: no such directory {str(target.parent)!r}"
        )


def open_store(path: str, *, read_only: bool = False) -> CampaignStore:
    """A :class:`CampaignStore` on ``path`` (with ``read_only``, on the existing file, changing
    nothing: :meth:`CampaignStore.read_only`); :class:`CampaignError` (``cannot open database
    X: ...``) instead of a ``sqlite3`` error."""
    check_db_path(path)
    try:
        return CampaignStore.read_only(path) if read_only else CampaignStore(path)
    except sqlite3.Error as exc:
        raise CampaignError(f"cannot open database {path}: {exc}") from None


def check_bot(name: str) -> None:
    """Refuse a bot that is not an installed adapter (the embedded gateway could not serve
    it: every call would fail)."""
    from bot_adapters.registry import available_adapters

    installed = available_adapters()
    if name not in installed:
        raise CampaignError(
            f"bot {name!r} is not installed (installed: {', '.join(installed) or 'none'})"
        )


def parse_dnc(text: str, source: str, default_country: str = "91") -> tuple[list[str], list[str]]:
    """Do-not-call numbers, one a line (``#`` starts a comment, also after a number), national
    ones in ``default_country`` (the campaign's, as its leads); returns the numbers and one
    ``FILE line N: reason`` per bad line (skipped)."""
    phones: list[str] = []
    errors: list[str] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            phones.append(normalise_phone(line, default_country))
        except CampaignError as exc:
            errors.append(f"{source} line {number}: {exc}")
    return phones, errors


@dataclass
class RunInputs:
    """What ``campaign run`` and ``check`` read, checked before the database is changed."""

    spec: CampaignSpec | None  # None: a stored campaign named ``name``
    name: str
    settings: CampaignSpec  # in effect: ``spec``, else the stored campaign's
    leads: ImportResult | None = None
    dnc: list[str] | None = None
    dnc_errors: list[str] = field(default_factory=list)
    config: DialerConfig | None = None
    sim: SimConfig | None = None


def load_inputs(args: argparse.Namespace) -> RunInputs:
    """Read and check every input of ``campaign run`` (campaign file or stored campaign, lead
    CSV, do-not-call file, dialer and emulator configs, the bot) without creating or changing
    anything; :class:`CampaignError` naming the file and the line or key. Lead and do-not-call
    numbers written nationally get the campaign's ``default_country``."""
    inputs = load_campaign(args.campaign, args.db)
    check_bot(inputs.settings.bot)
    country = inputs.settings.default_country
    if args.leads:
        try:
            inputs.leads = parse_leads(read_text(args.leads), default_country=country)
        except CampaignError as exc:
            text = str(exc)
            raise CampaignError(
                text if text.startswith(args.leads) else f"{args.leads}: {text}"
            ) from None
    if args.dnc:
        inputs.dnc, inputs.dnc_errors = parse_dnc(read_text(args.dnc), args.dnc, country)
    inputs.config = load_dialer_config(args.config)
    inputs.sim = load_sim_config(args.sim_config) if args.sim_config else None
    return inputs


def load_campaign(campaign: str, db: str | None) -> RunInputs:
    """``CAMPAIGN``: a campaign TOML file, else the name of a campaign stored in ``db`` (read
    without changing it)."""
    path = Path(campaign)
    if path.suffix == ".toml" or path.exists():
        text = read_text(campaign)
        try:
            spec = campaign_from_toml(text)
        except CampaignError as exc:
            raise CampaignError(f"{campaign}: {exc}") from None
        return RunInputs(spec, spec.name, spec)
    if db is None:
        raise CampaignError(
            f"{campaign}: no such campaign file (the name of a stored campaign needs --db)"
        )
    if not Path(db).exists():
        raise CampaignError(
            f"no campaign database at {db} (CAMPAIGN is a campaign TOML file or the name of a "
            f"campaign stored in --db; {campaign!r} is neither)"
        )
    store = open_store(db, read_only=True)
    try:
        return RunInputs(None, campaign, store.campaign(campaign))
    finally:
        store.close()


def load_dialer_config(path: str | None) -> DialerConfig:
    """The dialer's settings (``--config`` TOML, then the environment), with errors as
    ``--config FILE: ...``."""
    where = "dialer config (environment)" if path is None else f"--config {path}"
    try:
        return DialerConfig.from_toml(None if path is None else read_text(path))
    except CampaignError as exc:
        raise CampaignError(f"--config {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise CampaignError(f"{where}: not valid TOML: {exc}") from None
    except ConfigError as exc:
        raise CampaignError(f"{where}: {exc}") from None


def load_sim_config(path: str) -> SimConfig:
    """The embedded emulator's config file, with errors as ``--sim-config FILE: ...``."""
    from exotel_sim.config import ConfigError as SimConfigError
    from exotel_sim.config import SimConfig

    try:
        return SimConfig.from_toml(read_text(path))
    except CampaignError as exc:
        raise CampaignError(f"--sim-config {exc}") from None
    except (SimConfigError, ValueError, TypeError) as exc:
        raise CampaignError(f"--sim-config {path}: {exc}") from None


def _fields_in_no_lead(fields: tuple[str, ...], leads: Sequence[Lead]) -> list[str]:
    """The ``stream_params`` fields that none of ``leads`` has a value for."""
    if not leads:
        return []
    return [f for f in fields if not any(_stream_values(lead).get(f, "") != "" for lead in leads)]


def _plural(count: int, noun: str) -> str:
    """``1 lead``, ``2 leads``."""
    return f"{count} {noun}{'s' * (count != 1)}"


@dataclass
class Notes:
    """Lines to show, and the problems among them worth a look (``check`` exits 1 on any)."""

    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def say(self, line: str, problem: str = "") -> None:
        """Add ``line``; a ``problem`` (a few words) when it is one."""
        self.lines.append(line)
        if problem:
            self.problems.append(problem)

    def extend(self, other: Notes) -> None:
        self.lines.extend(other.lines)
        self.problems.extend(other.problems)


def import_headline(verb: str, result: ImportResult, new: int) -> str:
    """``imported 7 new leads (1 already there, 0 duplicate rows, 2 bad rows)``."""
    return (
        f"{verb} {_plural(new, 'new lead')} ({len(result.leads) - new} already there, "
        f"{_plural(result.duplicates, 'duplicate row')}, {_plural(len(result.errors), 'bad row')})"
    )


def lead_notes(result: ImportResult, fields: tuple[str, ...], name: str, source: str) -> Notes:
    """What a lead import tells under its headline: its bad rows (the first 20), and the
    campaign's ``stream_params`` ``fields`` that no lead has or that are too long for the
    stream URL."""
    notes = Notes()
    for error in result.errors[:20]:
        notes.say(f"  line {error.line}: {error.reason}")
    if len(result.errors) > 20:
        notes.say(f"  ... and {_plural(len(result.errors) - 20, 'more bad row')}")
    if result.errors:
        notes.problems.append(f"{_plural(len(result.errors), 'bad row')} in {source}")
    if result.duplicates:
        notes.problems.append(f"{_plural(result.duplicates, 'duplicate row')} in {source}")
    for missing in _fields_in_no_lead(fields, result.leads):
        notes.say(
            f"  warning: stream_params field {missing!r} is in none of the "
            f"{len(result.leads)} leads of {source}: the bot gets no value for it",
            f"stream_params field {missing!r} in no lead",
        )
    long = too_long_for_stream(fields, result.leads, name)
    if long:
        notes.say(
            f"  {long} leads have stream_params values longer than the stream URL allows "
            f"({MAX_CHARS} characters): they will be shortened (logged per call)",
            f"{_plural(long, 'lead')} with stream_params values to be shortened",
        )
    return notes


def dnc_notes(phones: Sequence[str], errors: Sequence[str], source: str) -> Notes:
    """``do-not-call list: 3 numbers (1 bad line skipped)`` and the bad lines (the first
    20)."""
    bad = f" ({_plural(len(errors), 'bad line')} skipped)" if errors else ""
    notes = Notes([f"do-not-call list: {_plural(len(phones), 'number')}{bad}"])
    for line in errors[:20]:
        notes.say(f"  {line}")
    if len(errors) > 20:
        notes.say(f"  ... and {_plural(len(errors) - 20, 'more bad line')}")
    if errors:
        notes.problems.append(f"{_plural(len(errors), 'bad line')} in {source}")
    return notes


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
    if inputs.dnc is not None:
        store.add_dnc(inputs.dnc, now, "import")
        for line in dnc_notes(inputs.dnc, inputs.dnc_errors, args.dnc).lines:
            _print(line)
    return name


def paused_text(name: str, db: str) -> str:
    """What to do about a paused campaign."""
    return f"campaign {name} is paused: voxgate campaign resume {name} --db {db} to dial"


async def run_campaign(args: argparse.Namespace, inputs: RunInputs | None = None) -> int:
    from dialer.records import RecordStore
    from voxgate.wiring import LocalStack

    if inputs is None:
        inputs = load_inputs(args)
    store = open_store(args.db)
    owner = uuid.uuid4().hex
    try:
        if inputs.name in store.campaigns():
            # refused before the campaign, its leads or its agents change under another dialer
            store.acquire(inputs.name, Lease.here(owner), time.time())
        name = prepare(args, store, inputs)
        spec = store.campaign(name)
        if store.status(name) == "paused":
            _print(paused_text(name, args.db))
        assert inputs.config is not None  # load_inputs always reads it
        config = inputs.config.replace(
            customer_ring_timeout=int(spec.limits.ring_timeout_s),
            exophone=spec.exophone or inputs.config.exophone,
        )
        try:
            records = RecordStore(args.db)
        except sqlite3.Error as exc:
            raise CampaignError(f"cannot open database {args.db}: {exc}") from None
        view = LiveView()
        latest: list[CampaignSnapshot] = []

        def report(snapshot: CampaignSnapshot) -> None:
            latest[:] = [snapshot]
            view(snapshot)

        async with LocalStack(config, sim_config=inputs.sim, store=records) as stack, \
                contextlib.AsyncExitStack() as extras:
            if args.metrics_port is not None:
                await serve_metrics(extras, args, stack.dialer, latest)
            runner = CampaignRunner(stack.dialer, store, name, report=report, owner=owner)
            with stop_on_signals(runner) as received:
                stats = await runner.run(
                    until_done=not args.keep_running, max_seconds=args.max_seconds
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
    latest: list[CampaignSnapshot],
) -> None:
    """``--metrics-port``: the dialer's and the campaign's latest figures on ``GET /metrics``
    for as long as ``extras`` is open."""
    from dialer.campaign.metrics import render_campaign_metrics
    from dialer.metrics import MetricsServer, render_dialer_metrics

    server = MetricsServer(
        [lambda: render_dialer_metrics(dialer),
         lambda: render_campaign_metrics(latest[0]) if latest else ""],
        args.metrics_host, args.metrics_port,
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
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    received: list[str] = []

    def handle(sig: signal.Signals) -> None:
        received.append(sig.name)
        if len(received) == 1:
            print(
                f"\nvoxgate campaign: {sig.name}: no new dials; calls in flight finish "
                f"({sig.name} again to quit at once)",
                file=sys.stderr,
            )
            runner.stop()
        elif task is not None:
            print(f"\nvoxgate campaign: {sig.name}: quitting now", file=sys.stderr)
            task.cancel()

    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, handle, sig)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, Windows
            continue
        installed.append(sig)
    try:
        yield received
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


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


@_reported
def run_command(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(run_campaign(args, load_inputs(args)))
    except OSError as exc:  # e.g. the embedded servers cannot listen
        return _fail(exc)
    except (KeyboardInterrupt, asyncio.CancelledError):
        return 130


@_reported
def check_command(args: argparse.Namespace) -> int:
    """``campaign check``: :func:`load_inputs` as ``run`` does, then what ``run`` would do,
    without creating or changing anything (``--db`` is read only, if it exists). Exit 0: ready;
    1: usable, with problems worth a look (listed last); 2: an error ``run`` would stop on."""
    inputs = load_inputs(args)
    store: CampaignStore | None = None
    if args.db is not None:
        check_db_path(args.db)
        if Path(args.db).exists():
            store = open_store(args.db, read_only=True)
    try:
        notes = check_notes(args, inputs, store, time.time())
    finally:
        if store is not None:
            store.close()
    for line in notes.lines:
        _print(line)
    return 1 if notes.problems else 0


def check_notes(
    args: argparse.Namespace, inputs: RunInputs, store: CampaignStore | None, now: float
) -> Notes:
    """``campaign check``'s report: the campaign, the database, the leads and do-not-call
    numbers, the calling windows, and a last line with the problems worth a look."""
    notes = settings_notes(inputs, args.campaign if inputs.spec else f"stored in {args.db}")
    known: dict[str, str] = {}
    if store is not None and inputs.name in store.campaigns():
        notes.extend(stored_notes(inputs, store, now))
        known = store.lead_states(inputs.name)
    else:
        notes.say(database_text(args.db, inputs.name, store is not None))
    if inputs.leads is not None:
        notes.extend(import_notes(inputs, args.leads, known))
    if inputs.dnc is not None:
        notes.extend(dnc_notes(inputs.dnc, inputs.dnc_errors, args.dnc))
    to_dial = new_leads(inputs, known, store, notes)
    if to_dial:
        notes.extend(window_notes(to_dial, inputs.settings, now))
    summary = "; ".join(notes.problems)
    notes.lines.append(f"result: {'usable; worth a look: ' + summary if summary else 'ready'}")
    return notes


def import_notes(inputs: RunInputs, source: str, known: Mapping[str, str]) -> Notes:
    """The lead import ``run`` would make: new leads (not in ``known``, the campaign's stored
    leads), duplicates and bad rows, ``stream_params`` warnings."""
    assert inputs.leads is not None
    new = sum(lead.phone not in known for lead in inputs.leads.leads)
    notes = Notes([import_headline(f"{source}: would import", inputs.leads, new)])
    notes.extend(lead_notes(inputs.leads, inputs.settings.stream_params, inputs.name, source))
    return notes


def new_leads(
    inputs: RunInputs, known: Mapping[str, str], store: CampaignStore | None, notes: Notes
) -> list[Lead]:
    """The imported leads ``run`` would dial: not stored yet (``known``) nor on a do-not-call
    list (``--dnc`` or the database's); says in ``notes`` how many each list scrubs."""
    imported = inputs.leads.leads if inputs.leads is not None else ()
    leads = [lead for lead in imported if lead.phone not in known]
    dnc = set(inputs.dnc or ())
    if inputs.dnc is not None:
        text = f"  on it: {_plural(sum(lead.phone in dnc for lead in leads), 'new lead')}"
        if known:
            pending = sum(state == "pending" and phone in dnc for phone, state in known.items())
            text += f", {_plural(pending, 'pending lead')} of the campaign"
        notes.say(text + " (never dialled)")
    leads = [lead for lead in leads if lead.phone not in dnc]
    if store is None:
        return leads
    listed = {lead.phone for lead in leads if store.on_dnc(lead.phone)}
    if listed:
        notes.say(
            f"do-not-call list in {store.path}: {_plural(len(listed), 'new lead')} on it "
            "already (never dialled)"
        )
    return [lead for lead in leads if lead.phone not in listed]


def settings_notes(inputs: RunInputs, source: str) -> Notes:
    """The campaign's settings in a few lines, and the problems in them: an agent-first
    campaign with agents not nailed up, no caller id for Exotel."""
    spec, config = inputs.settings, inputs.config
    assert config is not None  # load_inputs always reads it
    start, end = spec.window.describe()
    loose = [agent.id for agent in spec.agents if not agent.nailed]
    notes = Notes(
        [
            f"campaign {spec.name} ({source}): {spec.mode}, pacer {spec.pacer}, bot {spec.bot}, "
            f"{_plural(len(spec.agents), 'agent')} ({len(spec.agents) - len(loose)} nailed up), "
            f"up to {_plural(spec.limits.max_lines, 'line')}",
            f"  calling window {start}-{end} in each lead's time zone (campaign timezone "
            f"{spec.timezone}); numbers written nationally get +{spec.default_country}",
        ]
    )
    caller = spec.exophone or config.exophone
    if config.uses_embedded_emulator:
        notes.say(
            "  dials the embedded emulator (EXOTEL_API_BASE unset); caller id "
            f"{caller or 'the emulator default'}"
        )
    elif caller:
        notes.say(f"  dials Exotel at {config.api_base}; caller id {caller}")
    else:
        notes.say(
            f"  warning: dials Exotel at {config.api_base} with no caller id: set exophone in "
            "the campaign file or EXOTEL_EXOPHONE",
            "no caller id",
        )
    if spec.mode == "agent_first" and loose:
        notes.say(
            f"  warning: agent-first with agents not nailed up ({', '.join(loose)}): each is "
            f"dialled once a customer answers, and many calls pass the {config.abandon_after:g} s "
            "abandonment limit (nailed = true keeps an agent on the line)",
            "agents not nailed up",
        )
    return notes


def database_text(db: str | None, name: str, exists: bool) -> str:
    """``--db`` when it does not hold the campaign."""
    if db is None:
        return "database: none given (--db): every lead counts as new"
    if not exists:
        return f"database {db}: does not exist yet; run creates it"
    return f"database {db}: no campaign {name} yet; run adds it"


def stored_notes(inputs: RunInputs, store: CampaignStore, now: float) -> Notes:
    """The stored campaign as ``status`` shows it, and what stands in ``run``'s way: another
    dialer holding it, a pause, a file that changes its default country."""
    name, stored = inputs.name, store.campaign(inputs.name)
    update = "; run updates its settings from the file" if inputs.spec else ""
    notes = Notes([f"database {store.path}: campaign {name} is stored{update}"])
    stats, pending = store.stats(name, now), store.pending(name, now)
    notes.lines.extend(f"  {line}" for line in status_lines(name, stats, pending, now))
    busy = store.busy(name, now)
    if busy:
        notes.say(f"  warning: {busy}: run is refused until then", "another dialer runs it")
    if stats.status == "paused":
        notes.say(f"  warning: {paused_text(name, store.path)}", "paused")
    if stored.default_country != inputs.settings.default_country:
        notes.say(
            f"  warning: default_country changes from +{stored.default_country} to "
            f"+{inputs.settings.default_country}: the leads already stored keep their numbers",
            "default_country changes",
        )
    return notes


def window_notes(leads: Sequence[Lead], spec: CampaignSpec, now: float) -> Notes:
    """The leads to dial by time zone (the 20 largest zones): how many are inside their
    calling window now, how many wait and when the first window opens; leads with no zone of
    their own (called in the campaign's) are a problem worth a look."""
    zones = Counter(lead.timezone or spec.timezone for lead in leads)
    rows: list[str] = []
    inside, first = 0, math.inf
    for zone, count in zones.most_common():
        opens = next_window_open(now, zone, spec.window)
        there = datetime.fromtimestamp(now, ZoneInfo(zone)).strftime("%H:%M")
        if opens <= now:
            inside += count
            state = f"inside the window ({there} there)"
        else:
            first = min(first, opens)
            state = f"waiting ({there} there; it opens {iso_utc(opens)}, in {span(opens - now)})"
        rows.append(f"  {zone}: {_plural(count, 'lead')} {state}")
    head = (
        f"calling windows now: of the {_plural(len(leads), 'new lead')} to dial, {inside} inside "
        f"their window, {len(leads) - inside} waiting"
    )
    if first < math.inf:
        head += f" (the first window opens {iso_utc(first)}, in {span(first - now)})"
    notes = Notes([head, *rows[:20]])
    if len(rows) > 20:
        notes.say(f"  ... and {_plural(len(rows) - 20, 'more zone')}")
    default = sum(not lead.timezone for lead in leads)
    if default:
        notes.say(
            f"  warning: {_plural(default, 'lead')} without a time zone (no timezone or region "
            f"column value, and no single zone known for the country code) will be called in "
            f"the campaign's timezone {spec.timezone}",
            f"{_plural(default, 'lead')} in the campaign's timezone for want of their own",
        )
    return notes


def _with_store(args: argparse.Namespace) -> CampaignStore:
    if not Path(args.db).exists():
        raise CampaignError(f"no campaign database at {args.db}")
    return open_store(args.db)


def status_lines(name: str, s: CampaignStats, pending: PendingLeads, now: float) -> list[str]:
    """``campaign status`` for one campaign at ``now``: the status and whether a dialer is
    attached, the counts, and the pending leads split into due now and waiting."""
    dialer = dialer_text(s.heartbeat_at, s.last_seen_at, now, dialled=s.attempts > 0)
    due_now = min(s.pending, pending.due_now)  # the two reads are not one transaction
    status = s.status
    if s.leads > 0 and s.pending == 0 and s.in_flight == 0 and status != "done":
        status += ", finished"  # every lead is; the stored status stays what was asked for
    return [
        f"{name}: {status} ({dialer}); leads {s.leads} (pending {s.pending}, in flight "
        f"{s.in_flight}, finished {s.done}); attempts {s.attempts}, answered "
        f"{s.answered}, escalated {s.escalated}, abandoned {s.abandoned}; abandonment "
        f"{s.rate_24h:.2%} (24 h), {s.rate_30d:.2%} (30 days)",
        f"  {pending_text(s.pending, due_now, pending.next_due_at, now)}",
    ]


@_reported
def status_command(args: argparse.Namespace) -> int:
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


@_reported
def export_command(args: argparse.Namespace) -> int:
    if args.out:
        check_writable(args.out, "--out")
    store = _with_store(args)
    try:
        store.campaign(args.name)
        attempts = args.attempts
        out = store.export_attempts_csv(args.name) if attempts else store.export_csv(args.name)
    finally:
        store.close()
    if args.out:
        try:
            Path(args.out).write_text(out, encoding="utf-8")
        except OSError as exc:
            raise CampaignError(f"--out {args.out}: {exc.strerror or exc}") from None
        _print(f"exported {max(0, out.count(chr(10)) - 1)} rows to {args.out}")
    else:
        sys.stdout.write(out)
    return 0
