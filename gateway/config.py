"""Gateway configuration: one frozen value built by the CLI, the demo or a test.

Build a :class:`GatewayConfig` and hand it to :class:`gateway.server.GatewayServer`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from gateway.session import SessionSettings

_MEDIA = SessionSettings()  # the media defaults, stated once in SessionSettings


def _freeze(options: Mapping[str, Mapping[str, str]]) -> Mapping[str, Mapping[str, str]]:
    return MappingProxyType(
        {str(name): MappingProxyType(dict(opts)) for name, opts in options.items()}
    )


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    """Everything the media plane is configured with. Times in seconds unless ``_ms``."""

    host: str = "127.0.0.1"
    port: int = 8765  # 0 picks an ephemeral port (see GatewayServer.port)
    auth_user: str | None = None  # with auth_password: HTTP Basic required on /stream, /url
    auth_password: str | None = None
    adapter_options: Mapping[str, Mapping[str, str]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    # The per-call media policy, passed on by session_settings(); defaults are the session's.
    vad_enabled: bool = _MEDIA.vad_enabled
    vad_aggressiveness: int = _MEDIA.vad_aggressiveness
    barge_in_min_speech_ms: int = _MEDIA.barge_in_min_speech_ms  # 0 disables barge-in
    speech_start_ms: int = _MEDIA.speech_start_ms
    speech_hangover_ms: int = _MEDIA.speech_hangover_ms
    chunk_target_ms: int = _MEDIA.chunk_target_ms
    max_playout_ms: int = _MEDIA.max_playout_ms
    adapter_deadline: float = 2.0  # each adapter hook must return within this
    adapter_queue: int = 256  # notices waiting for a slow adapter before the call is ended
    max_message_bytes: int = 256 * 1024
    handshake_timeout: float = 10.0
    idle_timeout: float = 30.0
    escalation_dtmf: str | None = None
    shutdown_deadline: float = 10.0
    max_streams: int = 5000  # more concurrent streams get 503 at the handshake
    start_timeout: float = 10.0  # upgraded streams with no start by then are closed (4008)
    # Connections not streaming yet (handshaking, or upgraded and awaiting start): over these
    # caps a new TCP connection is aborted at accept. Sources in ip_limit_exempt (networks)
    # skip the per-IP caps: loopback by default (a reverse proxy in front of the gateway).
    max_pending: int = 1000
    max_pending_per_ip: int = 100
    max_connections_per_ip: int = 0  # every connection from one IP; 0: no cap (Exotel's
    # media servers carry many calls each)
    ip_limit_exempt: tuple[str, ...] = ("127.0.0.0/8", "::1/128")
    batch_ms: float = 0.0  # > 0: batched loop turns of this length (gateway/batching.py)
    batch_min_streams: int = 100  # ... while at least this many streams are open
    public_url: str | None = None  # e.g. "wss://gw.example.com": base the /url endpoint answers
    ssl_certfile: str | None = None  # with ssl_keyfile: serve wss:// and https://
    ssl_keyfile: str | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError(f"bad port {self.port}")
        if (self.auth_user is None) != (self.auth_password is None):
            raise ValueError("auth_user and auth_password go together")
        if (self.ssl_certfile is None) != (self.ssl_keyfile is None):
            raise ValueError("ssl_certfile and ssl_keyfile go together")
        if self.escalation_dtmf is not None and (
            len(self.escalation_dtmf) != 1 or self.escalation_dtmf not in "0123456789*#"
        ):
            raise ValueError(f"bad escalation digit {self.escalation_dtmf!r}")
        for name in ("adapter_deadline", "handshake_timeout", "idle_timeout", "start_timeout"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if self.shutdown_deadline < 0 or self.adapter_queue < 1 or self.max_message_bytes < 1024:
            raise ValueError("bad shutdown_deadline, adapter_queue or max_message_bytes")
        if self.max_streams < 1 or self.max_pending < 1 or self.max_pending_per_ip < 1:
            raise ValueError("max_streams, max_pending and max_pending_per_ip must be positive")
        if self.max_connections_per_ip < 0:
            raise ValueError("max_connections_per_ip must not be negative (0: no cap)")
        object.__setattr__(self, "ip_limit_exempt", tuple(self.ip_limit_exempt))
        for net in self.ip_limit_exempt:
            try:
                ipaddress.ip_network(net, strict=False)
            except ValueError:
                raise ValueError(f"ip_limit_exempt: {net!r} is not an IP network") from None
        if not 0 <= self.batch_ms <= 50 or self.batch_min_streams < 1:
            raise ValueError("batch_ms must be 0-50 and batch_min_streams positive")
        object.__setattr__(self, "adapter_options", _freeze(self.adapter_options))
        self.session_settings()  # validates the media policy fields

    @property
    def auth_required(self) -> bool:
        return self.auth_user is not None

    def session_settings(self) -> SessionSettings:
        """The per-call media policy."""
        return SessionSettings(
            vad_enabled=self.vad_enabled,
            vad_aggressiveness=self.vad_aggressiveness,
            speech_start_ms=self.speech_start_ms,
            speech_hangover_ms=self.speech_hangover_ms,
            barge_in_min_speech_ms=self.barge_in_min_speech_ms,
            chunk_target_ms=self.chunk_target_ms,
            max_playout_ms=self.max_playout_ms,
            escalation_dtmf=self.escalation_dtmf,
        )

    def options_for(self, adapter: str) -> Mapping[str, str]:
        return self.adapter_options.get(adapter, MappingProxyType({}))
