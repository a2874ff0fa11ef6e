"""The one asyncio driver per Exotel stream: feed the session, write, run the bot.

:class:`StreamConnection` is the :class:`~gateway.wire.MessageSink` of one upgraded
:class:`~gateway.wire.WebSocketWire`: each inbound message is fed to the sans-I/O
:class:`~gateway.session.Session` in the wire's read callback (no reader task), and the
notices it returns are queued for the runner, the call's one task in its ``TaskGroup``,
which runs the adapter's hooks one at a time, each under the adapter deadline. What the
session has to send is written straight to the wire (one write per batch, no writer task).
Whichever decides the call is over calls :meth:`StreamConnection.end`, which records the
close code and cancels the runner; :meth:`run` then tells the adapter ``on_stop`` (if it
started) and closes the WebSocket with that code.

When the bot failed (a hook raised, overran its deadline, blocked the event loop past it, the
adapter fell behind, or it could not be built), :meth:`run` first sends the control hook a
``bot_failed`` request naming the failure, so the dialer gives the customer its stream fallback
(an agent, or a goodbye) rather than reading the close as a bot that finished. An adapter that
could not be built still waits (up to the adapter deadline) for the stream's ``start``, which
names the call to report and to log.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

from bot_adapters.contract import (
    SUPPORTED_ADAPTER_RATES,
    AdapterFactory,
    BotAdapter,
    CallInfo,
    PlayedPosition,
)
from bot_adapters.registry import AdapterLoadError, UnknownAdapter
from gateway.config import GatewayConfig
from gateway.control import ControlHook, ControlKind, ControlRequest, bot_parameters
from gateway.errors import CloseCode, ProtocolError
from gateway.metrics import GatewayMetrics
from gateway.protocol import StreamState
from gateway.session import (
    AudioIn,
    BargedIn,
    CallStarted,
    CallStopped,
    DtmfIn,
    EscalationRequested,
    EventIgnored,
    Notice,
    PlaybackFinished,
    Session,
    SpeechEnded,
    SpeechStarted,
)
from gateway.wire import WebSocketWire

log = logging.getLogger(__name__)

IGNORED_LOGGED = 10  # distinct ignored events logged per stream; later ones are only counted
_NAME_SHOWN = 80  # characters of an ignored event's name logged
ERRORS_LOGGED = 10  # adapter build failures logged in full; then one in every ERRORS_EVERY
ERRORS_EVERY = 100


def worth_logging(count: int) -> bool:
    """Rate limit for a repeated failure: log occurrences 1-10, then every 100th."""
    return count <= ERRORS_LOGGED or count % ERRORS_EVERY == 0


_HOOKS: dict[type, str] = {
    CallStarted: "on_start",
    DtmfIn: "on_dtmf",
    PlaybackFinished: "on_playback_finished",
    SpeechStarted: "on_speech_start",
    SpeechEnded: "on_speech_end",
    BargedIn: "on_barge_in",
    EscalationRequested: "escalation",
    CallStopped: "on_stop",
}


class StreamCallControl:
    """The :class:`bot_adapters.contract.CallControl` an adapter gets in ``on_start`` (one per
    stream; the dialer's public handle of a call is :class:`dialer.call_handle.CallHandle`)."""

    def __init__(self, conn: StreamConnection) -> None:
        self._conn = conn
        self._info: CallInfo | None = None

    @property
    def info(self) -> CallInfo:
        if self._info is None:  # the bot sees vx_call without its MAC (gateway.control)
            info = self._conn.session.info
            assert info is not None
            params = bot_parameters(info.custom_parameters)
            self._info = info if params is info.custom_parameters else replace(
                info, custom_parameters=params)
        return self._info

    async def wait_greeting(self) -> None:
        """Return once the dialer says the call's greeting stopped (gateway.greeting_gate)."""
        await self._conn.submit_control("greeting_wait", "first_audio")

    @property
    def sample_rate(self) -> int:
        return self._conn.adapter_rate

    def play(self, pcm: bytes, label: str | None = None) -> None:
        conn = self._conn
        conn.session.play(pcm, label, conn.adapter_rate, conn.loop.time())
        conn.wake_writer()

    def mark(self, label: str) -> None:
        conn = self._conn
        conn.session.mark(label, conn.loop.time())
        conn.wake_writer()

    def clear(self) -> PlayedPosition:
        conn = self._conn
        position = conn.session.clear(conn.loop.time())
        conn.queue_notices(conn.session.take_notices())
        conn.wake_writer()
        return position

    async def hangup(self, reason: str = "bot_hangup") -> None:
        await self._conn.submit_control("hangup", reason)
        self._conn.request_hangup(reason)

    async def transfer(self, reason: str, skills: Sequence[str] = ()) -> None:
        await self._conn.submit_control("transfer", reason, skills)

    async def forecast_transfer(self, within_s: float, likelihood: float = 1.0) -> None:
        # bad values: the ControlRequest raises ValueError to the adapter, before any submit
        await self._conn.submit_control(
            "transfer_forecast", "bot_forecast", within_s=within_s, likelihood=likelihood
        )


class StreamConnection:
    """Drives one stream from the accepted WebSocket to its close (see module docstring)."""

    def __init__(
        self,
        wire: WebSocketWire,
        adapter_name: str,
        factory: AdapterFactory,
        config: GatewayConfig,
        metrics: GatewayMetrics,
        control_hook: ControlHook,
        url_sample_rate: int | None = None,
        adapter_options: Mapping[str, str] | None = None,
    ) -> None:
        self.wire = wire
        self.adapter_name = adapter_name
        self.config = config
        self.metrics = metrics
        self.control_hook = control_hook
        self.loop = asyncio.get_running_loop()
        self.session = Session(config.session_settings(), url_sample_rate)
        self.opened_at = self.last_rx = self.loop.time()
        self.on_started: Callable[[StreamConnection], None] | None = None  # once, at start
        self.adapter_rate = 8000
        self._factory = factory
        self._options = adapter_options if adapter_options is not None else {}
        self._adapter: BotAdapter | None = None
        self._queue: deque[Notice] = deque()
        self._queue_max = config.adapter_queue
        self._waiter: asyncio.Future[None] | None = None  # the idle runner waits on it
        self._tasks: list[asyncio.Task[None]] = []
        self._end: tuple[int, str] | None = None
        self._started = False
        self._stopped = False
        self._hangup: str | None = None
        self._stop_reason = "stopped"
        self._ignored: set[str] = set()  # at most IGNORED_LOGGED names, each logged once
        self.hook_deadline = 0.0  # when the running hook must have returned (0: none running)
        self._flush_scheduled = False
        self._overran = False
        self.failure = ""  # why the bot failed (a BOT_FAILURES reason), reported as bot_failed

    @property
    def stream_sid(self) -> str:
        return self.session.protocol.stream_sid or "-"

    @property
    def ending(self) -> bool:
        """The call's end was decided (its close is under way)."""
        return self._end is not None

    # ---- ending --------------------------------------------------------------------------
    def end(self, code: int, reason: str) -> None:
        """End the call with close ``code`` (first caller wins); cancels the call's task."""
        if self._end is None:
            self._end = (code, reason)
        for task in self._tasks:
            task.cancel()

    def _failed(self, failure: str, code: int, reason: str) -> None:
        """The bot failed (``failure``: a ``BOT_FAILURES`` reason): end the call with
        ``code``; :meth:`run` reports the failure to the dialer before the close, unless the
        call was already ending (another close, or ``on_stop`` was delivered: the customer or
        the bot ended it)."""
        if self._end is None and not self._stopped:
            self.failure = failure
        self.end(code, reason)

    def request_hangup(self, reason: str) -> None:
        """The bot hung up: the runner stops the adapter and closes normally."""
        if self._hangup is None:
            self._hangup = reason
            self.queue_notices([CallStopped("hangup")])

    def wake_writer(self) -> None:
        """The session has messages to send. Inside a hook the runner sends them when the
        hook returns; a callback at the next loop turn sends them in case the hook awaits
        something first (so a long hook never holds its audio back)."""
        if not self.session.has_outbound:
            return
        if not self.hook_deadline:
            self._flush()
        elif not self._flush_scheduled:
            self._flush_scheduled = True
            self.loop.call_soon(self._flush_soon)

    def _flush_soon(self) -> None:
        self._flush_scheduled = False
        self._flush()

    def _flush(self) -> None:
        """Send everything the session has queued, in order, in one write."""
        session = self.session
        if session.has_outbound:
            self.wire.send_texts(session.take_outbound())

    def queue_notices(self, notices: list[Notice]) -> None:
        """Hand notices to the runner; more than ``adapter_queue`` waiting ends the call."""
        queue = self._queue
        if len(queue) + len(notices) > self._queue_max:
            self.metrics.adapter_errors["overflow"] += 1
            log.error("stream %s: adapter %s fell behind (queue full)", self.stream_sid,
                      self.adapter_name)
            self._failed("adapter_overflow", CloseCode.ADAPTER_TIMEOUT, "adapter too slow")
            return
        queue.extend(notices)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # ---- the wire's callbacks (MessageSink) ------------------------------------------------
    def message_received(self, message: str | bytes) -> None:
        """One inbound message: feed the session, queue its notices for the runner, send
        what it wants sent (a barge-in's ``clear``, a held tail) at once."""
        if self._end is not None:
            return
        session = self.session
        now = self.last_rx = self.loop.time()
        try:
            notices = session.receive(message, now)
        except ProtocolError as exc:
            self.metrics.protocol_errors[exc.kind] += 1
            log.warning(
                "stream %s: closing with %d (%s): %s",
                self.stream_sid, exc.close_code, exc.kind, exc,
            )
            self.end(exc.close_code, exc.kind)
            return
        except Exception:  # a gateway bug: this call ends with 1011, no other call notices
            log.exception("stream %s: gateway error on an inbound message", self.stream_sid)
            self.end(CloseCode.INTERNAL_ERROR, "internal error")
            return
        if self.on_started is not None and session.info is not None:
            started, self.on_started = self.on_started, None
            started(self)
        if notices and type(notices[-1]) is EventIgnored:
            # logged here, never queued: a flood of ignored events is not the bot's backlog
            ignored = notices.pop()
            assert isinstance(ignored, EventIgnored)
            self._log_ignored(ignored.event)
        if notices:
            self.queue_notices(notices)
        if session.has_outbound:
            self._flush()

    def wire_closed(self, code: int | None) -> None:
        """The peer closed (or vanished), or the WebSocket protocol failed with ``code``."""
        if self._end is not None:
            return
        if code == CloseCode.MESSAGE_TOO_BIG:
            self.metrics.protocol_errors["too_big"] += 1
            log.warning("stream %s: closed with 1009 (message too big)", self.stream_sid)
            self.end(CloseCode.MESSAGE_TOO_BIG, "message too big")
            return
        if code is not None:
            self.metrics.protocol_errors["websocket"] += 1
            log.warning("stream %s: WebSocket protocol error, closed with %d",
                        self.stream_sid, code)
            self.end(code, "websocket protocol error")
            return
        if self.session.protocol.state is StreamState.STOPPED:
            return  # the runner delivers on_stop("callended"/"stopped") and ends the call
        log.info("stream %s: peer closed the connection without stop", self.stream_sid)
        self.end(CloseCode.NORMAL, "peer closed")

    # ---- the call ------------------------------------------------------------------------
    async def run(self) -> None:
        """Serve the stream until it ends; never raises for bad input or a bad adapter."""
        self.metrics.attach(self.session)
        try:
            try:
                self._adapter = self._factory(self._options)
                if not self._adapter.allow_barge_in:
                    self.session.settings = replace(
                        self.session.settings, barge_in_min_speech_ms=0
                    )
            except Exception as exc:
                await self._not_built(exc)
            else:
                if self._end is None:
                    async with asyncio.TaskGroup() as tg:
                        self._tasks = [tg.create_task(self._runner())]
            if self.failure:
                await self._report_failure()
            await self._finish_adapter()
        except Exception:
            log.exception("stream %s: gateway error", self.stream_sid)
            self._end = self._end or (CloseCode.INTERNAL_ERROR, "internal error")
        finally:
            self.metrics.detach(self.session)
            code, reason = self._end or (CloseCode.NORMAL, "")
            self.metrics.closes[code] += 1
            self.wire.close(code, reason)
            await self.wire.wait_closed()

    async def _not_built(self, exc: Exception) -> None:
        """The adapter could not be built (unknown, failed to load, or its factory raised):
        wait for ``start`` to learn which call this is, log it, and end the call."""
        if isinstance(exc, UnknownAdapter):
            kind, code, reason = "unknown", CloseCode.UNKNOWN_ADAPTER, "unknown adapter"
        elif isinstance(exc, AdapterLoadError):
            kind, code, reason = "load", CloseCode.ADAPTER_ERROR, "adapter failed to load"
        else:
            kind, code, reason = "init", CloseCode.ADAPTER_ERROR, "adapter failed to start"
        self.metrics.adapter_errors[kind] += 1
        count = self.metrics.adapter_errors[kind]
        async with asyncio.TaskGroup() as tg:
            self._tasks = [tg.create_task(self._await_start())]
        info = self.session.info
        if info is not None:
            where = f"stream {info.stream_sid} (call {info.call_sid or '-'})"
        else:
            where = f"stream - (no start within {self.config.adapter_deadline:.1f} s)"
        if worth_logging(count):
            log.error("%s: adapter %s could not be built (%d so far): %s", where,
                      self.adapter_name[:_NAME_SHOWN], count, exc,
                      exc_info=exc if kind == "init" else None)
        self._failed(f"adapter_init:{kind}", code, reason)

    async def _await_start(self) -> None:
        """Read the stream until its ``start`` (or its end), for at most the adapter deadline."""
        try:
            async with asyncio.timeout(self.config.adapter_deadline):
                while self.session.info is None:
                    if isinstance(await self._next(), CallStopped):
                        return
        except TimeoutError:
            pass

    async def _report_failure(self) -> None:
        """Tell the dialer the bot failed (``bot_failed``), before the stream closes."""
        if self.session.info is None:
            log.warning("stream %s: bot failure (%s) not reported: the stream never started",
                        self.stream_sid, self.failure)
            return
        self.metrics.bot_failures[self.failure.partition(":")[0]] += 1
        await self.submit_control("bot_failed", self.failure)

    async def _finish_adapter(self) -> None:
        """``on_stop`` after an error or a peer that vanished (a clean stop ran it already)."""
        if not self._started or self._stopped or self._adapter is None:
            return
        self._stopped = True
        code = self._end[0] if self._end else CloseCode.NORMAL
        reason = {CloseCode.NORMAL: "disconnected", CloseCode.GOING_AWAY: "shutdown"}.get(
            CloseCode(code), "error"
        )
        try:
            async with asyncio.timeout(self.config.adapter_deadline):
                await self._adapter.on_stop(reason)
        except Exception:
            log.exception("stream %s: adapter on_stop failed", self.stream_sid)

    async def _next(self) -> Notice:
        """The next notice for the adapter (waits while there is none, or while the peer
        reads slower than we write)."""
        if self.wire.paused:
            await self.wire.drain()
        queue = self._queue
        while not queue:
            self._waiter = self.loop.create_future()
            await self._waiter
        return queue.popleft()

    def check_deadline(self, now: float) -> None:
        """Called by the server's watchdog: cancel a hook that has overrun its deadline.
        (One shared timer instead of a timer per hook call keeps ``on_audio`` cheap.)"""
        if 0.0 < self.hook_deadline < now and not self._overran and self._tasks:
            self._overran = True
            self._tasks[0].cancel()

    async def _runner(self) -> None:
        adapter = self._adapter
        assert adapter is not None
        session = self.session
        deadline = self.config.adapter_deadline
        clock = self.loop.time
        get = self._next
        hook = "?"
        try:
            while True:
                notice = await get()
                kind = type(notice)
                if kind is AudioIn:
                    assert isinstance(notice, AudioIn)
                    hook = "on_audio"
                    pcm = session.for_adapter(notice.pcm, self.adapter_rate)
                    due = self.hook_deadline = clock() + deadline
                    await adapter.on_audio(pcm)
                    self.hook_deadline = 0.0
                    if clock() > due and not self._overran:
                        self._returned_late(hook, due, True)
                        return
                    if session.has_outbound:
                        self._flush()
                else:
                    hook = _HOOKS.get(kind, kind.__name__)
                    due = self.hook_deadline = clock() + deadline
                    hook = await self._deliver(adapter, notice)
                    self.hook_deadline = 0.0
                    if clock() > due and not self._overran:
                        self._returned_late(hook, due, not self._stopped)
                        if not self._stopped:
                            return
                    if session.has_outbound:
                        self._flush()
                    if self._stopped:
                        self.end(CloseCode.NORMAL, self._stop_reason)
                        return
                if self._hangup is not None and not self._stopped:
                    hook = "on_stop"
                    due = self.hook_deadline = clock() + deadline
                    await self._deliver(adapter, CallStopped("hangup"))
                    self.hook_deadline = 0.0
                    if clock() > due and not self._overran:
                        self._returned_late(hook, due, False)
                    self.end(CloseCode.NORMAL, "hangup")
                    return
        except asyncio.CancelledError:
            if not self._overran:
                raise
            self.hook_deadline = 0.0
            self._overrun(hook)
        except Exception as exc:
            self.hook_deadline = 0.0
            self.metrics.adapter_errors["raised"] += 1
            log.error(
                "stream %s: adapter %s %s raised %r", self.stream_sid, self.adapter_name, hook,
                exc, exc_info=exc,
            )
            self._failed(f"adapter_error:{hook}", CloseCode.ADAPTER_ERROR, f"adapter {hook} failed")

    def _log_ignored(self, event: str) -> None:
        """Log an ignored event once per name, for the first IGNORED_LOGGED names; then one
        line saying the rest are only counted (the set and the log stay bounded)."""
        name = event[:_NAME_SHOWN]
        ignored = self._ignored
        if name in ignored:
            return
        if len(ignored) < IGNORED_LOGGED:
            ignored.add(name)
            log.info("stream %s: ignored %s", self.stream_sid, name)
        elif len(ignored) == IGNORED_LOGGED:
            ignored.add("")  # the summary is logged once
            log.info("stream %s: more kinds of ignored events; from now on only counted "
                     "(unknown_events_total, stale_marks_total)", self.stream_sid)

    def _overrun(self, hook: str) -> None:
        self.metrics.adapter_errors["timeout"] += 1
        log.error(
            "stream %s: adapter %s %s overran its %.1f s deadline",
            self.stream_sid, self.adapter_name, hook, self.config.adapter_deadline,
        )
        self._failed(f"adapter_timeout:{hook}", CloseCode.ADAPTER_TIMEOUT,
                     f"adapter {hook} timed out")

    def _returned_late(self, hook: str, due: float, end_call: bool) -> None:
        """A hook returned past its deadline, yet the watchdog never cancelled it. Later than
        the watchdog's period (at most a quarter of the deadline) means the watchdog never got
        a turn: the hook held the event loop (``time.sleep``, CPU work), and every call's audio
        stalled meanwhile. Either way an overrun: unless ``end_call`` is False (the hook was
        ``on_stop``, the call ends anyway), the call ends with 4007 like one."""
        deadline = self.config.adapter_deadline
        late = self.loop.time() - due
        if late <= deadline / 4:
            if end_call:
                self._overrun(hook)
            return
        self.metrics.adapter_errors["blocked"] += 1
        info = self.session.info
        log.error(
            "stream %s (call %s): adapter %s %s blocked the event loop for %.1f s (deadline "
            "%.1f s): every call on this gateway stalled meanwhile",
            self.stream_sid, info.call_sid if info is not None else "-", self.adapter_name,
            hook, late + deadline, deadline,
        )
        if end_call:
            self._failed(f"adapter_blocked:{hook}", CloseCode.ADAPTER_TIMEOUT,
                         f"adapter {hook} blocked the event loop")

    async def _deliver(self, adapter: BotAdapter, notice: Notice) -> str:
        """Run the hook for one (non-audio) notice; returns the hook's name."""
        if isinstance(notice, CallStarted):
            self._started = True  # from here on the adapter gets on_stop, even if this fails
            await adapter.on_start(StreamCallControl(self))
            rate = adapter.sample_rate
            if rate not in SUPPORTED_ADAPTER_RATES:
                raise ValueError(f"adapter sample_rate {rate} is not supported")
            self.adapter_rate = rate
            log.info(
                "stream %s: call %s started (%s %d Hz) with adapter %s at %d Hz",
                notice.info.stream_sid, notice.info.call_sid, notice.info.call_encoding,
                notice.info.call_sample_rate, self.adapter_name, rate,
            )
            return "on_start"
        if isinstance(notice, DtmfIn):
            await adapter.on_dtmf(notice.digit)
            return "on_dtmf"
        if isinstance(notice, PlaybackFinished):
            await adapter.on_playback_finished(notice.label)
            return "on_playback_finished"
        if isinstance(notice, SpeechStarted):
            await adapter.on_speech_start()
            return "on_speech_start"
        if isinstance(notice, SpeechEnded):
            await adapter.on_speech_end()
            return "on_speech_end"
        if isinstance(notice, BargedIn):
            log.info("stream %s: barge-in at %s", self.stream_sid, notice.heard)
            await adapter.on_barge_in(notice.heard)
            return "on_barge_in"
        if isinstance(notice, EscalationRequested):
            await self.submit_control("transfer", "dtmf")
            return "escalation"
        if isinstance(notice, CallStopped):
            if self._stopped:
                return "on_stop"
            self._stopped = True
            self._stop_reason = notice.reason
            if self._started:
                await adapter.on_stop(notice.reason)
            return "on_stop"
        raise AssertionError(f"unhandled notice {notice!r}")

    async def submit_control(
        self,
        kind: ControlKind,
        reason: str,
        skills: Sequence[str] = (),
        *,
        within_s: float = 0.0,
        likelihood: float = 1.0,
    ) -> None:
        """Send a transfer, hang-up or transfer-forecast request for this call to the control
        hook. Failures are logged and counted, never raised into the adapter."""
        info = self.session.info
        if info is None:
            log.warning("stream %s: %s before start ignored", self.stream_sid, kind)
            return
        request = ControlRequest(
            kind=kind,
            call_sid=info.call_sid or info.stream_sid,
            stream_sid=info.stream_sid,
            reason=reason,
            custom_parameters=info.custom_parameters,
            skills=tuple(skills),
            within_s=within_s,
            likelihood=likelihood,
        )
        self.metrics.control_requests += 1
        try:
            await self.control_hook.submit(request)
        except Exception as exc:
            self.metrics.control_errors += 1
            log.error("stream %s: control request %s failed: %r", self.stream_sid, kind, exc)
