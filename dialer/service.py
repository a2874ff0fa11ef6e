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
import contextlib
import hashlib
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import NoReturn
from urllib.parse import urlencode, urlsplit

from dialer.agents import Agent, AgentPool, Unavailable
from dialer.call_binding import CallBinding
from dialer.call_request import CallRequest, Mode
from dialer.clock import LoopClock
from dialer.config import DialerConfig, redact_url
from dialer.confirm import ConfirmStats
from dialer.crm import CrmPusher
from dialer.errors import ConfigError, ControlRefused, UnknownCall
from dialer.events import BridgeLifecycle, ExotelEvent, LegAction, LegLifecycle
from dialer.exotel_client import ExotelClient
from dialer.flows import (
    AgentAvailable,
    BotFailed,
    CallFlow,
    FlowSettings,
    HangupRequest,
    Transfer,
)
from dialer.flows.call import SHUTDOWN
from dialer.greeting_waits import GreetingWaits
from dialer.intake import EventIntake, GrpcIntakeServer, HttpIntakeServer, make_intake_server
from dialer.leg_hold import HeldLeg, UnknownLegHold
from dialer.nailed import NailedAgentKeeper
from dialer.nailed_watch import END_WAIT, NailedWatch, hang_up_leftover_legs, hang_up_legs
from dialer.ports import (
    CallPorts,
    ExotelApi,
    KeeperPorts,
    KeeperSettings,
    RunnerSettings,
)
from dialer.progress import (  # noqa: F401  (forecast_detail/parse_: older importers)
    ProgressEvent,
    TransferForecast,
    UnknownProgressKind,
    forecast_detail,
    from_notification,
    parse_forecast_detail,
)
from dialer.records import CallRecord, RecordStore
from dialer.runner import CallRunner
from dialer.stats import DialerStats
from dialer.stream_params import MAX_CHARS, StreamParams, add_stream_params
from dialer.uncertain import Adopt, HangUp, UncertainCreates, same_number
from voxgate_shared.control import ControlRequest
from voxgate_shared.redact import register_secrets, secrets_in_settings

log = logging.getLogger(__name__)

__all__ = ["CallHandle", "CallRequest", "Dialer", "DialerStats", "DialerStopping", "Mode",
           "ProgressEvent"]

STRAYS_KEPT = 4096  # leg sids given up on, remembered so their later events are not re-logged
StreamUrlBuilder = Callable[[str, str], str]  # (bot, vx_call) -> ws(s):// URL


class CallHandle:
    """A placed call. ``await handle.wait()`` returns its :class:`CallRecord`."""

    def __init__(self, runner: CallRunner) -> None:
        self._runner = runner
        self.call_id = runner.call_id
        self.request = runner.request

    @property
    def state(self) -> str:
        return self._runner.flow.state.value

    @property
    def done(self) -> bool:
        return self._runner.done.is_set()

    @property
    def customer_leg_sid(self) -> str:
        return self._runner.flow.customer_leg

    async def wait(self) -> CallRecord:
        """Wait for the call to end (bound it with ``asyncio.timeout`` if needed)."""
        await self._runner.done.wait()
        assert self._runner.record is not None
        return self._runner.record

    async def transfer(self, reason: str = "requested", skills: tuple[str, ...] = ()) -> None:
        """Ask for a live agent (same as a control request)."""
        self._runner.deliver(Transfer(reason, skills))

    async def hangup(self, reason: str = "requested") -> None:
        self._runner.deliver(HangupRequest(reason))


class DialerStopping(RuntimeError):
    """:meth:`Dialer.place_call` after :meth:`Dialer.stop_accepting`: no new calls."""


ProgressListener = Callable[[ProgressEvent], None]


