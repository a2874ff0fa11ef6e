"""``voxgate gateway``: run the stream gateway alone.

Prints ``gateway listening on ws://HOST:PORT`` on stdout once bound (with ``--port 0`` the
port is the ephemeral one), serves until SIGINT/SIGTERM, then shuts down gracefully. Each
adapter given ``--adapter-option``s is loaded and built once first: an unknown name, a package
that fails to import or options it refuses exit 2 with the message.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import os
import signal
import sys
from collections.abc import Mapping
from typing import Any

from bot_adapters.registry import UnknownAdapter, load_adapter
from gateway.config import GatewayConfig
from gateway.control import ControlHook, HttpControlHook
from gateway.control_routes import RoutingControlHook, parse_control_urls
from gateway.eventloop import run as run_loop
from gateway.greeting_gate import GreetingGate
from gateway.server import GatewayServer
from voxgate_shared import logs, redact
from voxgate_shared.net import is_loopback

_D = GatewayConfig()  # the defaults the options show

log = logging.getLogger(__name__)


def register(subparsers: Any) -> None:
    """Add the ``gateway`` subcommand (called by :mod:`voxgate.cli`)."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "gateway", help="run the Exotel stream gateway alone"
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=_D.port, help="0 picks a free port")
    p.add_argument("--auth-user", default=None, help="require HTTP Basic auth (Exotel KEY)")
    p.add_argument(
        "--auth-password-env", default="VOXGATE_GATEWAY_PASSWORD",
        help="environment variable holding the Basic auth password (Exotel TOKEN)",
    )
    p.add_argument(
        "--insecure-no-auth", action="store_true",
        help="serve streams without Basic auth on an address that is not loopback "
             "(refused otherwise: anyone who reaches the port could open streams)",
    )
    p.add_argument(
        "--adapter-option", action="append", default=[], metavar="ADAPTER.KEY=VALUE",
        help="an option handed to an adapter's factory (repeatable)",
    )
    p.add_argument("--no-vad", action="store_true", help="disable VAD (and barge-in)")
    p.add_argument(
        "--no-uvloop", action="store_true",
        help="run on asyncio's own event loop even when uvloop is installed",
    )
    p.add_argument(
        "--vad-aggressiveness", type=int, default=_D.vad_aggressiveness, choices=range(4)
    )
    p.add_argument(
        "--barge-in-ms", type=int, default=_D.barge_in_min_speech_ms,
        help="speech over the bot needed for a barge-in; 0 disables barge-in",
    )
    p.add_argument(
        "--chunk-ms", type=int, default=_D.chunk_target_ms,
        help="target outbound chunk (Exotel's minimum chunk still applies)",
    )
    p.add_argument("--adapter-deadline", type=float, default=_D.adapter_deadline)
    p.add_argument("--max-message-bytes", type=int, default=_D.max_message_bytes)
    p.add_argument("--idle-timeout", type=float, default=_D.idle_timeout)
    p.add_argument("--handshake-timeout", type=float, default=_D.handshake_timeout)
    p.add_argument("--shutdown-deadline", type=float, default=_D.shutdown_deadline)
    p.add_argument("--max-streams", type=int, default=_D.max_streams, help="more get 503")
    p.add_argument(
        "--start-timeout", type=float, default=_D.start_timeout,
        help="seconds an upgraded stream has to send start (else closed with 4008)",
    )
    p.add_argument(
        "--max-pending", type=int, default=_D.max_pending,
        help="connections not streaming yet (handshaking or awaiting start); more are refused",
    )
    p.add_argument("--max-pending-per-ip", type=int, default=_D.max_pending_per_ip)
    p.add_argument(
        "--max-connections-per-ip", type=int, default=_D.max_connections_per_ip,
        help="every connection from one source IP (0: no cap)",
    )
    p.add_argument(
        "--ip-limit-exempt", action="append", default=None, metavar="NETWORK",
        help="a source network the per-IP caps skip (repeatable; default: loopback; "
        "'none' exempts nothing)",
    )
    p.add_argument(
        "--batch-ms", type=float, default=_D.batch_ms,
        help="dense gateways: hold each event-loop turn to this many ms while at least "
        "--batch-min-streams streams are open, so messages are handled in batches "
        "(less CPU per stream, up to this much more latency; 0 = off)",
    )
    p.add_argument("--batch-min-streams", type=int, default=_D.batch_min_streams)
    p.add_argument("--escalation-dtmf", default=None, help="digit that asks for a human agent")
    p.add_argument("--control-url", action="append", default=[], metavar="[ID=]URL",
                   help="dialer control API base URL; repeat as ID=URL for several dialers "
                   "(each request goes to the dialer its vx_call names; a bare URL is the "
                   "default)")
    p.add_argument("--public-url", default=None, help="wss:// base the /url endpoint answers")
    p.add_argument("--certfile", default=None)
    p.add_argument("--keyfile", default=None)
    p.set_defaults(func=run)


