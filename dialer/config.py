"""Dialer configuration from a TOML file and the environment (the environment wins).

Call :meth:`DialerConfig.load` once at start-up. Settings and their environment variables:

==========================  =====================================================================
``api_base``                ``EXOTEL_API_BASE``; empty (default) means "the embedded emulator":
                            the wiring starts one and fills in its base and credentials.
``account_sid``             ``EXOTEL_ACCOUNT_SID``
``api_key``/``api_token``   ``EXOTEL_API_KEY``/``EXOTEL_API_TOKEN`` (HTTP Basic; never logged)
``exophone``                ``EXOTEL_EXOPHONE``, the caller id for customer and agent legs
``event_endpoint``          ``VOXGATE_EVENT_ENDPOINT``: the public URL given to Exotel as
                            ``leg_event_endpoint``/``bridge_event_endpoint``:
                            ``https://[user:pass@]host/path``, ``grpcs://host:port`` (or plain
                            ``http``/``grpc``); the scheme picks the intake and is kept
``event_listen``            ``VOXGATE_EVENT_LISTEN``: ``host:port`` the intake binds; empty: the
                            endpoint's host and port, which must be loopback (port 0: any free
                            port). See :mod:`dialer.event_endpoint`
``event_auth``              ``VOXGATE_EVENT_AUTH``: ``user:password`` (gRPC: a shared secret),
                            carried in the URL given to Exotel and checked by the intake
``event_certfile``/``..keyfile``  ``VOXGATE_EVENT_CERTFILE``/``VOXGATE_EVENT_KEYFILE``: TLS here
                            for an ``https``/``grpcs`` endpoint (else a TLS proxy in front)
``insecure_events``         ``VOXGATE_INSECURE_EVENTS=1``: allow an intake off loopback with no
                            event credentials (refused otherwise)
``stream_url``              ``VOXGATE_STREAM_URL``: the gateway's public ``ws(s)://`` base
==========================  =====================================================================

The TOML file holds the same names at top level (``[dialer]`` table also accepted) plus the
call-flow settings below. Secrets (``api_key``, ``api_token``, ``event_auth``, ``crm_secret``)
are excluded from ``repr`` and from :meth:`DialerConfig.describe`.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from dialer.errors import ConfigError
from dialer.event_endpoint import EventEndpoint, plan_event_endpoint
from voxgate_shared.redact import redact_url as redact_url  # the dialer's importers use it

ENV_VARS: dict[str, str] = {
    "EXOTEL_API_BASE": "api_base",
    "EXOTEL_ACCOUNT_SID": "account_sid",
    "EXOTEL_API_KEY": "api_key",
    "EXOTEL_API_TOKEN": "api_token",
    "EXOTEL_EXOPHONE": "exophone",
    "VOXGATE_EVENT_ENDPOINT": "event_endpoint",
    "VOXGATE_STREAM_URL": "stream_url",
    "VOXGATE_EVENT_AUTH": "event_auth",
    "VOXGATE_EVENT_LISTEN": "event_listen",
    "VOXGATE_EVENT_CERTFILE": "event_certfile",
    "VOXGATE_EVENT_KEYFILE": "event_keyfile",
    "VOXGATE_INSECURE_EVENTS": "insecure_events",
    "VOXGATE_CRM_URL": "crm_url",
    "VOXGATE_CRM_SECRET": "crm_secret",
    "VOXGATE_DB": "db_path",
}

SECRET_FIELDS = frozenset({"api_key", "api_token", "event_auth", "crm_secret"})
PHONE_SEPARATORS = re.compile(r"[\s\-().]")
EXOPHONE = re.compile(r"\+?\d{3,15}")


def clean_exophone(raw: str) -> str | None:
    """An ExoPhone without its separators (``"080 4711 2233"`` -> ``"08047112233"``), or None
    when it is not a phone number."""
    number = PHONE_SEPARATORS.sub("", raw)
    return number if EXOPHONE.fullmatch(number) else None


@dataclass(frozen=True, slots=True)
class DialerConfig:
    """Everything the dialer service needs. Immutable; derive variants with :meth:`replace`."""

    api_base: str = ""
    account_sid: str = ""
    api_key: str = field(default="", repr=False)
    api_token: str = field(default="", repr=False)
    exophone: str = ""
    event_endpoint: str = field(default="grpc://127.0.0.1:0", repr=False)  # may hold credentials
    event_auth: str = field(default="", repr=False)  # "user:password" for webhook Basic auth
    event_listen: str = ""  # host:port to bind; "" the endpoint's (loopback only)
    event_certfile: str = ""  # TLS for https/grpcs endpoints (else a TLS proxy in front)
    event_keyfile: str = ""
    insecure_events: bool = False  # allow an intake off loopback without credentials
    # events that disagree with a call's state are checked with GET /legs/{sid} first, for up
    # to this long (dialer.confirm); 0: act on every event as it comes
    event_confirm_timeout: float = 2.0
    stream_url: str = ""
    # Exotel client behaviour
    request_timeout: float = 10.0
    max_retries: int = 3
    retry_backoff: float = 0.2
    reconcile_timeout: float = 3.0
    # events for a leg no call knows (they beat the create's 202) are held this long (s)
    unknown_leg_hold: float = 5.0
    # Call flow
    content_type: str = "audio/x-mulaw;rate=8000"
    greeting_text: str = ""
    greeting_url: str = ""
    hold_url: str = ""
    hold_text: str = "Please hold while we connect you to an agent."
    hold_loops: int = 10  # repeats of the hold audio (1-100); it also restarts while waiting
    fallback_text: str = "Sorry, no agent is free right now."
    goodbye_text: str = "Sorry, we could not continue this call. Goodbye."
    stream_start_timeout: float = 5.0
    agent_ring_timeout: float = 20.0
    customer_ring_timeout: int = 30  # ring_timeout of customer legs (Exotel's default 30 s)
    # time_limit of customer and on-demand agent legs, seconds after the answer (Exotel's
    # default 14400); sent on every POST /legs. Nailed legs use nailed_time_limit.
    time_limit: int = 3600
    max_agent_attempts: int = 3
    # bot-first: the longest a customer who asked for an agent waits for one (on hold, in the
    # queue), from the request; then the escalation_fallback. At least abandon_after.
    escalation_queue_timeout: float = 60.0
    escalation_fallback: str = "bot"  # "bot" or "callback"
    # failed escalations a call may go back to the bot after (0-10); then goodbye and hang-up
    max_bot_reentries: int = 1
    stream_fallback: str = "agent"  # "agent" or "hangup"
    abandon_after: float = 2.0
    amd_timeout: float = 5.0  # with amd_enable: no AMD result this long after answer = human
    message_timeout: float = 5.0
    recording_wait: float = 2.0
    record_bridges: bool = True
    nailed_time_limit: int = 14400
    agent_hold_url: str = ""
    agent_hold_text: str = "Please stay on the line for the next customer."
    wrap_up_seconds: float = 0.0
    # Records and CRM
    db_path: str = ""
    crm_url: str = ""
    crm_secret: str = field(default="", repr=False)
    # Control API (separate-process wiring)
    control_host: str = "127.0.0.1"
    control_port: int = 0
    shutdown_grace: float = 5.0  # on exit: hang up live calls and wait this long for them
    # ``voxgate dialer run`` stopped by SIGTERM/SIGINT: calls in flight may finish for this long
    # (no new calls meanwhile); then the rest are hung up (``shutdown_grace``). 0: at once.
    drain_timeout: float = 300.0
    # the per-call watchdog (dialer.flows.watchdog): a call with no Exotel event for this long
    # is checked with GET /legs/{sid} (and its bridge) and settled from the answer; between
    # the dial and its first event it waits customer_ring_timeout + watchdog_dial_margin
    watchdog_interval: float = 60.0
    watchdog_dial_margin: float = 15.0

    def __post_init__(self) -> None:
        exophone = clean_exophone(self.exophone) if self.exophone else ""
        if exophone is None:
            raise ConfigError(
                f"exophone must be a phone number (an ExoPhone of the account), "
                f"got {self.exophone!r}"
            )
        object.__setattr__(self, "exophone", exophone)
        self.event_plan  # noqa: B018 -- checks the event settings together
        if self.event_confirm_timeout < 0:
            raise ConfigError("event_confirm_timeout must be >= 0 (seconds)")
        if self.stream_url and urlsplit(self.stream_url).scheme not in ("ws", "wss"):
            raise ConfigError(f"stream_url must be ws:// or wss://, got {self.stream_url!r}")
        if self.escalation_fallback not in ("bot", "callback"):
            raise ConfigError("escalation_fallback must be 'bot' or 'callback'")
        if self.stream_fallback not in ("agent", "hangup"):
            raise ConfigError("stream_fallback must be 'agent' or 'hangup'")
        if self.drain_timeout < 0:
            raise ConfigError("drain_timeout must be >= 0 (seconds)")
        if self.max_agent_attempts < 1 or self.max_retries < 0:
            raise ConfigError("max_agent_attempts must be >= 1 and max_retries >= 0")
        for name in (
            "request_timeout",
            "unknown_leg_hold",
            "stream_start_timeout",
            "agent_ring_timeout",
            "abandon_after",
            "escalation_queue_timeout",
            "amd_timeout",
            "message_timeout",
            "watchdog_interval",
            "watchdog_dial_margin",
        ):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be positive")
        if not 0 <= self.max_bot_reentries <= 10:
            raise ConfigError(f"max_bot_reentries must be 0-10, got {self.max_bot_reentries}")
        if not 60 <= self.time_limit <= 14400:
            raise ConfigError(
                f"time_limit must be 60-14400 s (Exotel's maximum), got {self.time_limit}"
            )
        if not 1 <= self.hold_loops <= 100:
            raise ConfigError(
                f"hold_loops must be 1-100 (Exotel's loop), got {self.hold_loops}; the hold "
                "restarts by itself while the customer waits"
            )
        if self.escalation_queue_timeout < self.abandon_after:
            # A queue that gave up sooner would drop customers an agent could still take within
            # the abandonment limit (an escalation that never reaches an agent is abandoned).
            raise ConfigError(
                f"escalation_queue_timeout ({self.escalation_queue_timeout:g} s) must be at "
                f"least abandon_after ({self.abandon_after:g} s)"
            )
        _check_numbers(self)  # after the checks with their own words

    @property
    def uses_embedded_emulator(self) -> bool:
        """True when no ``api_base`` is set: the wiring must start ``exotel_sim``."""
        return not self.api_base

    @property
    def event_transport(self) -> str:
        """``"grpc"`` or ``"http"`` (https counts as http), from the endpoint's scheme."""
        return self.event_plan.transport

    @property
    def event_plan(self) -> EventEndpoint:
        """The intake's listen address, TLS and public URL (raises :class:`ConfigError`)."""
        return plan_event_endpoint(
            self.event_endpoint, self.event_listen, auth=self.event_auth,
            certfile=self.event_certfile, keyfile=self.event_keyfile,
            insecure=self.insecure_events,
        )

    def replace(self, **changes: Any) -> DialerConfig:
        """A copy with ``changes`` applied (validated again)."""
        return dataclasses.replace(self, **changes)

    def describe(self) -> dict[str, Any]:
        """Settings safe to log: secrets are shown only as set/unset."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, str) and "://" in value:
                value = redact_url(value)  # a URL may carry credentials (stream, CRM, events)
            out[f.name] = ("<set>" if value else "<unset>") if f.name in SECRET_FIELDS else value
        return out

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> DialerConfig:
        """Build from a plain mapping of setting names; unknown names raise ``ConfigError``."""
        known = {f.name: f for f in dataclasses.fields(cls)}
        kwargs: dict[str, Any] = {}
        for key, raw in values.items():
            if key not in known:
                raise ConfigError(f"unknown dialer setting {key!r}")
            kwargs[key] = _coerce(key, raw, cls.__dataclass_fields__[key].default)
        return cls(**kwargs)

    @classmethod
    def load(
        cls, path: str | Path | None = None, env: Mapping[str, str] | None = None
    ) -> DialerConfig:
        """Read ``path`` (TOML, optional) then overlay the environment (``os.environ`` default)."""
        if path is None:
            return cls.from_toml(None, env)
        try:
            return cls.from_toml(Path(path).read_text(encoding="utf-8"), env)
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read dialer config {path}: {exc}") from exc

    @classmethod
    def from_toml(cls, text: str | None, env: Mapping[str, str] | None = None) -> DialerConfig:
        """Settings from TOML ``text`` (its ``[dialer]`` table, or the top level; ``None``: none)
        with the environment overlaid; raises ``tomllib.TOMLDecodeError`` for text that is not
        TOML and :class:`ConfigError` for a bad setting."""
        values: dict[str, Any] = {}
        if text is not None:
            data = tomllib.loads(text)
            section = data.get("dialer", data)
            if not isinstance(section, dict):
                raise ConfigError("[dialer] must be a table")
            values.update(section)
        environ = os.environ if env is None else env
        for var, name in ENV_VARS.items():
            if environ.get(var):
                values[name] = environ[var]
        return cls.from_mapping(values)


MAX_NUMBER = 10_000_000
"""The largest number a numeric setting takes (seconds, counts); ``control_port`` 0-65535."""


def _check_numbers(config: DialerConfig) -> None:
    """Every numeric setting finite and within 0..:data:`MAX_NUMBER` (``nan``, ``inf`` and
    ``1e300`` pass ``check`` and crash ``run``), ``control_port`` a port; :class:`ConfigError`."""
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        if not (math.isfinite(value) and 0 <= value <= MAX_NUMBER):
            raise ConfigError(
                f"{f.name} must be a finite number within 0..{MAX_NUMBER}, got {value:.6g}"
            )
    if not 0 <= config.control_port <= 65535:
        raise ConfigError(f"control_port must be a port (0-65535), got {config.control_port}")


def _coerce(key: str, raw: Any, default: Any) -> Any:
    """Convert env strings to the field's type (taken from its default); a table or an array
    where a value is expected is refused."""
    kind = "bool" if isinstance(default, bool) else type(default).__name__
    if isinstance(raw, (dict, list)) or (kind == "bool" and not isinstance(raw, (bool, str))):
        shown = repr(raw) if len(repr(raw)) <= 60 else repr(raw)[:57] + "..."
        raise ConfigError(f"setting {key!r}: must be a {kind} value, got {shown}")
    try:
        if isinstance(default, bool):
            if isinstance(raw, str):
                return raw.strip().lower() in ("1", "true", "yes", "on")
            return bool(raw)
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
        return str(raw)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ConfigError(f"setting {key!r}: cannot use {str(raw)[:60]!r}: {exc}") from exc
