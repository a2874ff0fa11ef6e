"""``voxgate sim``: run the Exotel emulator alone until interrupted."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging

from exotel_sim.config import SimConfig, SimConfigError
from exotel_sim.server import SimServer

log = logging.getLogger("exotel_sim")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("sim", help="run the Exotel emulator (REST, events, streams)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8090, help="port (0: any free port)")
    p.add_argument("--config", metavar="FILE", help="TOML config (see README, section sim)")
    p.add_argument("--seed", type=int, default=None, help="seed (overrides the file's seed)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        if args.config:
            config = SimConfig.from_file(args.config, seed=args.seed)
        else:
            config = SimConfig(seed=args.seed or 0)
    except (SimConfigError, OSError) as exc:
        log.error("sim: %s", exc)
        return 2
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(config, args.host, args.port))
    return 0


async def _serve(config: SimConfig, host: str, port: int) -> None:
    async with SimServer(config, host, port) as server:
        print(f"exotel_sim listening on {server.base_url}", flush=True)
        default = SimConfig()
        if (server.api_key, server.api_token) == (default.api_key, default.api_token):
            creds = f"key {server.api_key!r}, token {server.api_token!r}"
        else:  # an account of the config file's: its token is a secret, never printed
            creds = f"key {server.api_key!r}, token from the config file"
        print(f"  api base  {server.api_base}  ({creds})", flush=True)
        print(f"  inspect   {server.base_url}/sim/stats", flush=True)
        await asyncio.Event().wait()
