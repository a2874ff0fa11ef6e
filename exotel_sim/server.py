"""``SimServer``: the emulator as one aiohttp server on loopback (or any host/port).

    async with SimServer(SimConfig(rest_latency_ms=0)) as sim:
        sim.api_base   # http://127.0.0.1:PORT/v2/accounts/ACsim
        ...

``async with`` binds (port 0 by default: an ephemeral port), serves the REST API, the
inspection API and the fixtures, and on exit stops every stream (``stop`` with ``callended``),
cancels and awaits every task and closes the server.
"""

from __future__ import annotations

from types import TracebackType

from aiohttp import web

from exotel_sim import api, inspect_api
from exotel_sim.config import SimConfig
from exotel_sim.engine import Sim


class SimServer:
    """The Exotel emulator. Use as an async context manager (or :meth:`start`/:meth:`stop`)."""

    def __init__(self, config: SimConfig | None = None, host: str = "127.0.0.1",
                 port: int = 0) -> None:
        self.config = config or SimConfig()
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None
        self._sim: Sim | None = None

    @property
    def sim(self) -> Sim:
        """The running emulator's state (for in-process tests and benchmarks)."""
        if self._sim is None:
            raise RuntimeError("SimServer is not running")
        return self._sim

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_base(self) -> str:
        return f"{self.base_url}/v2/accounts/{self.account_sid}"

    @property
    def account_sid(self) -> str:
        return self.config.account_sid

    @property
    def api_key(self) -> str:
        return self.config.api_key

    @property
    def api_token(self) -> str:
        return self.config.api_token

    def audio_url(self, name: str) -> str:
        """Where the emulator serves fixture ``name`` (for ``start_play``)."""
        return f"{self.base_url}/sim/audio/{name}.wav"

    async def start(self) -> None:
        sim = Sim(self.config)
        await sim.start()
        app = web.Application(middlewares=[api.api_middleware], client_max_size=256 * 1024)
        app[api.SIM_KEY] = sim
        app[api.BUCKET_KEY] = api.make_bucket(sim)
        api.add_routes(app)
        inspect_api.add_routes(app)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, backlog=1024)
        await site.start()
        self._runner = runner
        self._sim = sim
        if self.port == 0:
            server = site._server
            assert server is not None
            self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        sim.base_url = self.base_url

    async def stop(self) -> None:
        if self._sim is not None:
            await self._sim.close()
        if self._runner is not None:
            await self._runner.cleanup()
        self._runner = None
        self._sim = None

    async def __aenter__(self) -> SimServer:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
