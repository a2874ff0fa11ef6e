"""``voxgate dialer``: run the dialer service alone, or export its call records.

* ``voxgate dialer run [--config FILE] [--agent ID=NUMBER[:skill,skill]] [--nailed-agent ...]
  [--control-host H --control-port P] [--bot NAME] [--drain-timeout S]`` -- the dialer with
  its event intake and the HTTP control API (``POST /v1/control``) for a gateway in another
  process (``voxgate gateway --control-url http://H:P``). Settings come from the file and the
  environment (``EXOTEL_*``, ``VOXGATE_EVENT_ENDPOINT``, ``VOXGATE_STREAM_URL``,
  ``VOXGATE_CONTROL_TOKEN``); with ``--emulator`` (``VOXGATE_EMULATOR=1``) and no
  ``EXOTEL_API_BASE`` an embedded emulator is started (``--sim-config`` for its world); with
  neither it refuses (:mod:`dialer.mode`), and the first output line names the mode. Calls
  are placed with ``POST /v1/calls`` (see :mod:`dialer.control_api`). Checked before anything
  starts (one line on stderr, exit 2):
  the settings (with ``EXOTEL_API_BASE``, the account, key, token and ExoPhone too), the
  agents (ids and numbers unique, numbers normalised: ``+`` and the country code, national
  ones taken as India's; ``sip:`` URIs kept), and a stream URL when talking to real Exotel
  (without one no bot-first call could start; with the embedded emulator the dialer starts
  and refuses bot-first calls), and the event endpoint (:mod:`dialer.event_endpoint`:
  ``--event-listen``/``VOXGATE_EVENT_LISTEN`` to bind, ``VOXGATE_EVENT_ENDPOINT`` the public
  URL, ``--event-certfile``/``--event-keyfile`` for TLS here; an intake off loopback without
  event credentials is refused unless ``--insecure-events``). A certificate that does not load
  or an address that cannot be bound is one line too (exit 2).

  The control API's token: ``VOXGATE_CONTROL_TOKEN``, else the token file of
  :mod:`voxgate_shared.control_token`, made (0600) on the first start, where the gateway finds it;
  ``--no-control-auth`` serves without one, on loopback only, with a warning.

  Stopping: the first SIGTERM or SIGINT stops new calls (``POST /v1/calls`` answers 503) and
  lets the calls in flight finish, agent conversations included, for up to ``drain_timeout``
  seconds (``--drain-timeout``, config ``drain_timeout``, 300 s); the calls still live then
  are hung up (``shutdown_grace`` s for their records), and last the nailed-up agents' legs.
  A second signal skips the wait (calls and nailed legs are still hung up); exit code 130.
  What was left is logged. At start, nailed legs left up by an earlier run are hung up.
* ``voxgate dialer export --db FILE|URL --out FILE.csv|FILE.jsonl`` -- call records as CSV or
  JSON lines, from a SQLite file or a ``postgresql://`` database (:mod:`dialer.db`). A database
  that does not exist, is not a database, a server that does not answer, or an output that is
  neither ``.csv`` nor ``.jsonl`` is a one-line error (exit 2).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg

from dialer.call_binding import DIALER_ID_ENV
from dialer.config import DialerConfig, redact_url
from dialer.control_api import BadField, ControlApiServer, contact_uri
from dialer.db import DatabaseError, is_postgres_url, sqlite_path
from dialer.emulated import Embedding, on_emulator
from dialer.errors import ConfigError
from dialer.intake import server_tls_context
from dialer.mode import add_flag, dial_mode
from dialer.records import RecordStore
from dialer.service import Dialer
from dialer.signals import graceful_signals
from dialer.web import options as ui_options
from dialer.web.app import with_ui
from dialer.web.context import UiSettings
from voxgate_shared.control import check_dialer_id
from voxgate_shared.control_token import CONTROL_TOKEN_ENV, ensure_control_token
from voxgate_shared.health import exotel_mode
from voxgate_shared.net import is_loopback

log = logging.getLogger("dialer")

AgentSpec = tuple[str, str, tuple[str, ...], bool]  # id, number, skills, nailed
REAL_EXOTEL_NEEDS = {"EXOTEL_ACCOUNT_SID": "account_sid", "EXOTEL_API_KEY": "api_key",
                     "EXOTEL_API_TOKEN": "api_token", "EXOTEL_EXOPHONE": "exophone"}


def register(subparsers: Any, embedding: Embedding | None = None) -> None:
    """Add ``dialer run`` and ``dialer export`` (called by :mod:`voxgate.embedding`, which lends
    ``run`` its embedded emulator: without ``embedding``, ``run`` needs ``EXOTEL_API_BASE``)."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "dialer", help="run the dialer service alone (control API), or export call records"
    )
    sub = p.add_subparsers(dest="dialer_command", metavar="ACTION")
    run = sub.add_parser("run", help="run the dialer with its event intake and control API")
    add_flag(run)
    run.add_argument("--config", metavar="FILE", help="TOML file ([dialer] table)")
    run.add_argument("--agent", action="append", default=[], metavar="ID=NUMBER[:SKILLS]",
                     help="an on-demand agent (repeatable); skills comma-separated")
    run.add_argument("--nailed-agent", action="append", default=[], metavar="ID=NUMBER[:SKILLS]",
                     help="a nailed-up (pre-dialled) agent (repeatable)")
    run.add_argument("--control-host", default=None, help="control API address")
    run.add_argument("--control-port", type=int, default=None, help="control API port")
    run.add_argument("--dialer-id", default=None, metavar="ID",
                     help="this dialer's id (VOXGATE_DIALER_ID; 1-32 of A-Z a-z 0-9 _ -): "
                          "signed into each call's vx_call so gateways route its control "
                          "requests here (voxgate gateway --control-url ID=URL)")
    run.add_argument("--bot", action="append", default=None, metavar="NAME",
                     help="a bot the gateway serves (repeatable; default: the adapters "
                          "installed here); POST /v1/calls refuses other bots")
    run.add_argument("--drain-timeout", type=float, default=None, metavar="S",
                     help="on SIGTERM/SIGINT, let calls in flight finish for up to S seconds "
                          "(default: the config's drain_timeout, 300)")
    run.add_argument("--event-listen", metavar="HOST:PORT", default=None,
                     help="address the event intake binds (VOXGATE_EVENT_LISTEN); "
                          "VOXGATE_EVENT_ENDPOINT is then the public URL given to Exotel")
    run.add_argument("--event-certfile", metavar="PEM", default=None,
                     help="TLS certificate chain for an https/grpcs event endpoint")
    run.add_argument("--event-keyfile", metavar="PEM", default=None,
                     help="its private key")
    run.add_argument("--insecure-events", action="store_true", default=None,
                     help="allow an event intake off loopback with no event credentials "
                          "(VOXGATE_INSECURE_EVENTS=1; refused otherwise)")
    run.add_argument("--no-control-auth", action="store_true",
                     help="serve the control API without a token (loopback only; a warning)")
    run.add_argument("--sim-config", metavar="FILE", default=None,
                     help="TOML world of the embedded emulator (when no EXOTEL_API_BASE)")
    ui_options.add_arguments(run)  # the dashboard at /ui/ (dialer.web)
    run.set_defaults(func=run_command, embedding=embedding)
    export = sub.add_parser("export", help="export call records as CSV or JSON lines")
    export.add_argument("--db", required=True,
                        help="the dialer's database: a SQLite file or a postgresql:// URL")
    export.add_argument("--out", required=True, help="FILE.csv or FILE.jsonl")
    export.set_defaults(func=export_command)

    def usage(args: argparse.Namespace) -> int:
        p.print_help()
        return 2

    p.set_defaults(func=usage)