def flow_settings(config: DialerConfig) -> FlowSettings:
    """The call-flow subset of the dialer configuration."""
    return FlowSettings(
        greeting_text=config.greeting_text,
        greeting_url=config.greeting_url,
        hold_url=config.hold_url,
        hold_text=config.hold_text,
        fallback_text=config.fallback_text,
        goodbye_text=config.goodbye_text,
        stream_start_timeout=config.stream_start_timeout,
        agent_ring_timeout=config.agent_ring_timeout,
        max_agent_attempts=config.max_agent_attempts,
        escalation_fallback="callback" if config.escalation_fallback == "callback" else "bot",
        stream_fallback="hangup" if config.stream_fallback == "hangup" else "agent",
        abandon_after=config.abandon_after,
        amd_timeout=config.amd_timeout,
        message_timeout=config.message_timeout,
        recording_wait=config.recording_wait,
        record_bridges=config.record_bridges,
        hold_loops=config.hold_loops,
        escalation_queue_timeout=config.escalation_queue_timeout,
        max_bot_reentries=config.max_bot_reentries,
    )


def default_stream_url(base: str, bot: str, vx_call: str) -> str:
    """The stream URL for ``bot`` under the gateway's public ``base``, with ``vx_call`` (the
    call id and its MAC).

    A bare base (``wss://gw.example.com``) gets the gateway's ``/stream/{bot}`` path; a base
    with a path is used as it is."""
    parts = urlsplit(base)
    url = base.rstrip("/")
    if parts.path in ("", "/"):
        url += f"/stream/{bot or 'echo'}"
    sep = "&" if parts.query else "?"
    return f"{url}{sep}{urlencode({'vx_call': vx_call})}"


