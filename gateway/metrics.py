"""Gateway counters, rendered in Prometheus text format for ``GET /metrics``.

Per-frame counters live on each stream's session (no shared work per frame); the
connection :meth:`attach`-es its session while open and :meth:`detach`-es it at the end, when
its counts fold into the totals. :meth:`render` (per scrape) sums totals and live streams.
"""

from __future__ import annotations

from collections import Counter
from typing import Protocol

from bot_adapters.metrics import counter_families
from voxgate_shared.prom import PromText


class StreamCounters(Protocol):
    """Per-stream counters (a :class:`gateway.session.Session` has them)."""

    frames_in: int
    bytes_in: int
    frames_out: int
    bytes_out: int
    barge_ins: int
    unknown_events: int
    stale_marks: int


_SUMMED = (
    "frames_in", "bytes_in", "frames_out", "bytes_out", "barge_ins", "unknown_events",
    "stale_marks",
)


class GatewayMetrics:
    """Process-wide counters of one :class:`gateway.server.GatewayServer`."""

    def __init__(self) -> None:
        self.streams_total = 0
        self._live: set[StreamCounters] = set()
        self._done: Counter[str] = Counter()
        self.control_requests = 0
        self.control_errors = 0
        self.control_unrouted = 0  # no --control-url for the owner (gateway.control_routes)
        self.auth_failures = 0
        self.rejected_busy = 0
        self.refused_connections: Counter[str] = Counter()  # aborted at accept, by cap
        self.protocol_errors: Counter[str] = Counter()
        self.adapter_errors: Counter[str] = Counter()
        self.bot_failures: Counter[str] = Counter()  # bot_failed reported, by failure kind
        self.greeting_holds: Counter[str] = Counter()  # gateway.greeting_gate, by outcome
        self.closes: Counter[int] = Counter()
        self.loop_lag_max = 0.0  # seconds, the worst event-loop stall seen
        self.loop_lags_over_20ms = 0

    def loop_lag(self, seconds: float) -> None:
        """The watchdog woke ``seconds`` late (the loop was busy or the process starved)."""
        if seconds > self.loop_lag_max:
            self.loop_lag_max = seconds
        if seconds > 0.020:
            self.loop_lags_over_20ms += 1

    def attach(self, stream: StreamCounters) -> None:
        """A stream opened: count it and read its counters live."""
        self.streams_total += 1
        self._live.add(stream)

    def detach(self, stream: StreamCounters) -> None:
        """A stream ended: fold its counters into the totals."""
        if stream in self._live:
            self._live.discard(stream)
            for name in _SUMMED:
                self._done[name] += getattr(stream, name)

    @property
    def streams_active(self) -> int:
        return len(self._live)

    def total(self, name: str) -> int:
        """A per-stream counter summed over ended and live streams (e.g. ``"frames_in"``)."""
        if name not in _SUMMED:
            raise KeyError(name)
        value: int = self._done[name] + sum(getattr(s, name) for s in self._live)
        return value

    @property
    def frames_in(self) -> int:
        return self.total("frames_in")

    @property
    def frames_out(self) -> int:
        return self.total("frames_out")

    @property
    def bytes_in(self) -> int:
        return self.total("bytes_in")

    @property
    def bytes_out(self) -> int:
        return self.total("bytes_out")

    @property
    def barge_ins(self) -> int:
        return self.total("barge_ins")

    @property
    def unknown_events(self) -> int:
        return self.total("unknown_events")

    @property
    def stale_marks(self) -> int:
        return self.total("stale_marks")

    def render(self) -> str:
        """The Prometheus text exposition (version 0.0.4)."""
        out = PromText("voxgate_gateway")
        out.one("streams_active", "gauge", "Streams open now.", self.streams_active)
        out.one("streams_total", "counter", "Streams accepted.", self.streams_total)
        out.one("frames_in_total", "counter", "Media messages received.", self.frames_in)
        out.one("frames_out_total", "counter", "Media messages sent.", self.frames_out)
        out.one("bytes_in_total", "counter", "Audio bytes received.", self.bytes_in)
        out.one("bytes_out_total", "counter", "Audio bytes sent.", self.bytes_out)
        out.one("barge_ins_total", "counter", "Barge-ins (clear sent).", self.barge_ins)
        out.one("unknown_events_total", "counter", "Unknown events ignored.", self.unknown_events)
        out.one("stale_marks_total", "counter", "Unmatched mark echoes.", self.stale_marks)
        out.one("control_requests_total", "counter", "Control requests submitted.",
                self.control_requests)
        out.one("control_errors_total", "counter", "Control requests that failed.",
                self.control_errors)
        out.one("control_unrouted_total", "counter",
                "Control requests refused: no --control-url for the dialer they name.",
                self.control_unrouted)
        out.one("auth_failures_total", "counter", "Handshakes refused with 401.",
                self.auth_failures)
        out.one("rejected_busy_total", "counter", "Handshakes refused with 503 (max_streams).",
                self.rejected_busy)
        out.by("refused_connections_total",
               "TCP connections aborted at accept over a cap (pending, pending_per_ip, per_ip).",
               "cap", self.refused_connections)
        out.by("protocol_errors_total", "Streams closed for bad input, by kind.", "kind",
               self.protocol_errors)
        out.by("adapter_errors_total", "Calls ended by adapter failures, by kind.", "kind",
               self.adapter_errors)
        out.by("bot_failures_reported_total",
               "Adapter failures reported to the dialer (bot_failed), by kind.", "kind",
               self.bot_failures)
        out.by("greeting_holds_total", "Bot first audio held for the greeting's stop, by "
               "outcome (released: the dialer answered; timeout: released after max_hold).",
               "outcome", self.greeting_holds)
        out.by("closes_total", "Streams closed, by close code.", "code", self.closes)
        out.one("loop_lag_max_seconds", "gauge", "Worst event-loop stall seen.",
                float(self.loop_lag_max))
        out.one("loop_lags_over_20ms_total", "counter", "Watchdog wake-ups more than 20 ms late.",
                self.loop_lags_over_20ms)
        for family in counter_families():  # the adapters' own (bot_adapters.metrics)
            out.by(family.name, family.help_text, family.label, family.counts)
        return out.render()
