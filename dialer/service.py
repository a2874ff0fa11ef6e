"""The dialer service: places calls, runs their flows, takes events and control requests.

Use it as an async context manager; it starts the event intake (gRPC or HTTP, from
``config.event_endpoint``), the Exotel client, the agent ticker, nailed-up agent keepers and the
CRM pusher, and runs every call in its own :class:`~dialer.runner.CallRunner` inside the
dialer's ``TaskGroup``::

    async with Dialer(config, store=RecordStore("calls.db")) as dialer:
        dialer.pool.add("a1", "+919800000001", {"sales"})
        handle = await dialer.place_call(CallRequest("+919812345678", bot="echo"))
        record = await handle.wait()

Interfaces for other parts:

* :meth:`Dialer.place_call` -> :class:`CallHandle` (``await handle.wait()`` -> ``CallRecord``);
* :attr:`Dialer.pool` -- the :class:`~dialer.agents.AgentPool`; :meth:`Dialer.add_agent` also
  starts a keeper for nailed-up agents;
* :meth:`Dialer.subscribe` -- progress callbacks: one typed, frozen event per kind
  (:mod:`dialer.progress`: :class:`~dialer.progress.Placed`, ``Ringing``, ``Answered``,
  ``BotConnected``, ``BotAudioOk``, ``Escalated``, ``Bridged``, ``Ended``, ``AgentFreed``,
  ``TransferForecast`` (``within_s``, ``likelihood``) ...; the table is in that module);
* :meth:`Dialer.submit` -- the :class:`voxgate_shared.control.ControlHook` the gateway calls (the
  dialer object *is* the hook); the HTTP form is :mod:`dialer.control_api`. A request acts only
  on the call it is bound to (its ``vx_call`` MAC verifies and its ``call_sid`` is the call's
  customer leg; :class:`~dialer.errors.ControlRefused` otherwise); ``greeting_wait`` returns
  once the call's greeting has stopped. :meth:`Dialer.hangup_call` is the operator's
  "end this call" by call id;
* :meth:`Dialer.stop_accepting` -- the first step of a graceful stop: ``place_call`` refuses
  (:class:`DialerStopping`) while the calls in flight go on; ``await dialer.drain()`` waits for
  them. Leaving the ``async with`` hangs up what is still live (``shutdown_grace``), then the
  nailed-up agents' legs (:mod:`dialer.nailed_watch`, which also hangs up, before a keeper's
  first dial, the legs an earlier run left up).

The dialer's call id travels as ``custom_param`` of the customer and agent legs and, with its
MAC (:mod:`dialer.call_binding`), as the ``vx_call`` query parameter of the stream URL
(arriving in ``start.custom_parameters``).
``CallRequest.stream_params`` (up to two fields, e.g. a lead's name and plan) ride on the same
URL, bounded by Exotel's limits (:mod:`dialer.stream_params`).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, NoReturn

from dialer import restart
from dialer.agents import Agent, AgentPool, AgentState, Unavailable
from dialer.call_binding import CallBinding
from dialer.call_handle import CallHandle
from dialer.call_request import CallRequest, Mode
from dialer.call_setup import (
    call_flow_settings,
    default_stream_url,
    flow_settings,
    keeper_settings,
    runner_settings,
    with_stream_params,
)
from dialer.clock import LoopClock
from dialer.config import DialerConfig, redact_url
from dialer.confirm import ConfirmStats
from dialer.crm import CrmPusher
from dialer.errors import ConfigError, ControlRefused, UnknownCall
from dialer.events import ExotelEvent
from dialer.exotel_client import ExotelClient
from dialer.flows import (
    AgentAvailable,
    BotFailed,
    CallFlow,
    HangupRequest,
    Transfer,
)
from dialer.flows.call import SHUTDOWN
from dialer.greeting_waits import GreetingWaits
from dialer.intake import EventIntake, HttpIntakeServer
from dialer.intake_server import make_intake_server
from dialer.leg_router import LegRouter
from dialer.nailed import NailedAgentKeeper
from dialer.nailed_keepers import NailedKeepers
from dialer.nailed_watch import NailedWatch
from dialer.ports import CallPorts, ExotelApi, KeeperPorts
from dialer.progress import (  # noqa: F401  (forecast_detail/parse_: older importers)
    ProgressEvent,
    TransferForecast,
    UnknownProgressKind,
    forecast_detail,
    from_notification,
    parse_forecast_detail,
)
from dialer.progress_bus import ProgressBus
from dialer.records import CallRecord, RecordStore
from dialer.runner import CallRunner
from dialer.stats import DialerStats
from dialer.store_calls import StoreCalls
from dialer.stream_params import StreamParams
from voxgate_shared.control import ControlRequest
from voxgate_shared.redact import register_secrets, secrets_in_settings

if TYPE_CHECKING:
    from dialer.intake_grpc import GrpcIntakeServer

log = logging.getLogger(__name__)

__all__ = ["CallHandle", "CallRequest", "Dialer", "DialerStats", "DialerStopping", "Mode",
           "ProgressEvent"]

StreamUrlBuilder = Callable[[str, str], str]  # (bot, vx_call) -> ws(s):// URL


class DialerStopping(RuntimeError):
    """:meth:`Dialer.place_call` after :meth:`Dialer.stop_accepting`: no new calls."""


class Dialer(ProgressBus):
    """The control plane service. See the module docstring."""

    def __init__(
        self,
        config: DialerConfig,
        *,
        pool: AgentPool | None = None,
        store: RecordStore | None = None,
        client: ExotelApi | None = None,
        stream_url_builder: StreamUrlBuilder | None = None,
        clock: Callable[[], float] = time.monotonic,
        binding: CallBinding | None = None,
        calls: StoreCalls | None = None,
    ) -> None:
        if config.uses_embedded_emulator:
            raise ConfigError(
                "Dialer needs config.api_base; the wiring starts the embedded emulator and "
                "fills it in (voxgate.wiring)"
            )
        super().__init__()  # progress listeners
        self.config = config
        register_secrets(*secrets_in_settings(config))  # masked in every log from now on
        self.pool = pool or AgentPool(config.wrap_up_seconds)
        self.store = store if store is not None else RecordStore(config.db_path or ":memory:")
        # store calls made on the loop run on worker threads (dialer.store_calls); the campaign
        # runners and the service API use this one too
        self.calls = calls or StoreCalls()
        self._saving: dict[str, asyncio.Future[Any]] = {}  # records being saved, by call id
        self.client: ExotelApi = client or ExotelClient(
            config.api_base, config.account_sid, config.api_key, config.api_token,
            timeout=config.request_timeout, max_retries=config.max_retries,
            backoff=config.retry_backoff,
        )
        self.clock = clock
        self.settings = flow_settings(config)
        self.stats = DialerStats()
        self.confirm_stats = ConfirmStats()  # forged-event checks of every call
        self.intake = EventIntake(self._route)
        self.intake_server: HttpIntakeServer | GrpcIntakeServer = make_intake_server(
            self.intake, config.event_plan
        )
        self.crm: CrmPusher | None = (
            CrmPusher(self.store, config.crm_url, config.crm_secret, calls=self.calls)
            if config.crm_url else None
        )
        self._stream_url_builder = stream_url_builder
        self._calls: dict[str, CallRunner] = {}
        self.nailed_watch = NailedWatch(self.pool, clock)
        self._stopping = False
        self._tg: asyncio.TaskGroup | None = None
        self._tasks: set[asyncio.Task[object]] = set()
        self._restart_task: asyncio.Task[object] | None = None
        self._ticker: asyncio.Task[object] | None = None  # wrap-ups (once an agent has one)
        self._started = False
        # whose legs and bridges events are for; events that beat their create's 202
        # (docs/exotel.md section 3), and creates that timed out
        self.legs = LegRouter(
            calls=self._calls, api=self.client, stats=self.stats, clock=clock,
            sequencer=self.intake.sequencer, nailed_watch=self.nailed_watch,
            hold_s=config.unknown_leg_hold, exophone=config.exophone,
            endpoint=lambda: self.intake_server.endpoint, spawn=self._spawn,
            running=lambda: self._tg is not None,
        )
        self.leg_hold = self.legs.leg_hold
        self.uncertain = self.legs.uncertain
        # control requests must prove their call (dialer.call_binding); VOXGATE_CALL_SECRET or
        # a per-process secret
        self.binding = binding or CallBinding.from_env(os.environ)
        self.greeting_waits = GreetingWaits()
        self.subscribe(self.greeting_waits)
        self.timers = LoopClock()  # the calls' timers: the running loop's clock
        self._call_ports = CallPorts(
            api=self.client, desk=self, progress=self, legs=self.legs, book=self,
            clock=self.timers,
            stats=self.stats, confirm_stats=self.confirm_stats,
            settings=runner_settings(config),
            reopen_leg=self.intake.sequencer.reopen,
        )
        self.nailed = NailedKeepers(
            KeeperPorts(api=self.client, desk=self, legs=self.legs, clock=self.timers,
                        stats=self.stats, settings=keeper_settings(config)),
            self.client, self.nailed_watch, self._spawn,
        )

    # -- lifecycle ------------------------------------------------------------------------

    async def __aenter__(self) -> Dialer:
        await self.intake_server.start()
        tg = asyncio.TaskGroup()
        await tg.__aenter__()
        self._tg = tg
        self._started = True
        self._ticker = None
        self._ensure_ticker()
        if self.crm is not None:
            self._spawn(self.crm.run(), "crm-pusher")
        self.nailed.start_all()
        # live calls a killed run of this database left: settled from Exotel (dialer.restart)
        # (read now, before this run places a call of its own)
        left = await self.calls.run(self.store.live_calls)
        self._restart_task = self._spawn(self._reconcile_restart(left), "restart-reconcile")
        log.info("dialer up: events at %s, Exotel at %s", redact_url(self.event_endpoint),
                 redact_url(self.client.base))
        return self

    async def __aexit__(self, *exc: object) -> None:
        """Hang up live calls (waiting up to ``shutdown_grace`` s for their records) and the
        nailed-up agents' legs, then cancel what is left and close the intake and the client.
        What was still live is logged."""
        self._stopping = True
        if self._calls:
            log.warning("dialer stopping: hanging up %s", self.live_summary())
        if self._calls and self.config.shutdown_grace > 0:
            for runner in list(self._calls.values()):
                runner.deliver(HangupRequest(SHUTDOWN))
            try:
                async with asyncio.timeout(self.config.shutdown_grace):
                    await self.drain()
            except TimeoutError:
                self._record_lost()
        await self.nailed.hang_up_all()
        self.legs.close()
        tg, self._tg = self._tg, None
        self._started = False
        if tg is not None:
            for task in list(self._tasks):
                task.cancel()
            await tg.__aexit__(None, None, None)
        await self.intake_server.stop()
        await self.client.close()
        await self.calls.close()  # the records and live states queued are written first

    async def _reconcile_restart(self, left: list[dict[str, Any]]) -> None:
        try:
            await restart.reconcile(self.store, self.client, states=left, calls=self.calls)
        except Exception:  # the dialer goes on taking calls; the rows wait for the next start
            log.exception("settling the live calls of an earlier run failed")

    async def restart_reconciled(self) -> None:
        """Wait until the live calls an earlier run left are settled (their records stored,
        asked again until Exotel answers): what a campaign runner awaits
        before it settles the attempts that run left ``dialing`` from the records."""
        if self._restart_task is not None:
            await asyncio.shield(self._restart_task)

    def _spawn(self, coro: object, name: str) -> asyncio.Task[object]:
        if self._tg is None:
            raise RuntimeError("the dialer is not running (use `async with Dialer(...)`)")
        task: asyncio.Task[object] = self._tg.create_task(coro, name=name)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def drain(self) -> None:
        """Wait until every placed call has finished (bound it with ``asyncio.timeout``)."""
        while self._calls:
            await asyncio.gather(*(r.done.wait() for r in list(self._calls.values())))
        await self.calls.flush()  # their records are stored

    def _record_lost(self) -> None:
        """Calls still live after the shutdown grace (no end came from Exotel, whose events or
        API failed them): each is recorded as ``lost`` with the reason, none left unrecorded."""
        log.warning("dialer stopped with %s still live: recorded as lost", self.live_summary())
        reason = (f"lost: no end from Exotel within the shutdown grace "
                  f"({self.config.shutdown_grace:g} s)")
        for runner in list(self._calls.values()):
            runner.give_up(reason)

    def stop_accepting(self) -> None:
        """No new calls from now on (:meth:`place_call` raises :class:`DialerStopping`); calls
        in flight go on, agents too."""
        self._stopping = True

    @property
    def stopping(self) -> bool:
        return self._stopping

    def live_summary(self) -> str:
        """``"3 live calls (bridged 2, bot 1)"``: the calls in flight by state, for logs."""
        states: dict[str, int] = {}
        for runner in self._calls.values():
            name = runner.flow.state.value
            states[name] = states.get(name, 0) + 1
        detail = ", ".join(f"{k} {v}" for k, v in sorted(states.items(), key=lambda kv: -kv[1]))
        n = len(self._calls)
        return f"{n} live call{'s' if n != 1 else ''}" + (f" ({detail})" if detail else "")

    # -- properties -----------------------------------------------------------------------

    @property
    def event_endpoint(self) -> str:
        """The URL given to Exotel as ``leg_event_endpoint``/``bridge_event_endpoint``."""
        return self.intake_server.endpoint

    @property
    def exophone(self) -> str:
        return self.config.exophone

    @property
    def active_calls(self) -> int:
        return len(self._calls)

    @property
    def can_stream(self) -> bool:
        """True when bot-first calls can get a stream URL (a builder or ``stream_url``)."""
        return self._stream_url_builder is not None or bool(self.config.stream_url)

    def runner(self, call_id: str) -> CallRunner | None:
        return self._calls.get(call_id)

    # -- agents ---------------------------------------------------------------------------

    def add_agent(
        self, agent_id: str, number: str, skills: tuple[str, ...] | list[str] = (), *,
        nailed: bool = False, wrap_up_s: float | None = None, caller_id: str = "",
    ) -> Agent:
        """Add an agent; a nailed-up agent gets a keeper that dials and holds its leg (from
        ``caller_id``, default the config's ExoPhone). ``wrap_up_s``: the agent's own wrap-up
        (a campaign's agents take the campaign's; None: ``wrap_up_seconds``)."""
        agent = self.pool.add(agent_id, number, skills, nailed=nailed, now=self.clock(),
                              wrap_up_s=wrap_up_s)
        if nailed:
            self.nailed.add(agent_id, number, caller_id, running=self._tg is not None)
        self._ensure_ticker()
        return agent

    def _ensure_ticker(self) -> None:
        """Run the wrap-up ticker once an agent has a wrap-up (and the dialer runs)."""
        if self._tg is not None and self._ticker is None and self.pool.has_wrap_up:
            self._ticker = self._spawn(self._tick_agents(), "agent-ticker")

    @property
    def keepers(self) -> Mapping[str, NailedAgentKeeper]:
        """The nailed-up agents' keepers, by agent id."""
        return self.nailed.keepers

    def release_agent(self, agent_id: str, *, wrap_up: bool) -> None:
        """Called by runners (``ReleaseAgent``): back to the pool, wake waiting calls."""
        idle = self.pool.release(agent_id, wrap_up=wrap_up, now=self.clock())
        keeper = self.nailed.get(agent_id)
        if keeper is not None:
            keeper.resume()
        if idle:
            self.agent_freed(agent_id)

    def agent_freed(self, agent_id: str) -> None:
        """An agent became idle: tell progress listeners and the calls waiting for one."""
        self.notify("", "agent_freed", agent_id)
        for runner in list(self._calls.values()):
            if runner.flow.waiting_for_agent:
                runner.deliver(AgentAvailable())

    # the agent desk (dialer.web.desk): pause, ready, the wrap-up held until ready

    def attach_desk(self, agent_id: str, max_wrap_s: float) -> None:
        """The agent works from its desk: wrap-up until its ready click, at most
        ``max_wrap_s`` (the ticker ends it)."""
        self.pool.attach_desk(agent_id, max_wrap_s)
        self._ensure_ticker()

    def pause_agent(self, agent_id: str, reason: str) -> AgentState:
        """The desk's pause: out of the pool (and of the pacer's agents); the state before."""
        return self.pool.pause(agent_id, reason, self.clock())

    def agent_ready(self, agent_id: str) -> bool:
        """The desk's ready click: the agent is free now (waiting calls are told)."""
        freed = self.pool.ready(agent_id, self.clock())
        if freed:
            self.agent_freed(agent_id)
        return freed

    async def _tick_agents(self) -> None:
        while True:
            await asyncio.sleep(0.2)
            for agent in self.pool.tick(self.clock()):
                self.agent_freed(agent.agent_id)

    # the agent desk (dialer.ports.AgentDesk) of runners and keepers

    def reserve(self, skills: Iterable[str], exclude: Iterable[str], call_id: str
                ) -> Agent | None:
        return self.pool.acquire(skills, exclude, call_id=call_id, now=self.clock())

    def unavailable_reason(self, skills: Iterable[str], exclude: Iterable[str]) -> Unavailable:
        return self.pool.unavailable_reason(skills, exclude)

    def agent_answered(self, agent_id: str) -> None:
        self.pool.mark_talking(agent_id, self.clock())

    async def stop_nailed_hold(self, leg_sid: str) -> bool:
        keeper = self.legs.keeper_for_leg(leg_sid)
        if keeper is None:
            return False
        await keeper.stop_hold()
        return True

    def agent_call(self, agent_id: str) -> str:
        return self.pool.get(agent_id).call_id

    def set_nailed_leg(self, agent_id: str, leg_sid: str) -> None:
        if self.pool.set_nailed_leg(agent_id, leg_sid, self.clock()):
            self.agent_freed(agent_id)

    # -- calls ----------------------------------------------------------------------------

    async def place_call(self, request: CallRequest) -> CallHandle:
        """Start a call now; returns at once with its handle."""
        if self._tg is None:
            raise RuntimeError("the dialer is not running (use `async with Dialer(...)`)")
        if self._stopping:
            raise DialerStopping("the dialer is stopping: no new calls")
        if request.call_id in self._calls:
            raise ValueError(f"call id {request.call_id!r} is already live")
        flow = CallFlow(request.call_id, request.number, request.mode,
                        call_flow_settings(self.settings, self.config, request),
                        request.skills, amd=request.amd)
        runner = CallRunner(self._call_ports, request, flow)
        self._calls[request.call_id] = runner
        self.stats.placed += 1
        self._spawn(runner.run(), f"call-{request.call_id}")
        self.notify(request.call_id, "placed", request.number)
        return CallHandle(runner, saved=self.record_saved)

    def stream_params_for(self, request: CallRequest, attempt: int) -> StreamParams:
        """The stream URL for a call (``vx_call``: its id and MAC) and what it carries
        (:func:`~dialer.call_setup.with_stream_params`)."""
        vx_call = self.binding.sign(request.call_id)
        if self._stream_url_builder is not None:
            base = self._stream_url_builder(request.bot, vx_call)
        elif not self.config.stream_url:
            raise ConfigError("no stream_url configured (VOXGATE_STREAM_URL)")
        else:
            base = default_stream_url(self.config.stream_url, request.bot, vx_call)
        return with_stream_params(base, request, self.stats)

    def finish_call(self, runner: CallRunner, record: CallRecord) -> None:
        """Called once by a runner at its end: store (queued on the store's worker; the
        handle's ``wait`` returns once it is stored), queue the CRM push, unregister."""
        self._save_record(record)
        self.stats.finished += 1
        self.stats.dispositions[record.disposition] = (
            self.stats.dispositions.get(record.disposition, 0) + 1
        )
        for leg in (record.customer_leg_sid, record.agent_leg_sid):
            if leg and self.legs.owner(leg) is runner:
                self.legs.unregister_leg(leg)
        if record.bridge_sid:
            self.legs.forget_bridge(record.bridge_sid)
        self._calls.pop(record.call_id, None)

    def _save_record(self, record: CallRecord) -> None:
        call_id = record.call_id
        saving = self.calls.submit(self.store.save, record, push_to_crm=self.crm is not None,
                                   lane=call_id)
        if saving is None:  # inline: stored already
            self._record_stored()
            return
        done = asyncio.wrap_future(saving)
        self._saving[call_id] = done

        def stored(f: asyncio.Future[Any]) -> None:
            if not f.cancelled():
                f.exception()  # a failure is logged and counted by self.calls
            if self._saving.get(call_id) is f:
                del self._saving[call_id]
            self._record_stored()

        done.add_done_callback(stored)

    def _record_stored(self) -> None:
        if self.crm is not None:
            self.crm.wake()

    async def record_saved(self, call_id: str) -> None:
        """Wait until the record of a finished call is stored (or its save failed: logged and
        counted in ``calls.failed``)."""
        saving = self._saving.get(call_id)
        if saving is not None:
            await asyncio.wait([saving])

    def save_live(self, call_id: str, state: Mapping[str, Any]) -> None:
        """A runner's live state at one step (:mod:`dialer.live_state`): queued for the
        records store (in order with the call's other writes)."""
        self.calls.submit(self.store.save_live, call_id, state, lane=call_id)

    def _route(self, ev: ExotelEvent) -> None:
        """The intake's sink: :meth:`dialer.leg_router.LegRouter.route`."""
        self.legs.route(ev)

    # -- progress -------------------------------------------------------------------------

    # -- control hook ---------------------------------------------------------------------

    def find_call(self, call_id: str) -> CallRunner:
        """The live call with our id; raises :class:`UnknownCall`."""
        runner = self._calls.get(call_id)
        if runner is None:
            raise UnknownCall(call_id)
        return runner

    def bound_call(self, request: ControlRequest) -> CallRunner:
        """The live call a stream's control request is bound to: its ``vx_call`` carries this
        dialer's MAC for the call id, and its ``call_sid`` is that call's customer leg.

        Raises :class:`ControlRefused` (counted in ``stats.control_refused``, logged without
        the claimed call id in clear) or :class:`UnknownCall` (a bound call that has ended)."""
        vx_call = request.custom_parameters.get("vx_call", "")
        call_id = self.binding.verify(vx_call) if vx_call else None
        if call_id is None:
            self._refuse_control(request, "bad_mac" if vx_call else "unbound", vx_call)
        runner = self.find_call(call_id)
        if not runner.flow.customer_leg or request.call_sid != runner.flow.customer_leg:
            self._refuse_control(request, "leg_mismatch", vx_call)
        return runner

    def _refuse_control(self, request: ControlRequest, reason: str, vx_call: str) -> NoReturn:
        self.stats.refused(reason)
        claimed = hashlib.sha256(vx_call.encode("utf-8", "surrogateescape")).hexdigest()[:12]
        log.warning("control request %s refused (%s): stream %s, leg %s, claimed call #%s",
                    request.kind, reason, request.stream_sid or "-", request.call_sid, claimed)
        raise ControlRefused(reason)

    def hangup_call(self, call_id: str, reason: str = "operator") -> None:
        """End a live call by our id (an operator's request, e.g. ``POST
        /v1/calls/{id}/hangup``); raises :class:`UnknownCall`."""
        self.find_call(call_id).deliver(HangupRequest(reason))

    async def submit(self, request: ControlRequest) -> None:
        """:class:`voxgate_shared.control.ControlHook`: a transfer, hang-up, transfer forecast, bot
        failure or greeting wait from the stream of a live call (a forecast only becomes a
        ``transfer_forecast`` progress event, which the campaign runner hands its pacer;
        ``bot_failed`` gets the call the stream fallback, as a failed stream does;
        ``greeting_wait`` returns once the greeting has stopped, at most
        :data:`dialer.greeting_waits.WAIT_LIMIT` s).

        Raises :class:`ControlRefused` when the request is not bound to its call
        (:meth:`bound_call`; the HTTP API answers 403) and :class:`UnknownCall` when the call
        is no longer live (404)."""
        self.stats.control_requests += 1
        try:
            runner = self.bound_call(request)
        except UnknownCall:
            self.stats.control_unknown += 1
            raise
        if request.kind == "greeting_wait":
            await self.greeting_waits.wait(runner.call_id)
        elif request.kind == "transfer":
            runner.deliver(Transfer(request.reason, tuple(request.skills)))
        elif request.kind == "bot_failed":
            self.stats.bot_failures += 1
            log.warning("call %s: the gateway reports the bot failed (%s)", runner.call_id,
                        request.reason)
            runner.deliver(BotFailed(request.reason))
        elif request.kind == "transfer_forecast":
            # pacing information only: the call's flow does not change
            self.stats.transfer_forecasts += 1
            self.publish(TransferForecast(runner.call_id, time.monotonic(),
                                          request.within_s, request.likelihood))
        elif request.kind == "hangup":
            runner.deliver(HangupRequest(request.reason))
        else:  # a kind ControlRequest knows and this dialer does not: refuse, do not guess
            raise ValueError(f"control request kind {request.kind!r} is not handled")