class Dialer:
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
    ) -> None:
        if config.uses_embedded_emulator:
            raise ConfigError(
                "Dialer needs config.api_base; the wiring starts the embedded emulator and "
                "fills it in (voxgate.wiring)"
            )
        self.config = config
        register_secrets(*secrets_in_settings(config))  # masked in every log from now on
        self.pool = pool or AgentPool(config.wrap_up_seconds)
        self.store = store if store is not None else RecordStore(config.db_path or ":memory:")
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
            CrmPusher(self.store, config.crm_url, config.crm_secret) if config.crm_url else None
        )
        self._stream_url_builder = stream_url_builder
        self._calls: dict[str, CallRunner] = {}
        self._legs: dict[str, CallRunner | NailedAgentKeeper] = {}
        self._bridges: dict[str, CallRunner] = {}
        self._keepers: dict[str, NailedAgentKeeper] = {}
        self._keeper_tasks: dict[str, asyncio.Task[object]] = {}
        self.nailed_watch = NailedWatch(self.pool, clock)
        self._stopping = False
        self._listeners: list[ProgressListener] = []
        self._tg: asyncio.TaskGroup | None = None
        self._tasks: set[asyncio.Task[object]] = set()
        self._started = False
        # events that beat their create's 202 (docs/exotel.md section 3), and creates that timed out
        self.leg_hold = UnknownLegHold(config.unknown_leg_hold)
        self.uncertain = UncertainCreates()
        self._creating: dict[str, int] = {}  # number -> creates in flight
        self._hold_timer: asyncio.TimerHandle | None = None
        self._strays: dict[str, str] = {}  # unclaimed or hung-up leg sid -> why (bounded)
        # control requests must prove their call (dialer.call_binding); VOXGATE_CALL_SECRET or
        # a per-process secret
        self.binding = binding or CallBinding.from_env(os.environ)
        self.greeting_waits = GreetingWaits()
        self.subscribe(self.greeting_waits)
        self.timers = LoopClock()  # the calls' timers: the running loop's clock
        self._call_ports = CallPorts(
            api=self.client, desk=self, progress=self, legs=self, book=self, clock=self.timers,
            stats=self.stats, confirm_stats=self.confirm_stats,
            settings=RunnerSettings(
                content_type=config.content_type,
                customer_ring_timeout=config.customer_ring_timeout,
                # the agent leg rings a little longer than the flow waits for it: the flow's
                # timer decides, Exotel's ring_timeout is the backstop
                agent_ring_timeout=int(config.agent_ring_timeout) + 5,
                time_limit=config.time_limit,
                reconcile_timeout=config.reconcile_timeout,
                event_confirm_timeout=config.event_confirm_timeout,
            ),
            reopen_leg=self.intake.sequencer.reopen,
        )
        self._keeper_ports = KeeperPorts(
            api=self.client, desk=self, legs=self, clock=self.timers, stats=self.stats,
            settings=KeeperSettings(config.agent_hold_url, config.agent_hold_text,
                                    config.nailed_time_limit),
        )

    # -- lifecycle ------------------------------------------------------------------------

    async def __aenter__(self) -> Dialer:
        await self.intake_server.start()
        tg = asyncio.TaskGroup()
        await tg.__aenter__()
        self._tg = tg
        self._started = True
        if self.pool.wrap_up_seconds > 0:
            self._spawn(self._tick_agents(), "agent-ticker")
        if self.crm is not None:
            self._spawn(self.crm.run(), "crm-pusher")
        for keeper in self._keepers.values():
            self._start_keeper(keeper)
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
                log.warning("dialer stopped with %s still live (no record stored)",
                            self.live_summary())
        await self._hang_up_nailed()
        if self._hold_timer is not None:
            self._hold_timer.cancel()
        tg, self._tg = self._tg, None
        self._started = False
        if tg is not None:
            for task in list(self._tasks):
                task.cancel()
            await tg.__aexit__(None, None, None)
        await self.intake_server.stop()
        await self.client.close()

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

    def _start_keeper(self, keeper: NailedAgentKeeper) -> None:
        self._keeper_tasks[keeper.agent_id] = self._spawn(
            self._keep(keeper), f"nailed-{keeper.agent_id}"
        )

    async def _keep(self, keeper: NailedAgentKeeper) -> None:
        """A keeper's task: first hang up the agent's legs an earlier run left up (else the
        agent's phone answers ``busy`` for hours), then keep the leg up."""
        try:
            await hang_up_leftover_legs(self.client, keeper.agent_id, keeper.custom_param)
        except Exception:  # never keep the agent offline for the sake of the clean-up
            log.exception("nailed agent %s: looking for leftover legs failed", keeper.agent_id)
        await keeper.run()

    async def _hang_up_nailed(self) -> None:
        """Exit path: stop the keepers (no re-dials), then hang up their legs."""
        tasks = [t for t in self._keeper_tasks.values() if not t.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
        self._keeper_tasks.clear()
        legs = {k.agent_id: k.leg_sid for k in self._keepers.values() if k.leg_sid}
        # their last events are acknowledged before the intake closes (no retries to a
        # dead endpoint)
        settled = self.nailed_watch.await_end(legs.values())
        hung_up = await hang_up_legs(self.client, legs)
        self.nailed_watch.stop_awaiting(set(legs.values()) - set(hung_up))
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(END_WAIT):
                await settled.wait()

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
        nailed: bool = False,
    ) -> Agent:
        """Add an agent; a nailed-up agent gets a keeper that dials and holds its leg."""
        agent = self.pool.add(agent_id, number, skills, nailed=nailed, now=self.clock())
        if nailed:
            keeper = NailedAgentKeeper(self._keeper_ports, agent_id, number)
            self._keepers[agent_id] = keeper
            if self._tg is not None:
                self._start_keeper(keeper)
        return agent

    @property
    def keepers(self) -> Mapping[str, NailedAgentKeeper]:
        """The nailed-up agents' keepers, by agent id."""
        return MappingProxyType(self._keepers)

    def release_agent(self, agent_id: str, *, wrap_up: bool) -> None:
        """Called by runners (``ReleaseAgent``): back to the pool, wake waiting calls."""
        idle = self.pool.release(agent_id, wrap_up=wrap_up, now=self.clock())
        keeper = self._keepers.get(agent_id)
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

    async def _tick_agents(self) -> None:
        while True:
            await asyncio.sleep(0.2)
            for agent in self.pool.tick(self.clock()):
                self.agent_freed(agent.agent_id)

    def keeper_for_leg(self, leg_sid: str) -> NailedAgentKeeper | None:
        target = self._legs.get(leg_sid)
        return target if isinstance(target, NailedAgentKeeper) else None

    # the agent desk (dialer.ports.AgentDesk) of runners and keepers

    def reserve(self, skills: Iterable[str], exclude: Iterable[str], call_id: str
                ) -> Agent | None:
        return self.pool.acquire(skills, exclude, call_id=call_id, now=self.clock())

    def unavailable_reason(self, skills: Iterable[str], exclude: Iterable[str]) -> Unavailable:
        return self.pool.unavailable_reason(skills, exclude)

    def agent_answered(self, agent_id: str) -> None:
        self.pool.mark_talking(agent_id, self.clock())

    async def stop_nailed_hold(self, leg_sid: str) -> bool:
        keeper = self.keeper_for_leg(leg_sid)
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
        flow = CallFlow(request.call_id, request.number, request.mode, self.settings,
                        request.skills, amd=request.amd)
        runner = CallRunner(self._call_ports, request, flow)
        self._calls[request.call_id] = runner
        self.stats.placed += 1
        self._spawn(runner.run(), f"call-{request.call_id}")
        self.notify(request.call_id, "placed", request.number)
        return CallHandle(runner)

    def stream_url_for(self, request: CallRequest, attempt: int) -> str:
        """The stream URL for a call (``vx_call``: its id and MAC, and the request's
        ``stream_params``)."""
        return self.stream_params_for(request, attempt).url

    def stream_params_for(self, request: CallRequest, attempt: int) -> StreamParams:
        """The stream URL and what it carries. Fields that had to be shortened (or, when the
        URL has no room at all, left out) are logged, counted and named in ``truncated``."""
        vx_call = self.binding.sign(request.call_id)
        if self._stream_url_builder is not None:
            base = self._stream_url_builder(request.bot, vx_call)
        elif not self.config.stream_url:
            raise ConfigError("no stream_url configured (VOXGATE_STREAM_URL)")
        else:
            base = default_stream_url(self.config.stream_url, request.bot, vx_call)
        try:
            params = add_stream_params(base, request.stream_params)
        except ValueError as exc:
            log.error("call %s: stream parameters left out: %s", request.call_id, exc)
            params = StreamParams(base, (), tuple(request.stream_params))
        if params.truncated:
            self.stats.stream_params_truncated += 1
            log.warning("call %s: stream parameters %s shortened to fit Exotel's %d characters",
                        request.call_id, ", ".join(params.truncated), MAX_CHARS)
        return params

    def finish_call(self, runner: CallRunner, record: CallRecord) -> None:
        """Called once by a runner at its end: store, queue the CRM push, unregister."""
        try:
            self.store.save(record, push_to_crm=self.crm is not None)
        except Exception:
            log.exception("call %s: storing the record failed", record.call_id)
        if self.crm is not None:
            self.crm.wake()
        self.stats.finished += 1
        self.stats.dispositions[record.disposition] = (
            self.stats.dispositions.get(record.disposition, 0) + 1
        )
        for leg in (record.customer_leg_sid, record.agent_leg_sid):
            if leg and self._legs.get(leg) is runner:
                del self._legs[leg]
                self.intake.sequencer.forget(leg)
        if record.bridge_sid:
            self._bridges.pop(record.bridge_sid, None)
        self._calls.pop(record.call_id, None)

    def register_leg(self, leg_sid: str, owner: CallRunner | NailedAgentKeeper) -> None:
        """``leg_sid`` belongs to ``owner`` from now on; the events that came for it before
        (held as an unknown leg's) are routed to it at once, in order."""
        self._legs[leg_sid] = owner
        for ev in self.leg_hold.release(leg_sid):
            self._route(ev)

    def unregister_leg(self, leg_sid: str) -> None:
        self._legs.pop(leg_sid, None)
        self.intake.sequencer.forget(leg_sid)

    def register_bridge(self, bridge_sid: str, runner: CallRunner) -> None:
        self._bridges[bridge_sid] = runner

    def leg_adopted(self, call_id: str) -> None:
        """``GET /legs`` named the leg of ``call_id``'s timed-out create."""
        self.uncertain.adopted(call_id)

    def deliver_to_call(self, call_id: str, event: ExotelEvent) -> None:
        runner = self._calls.get(call_id)
        if runner is not None:
            runner.deliver_event(event)

    # -- events ---------------------------------------------------------------------------

    def _route(self, ev: ExotelEvent) -> None:
        """Intake sink: hand the event to the call (or keeper) it belongs to. An event for a
        leg no call knows is held (:meth:`_unknown_leg_event`), never matched by
        ``custom_param`` (Exotel does not document it in event data)."""
        if isinstance(ev, BridgeLifecycle):
            runner = self._bridges.get(ev.bridge_sid)
            if runner is None:
                for leg in ev.leg_sids:
                    owner = self._legs.get(leg)
                    if isinstance(owner, CallRunner):
                        runner = owner
                        break
            if runner is not None:
                runner.deliver_event(ev)
                return
            self.stats.unknown_events += 1
            log.info("event %s (%s) for an unknown bridge; ignored", ev.event_sid, ev.name)
            return
        target = self._legs.get(ev.leg_sid)
        if isinstance(target, NailedAgentKeeper) and isinstance(ev, LegLifecycle):
            # counted and logged; a drop takes the agent offline before its call hears of it
            self.nailed_watch.leg_event(target.agent_id, ev)
        if target is not None:
            target.deliver_event(ev)
            return
        self._unknown_leg_event(ev)

    # -- events for unknown legs (docs/exotel.md section 3) ------------------------------------

    @contextlib.contextmanager
    def creating(self, number: str) -> Iterator[None]:
        """Mark a ``POST /legs`` to ``number`` in flight: an unknown leg to that number is held
        (its create may still name it) rather than given up or matched."""
        self._creating[number] = self._creating.get(number, 0) + 1
        try:
            yield
        finally:
            left = self._creating[number] - 1
            if left:
                self._creating[number] = left
            else:
                del self._creating[number]

    def _busy_number(self, number: str) -> bool:
        """A create to ``number`` is in flight (or timed out and waits for its leg)."""
        return any(same_number(n, number) for n in self._creating) or self.uncertain.waiting(
            number
        )

    def _unknown_leg_event(self, ev: LegLifecycle | LegAction) -> None:
        if ev.leg_sid in self._strays:  # given up already: counted, acknowledged, logged once
            self.stats.unknown_events += 1
            return
        pushed = self.leg_hold.hold(ev, self.clock())
        if pushed is not None:
            self._unclaimed(pushed, "the hold was full")
        held = self.leg_hold.get(ev.leg_sid)
        if held is not None and not any(
            same_number(n, held.contact_uri) for n in self._creating
        ):
            self._decide(held)
        self._arm_hold_timer()

    def await_leg(self, runner: CallRunner, number: str) -> None:
        """``runner``'s create to ``number`` timed out: it waits for the leg to surface. A leg
        held already is matched at once (unless another create to that number is in flight:
        the leg may be that one's)."""
        self.uncertain.wait(runner.call_id, number, self.exophone, self.clock())
        self.settle_number(number)

    def settle_number(self, number: str) -> None:
        """No create to ``number`` is in flight any more (each one returned its leg, failed or
        timed out): decide the legs to that number still held, by :mod:`dialer.uncertain`."""
        if any(same_number(n, number) for n in self._creating):
            return
        for held in self.leg_hold.legs():
            if same_number(held.contact_uri, number):
                self._decide(held)

    def stop_awaiting_leg(self, runner: CallRunner) -> None:
        """``runner`` gave up waiting for its leg: if it surfaces later, it is hung up."""
        self.uncertain.give_up(runner.call_id, self.clock())

    def _decide(self, held: HeldLeg) -> bool:
        """Apply the rule of :mod:`dialer.uncertain` to an unknown leg (held, or just taken out
        of the hold); True when it was adopted or hung up."""
        hint = held.events[0].data.get("custom_param") if held.events else None
        decision = self.uncertain.match(
            held.contact_uri, held.exophone, self.clock(), hint if isinstance(hint, str) else ""
        )
        if decision is None:
            return False
        events = (self.leg_hold.release(held.leg_sid) if held.leg_sid in self.leg_hold
                  else held.events)
        if isinstance(decision, Adopt):
            runner = self._calls.get(decision.call_id)
            if runner is not None and runner.adopt(held.leg_sid):
                for ev in events:
                    self._route(ev)
                return True
            decision = HangUp((decision.call_id,))
        self.stats.unknown_events += len(events)
        self._strays[held.leg_sid] = "hung_up"
        self._trim_strays()
        for call_id in decision.call_ids:
            runner = self._calls.get(call_id)
            if runner is not None:
                runner.leg_hung_up()
        log.warning("leg %s to %s surfaced after its create timed out (call %s) %s; hanging "
                    "it up", held.leg_sid, held.contact_uri, ", ".join(decision.call_ids),
                    "and more than one call waits for such a leg" if decision.ambiguous
                    else "and its call had given up")
        self.stats.stray_legs_hung_up += 1
        if self._tg is not None:
            self._spawn(self._hang_up_stray(held.leg_sid), f"hangup-stray-{held.leg_sid}")
        else:  # stopping: the leg's time limit ends it
            log.error("leg %s not hung up: the dialer is stopping", held.leg_sid)
        return True

    async def _hang_up_stray(self, leg_sid: str) -> None:
        try:
            await self.client.hangup(leg_sid)
        except Exception as exc:  # logged; never takes down the dialer
            log.error("leg %s could not be hung up: %s", leg_sid, exc)

    def _arm_hold_timer(self) -> None:
        due = self.leg_hold.next_due()
        if due is None or self._hold_timer is not None:
            return
        loop = asyncio.get_running_loop()
        self._hold_timer = loop.call_later(max(0.0, due - self.clock()) + 0.01,
                                           self._hold_expired)

    def _hold_expired(self) -> None:
        self._hold_timer = None
        for held in self.leg_hold.due(self.clock(), self._busy_number):
            self._unclaimed(held, f"no call claimed it within {self.leg_hold.hold_s:g} s")
        if len(self.leg_hold):
            # a leg whose number still has a create in flight: look again a little later
            due = self.leg_hold.next_due() or 0.0
            loop = asyncio.get_running_loop()
            self._hold_timer = loop.call_later(max(0.0, due - self.clock()) + 0.25,
                                               self._hold_expired)

    def _unclaimed(self, held: HeldLeg, why: str) -> None:
        """A held leg nobody claimed: a create that gave up may still want it hung up; else
        it is logged once and counted (its events were acknowledged when they came)."""
        if self._decide(held):
            return
        self.stats.unknown_legs += 1
        self.stats.unknown_events += len(held.events)
        self._strays[held.leg_sid] = "unknown"
        self._trim_strays()
        log.warning("events for unknown leg %s (to %s: %s) dropped: %s", held.leg_sid,
                    held.contact_uri or "?", ", ".join(e.name for e in held.events), why)

    def _trim_strays(self) -> None:
        while len(self._strays) > STRAYS_KEPT:
            del self._strays[next(iter(self._strays))]

    # -- progress -------------------------------------------------------------------------

    def subscribe(self, listener: ProgressListener) -> Callable[[], None]:
        """Call ``listener(event)`` for every progress event; returns an unsubscribe function.

        Listeners run inline on the event loop: keep them short and never raise."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def notify(self, call_id: str, kind: str, detail: str = "") -> None:
        """Publish the typed event for ``kind`` (a flow's ``Notify``; :mod:`dialer.progress`)."""
        try:
            ev = from_notification(kind, call_id, detail, time.monotonic())
        except (UnknownProgressKind, ValueError):
            log.exception("call %s: progress %s %r has no typed event", call_id, kind, detail)
            return
        self.publish(ev)

    def publish(self, ev: ProgressEvent) -> None:
        """Hand ``ev`` to every listener (one that raises is logged, the others still run)."""
        for listener in list(self._listeners):
            try:
                listener(ev)
            except Exception:
                log.exception("progress listener failed on %s", ev.kind)

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