def _fail(message: object) -> int:
    print(f"voxgate dialer: {message}", file=sys.stderr)
    return 2


def parse_agent(spec: str) -> tuple[str, str, tuple[str, ...]]:
    """``a1=+9198...:sales,hindi`` -> ``("a1", "+9198...", ("sales", "hindi"))``."""
    agent_id, sep, rest = spec.partition("=")
    number, _, skills = rest.partition(":")
    if rest.startswith(("sip:", "sips:")):  # a SIP URI has a colon of its own
        scheme, _, tail = rest.partition(":")
        uri, _, skills = tail.partition(":")
        number = f"{scheme}:{uri}"
    if not sep or not agent_id or not number:
        raise ConfigError(f"bad agent {spec!r}: want ID=NUMBER[:SKILL,...]")
    return agent_id, number, tuple(s for s in skills.split(",") if s)


def check_agents(agents: Sequence[AgentSpec]) -> list[AgentSpec]:
    """The agents with their numbers normalised; :class:`ConfigError` for a number that is not
    one, an id given twice, or two agents with one number (one phone rung for two customers)."""
    out: list[AgentSpec] = []
    ids: set[str] = set()
    numbers: dict[str, str] = {}
    for agent_id, raw, skills, nailed in agents:
        if agent_id in ids:
            raise ConfigError(f"agent {agent_id!r} is given twice")
        try:
            number = contact_uri(raw)
        except BadField as exc:
            raise ConfigError(f"agent {agent_id!r}: {exc.reason}") from None
        if number in numbers:
            raise ConfigError(f"agents {numbers[number]!r} and {agent_id!r} have the same "
                              f"number {number}")
        ids.add(agent_id)
        numbers[number] = agent_id
        out.append((agent_id, number, skills, nailed))
    return out


