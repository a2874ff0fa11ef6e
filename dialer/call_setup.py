"""What a call's flow, runner and a nailed agent's keeper take from the dialer's configuration,
and the stream URL a call's bot is reached at."""

from __future__ import annotations

import dataclasses
import logging
from urllib.parse import urlencode, urlsplit

from dialer.call_request import CallRequest
from dialer.config import DialerConfig
from dialer.flows import FlowSettings
from dialer.ports import KeeperSettings, RunnerSettings
from dialer.stats import DialerStats
from dialer.stream_params import MAX_CHARS, StreamParams, add_stream_params

log = logging.getLogger("dialer.service")


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
        watchdog_dial_after=config.customer_ring_timeout + config.watchdog_dial_margin,
        watchdog_interval=config.watchdog_interval,
    )


def call_flow_settings(settings: FlowSettings, config: DialerConfig,
                       request: CallRequest) -> FlowSettings:
    """``settings`` for one call: its own ``ring_timeout`` (a campaign's) moves the watchdog's
    wait between the dial and the first event with it."""
    if request.ring_timeout is None:
        return settings
    return dataclasses.replace(
        settings, watchdog_dial_after=request.ring_timeout + config.watchdog_dial_margin
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


def with_stream_params(base: str, request: CallRequest, stats: DialerStats) -> StreamParams:
    """The stream URL ``base`` with the request's ``stream_params``. Fields that had to be
    shortened (or, when the URL has no room at all, left out) are logged, counted
    (``stats.stream_params_truncated``) and named in ``truncated``."""
    try:
        params = add_stream_params(base, request.stream_params)
    except ValueError as exc:
        log.error("call %s: stream parameters left out: %s", request.call_id, exc)
        params = StreamParams(base, (), tuple(request.stream_params))
    if params.truncated:
        stats.stream_params_truncated += 1
        log.warning("call %s: stream parameters %s shortened to fit Exotel's %d characters",
                    request.call_id, ", ".join(params.truncated), MAX_CHARS)
    return params


def runner_settings(config: DialerConfig) -> RunnerSettings:
    """The request parameters of a call's runner."""
    return RunnerSettings(
        content_type=config.content_type,
        customer_ring_timeout=config.customer_ring_timeout,
        # the agent leg rings a little longer than the flow waits for it: the flow's timer
        # decides, Exotel's ring_timeout is the backstop
        agent_ring_timeout=int(config.agent_ring_timeout) + 5,
        time_limit=config.time_limit,
        reconcile_timeout=config.reconcile_timeout,
        event_confirm_timeout=config.event_confirm_timeout,
    )


def keeper_settings(config: DialerConfig) -> KeeperSettings:
    """A nailed agent's hold audio and leg time limit."""
    return KeeperSettings(config.agent_hold_url, config.agent_hold_text,
                          config.nailed_time_limit)
