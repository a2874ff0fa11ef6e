"""``voxgate dialer``: run the dialer service alone, or export its call records.

* ``voxgate dialer run [--config FILE] [--agent ID=NUMBER[:skill,skill]] [--nailed-agent ...]
  [--control-host H --control-port P]`` -- the dialer with its event intake and the HTTP
  control API (``POST /v1/control``) for a gateway in another process (``voxgate gateway
  --control-url http://H:P``). Settings come from the file and the environment
  (``EXOTEL_*``, ``VOXGATE_EVENT_ENDPOINT``, ``VOXGATE_STREAM_URL``); with no
  ``EXOTEL_API_BASE`` an embedded emulator is started (``--sim-config`` for its world).
  Calls are placed with ``POST /v1/calls`` (see :mod:`dialer.control_api`). Runs until
  interrupted.
* ``voxgate dialer export --db FILE --out FILE.csv|FILE.jsonl`` -- call records as CSV or JSON
  lines.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from typing import Any

from dialer.config import DialerConfig, redact_url
from dialer.control_api import ControlApiServer
from dialer.errors import ConfigError
from dialer.records import RecordStore
from dialer.service import Dialer

log = logging.getLogger("dialer")


def register(subparsers: Any) -> None:
    """Add ``dialer run`` and ``dialer export`` (called by :mod:`voxgate.cli`)."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "dialer", help="run the dialer service alone (control API), or export call records"
    )
    sub = p.add_subparsers(dest="dialer_command", metavar="ACTION")
    run = sub.add_parser("run", help="run the dialer with its event intake and control API")
    run.add_argument("--config", metavar="FILE", help="TOML file ([dialer] table)")
    run.add_argument("--agent", action="append", default=[], metavar="ID=NUMBER[:SKILLS]",
                     help="an on-demand agent (repeatable); skills comma-separated")
    run.add_argument("--nailed-agent", action="append", default=[], metavar="ID=NUMBER[:SKILLS]",
                     help="a nailed-up (pre-dialled) agent (repeatable)")
    run.add_argument("--control-host", default=None, help="control API address")
    run.add_argument("--control-port", type=int, default=None, help="control API port")
    run.add_argument("--sim-config", metavar="FILE", default=None,
                     help="TOML world of the embedded emulator (when no EXOTEL_API_BASE)")
    run.set_defaults(func=run_command)
    export = sub.add_parser("export", help="export call records as CSV or JSON lines")
    export.add_argument("--db", required=True, help="the SQLite file of the dialer")
    export.add_argument("--out", required=True, help="FILE.csv or FILE.jsonl")
    export.set_defaults(func=export_command)

    def usage(args: argparse.Namespace) -> int:
        p.print_help()
        return 2

    p.set_defaults(func=usage)


def parse_agent(spec: str) -> tuple[str, str, tuple[str, ...]]:
    """``a1=+9198...:sales,hindi`` -> ``("a1", "+9198...", ("sales", "hindi"))``."""
    agent_id, sep, rest = spec.partition("=")
    number, _, skills = rest.partition(":")
    if not sep or not agent_id or not number:
        raise ConfigError(f"bad agent {spec!r}: want ID=NUMBER[:SKILL,...]")
    return agent_id, number, tuple(s for s in skills.split(",") if s)


def run_command(args: argparse.Namespace) -> int:
    try:
        config = DialerConfig.load(args.config)
        changes: dict[str, Any] = {}
        if args.control_host:
            changes["control_host"] = args.control_host
        if args.control_port is not None:
            changes["control_port"] = args.control_port
        config = config.replace(**changes) if changes else config
        agents = [(*parse_agent(s), False) for s in args.agent]
        agents += [(*parse_agent(s), True) for s in args.nailed_agent]
    except ConfigError as exc:
        log.error("dialer: %s", exc)
        return 2
    log.info("dialer settings: %s", config.describe())
    sim_config = None
    if args.sim_config:
        from exotel_sim.config import ConfigError as SimConfigError
        from exotel_sim.config import SimConfig

        try:
            sim_config = SimConfig.from_file(args.sim_config)
        except (SimConfigError, OSError) as exc:
            log.error("dialer: --sim-config: %s", exc)
            return 2
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(config, agents, sim_config=sim_config))
    return 0


async def serve(config: DialerConfig, agents: list[tuple[str, str, tuple[str, ...], bool]],
                ready: asyncio.Event | None = None, sim_config: Any = None) -> None:
    """Run the dialer (and an embedded emulator when no API base is set) until cancelled."""
    async with contextlib.AsyncExitStack() as stack:
        if config.uses_embedded_emulator:
            from exotel_sim.server import SimServer

            sim = await stack.enter_async_context(SimServer(sim_config))
            config = config.replace(
                api_base=sim.api_base, account_sid=sim.account_sid, api_key=sim.api_key,
                api_token=sim.api_token, exophone=config.exophone or "+918000000000",
            )
            print(f"embedded Exotel emulator at {sim.base_url}", flush=True)
        dialer = await stack.enter_async_context(Dialer(config))
        for agent_id, number, skills, nailed in agents:
            dialer.add_agent(agent_id, number, skills, nailed=nailed)
        api = await stack.enter_async_context(
            ControlApiServer(dialer, config.control_host, config.control_port, dialer=dialer)
        )
        print(f"dialer events at {redact_url(dialer.event_endpoint)}", flush=True)
        print(f"dialer control API at {api.url}/v1/control", flush=True)
        if ready is not None:
            ready.set()
        await asyncio.Event().wait()


def export_command(args: argparse.Namespace) -> int:
    store = RecordStore(args.db)
    try:
        n = store.export(args.out)
    finally:
        store.close()
    print(f"exported {n} call records to {args.out}")
    return 0
