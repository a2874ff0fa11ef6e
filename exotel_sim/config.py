"""The emulator's configuration: one TOML file plus a seed gives one frozen :class:`SimConfig`.

Build it in code (``SimConfig(rest_latency_ms=0, customers={...})``) for tests, or call
:meth:`SimConfig.from_file` for ``voxgate sim --config FILE --seed N``. The file format is
described in the README's ``sim`` section. Every value is validated on creation; a bad file
raises :class:`SimConfigError` naming the key.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from exotel_sim.requests import EXOPHONE_RE

StepKind = Literal["pause", "say", "dtmf", "barge", "wait", "streaming", "hangup"]
STEP_KINDS: frozenset[str] = frozenset(
    {"pause", "say", "dtmf", "barge", "wait", "streaming", "hangup"})
Outcome = Literal["", "answer", "busy", "no-answer", "failed", "machine"]
OUTCOMES: frozenset[str] = frozenset({"", "answer", "busy", "no-answer", "failed", "machine"})
DTMF_DIGITS: frozenset[str] = frozenset("0123456789*#")


LENIENT_OPTIONS: tuple[str, ...] = ("list_legs", "event_custom_param")
"""The :class:`SimConfig` switches for behaviours Exotel does not document (all off by
default; ``[lenient]`` in the file)."""


class SimConfigError(ValueError):
    """A configuration value is missing, of the wrong type or out of range."""


@dataclass(frozen=True, slots=True)
class ScriptStep:
    """One step of a simulated party's talk script.

    * ``pause ms``: wait until something was heard since the step began, then ``ms`` of silence
      (the bot, or the other party of a bridge, paused).
    * ``say clip``: speak the audio fixture ``clip`` (``cust_human`` asks for a human).
    * ``dtmf digit``: press a key (a stream ``dtmf`` message plus the tone).
    * ``barge ms clip``: wait until the bot has been talking for ``ms``, then say ``clip``.
    * ``wait ms``: wait ``ms``.
    * ``streaming ms``: wait until the call's stream has been up for ``ms`` (a customer who
      waits for the bot to pick up before pressing a key: a key pressed before the stream is up
      reaches no bot, as on Exotel, so ``wait`` before ``dtmf`` races the stream's start).
    * ``hangup``: hang up.
    """

    kind: StepKind
    ms: int = 0
    clip: str = ""
    digit: str = ""

    def __post_init__(self) -> None:
        if self.kind not in STEP_KINDS:
            raise SimConfigError(f"script step: unknown kind {self.kind!r}")
        if self.ms < 0:
            raise SimConfigError(f"script step {self.kind}: ms must be >= 0")
        if self.kind in ("say", "barge") and not self.clip:
            raise SimConfigError(f"script step {self.kind}: needs a clip")
        if self.kind == "dtmf" and self.digit not in DTMF_DIGITS:
            raise SimConfigError(f"script step dtmf: bad digit {self.digit!r}")

    def spec(self) -> str:
        """The step in its string form (``"barge 800 cust_no"``): ``parse(step.spec())``
        gives the step back."""
        if self.kind in ("pause", "wait", "streaming"):
            return f"{self.kind} {self.ms}"
        if self.kind == "say":
            return f"say {self.clip}"
        if self.kind == "barge":
            return f"barge {self.ms} {self.clip}"
        if self.kind == "dtmf":
            return f"dtmf {self.digit}"
        return "hangup"

    @classmethod
    def parse(cls, spec: str | Mapping[str, Any]) -> ScriptStep:
        """Parse ``"pause 600"``, ``"say cust_yes"``, ``"barge 800 cust_no"``, ``"dtmf 5"``,
        ``"wait 1000"``, ``"streaming 200"``, ``"hangup"``, or a table
        ``{do = "say", clip = "cust_yes"}``."""
        if isinstance(spec, str):
            words = spec.split()
            if not words:
                raise SimConfigError("script step: empty string")
            kind, args = words[0], words[1:]
            try:
                if kind in ("pause", "wait", "streaming"):
                    return cls(kind, ms=int(args[0]) if args else 0)  # type: ignore[arg-type]
                if kind == "say":
                    return cls("say", clip=args[0])
                if kind == "barge":
                    return cls("barge", ms=int(args[0]), clip=args[1])
                if kind == "dtmf":
                    return cls("dtmf", digit=args[0])
                if kind == "hangup":
                    return cls("hangup")
            except (IndexError, ValueError) as exc:
                raise SimConfigError(f"script step {spec!r}: {exc}") from exc
            raise SimConfigError(f"script step {spec!r}: unknown kind {kind!r}")
        if isinstance(spec, Mapping):
            do = spec.get("do")
            if not isinstance(do, str):
                raise SimConfigError(f"script step {dict(spec)!r}: needs do = KIND")
            return cls(
                do,  # type: ignore[arg-type]
                ms=_int(spec, "ms", 0),
                clip=str(spec.get("clip", "")),
                digit=str(spec.get("digit", "")),
            )
        raise SimConfigError(f"script step must be a string or a table, not {type(spec).__name__}")


Script = tuple[ScriptStep, ...]


def parse_script(specs: Sequence[str | Mapping[str, Any]]) -> Script:
    """Parse a list of step specs (see :meth:`ScriptStep.parse`)."""
    return tuple(ScriptStep.parse(s) for s in specs)


DEFAULT_SCRIPT: Script = parse_script(
    ["pause 600", "say cust_hello", "pause 600", "say cust_yes", "pause 900", "hangup"]
)
DEFAULT_BRIDGE_SCRIPT: Script = parse_script(["pause 400", "say cust_hello"])


@dataclass(frozen=True, slots=True)
class CustomerProfile:
    """How a simulated customer behaves; ``outcome`` forces one (else drawn from the seed).

    ``scripts`` are alternatives: each call picks one with the leg's seeded RNG.
    ``patience_ms``: hang up after that much continuous silence (0: never).
    ``hold_patience_ms``: hang up after that much continuous say/play audio (hold), 0: never.
    """

    answer_probability: float = 0.9
    ring_ms: tuple[int, int] = (800, 2500)
    busy_weight: float = 0.4
    no_answer_weight: float = 0.5
    failed_weight: float = 0.1
    machine_probability: float = 0.0
    outcome: Outcome = ""
    scripts: tuple[Script, ...] = (DEFAULT_SCRIPT,)
    bridge_script: Script = DEFAULT_BRIDGE_SCRIPT
    patience_ms: int = 12_000
    hold_patience_ms: int = 0
    machine_hangup_ms: int = 20_000
    amd_ms: int = 1_500

    def __post_init__(self) -> None:
        for name in ("answer_probability", "machine_probability"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise SimConfigError(f"customer {name} must be within 0..1, got {value}")
        for name in ("busy_weight", "no_answer_weight", "failed_weight"):
            if getattr(self, name) < 0:
                raise SimConfigError(f"customer {name} must be >= 0")
        lo, hi = self.ring_ms
        if not 0 <= lo <= hi:
            raise SimConfigError(
                f"customer ring_ms must be [lo, hi] with 0 <= lo <= hi, got {lo, hi}"
            )
        if self.outcome not in OUTCOMES:
            raise SimConfigError(f"customer outcome {self.outcome!r} not one of {sorted(OUTCOMES)}")
        if not self.scripts:
            raise SimConfigError("customer scripts must hold at least one script")
        for name in ("patience_ms", "hold_patience_ms", "machine_hangup_ms", "amd_ms"):
            if getattr(self, name) < 0:
                raise SimConfigError(f"customer {name} must be >= 0")
        object.__setattr__(self, "ring_ms", (int(lo), int(hi)))

    def with_script(self, *steps: str) -> CustomerProfile:
        """A copy with one script (for tests): ``profile.with_script("say cust_yes")``."""
        return replace(self, scripts=(parse_script(steps),))


@dataclass(frozen=True, slots=True)
class AgentProfile:
    """A simulated agent: rings ``answer_ms``, sometimes does not answer, greets when bridged,
    hangs up ``talk_ms`` after joining a bridge (default 25 s, so every call that reaches an
    agent ends; 0: stays until the other party hangs up), then needs ``wrap_ms`` of wrap-up."""

    answer_ms: int = 1_500
    no_answer_probability: float = 0.0
    greet_after_ms: int = 300
    greeting_clip: str = "agent_hello"
    talk_ms: int = 25_000
    wrap_ms: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.no_answer_probability <= 1.0:
            raise SimConfigError("agent no_answer_probability must be within 0..1")
        for name in ("answer_ms", "greet_after_ms", "talk_ms", "wrap_ms"):
            if getattr(self, name) < 0:
                raise SimConfigError(f"agent {name} must be >= 0")


def _frozen_map(value: Mapping[str, Any]) -> Mapping[str, Any]:
    return value if isinstance(value, MappingProxyType) else MappingProxyType(dict(value))


@dataclass(frozen=True, slots=True)
class SimConfig:
    """Everything the emulator needs; defaults work with no file (account ``ACsim``)."""

    seed: int = 0
    account_sid: str = "ACsim"
    api_key: str = "sim_key"
    api_token: str = "sim_token"
    exophones: tuple[str, ...] = ()  # the account's numbers; empty: any number is accepted
    rest_latency_ms: int = 40
    event_latency_ms: int = 20
    rate_limit_per_s: float = 200.0  # 0: no limit
    rate_burst: int = 200
    channel_limit: int = 1_000
    stream_throttle: int = 100
    setup_ms: int = 200
    http_timeout_s: float = 1.0
    delivery_attempts: int = 3
    retry_backoff_ms: int = 100
    duplicate_probability: float = 0.0  # test switch: deliver an event twice
    reorder: bool = False  # test switch: swap neighbouring events of one leg
    loss_probability: float = 0.0  # harsh option: an event is lost for good (no attempt)
    lost_events: frozenset[str] = frozenset()  # harsh option: events of these names always lost
    # Share of created legs whose first events (leg_connecting, leg_ringing, and leg_answered
    # when the party answers within race_window_ms of ringing) reach the event endpoint before
    # the 202 of POST /legs, as Exotel's media servers may send them (docs/exotel.md section 3).
    race_share: float = 0.3
    race_window_ms: int = 300
    # Lenient options: behaviours Exotel does not document, off unless a test or a
    # deployment opts in ([lenient] in the file).
    list_legs: bool = False  # GET /legs (the ?custom_param= search) answers; else 404
    event_custom_param: bool = False  # custom_param in event data and action events
    event_auth: tuple[str, str] | None = None  # Basic auth user/password on HTTPS events
    default_customer: CustomerProfile = field(default_factory=CustomerProfile)
    customers: Mapping[str, CustomerProfile] = field(default_factory=dict)
    agents: Mapping[str, AgentProfile] = field(default_factory=dict)
    max_legs_kept: int = 20_000
    max_events_kept: int = 100_000
    keep_stream_audio_s: int = 600  # longest stretch of bot audio a leg recording holds
    tls_verify: bool = True  # verify certificates of https event endpoints and wss bots
    tls_ca_file: str = ""  # PEM of extra trusted CAs (a self-signed event endpoint or bot)

    def __post_init__(self) -> None:
        object.__setattr__(self, "customers", _frozen_map(self.customers))
        object.__setattr__(self, "agents", _frozen_map(self.agents))
        for name in ("rest_latency_ms", "event_latency_ms", "setup_ms", "retry_backoff_ms"):
            if getattr(self, name) < 0:
                raise SimConfigError(f"{name} must be >= 0")
        for name in ("channel_limit", "stream_throttle", "delivery_attempts", "rate_burst"):
            if getattr(self, name) < 1:
                raise SimConfigError(f"{name} must be >= 1")
        if self.rate_limit_per_s < 0:
            raise SimConfigError("rate_limit_per_s must be >= 0")
        for name in ("duplicate_probability", "loss_probability", "race_share"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise SimConfigError(f"{name} must be within 0..1")
        if self.race_window_ms < 0:
            raise SimConfigError("race_window_ms must be >= 0")
        if self.http_timeout_s <= 0:
            raise SimConfigError("http_timeout_s must be > 0")
        if not self.account_sid or not self.api_key or not self.api_token:
            raise SimConfigError("account sid, key and token must not be empty")

    def customer(self, contact_uri: str) -> CustomerProfile:
        """The profile of ``contact_uri`` (the default profile if it has none of its own)."""
        return self.customers.get(contact_uri, self.default_customer)

    def with_agents(self, numbers: Sequence[str]) -> SimConfig:
        """A copy where each of ``numbers`` not yet under ``[agents]`` is a default agent: the
        dialer's agents answer as agents (a number the world does not know is a customer, who
        waits to be spoken to in a bridge: silence on both sides)."""
        added = {n: AgentProfile() for n in numbers if n not in self.agents}
        return replace(self, agents={**self.agents, **added}) if added else self

    @classmethod
    def from_toml(cls, text: str, *, seed: int | None = None) -> SimConfig:
        """Parse TOML text (the README's ``sim`` section documents the keys)."""
        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise SimConfigError(f"config is not valid TOML: {exc}") from exc
        return cls.from_mapping(doc, seed=seed)

    @classmethod
    def from_file(cls, path: str | Path, *, seed: int | None = None) -> SimConfig:
        """Read a TOML config file; ``seed`` (when given) overrides the file's ``seed``."""
        return cls.from_toml(Path(path).read_text(encoding="utf-8"), seed=seed)

    @classmethod
    def from_mapping(cls, doc: Mapping[str, Any], *, seed: int | None = None) -> SimConfig:
        """Build from a parsed TOML document."""
        known = {"seed", "account", "latency", "limits", "delivery", "customers", "agents",
                 "tls_verify", "tls_ca_file", "lenient"}
        _no_unknown(doc, known, "")
        account = _table(doc, "account")
        latency = _table(doc, "latency")
        limits = _table(doc, "limits")
        delivery = _table(doc, "delivery")
        lenient = _table(doc, "lenient")
        _no_unknown(lenient, {"list_legs", "event_custom_param"}, "lenient.")
        _no_unknown(account, {"sid", "key", "token", "exophones"}, "account.")
        _no_unknown(latency, {"rest_ms", "event_ms", "setup_ms"}, "latency.")
        _no_unknown(
            limits, {"rate_per_s", "burst", "channels", "stream_throttle", "keep_stream_audio_s"},
            "limits.",
        )
        _no_unknown(
            delivery,
            {"timeout_s", "attempts", "backoff_ms", "duplicate_probability", "reorder",
             "auth_user", "auth_password", "loss_probability", "lost_events", "race_share",
             "race_window_ms"},
            "delivery.",
        )
        customers_doc = _table(doc, "customers")
        default = CustomerProfile()
        if "default" in customers_doc:
            default = _customer(_table(customers_doc, "default"), default, "customers.default")
        customers = {
            number: _customer(_table(customers_doc, number), default, f"customers.{number}")
            for number in customers_doc
            if number != "default"
        }
        agents_doc = _table(doc, "agents")
        agents = {
            number: _agent(_table(agents_doc, number), f"agents.{number}") for number in agents_doc
        }
        auth_user = delivery.get("auth_user")
        auth = (str(auth_user), str(delivery.get("auth_password", ""))) if auth_user else None
        base = cls()
        return cls(
            seed=seed if seed is not None else _int(doc, "seed", 0),
            account_sid=str(account.get("sid", base.account_sid)),
            api_key=str(account.get("key", base.api_key)),
            api_token=str(account.get("token", base.api_token)),
            exophones=_exophones(account.get("exophones", [])),
            rest_latency_ms=_int(latency, "rest_ms", base.rest_latency_ms),
            event_latency_ms=_int(latency, "event_ms", base.event_latency_ms),
            setup_ms=_int(latency, "setup_ms", base.setup_ms),
            rate_limit_per_s=_float(limits, "rate_per_s", base.rate_limit_per_s),
            rate_burst=_int(limits, "burst", base.rate_burst),
            channel_limit=_int(limits, "channels", base.channel_limit),
            stream_throttle=_int(limits, "stream_throttle", base.stream_throttle),
            keep_stream_audio_s=_int(limits, "keep_stream_audio_s", base.keep_stream_audio_s),
            http_timeout_s=_float(delivery, "timeout_s", base.http_timeout_s),
            delivery_attempts=_int(delivery, "attempts", base.delivery_attempts),
            retry_backoff_ms=_int(delivery, "backoff_ms", base.retry_backoff_ms),
            duplicate_probability=_float(
                delivery, "duplicate_probability", base.duplicate_probability
            ),
            reorder=_bool(delivery, "reorder", False),
            loss_probability=_float(delivery, "loss_probability", base.loss_probability),
            lost_events=_names(delivery.get("lost_events", []), "delivery.lost_events"),
            race_share=_float(delivery, "race_share", base.race_share),
            race_window_ms=_int(delivery, "race_window_ms", base.race_window_ms),
            list_legs=_bool(lenient, "list_legs", False),
            event_custom_param=_bool(lenient, "event_custom_param", False),
            tls_verify=bool(doc.get("tls_verify", True)),
            tls_ca_file=str(doc.get("tls_ca_file", "")),
            event_auth=auth,
            default_customer=default,
            customers=customers,
            agents=agents,
        )


_CUSTOMER_KEYS = {
    "answer_probability", "ring_ms", "busy_weight", "no_answer_weight", "failed_weight",
    "machine_probability", "outcome", "script", "scripts", "bridge_script", "patience_ms",
    "hold_patience_ms", "machine_hangup_ms", "amd_ms",
}


def _customer(doc: Mapping[str, Any], base: CustomerProfile, where: str) -> CustomerProfile:
    _no_unknown(doc, _CUSTOMER_KEYS, where + ".")
    scripts = base.scripts
    try:
        if "script" in doc:
            scripts = (parse_script(doc["script"]),)
        if "scripts" in doc:
            scripts = tuple(parse_script(s) for s in doc["scripts"])
        bridge_script = (
            parse_script(doc["bridge_script"]) if "bridge_script" in doc else base.bridge_script
        )
        ring = doc.get("ring_ms", base.ring_ms)
        if isinstance(ring, int):
            ring = (ring, ring)
        if not isinstance(ring, (list, tuple)) or len(ring) != 2:
            raise SimConfigError("ring_ms must be an integer or [lo, hi]")
        return CustomerProfile(
            answer_probability=_float(doc, "answer_probability", base.answer_probability),
            ring_ms=(int(ring[0]), int(ring[1])),
            busy_weight=_float(doc, "busy_weight", base.busy_weight),
            no_answer_weight=_float(doc, "no_answer_weight", base.no_answer_weight),
            failed_weight=_float(doc, "failed_weight", base.failed_weight),
            machine_probability=_float(doc, "machine_probability", base.machine_probability),
            outcome=str(doc.get("outcome", base.outcome)),  # type: ignore[arg-type]
            scripts=scripts,
            bridge_script=bridge_script,
            patience_ms=_int(doc, "patience_ms", base.patience_ms),
            hold_patience_ms=_int(doc, "hold_patience_ms", base.hold_patience_ms),
            machine_hangup_ms=_int(doc, "machine_hangup_ms", base.machine_hangup_ms),
            amd_ms=_int(doc, "amd_ms", base.amd_ms),
        )
    except SimConfigError as exc:
        raise SimConfigError(f"{where}: {exc}") from exc


def _agent(doc: Mapping[str, Any], where: str) -> AgentProfile:
    keys = {"answer_ms", "no_answer_probability", "greet_after_ms", "greeting_clip", "talk_ms",
            "wrap_ms"}
    _no_unknown(doc, keys, where + ".")
    base = AgentProfile()
    try:
        return AgentProfile(
            answer_ms=_int(doc, "answer_ms", base.answer_ms),
            no_answer_probability=_float(doc, "no_answer_probability", base.no_answer_probability),
            greet_after_ms=_int(doc, "greet_after_ms", base.greet_after_ms),
            greeting_clip=str(doc.get("greeting_clip", base.greeting_clip)),
            talk_ms=_int(doc, "talk_ms", base.talk_ms),
            wrap_ms=_int(doc, "wrap_ms", base.wrap_ms),
        )
    except SimConfigError as exc:
        raise SimConfigError(f"{where}: {exc}") from exc


def _no_unknown(doc: Mapping[str, Any], known: set[str], prefix: str) -> None:
    unknown = sorted(set(doc) - known)
    if unknown:
        raise SimConfigError(f"unknown config key(s): {', '.join(prefix + k for k in unknown)}")


def _table(doc: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = doc.get(key, {})
    if not isinstance(value, Mapping):
        raise SimConfigError(f"{key} must be a table")
    return value


def _int(doc: Mapping[str, Any], key: str, default: int) -> int:
    value = doc.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise SimConfigError(f"{key} must be an integer, got {value!r}")
    return value


def _bool(doc: Mapping[str, Any], key: str, default: bool) -> bool:
    value = doc.get(key, default)
    if not isinstance(value, bool):
        raise SimConfigError(f"{key} must be true or false, got {value!r}")
    return value


def _exophones(value: Any) -> tuple[str, ...]:
    """``[account] exophones``: the account's numbers, each ``+`` and 3-15 digits."""
    if not isinstance(value, list) or not all(
        isinstance(v, str) and EXOPHONE_RE.match(v) for v in value
    ):
        raise SimConfigError(f"account.exophones must be a list of phone numbers, got {value!r}")
    return tuple(value)


def _names(value: Any, key: str) -> frozenset[str]:
    """A list of event names (``delivery.lost_events``)."""
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise SimConfigError(f"{key} must be a list of event names, got {value!r}")
    return frozenset(value)


def _float(doc: Mapping[str, Any], key: str, default: float) -> float:
    value = doc.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SimConfigError(f"{key} must be a number, got {value!r}")
    return float(value)