def parse_adapter_options(items: list[str]) -> Mapping[str, Mapping[str, str]]:
    """``["echo.sample_rate=16000"]`` -> ``{"echo": {"sample_rate": "16000"}}``."""
    options: dict[str, dict[str, str]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        adapter, dot, name = key.partition(".")
        if not sep or not dot or not adapter or not name:
            raise ValueError(f"adapter option {item!r} is not ADAPTER.KEY=VALUE")
        options.setdefault(adapter, {})[name] = value
    return options


def check_adapters(options: Mapping[str, Mapping[str, str]]) -> None:
    """Load and build, once, each adapter that ``--adapter-option`` configures, so a misspelt
    adapter name, a package that fails to import or an option the adapter refuses (a missing
    script file, a bad relay URL) stops the start with its message instead of failing calls.
    Raises ValueError."""
    for name, opts in options.items():
        try:
            load_adapter(name)(opts)
        except UnknownAdapter as exc:
            raise ValueError(f"--adapter-option {name}.*: {exc}") from None
        except Exception as exc:
            raise ValueError(f"adapter {name!r} refuses its options: {exc}") from None


def _exempt(given: list[str] | None) -> tuple[str, ...]:
    if given is None:
        return _D.ip_limit_exempt
    return tuple(net for net in given if net.lower() != "none")


def check_auth_default(host: str, auth_user: str | None, insecure: bool) -> None:
    """Secure by default: streams are served without Basic auth only on loopback, or off
    loopback with ``--insecure-no-auth`` (a WARNING). Raises ValueError otherwise."""
    if auth_user or is_loopback(host):
        return
    if not insecure:
        raise ValueError(
            f"--host {host} is not loopback and no --auth-user is given: anyone who reaches the "
            "port could open streams; give --auth-user KEY (password in "
            "$VOXGATE_GATEWAY_PASSWORD, Exotel's wss://KEY:TOKEN@host/...), or "
            "--insecure-no-auth to serve without it")
    log.warning("serving streams on %s without authentication (--insecure-no-auth)", host)


def config_from_args(args: argparse.Namespace) -> GatewayConfig:
    password = os.environ.get(args.auth_password_env) if args.auth_user else None
    if args.auth_user and password is None:
        raise ValueError(f"--auth-user needs the password in ${args.auth_password_env}")
    check_auth_default(args.host, args.auth_user, args.insecure_no_auth)
    if password:
        redact.register_secrets(f"{args.auth_user}:{password}")  # never in a log
    return GatewayConfig(
        host=args.host,
        port=args.port,
        auth_user=args.auth_user,
        auth_password=password,
        adapter_options=parse_adapter_options(args.adapter_option),
        vad_enabled=not args.no_vad,
        vad_aggressiveness=args.vad_aggressiveness,
        barge_in_min_speech_ms=args.barge_in_ms,
        chunk_target_ms=args.chunk_ms,
        adapter_deadline=args.adapter_deadline,
        max_message_bytes=args.max_message_bytes,
        idle_timeout=args.idle_timeout,
        handshake_timeout=args.handshake_timeout,
        shutdown_deadline=args.shutdown_deadline,
        max_streams=args.max_streams,
        start_timeout=args.start_timeout,
        max_pending=args.max_pending,
        max_pending_per_ip=args.max_pending_per_ip,
        max_connections_per_ip=args.max_connections_per_ip,
        ip_limit_exempt=_exempt(args.ip_limit_exempt),
        batch_ms=args.batch_ms,
        batch_min_streams=args.batch_min_streams,
        escalation_dtmf=args.escalation_dtmf,
        public_url=args.public_url,
        ssl_certfile=args.certfile,
        ssl_keyfile=args.keyfile,
    )


async def serve(config: GatewayConfig, control_url: str | list[str] | None) -> None:
    """Run a gateway until SIGINT/SIGTERM."""
    async with contextlib.AsyncExitStack() as stack:
        hook: ControlHook | None = None
        gate: GreetingGate | None = None
        urls = [control_url] if isinstance(control_url, str) else control_url or []
        if urls:  # the dialer's calls: the bot's first audio waits for its greeting
            default, named = parse_control_urls(urls)
            hook = await stack.enter_async_context(
                HttpControlHook(default) if default and not named
                else RoutingControlHook(default, named))
            gate = GreetingGate()
        server = await stack.enter_async_context(
            GatewayServer(config, hook, wrap_adapter=gate.wrap if gate else None))
        if gate is not None:
            gate.outcomes = server.metrics.greeting_holds
        if isinstance(hook, RoutingControlHook):
            hook.metrics = server.metrics
        # What start-up built lives as long as the process: keep it out of the cyclic GC's
        # full collections, which would otherwise walk it while calls wait (p99 turnaround).
        gc.freeze()
        print(f"gateway listening on {server.base_url}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        log.info("signal received, shutting down")


def run(args: argparse.Namespace) -> int:
    try:
        config = config_from_args(args)
        check_adapters(config.adapter_options)
        parse_control_urls(args.control_url)
    except ValueError as exc:
        print(f"voxgate gateway: {exc}", file=sys.stderr)
        return 2
    try:
        run_loop(serve(config, args.control_url), use_uvloop=not args.no_uvloop)
    except OSError as exc:
        print(f"voxgate gateway: {exc}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m gateway.cli [options]``: the gateway subcommand without the others
    (log level from ``$VOXGATE_LOG_LEVEL``, default INFO)."""
    parser = argparse.ArgumentParser(prog="python -m gateway.cli")
    sub = parser.add_subparsers(dest="command")
    register(sub)
    args = parser.parse_args(["gateway", *(sys.argv[1:] if argv is None else argv)])
    try:  # the format from $VOXGATE_LOG_FORMAT; the redaction filter either way
        logs.configure(os.environ.get("VOXGATE_LOG_LEVEL", "INFO"))
    except ValueError as exc:
        print(f"voxgate gateway: {exc}", file=sys.stderr)
        return 2
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
