"""Dialer counters and gauges in Prometheus text format, for ``GET /metrics`` on the control API.

Everything the dialer counts in one scrape: calls (live, placed, finished by disposition), the
agents per state, Exotel API requests (retries, errors, 429s), the event intake (received,
malformed, unauthorized, duplicates, stale, held for order, after the leg ended) and what the
call flows could not handle (unknown events, full inboxes, uncertain creates), what the control
API refused, and per agent: its state and, for nailed-up agents, what became of their dials.
Names start ``voxgate_dialer_``; counters end ``_total``.

:class:`MetricsServer` serves any renderers on ``GET /metrics`` by itself (``voxgate campaign
run --metrics-port``); the control API serves the dialer's on its own port.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from aiohttp import web

from voxgate_shared import health
from voxgate_shared.prom import CONTENT_TYPE, PromText, labels

if TYPE_CHECKING:
    from dialer.service import Dialer


def _agent_samples(dialer: Dialer) -> Iterable[tuple[str, int]]:
    from dialer.agents import AgentState

    for agent in dialer.pool:
        for state in AgentState:
            yield (labels(agent=agent.agent_id, state=state.value),
                   int(agent.state is state))


def _nailed_samples(dialer: Dialer) -> Iterable[tuple[str, int]]:
    for agent_id, st in sorted(dialer.nailed_watch.stats.items()):
        for outcome, n in sorted(st.failures.items()):
            yield labels(agent=agent_id, outcome=outcome), n


def render_dialer_metrics(dialer: Dialer) -> str:
    """One scrape of ``dialer``'s metrics."""
    out = PromText("voxgate_dialer")
    st, api = dialer.stats, dialer.client.stats
    intake, seq = dialer.intake.stats, dialer.intake.sequencer.stats
    out.one("calls_active", "gauge", "Calls in progress.", dialer.active_calls)
    out.one("calls_placed_total", "counter", "Calls placed.", st.placed)
    out.by("calls_finished_total", "Calls finished, by disposition.", "disposition",
           st.dispositions)
    out.by("agents", "Agents, by state.", "state", dialer.pool.counts(), kind="gauge")
    out.metric("agent_state", "gauge", "Each agent's state (1 for the state it is in).",
               list(_agent_samples(dialer)))
    keepers = dialer.keepers
    watch = dialer.nailed_watch.stats
    out.metric("nailed_dials_total", "counter",
               "Dials of nailed-up agents' legs (failed requests included).",
               [(labels(agent=a), keepers[a].dials) for a in sorted(keepers)])
    out.metric("nailed_dial_failures_total", "counter",
               "Nailed-up agents' dials that ended unanswered, by terminal status.",
               list(_nailed_samples(dialer)))
    out.metric("nailed_drops_total", "counter",
               "Nailed-up agents' answered legs that ended (re-dialled).",
               [(labels(agent=a), watch[a].drops if a in watch else 0) for a in sorted(keepers)])
    out.one("api_requests_total", "counter", "Exotel API requests sent.", api.requests)
    out.one("api_retries_total", "counter", "Exotel API requests retried.", api.retries)
    out.one("api_errors_total", "counter", "Exotel API requests that failed.", api.errors)
    out.one("api_rate_limited_total", "counter", "Exotel API answers 429.", api.rate_limited)
    out.one("api_failures_total", "counter", "Call actions that failed after retries.",
            st.api_failures)
    out.one("watchdog_checks_total", "counter",
            "Calls checked with GET /legs/{sid} after too long without an Exotel event.",
            st.watchdog_checks)
    out.by("watchdog_settled_total",
           "What the watchdog's checks found (ended, not_found, bridge_ended, live, "
           "unreachable).", "outcome", st.watchdog_settled)
    out.one("create_uncertain_total", "counter",
            "Leg creations that timed out (never re-sent).", st.create_uncertain)
    out.by("create_uncertain_outcomes_total",
           "What became of creates that timed out (adopted, hung_up, lost).", "outcome",
           st.create_uncertain_outcomes)
    out.one("unknown_legs_total", "counter",
            "Legs whose events no call claimed within unknown_leg_hold.", st.unknown_legs)
    out.one("stray_legs_hung_up_total", "counter",
            "Legs of timed-out creates hung up (ambiguous, or their call gave up).",
            st.stray_legs_hung_up)
    out.one("events_received_total", "counter", "Exotel events received.", intake.received)
    out.one("events_malformed_total", "counter", "Events refused as malformed.",
            intake.malformed)
    out.one("events_unauthorized_total", "counter", "Event posts refused for bad credentials.",
            intake.unauthorized)
    out.one("events_delivered_total", "counter", "Events delivered to calls.", intake.delivered)
    confirm = dialer.confirm_stats  # dialer.confirm: state-changing events checked first
    out.one("events_confirm_checked_total", "counter", "Events checked with GET /legs first.",
            confirm.checked)
    out.one("events_confirm_dropped_total", "counter",
            "Events dropped: Exotel's leg state disagreed (forged).", confirm.dropped)
    out.one("events_confirm_unconfirmed_total", "counter",
            "Checked events acted on without an answer (timeout, unknown state).",
            confirm.unconfirmed)
    out.one("events_duplicate_total", "counter", "Duplicate events dropped.", seq.duplicates)
    out.one("events_stale_total", "counter",
            "Lifecycle events older than the leg's state, dropped.", seq.stale)
    out.one("events_held_total", "counter", "Events held until an earlier one came.", seq.held)
    out.one("events_hold_overflow_total", "counter",
            "Early events dropped: too many already held for the leg.", seq.hold_overflow)
    out.one("events_after_terminal_total", "counter", "Events for a leg after it ended.",
            seq.after_terminal)
    out.one("event_sink_errors_total", "counter", "Events whose handling raised.",
            intake.sink_errors)
    out.one("events_unknown_total", "counter", "Events for no known call or leg.",
            st.unknown_events)
    out.one("inbox_overflow_total", "counter", "Events dropped by a call's full inbox.",
            st.inbox_overflow)
    out.one("control_requests_total", "counter", "Control requests from the gateway.",
            st.control_requests)
    out.one("control_unknown_total", "counter", "Control requests for no live call.",
            st.control_unknown)
    out.by("control_refused_total",
           "Control API requests refused (malformed, unauthorized, duplicate_call_id, stopping, "
           "too_large).", "reason", st.control_refused)
    out.one("bot_failures_total", "counter", "Bots the gateway reported failed (bot_failed).",
            st.bot_failures)
    out.one("stream_params_truncated_total", "counter",
            "Calls whose stream URL parameters were shortened.", st.stream_params_truncated)
    out.one("transfer_forecasts_total", "counter", "Transfer forecasts from bots.",
            st.transfer_forecasts)
    return out.render()



