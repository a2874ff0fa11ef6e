"""Compose the emulator, the gateway and the dialer in one process (the default wiring).

:class:`LocalStack` starts, in order: the Exotel emulator (only when ``config.api_base`` is
empty, i.e. the embedded emulator), the dialer's control API (when ``control="http"``), the
gateway (its control hook is the dialer itself, or an HTTP hook to the control API), and the
dialer (intake on gRPC or HTTP, from ``config.event_endpoint``)::

    async with LocalStack(DialerConfig(), sim_config=SimConfig(...)) as stack:
        stack.dialer.add_agent("a1", "+919800000001", ["sales"])
        handle = await stack.dialer.place_call(CallRequest("+919812345678", bot="scripted"))
        record = await handle.wait()

The bot adapters are wrapped by :class:`~gateway.greeting_gate.GreetingGate`
(``greeting_gate=True``): a bot's first audio waits until the dialer answers the gateway's
``greeting_wait`` (the greeting stopped), so the customer never hears both; the same gate, over
the same control hook, as ``voxgate gateway --control-url``. Installed adapters are loaded
when their first call starts, so one broken package fails only its own calls. Both wirings
run the same code: ``control="direct"`` hands the dialer object to the gateway as its
:class:`voxgate_shared.control.ControlHook`; ``control="http"`` puts the HTTP control API
between them (what separate processes do). Every server binds 127.0.0.1 on an ephemeral port
unless configured otherwise.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Mapping
from typing import Any, Literal

from dialer.config import DialerConfig, redact_url
from dialer.control_api import ControlApiServer
from dialer.emulated import FIXTURES, on_emulator
from dialer.records import RecordStore
from dialer.service import Dialer
from exotel_sim.config import SimConfig
from exotel_sim.server import SimServer
from gateway.config import GatewayConfig
from gateway.control import HttpControlHook
from gateway.greeting_gate import GreetingGate
from gateway.server import GatewayServer
from voxgate_shared.control import ControlHook, ControlRequest

ControlWiring = Literal["direct", "http"]


def trusting_event_cert(world: SimConfig, config: DialerConfig) -> SimConfig:
    """``world`` trusting the event intake's own certificate (``event_certfile``), so an
    embedded emulator delivers over TLS to a self-signed intake as Exotel does to a CA-signed
    one (certificates are checked either way)."""
    if config.event_certfile and not world.tls_ca_file:
        return dataclasses.replace(world, tls_ca_file=config.event_certfile)
    return world


class _LateHook:
    """Control hook that forwards to the dialer once it exists (the gateway starts first)."""

    def __init__(self) -> None:
        self.target: ControlHook | None = None

    async def submit(self, request: ControlRequest) -> None:
        if self.target is None:
            from dialer.errors import UnknownCall

            raise UnknownCall(request.call_sid)
        await self.target.submit(request)

    @property
    def active_calls(self) -> int | None:
        return getattr(self.target, "active_calls", None)


class LocalStack:
    """Emulator (optional) + gateway + dialer on loopback. Use as ``async with``."""

    def __init__(
        self,
        config: DialerConfig | None = None,
        *,
        sim_config: SimConfig | None = None,
        gateway_config: GatewayConfig | None = None,
        control: ControlWiring = "direct",
        store: RecordStore | None = None,
        adapters: Mapping[str, Any] | None = None,  # extra adapter factories by name
        greeting_fixture: str = FIXTURES[0],
        hold_fixture: str = FIXTURES[1],
        agent_hold_fixture: str = FIXTURES[2],
        greeting_gate: bool = True,
    ) -> None:
        self.config = config or DialerConfig()
        self.sim_config = sim_config or SimConfig()
        self.gateway_config = gateway_config or GatewayConfig(host="127.0.0.1", port=0)
        self.control = control
        self._store = store
        self._adapters = adapters
        self._fixtures = (greeting_fixture, hold_fixture, agent_hold_fixture)
        self.greeting_gate = GreetingGate() if greeting_gate else None
        self.sim: SimServer | None = None
        self.gateway: GatewayServer | None = None
        self.control_api: ControlApiServer | None = None
        self._dialer: Dialer | None = None
        self._stack = contextlib.AsyncExitStack()

    @property
    def dialer(self) -> Dialer:
        if self._dialer is None:
            raise RuntimeError("LocalStack is not running")
        return self._dialer

    async def __aenter__(self) -> LocalStack:
        try:
            await self._start()
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._stack.aclose()

    async def _start(self) -> None:
        cfg = self.config
        stack = self._stack
        if cfg.uses_embedded_emulator:
            self.sim = await stack.enter_async_context(
                SimServer(trusting_event_cert(self.sim_config, cfg))
            )
            cfg = on_emulator(cfg, self.sim, self._fixtures)
        late = _LateHook()
        hook: ControlHook = late
        if self.control == "http":
            self.control_api = ControlApiServer(late, cfg.control_host, cfg.control_port)
            await stack.enter_async_context(self.control_api)
            hook = await stack.enter_async_context(HttpControlHook(self.control_api.url))
        gate = self.greeting_gate
        self.gateway = GatewayServer(self.gateway_config, hook, adapters=self._adapters,
                                     wrap_adapter=None if gate is None else gate.wrap)
        if gate is not None:
            gate.outcomes = self.gateway.metrics.greeting_holds
        await self.gateway.start()
        stack.push_async_callback(self.gateway.stop)
        gateway = self.gateway
        self.config = cfg
        # With a public stream URL configured (real Exotel reaching this gateway from outside),
        # the dialer builds URLs from it; on loopback it asks the gateway for its own URL.
        dialer = Dialer(
            cfg,
            store=self._store,
            stream_url_builder=None if cfg.stream_url else (
                lambda bot, vx_call: gateway.stream_url(bot or "echo", vx_call=vx_call)
            ),
        )
        await stack.enter_async_context(dialer)
        late.target = dialer
        self._dialer = dialer

    def summary_endpoints(self) -> dict[str, str]:
        """Where each part listens (for logs and the demo banner)."""
        out = {"events": redact_url(self.dialer.event_endpoint),  # may carry credentials
               "exotel": self.dialer.client.base}
        if self.gateway is not None:
            out["gateway"] = self.gateway.base_url
        if self.control_api is not None:
            out["control"] = self.control_api.url
        return out