def served_bots(config: DialerConfig, named: list[str] | None) -> frozenset[str] | None:
    """The bots ``POST /v1/calls`` may name: ``--bot`` or the adapters installed here; ``None``
    (unchecked) when the stream URL has a path of its own (the bot is not part of it)."""
    if config.stream_url and urlsplit(config.stream_url).path not in ("", "/"):
        return None
    if named:
        return frozenset(named)
    from bot_adapters.registry import available_adapters

    return frozenset(available_adapters())


EVENT_FLAGS = {"event_listen": "VOXGATE_EVENT_LISTEN", "event_certfile": "VOXGATE_EVENT_CERTFILE",
               "event_keyfile": "VOXGATE_EVENT_KEYFILE",
               "insecure_events": "VOXGATE_INSECURE_EVENTS"}


def event_flags(args: argparse.Namespace) -> dict[str, str]:
    """The environment with the ``--event-*`` flags over it (the event settings are checked
    together, so they must all be in place when the config is built)."""
    env = dict(os.environ)
    for name, var in EVENT_FLAGS.items():
        value = getattr(args, name, None)
        if value:
            env[var] = "1" if value is True else str(value)
    return env


def run_command(args: argparse.Namespace) -> int:
    try:
        config = DialerConfig.load(args.config, event_flags(args))
        if config.event_certfile:  # a certificate that does not load: one line, before anything
            server_tls_context(config.event_certfile, config.event_keyfile)
        changes: dict[str, Any] = {}
        if args.control_host:
            changes["control_host"] = args.control_host
        if args.control_port is not None:
            changes["control_port"] = args.control_port
        if args.drain_timeout is not None:
            changes["drain_timeout"] = args.drain_timeout
        if args.dialer_id is not None:  # read by CallBinding.from_env when the Dialer starts
            try:
                os.environ[DIALER_ID_ENV] = check_dialer_id(args.dialer_id)
            except ValueError as exc:
                raise ConfigError(str(exc)) from exc
        config = config.replace(**changes) if changes else config
        agents = check_agents(
            [(*parse_agent(s), False) for s in args.agent]
            + [(*parse_agent(s), True) for s in args.nailed_agent]
        )
        missing = [var for var, name in REAL_EXOTEL_NEEDS.items() if not getattr(config, name)]
        if not config.uses_embedded_emulator and missing:
            raise ConfigError(f"EXOTEL_API_BASE is set, so the dialer talks to Exotel, which "
                              f"needs {', '.join(missing)} too")
        if not config.uses_embedded_emulator and not config.stream_url:
            raise ConfigError(
                "no stream URL: set VOXGATE_STREAM_URL (or stream_url) to the gateway's public "
                "ws(s):// address; without it no bot-first call can start its stream"
            )
        mode_line = dial_mode(config, args)  # refuses an implicit mode (dialer.mode)
        ui = ui_options.settings_from(args)
    except (ConfigError, ValueError) as exc:
        return _fail(exc)
    print(mode_line, flush=True)
    try:
        token = control_token(config.control_host, args.no_control_auth)
    except ConfigError as exc:
        return _fail(exc)
    if not config.stream_url and config.uses_embedded_emulator:
        log.warning("no VOXGATE_STREAM_URL: bot-first calls are refused, agent-first only")
    log.info("dialer settings: %s", config.describe())
    embedding: Embedding | None = getattr(args, "embedding", None)
    sim_config = None
    if args.sim_config:
        if embedding is None:
            return _fail("--sim-config: no embedded emulator in this build")
        try:
            sim_config = embedding.parse_world(Path(args.sim_config).read_text(encoding="utf-8"))
        except (ValueError, TypeError, OverflowError, OSError) as exc:
            return _fail(f"--sim-config: {exc}")
    try:
        asyncio.run(serve(config, agents, sim_config=sim_config,
                          bots=served_bots(config, args.bot), token=token,
                          embedding=embedding, ui=ui))
    except (KeyboardInterrupt, asyncio.CancelledError):
        return 130
    except ConfigError as exc:
        return _fail(exc)
    except OSError as exc:  # e.g. a port in use
        return _fail(exc)
    return 0


def control_token(host: str, no_auth: bool) -> str:
    """The control API's token (:mod:`voxgate_shared.control_token`: ``VOXGATE_CONTROL_TOKEN``, else
    the token file, made on the first start), or ``""`` with ``--no-control-auth``, which is
    refused off loopback (:class:`ConfigError`)."""
    if no_auth:
        if not is_loopback(host):
            raise ConfigError(f"--no-control-auth is refused on {host}: only on loopback; "
                              f"set {CONTROL_TOKEN_ENV} or use the token file")
        log.warning("control API without a token (--no-control-auth): any local process can "
                    "place and end calls")
        return ""
    try:
        token, source = ensure_control_token()
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    print(f"control API token from {source}", flush=True)
    return token