def metrics_response(text: str) -> web.Response:
    """A Prometheus scrape's HTTP answer."""
    return web.Response(body=text.encode(), headers={"Content-Type": CONTENT_TYPE})


async def start_app(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, int]:
    """Serve ``app`` on ``host:port``; returns its runner (to clean up) and the bound port."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    sockets = getattr(site._server, "sockets", None) or []
    return runner, (sockets[0].getsockname()[1] if sockets else port)


class MetricsServer:
    """``GET /metrics`` on ``host:port`` (0: any free port): the renderers' texts, joined;
    ``GET /healthz`` and ``/readyz`` (:mod:`voxgate_shared.health`) as ``role`` in ``mode``,
    ready when ``ready`` (None: once serving) says so."""

    def __init__(self, renderers: Sequence[Callable[[], str]], host: str = "127.0.0.1",
                 port: int = 0, *, role: str = "dialer", mode: str | None = None,
                 ready: health.ReadyCheck | None = None) -> None:
        self.renderers = list(renderers)
        self.host, self.port = host, port
        self.role, self.mode, self.ready = role, mode, ready
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/metrics"

    async def _metrics(self, request: web.Request) -> web.Response:
        return metrics_response("".join(render() for render in self.renderers))

    async def __aenter__(self) -> MetricsServer:
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        health.add_routes(app, self.role, self.mode, self.ready)
        self._runner, self.port = await start_app(app, self.host, self.port)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