async def serve(config: DialerConfig, agents: Sequence[AgentSpec],
                ready: asyncio.Event | None = None, sim_config: Any = None, *,
                bots: frozenset[str] | None = None, token: str | None = None,
                stop: asyncio.Event | None = None, embedding: Embedding | None = None,
                ui: UiSettings | None = None) -> None:
    """Run the dialer (and ``embedding``'s emulator when no API base is set) until ``stop`` is
    set (by default: the first SIGTERM/SIGINT), then drain (see the module docstring)."""
    stop = stop or asyncio.Event()
    with graceful_signals(
        lambda _: stop.set(), "voxgate dialer: {sig} again: hanging up and quitting now"
    ) as received:
        async with contextlib.AsyncExitStack() as stack:
            mode = exotel_mode(config.api_base, config.uses_embedded_emulator)
            if config.uses_embedded_emulator:
                if embedding is None:
                    raise ConfigError("no EXOTEL_API_BASE and no embedded emulator in this build")
                sim = await stack.enter_async_context(
                    embedding.emulator(sim_config, [a[1] for a in agents], config)
                )
                config = on_emulator(config, sim)
                print(f"embedded Exotel emulator at {sim.base_url}", flush=True)
            dialer = await stack.enter_async_context(Dialer(config))
            for agent_id, number, skills, nailed in agents:
                try:
                    dialer.add_agent(agent_id, number, skills, nailed=nailed)
                except ValueError as exc:
                    raise ConfigError(f"agent {agent_id!r}: {exc}") from None
            campaigns = None
            if config.db_path:  # campaigns live beside the call records
                from dialer.campaign.service_api import CampaignService

                campaigns = CampaignService(dialer, config.db_path, bots)
                stack.push_async_callback(campaigns.close)  # before the dialer stops
            api = await stack.enter_async_context(
                ControlApiServer(dialer, config.control_host, config.control_port,
                                 dialer=dialer, token=token, bots=bots, mode=mode,
                                 routes=with_ui(dialer, campaigns, ui,
                                                campaigns.add_routes if campaigns else None))
            )
            print(f"dialer events at {redact_url(dialer.event_endpoint)}", flush=True)
            print(f"dialer control API at {api.url}/v1/control", flush=True)
            if ui is not None:
                print(f"dashboard at {api.url}/ui/", flush=True)
            if campaigns is not None:  # those a killed or stopped service was running
                campaigns.resume()
            if ready is not None:
                ready.set()
            await stop.wait()
            if campaigns is not None:  # campaigns stop dialling first; their calls finish
                await campaigns.stop()
            await drain(dialer, received[0] if received else "stop")


async def drain(dialer: Dialer, why: str) -> None:
    """No new calls; wait up to the config's ``drain_timeout`` s for the calls in flight."""
    timeout = dialer.config.drain_timeout
    dialer.stop_accepting()
    if not dialer.active_calls:
        print(f"voxgate dialer: {why}: no calls in flight; stopping", file=sys.stderr, flush=True)
        return
    print(f"voxgate dialer: {why}: no new calls; {dialer.live_summary()} may finish (up to "
          f"{timeout:g} s; {why} again to hang up and quit now)", file=sys.stderr, flush=True)
    try:
        async with asyncio.timeout(timeout):
            await dialer.drain()
    except TimeoutError:
        log.warning("drain timeout (%g s) passed with %s", timeout, dialer.live_summary())
        return
    print(f"voxgate dialer: {why}: every call has ended; stopping", file=sys.stderr, flush=True)


def export_command(args: argparse.Namespace) -> int:
    out, shown = Path(args.out), redact_url(args.db)
    if not is_postgres_url(args.db):
        try:
            db = Path(sqlite_path(args.db))
        except DatabaseError as exc:
            return _fail(f"--db {shown}: {exc}")
        if db.is_dir():
            return _fail(f"--db {args.db}: is a directory, not a database")
        if not db.exists():
            return _fail(f"--db {args.db}: no such database")
    if out.suffix.lower() not in (".csv", ".jsonl"):
        return _fail(f"--out {args.out}: want FILE.csv or FILE.jsonl")
    try:
        store = RecordStore(args.db)
    except (sqlite3.Error, psycopg.Error, DatabaseError) as exc:
        why = " ".join(str(exc).split())  # a driver's message can hold several lines
        return _fail(f"--db {shown}: cannot read it as a dialer database: {why}")
    try:
        n = store.export(out)
    except (sqlite3.Error, psycopg.Error) as exc:
        return _fail(f"--db {shown}: {exc}")
    except OSError as exc:
        return _fail(f"--out {args.out}: {exc.strerror or exc}")
    finally:
        store.close()
    print(f"exported {n} call records to {args.out}")
    return 0
