"""A campaign's settings and leads, as frozen validated values. Load settings with
:func:`campaign_from_toml` (a TOML file) or build :class:`CampaignSpec` directly.

Example TOML::

    name = "renewals"
    mode = "bot_first"            # or "agent_first"
    exophone = "+918047112233"
    bot = "scripted"
    pacer = "bot_first"           # progressive | adaptive | predictive | bot_first
    timezone = "Asia/Kolkata"     # leads without timezone/region
    default_country = "91"        # the country of numbers written nationally ("1", "+44" ...)
    stream_params = ["name", "plan"]  # up to 2 lead fields handed to the bot on the stream URL
    dispositions = ["sale", "callback", "not_interested"]  # the agent desk's codes
    [window]
    start = "09:00"
    end = "21:00"
    [limits]
    max_attempts = 3
    max_attempts_per_day = 2
    ring_timeout_s = 30
    min_ring_s = 15
    max_lines = 20
    abandon_target = 0.03
    [retry]                        # seconds per outcome; absent outcomes are final
    busy = 600
    no_answer = 3600
    [[agents]]
    id = "a1"
    number = "+919800000001"
    skills = ["sales"]
    nailed = false                # true: pre-dialled and kept on the line
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Literal

from dialer.campaign.values import (
    CampaignError,
    check_timezone,
    country_code,
    is_number,
    normalise_phone,
    show,
)
from dialer.config import clean_exophone
from dialer.stream_params import check_field_names

__all__ = [
    "DEFAULT_DISPOSITIONS",
    "DEFAULT_RETRY",
    "RETRYABLE",
    "AgentSpec",
    "CallingWindow",
    "CampaignError",
    "CampaignSpec",
    "Lead",
    "Limits",
    "Outcome",
    "campaign_from_dict",
    "campaign_from_toml",
    "check_timezone",
    "country_code",
    "normalise_phone",
]

PacerName = Literal["progressive", "adaptive", "predictive", "bot_first"]
MAX_RETRY_S = 365 * 86_400.0
"""The longest ``[retry]`` delay (a year): larger ones, and ``nan``/``inf``, are refused."""
MAX_RING_S = 600.0
"""The longest ``limits.ring_timeout_s`` (10 minutes)."""
MAX_COUNT = 10_000
"""The largest ``max_attempts``, ``max_attempts_per_day`` and ``max_lines``."""


DEFAULT_RETRY: Mapping[str, float] = MappingProxyType(
    {
        "busy": 600.0,
        "no_answer": 3600.0,
        "failed": 1800.0,
        "machine": 7200.0,
        "abandoned": 900.0,
        "callback": 3600.0,
        "interrupted": 300.0,
    }
)


class Outcome(StrEnum):
    """How one attempt ended, as far as the campaign cares (retries are keyed by it)."""

    COMPLETED = "completed"  # bot finished, or an agent handled the call
    ESCALATED = "escalated"  # reached an agent (bot-first escalation or agent-first bridge)
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    FAILED = "failed"
    MACHINE = "machine"
    ABANDONED = "abandoned"
    CALLBACK = "callback"
    INTERRUPTED = "interrupted"  # the dialer died mid-attempt; outcome unknown

    @classmethod
    def from_disposition(cls, disposition: str, bridged: bool = False) -> Outcome:
        """Map the dialer's call-record disposition to a campaign outcome."""
        table = {
            "busy": cls.BUSY,
            "no_answer": cls.NO_ANSWER,
            "machine": cls.MACHINE,
            "abandoned": cls.ABANDONED,
            "callback_scheduled": cls.CALLBACK,
            "agent_handled": cls.ESCALATED,
            "bot_completed": cls.COMPLETED,
            "customer_hangup": cls.COMPLETED,
        }
        outcome = table.get(disposition, cls.FAILED)
        if outcome is cls.COMPLETED and bridged:
            return cls.ESCALATED
        return outcome

    @property
    def retryable(self) -> bool:
        """Whether a ``[retry]`` delay can apply (completed and escalated leads are final)."""
        return self not in (Outcome.COMPLETED, Outcome.ESCALATED)

    @property
    def live(self) -> bool:
        """A live answer (machines never are; an interrupted attempt is not known to be)."""
        return self in (Outcome.COMPLETED, Outcome.ESCALATED, Outcome.ABANDONED, Outcome.CALLBACK)


RETRYABLE: tuple[str, ...] = tuple(o.value for o in Outcome if o.retryable)


def _check_skills(skills: tuple[str, ...], where: str) -> None:
    for skill in skills:
        if not isinstance(skill, str) or not skill.strip():
            raise CampaignError(f"{where}: skill names must be non-empty strings, got {skill!r}")
        if "," in skill:
            raise CampaignError(f"{where}: skill names may not contain commas, got {skill!r}")


def _parse_hhmm(value: str, name: str) -> time:
    if name == "window.end" and value.strip() == "24:00":
        return time.max  # the end of the day: a window open until midnight
    match = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", value.strip())
    if match is None:
        raise CampaignError(f"{name}: must be HH:MM, got {value!r}")
    return time(int(match.group(1)), int(match.group(2)))


@dataclass(frozen=True, slots=True)
class CallingWindow:
    """Daily calling hours in the lead's local time: ``start`` <= t < ``end`` (end > start).
    ``end = "24:00"`` (``time.max``) keeps the window open until midnight."""

    start: time = time(9, 0)
    end: time = time(21, 0)

    def __post_init__(self) -> None:
        if self.end <= self.start:
            start, end = self.describe()
            raise CampaignError(f"window: end {end} must be after start {start}")

    @classmethod
    def parse(cls, start: str, end: str) -> CallingWindow:
        return cls(_parse_hhmm(start, "window.start"), _parse_hhmm(end, "window.end"))

    def describe(self) -> tuple[str, str]:
        """``(start, end)`` as ``HH:MM`` (an end of ``time.max`` is ``"24:00"``); parses back."""
        end = "24:00" if self.end == time.max else self.end.strftime("%H:%M")
        return self.start.strftime("%H:%M"), end


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-number attempt limits, ring times, concurrency, the abandonment target and the
    agents' wrap-up time (0: the dialer config's ``wrap_up_seconds``).

    ``min_ring_s`` is the legal floor for ringing an unanswered call (the FCC's 15 s / four
    rings; at least 1 s); ``ring_timeout_s`` below it is refused."""

    max_attempts: int = 3
    max_attempts_per_day: int = 2
    ring_timeout_s: float = 30.0
    min_ring_s: float = 15.0
    max_lines: int = 20
    abandon_target: float = 0.03
    wrap_up_s: float = 0.0  # after a call an agent is not offered the next one for this long

    def __post_init__(self) -> None:
        for key in ("max_attempts", "max_attempts_per_day", "max_lines"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise CampaignError(f"limits.{key}: must be an integer >= 1, got {show(value)}")
            if value > MAX_COUNT:
                raise CampaignError(f"limits.{key}: must be at most {MAX_COUNT}, got {value}")
        for key in ("ring_timeout_s", "min_ring_s", "abandon_target", "wrap_up_s"):
            value = getattr(self, key)
            if not is_number(value):
                finite = "a finite" if isinstance(value, float) else "a"
                raise CampaignError(f"limits.{key}: must be {finite} number, got {show(value)}")
        if self.ring_timeout_s > MAX_RING_S:
            raise CampaignError(
                f"limits.ring_timeout_s: must be at most {MAX_RING_S:g} seconds, got "
                f"{show(self.ring_timeout_s)}"
            )
        if self.min_ring_s < 1:
            raise CampaignError(
                f"limits.min_ring_s: must be a number >= 1, got {show(self.min_ring_s)}"
            )
        if self.ring_timeout_s < self.min_ring_s:
            raise CampaignError(
                f"limits.ring_timeout_s: {show(self.ring_timeout_s)} is under the minimum "
                f"ring time limits.min_ring_s {show(self.min_ring_s)}"
            )
        if not 0 <= self.wrap_up_s <= 3600:
            raise CampaignError(
                f"limits.wrap_up_s: must be within 0..3600 seconds, got {show(self.wrap_up_s)}"
            )
        if not 0 < self.abandon_target < 1:
            raise CampaignError(
                f"limits.abandon_target: must be within (0, 1), got {show(self.abandon_target)}"
            )


@dataclass(frozen=True, slots=True)
class AgentSpec:
    """An agent of the campaign: id, the number their leg is dialled on, skills; ``nailed``
    agents are dialled ahead and kept on the line (bridged at once on escalation)."""

    id: str
    number: str
    skills: tuple[str, ...] = ()
    nailed: bool = False

    def __post_init__(self) -> None:
        if not self.id:
            raise CampaignError("agent id must not be empty")
        object.__setattr__(self, "number", normalise_phone(self.number))
        object.__setattr__(self, "skills", tuple(self.skills))
        _check_skills(self.skills, f"agent {self.id}: skills")


@dataclass(frozen=True, slots=True)
class Lead:
    """One person to call. ``timezone`` is an IANA name (resolved from a region on import);
    ``custom`` is passed to the bot through the leg's ``custom_param``; higher ``priority``
    is dialled first."""

    phone: str
    name: str = ""
    timezone: str = ""
    priority: int = 0
    custom: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        object.__setattr__(self, "phone", normalise_phone(self.phone))
        if not isinstance(self.custom, MappingProxyType):
            object.__setattr__(self, "custom", MappingProxyType(dict(self.custom)))


DEFAULT_DISPOSITIONS = ("sale", "callback", "not_interested", "wrong_number", "other")
"""The agent desk's disposition codes of a campaign whose file names none."""


def _check_dispositions(codes: tuple[str, ...]) -> None:
    if not 1 <= len(codes) <= 50:
        raise CampaignError(f"dispositions: must name 1-50 codes, got {len(codes)}")
    for code in codes:
        if not isinstance(code, str) or not re.fullmatch(r"[A-Za-z0-9_.-]{1,40}", code):
            raise CampaignError(
                f"dispositions: a code must be 1-40 of A-Z a-z 0-9 _ . -, got {code!r}"
            )
    if len(set(codes)) != len(codes):
        raise CampaignError("dispositions: a code is named twice")


@dataclass(frozen=True, slots=True)
class CampaignSpec:
    """Everything a campaign needs besides its leads. ``retry`` maps an :class:`Outcome` value
    to the delay in seconds before the next attempt; outcomes not in it end the lead.
    ``default_country`` (``"1"`` or ``"+1"``, kept as ``"1"``) is the country of the numbers
    written nationally in its campaign file (agents), lead CSVs and do-not-call files (see
    :func:`normalise_phone`); :class:`Lead` and :class:`AgentSpec` built directly take +91 for
    a national number: give them international ones."""

    name: str
    mode: Literal["bot_first", "agent_first"] = "bot_first"
    exophone: str = ""
    bot: str = "echo"
    pacer: PacerName = "bot_first"
    timezone: str = "Asia/Kolkata"
    default_country: str = "91"
    window: CallingWindow = CallingWindow()
    limits: Limits = Limits()
    retry: Mapping[str, float] = field(default_factory=lambda: DEFAULT_RETRY)
    agents: tuple[AgentSpec, ...] = ()
    skills: tuple[str, ...] = ()
    amd: bool = True
    stream_params: tuple[str, ...] = ()
    dispositions: tuple[str, ...] = DEFAULT_DISPOSITIONS  # the agent desk's codes
    segment_fields: tuple[str, ...] = ()  # lead fields the pickup model's segments use
    lead_order: Literal["model", "priority"] = "model"  # "priority": the order before issue 19
    shared: bool = False  # every start joins the dialers running it (several dialers share it)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", self.name):
            raise CampaignError(
                f"name: campaign name must be 1-64 of A-Z a-z 0-9 _ . -, got {self.name!r}"
            )
        if self.mode not in ("bot_first", "agent_first"):
            raise CampaignError(f"mode: must be bot_first or agent_first, got {self.mode!r}")
        if self.pacer not in ("progressive", "adaptive", "predictive", "bot_first"):
            raise CampaignError(
                f"pacer: must be progressive, adaptive, predictive or bot_first, got {self.pacer!r}"
            )
        if self.exophone and clean_exophone(self.exophone) is None:  # the dialer's own rule
            raise CampaignError(f"exophone: must be a phone number, got {self.exophone!r}")
        if not isinstance(self.bot, str) or not self.bot:
            raise CampaignError(f"bot: must be an adapter name, got {self.bot!r}")
        check_timezone(self.timezone)
        object.__setattr__(self, "default_country", country_code(self.default_country))
        object.__setattr__(self, "retry", MappingProxyType(_retry(self.retry)))
        object.__setattr__(self, "agents", tuple(self.agents))
        ids = [a.id for a in self.agents]
        for agent_id in ids:
            if ids.count(agent_id) > 1:
                raise CampaignError(f"agents: duplicate agent id {agent_id!r}")
        object.__setattr__(self, "skills", tuple(self.skills))
        _check_skills(self.skills, "skills")
        try:
            names = check_field_names(tuple(self.stream_params))
        except ValueError as exc:
            raise CampaignError(str(exc)) from exc
        object.__setattr__(self, "stream_params", names)
        object.__setattr__(self, "dispositions", tuple(self.dispositions))
        _check_dispositions(self.dispositions)
        object.__setattr__(self, "segment_fields", tuple(self.segment_fields))
        if len(self.segment_fields) > 5 or not all(
            isinstance(f, str) and re.fullmatch(r"[A-Za-z0-9_]{1,40}", f)
            for f in self.segment_fields
        ):
            raise CampaignError("segment_fields: at most 5 field names of A-Z a-z 0-9 _")
        if self.lead_order not in ("model", "priority"):
            raise CampaignError(f"lead_order: must be model or priority, got {self.lead_order!r}")


_TOP_KEYS = (
    "name",
    "mode",
    "exophone",
    "bot",
    "pacer",
    "timezone",
    "default_country",
    "window",
    "limits",
    "retry",
    "agents",
    "skills",
    "amd",
    "stream_params",
    "dispositions",
    "segment_fields",
    "lead_order",
    "shared",
)
_WINDOW_KEYS = ("start", "end")
_LIMIT_KEYS = (
    "max_attempts",
    "max_attempts_per_day",
    "ring_timeout_s",
    "min_ring_s",
    "max_lines",
    "abandon_target",
    "wrap_up_s",
)
_AGENT_KEYS = ("id", "number", "skills", "nailed")


def _table(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise CampaignError(f"{where}: must be a table, got {show(value)}")
    return value


def _no_unknown(table: Mapping[str, Any], known: tuple[str, ...], where: str) -> None:
    prefix = f"{where}: " if where else ""
    for key in table:
        if key not in known:
            raise CampaignError(f"{prefix}unknown key {key!r} (known: {', '.join(known)})")


def _string(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise CampaignError(f"{where}: must be a string, got {show(value)}")
    return value


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise CampaignError(f"{where}: must be an array of strings, got {show(value)}")
    return tuple(value)


def _flag(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise CampaignError(f"{where}: must be true or false, got {show(value)}")
    return value


def _hhmm(window: Mapping[str, Any], key: str, default: str) -> str:
    value = window.get(key, default)
    if not isinstance(value, str):
        raise CampaignError(f"window.{key}: must be HH:MM, got {show(value)}")
    return value


def _limits(table: Mapping[str, Any]) -> Limits:
    """``[limits]`` (its keys already checked): :class:`Limits` checks types and ranges."""
    return Limits(**table)


def _retry(table: Mapping[str, Any]) -> dict[str, float]:
    """``[retry]`` checked: retryable outcomes only, delays in seconds >= 0."""
    delays: dict[str, float] = {}
    for key, value in table.items():
        if key not in RETRYABLE:
            raise CampaignError(
                f"retry.{key}: not a retryable outcome (one of {', '.join(RETRYABLE)})"
            )
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise CampaignError(
                f"retry.{key}: must be a number of seconds >= 0, got {show(value)}"
            )
        if not is_number(value) or value > MAX_RETRY_S:
            raise CampaignError(
                f"retry.{key}: must be a finite number of seconds up to {MAX_RETRY_S:.0f} (a "
                f"year), got {show(value)}"
            )
        delays[key] = float(value)
    return delays


def _agent(value: Any, where: str, country: str) -> AgentSpec:
    table = _table(value, where)
    _no_unknown(table, _AGENT_KEYS, where)
    for key in ("id", "number"):
        if key not in table:
            raise CampaignError(f"{where}: missing key {key!r}")
    agent_id = _string(table["id"], f"{where}.id")
    if not agent_id.strip():
        raise CampaignError(f"{where}.id: must not be empty")
    number = _string(table["number"], f"{where}.number")
    try:
        number = normalise_phone(number, country)
    except CampaignError as exc:
        raise CampaignError(f"{where}.number: {exc}") from exc
    skills = _strings(table.get("skills", []), f"{where}.skills")
    _check_skills(skills, f"{where}.skills")
    return AgentSpec(
        agent_id, number, skills, nailed=_flag(table.get("nailed", False), f"{where}.nailed")
    )


def campaign_from_dict(data: Mapping[str, Any]) -> CampaignSpec:
    """Build a :class:`CampaignSpec` from parsed TOML/JSON; raises :class:`CampaignError` for
    an unknown key at any level or a value of the wrong type or range, with its key path
    (``limits.max_attempts: must be an integer >= 1, got 2.5``). Agents are numbered from 1
    (``agents[1]`` is the first ``[[agents]]`` table)."""
    _no_unknown(data, _TOP_KEYS, "")
    window = _table(data.get("window", {}), "window")
    _no_unknown(window, _WINDOW_KEYS, "window")
    limits = _table(data.get("limits", {}), "limits")
    _no_unknown(limits, _LIMIT_KEYS, "limits")
    agents = data.get("agents", [])
    if not isinstance(agents, list):
        raise CampaignError(f"agents: must be an array of tables, got {show(agents)}")
    if "name" not in data:
        raise CampaignError("missing key 'name'")
    mode = _string(data.get("mode", "bot_first"), "mode")
    country = country_code(data.get("default_country", "91"))
    pacer = _string(data.get("pacer", "bot_first"), "pacer")
    stream_params = data.get("stream_params", [])
    if not isinstance(stream_params, list) or not all(isinstance(v, str) for v in stream_params):
        raise CampaignError(
            f"stream_params: must be an array of field names, got {show(stream_params)}"
        )
    try:
        names = check_field_names(tuple(stream_params))
    except ValueError as exc:
        text = str(exc)
        raise CampaignError(
            text if text.startswith("stream_params") else f"stream_params: {text}"
        ) from exc
    return CampaignSpec(
        name=_string(data["name"], "name"),
        mode=mode,  # type: ignore[arg-type]  # checked by CampaignSpec
        exophone=_string(data.get("exophone", ""), "exophone"),
        bot=_string(data.get("bot", "echo"), "bot"),
        pacer=pacer,  # type: ignore[arg-type]  # checked by CampaignSpec
        timezone=_string(data.get("timezone", "Asia/Kolkata"), "timezone"),
        default_country=country,
        window=CallingWindow.parse(_hhmm(window, "start", "09:00"), _hhmm(window, "end", "21:00")),
        limits=_limits(limits),
        retry=_table(data["retry"], "retry") if "retry" in data else DEFAULT_RETRY,
        agents=tuple(_agent(a, f"agents[{i}]", country) for i, a in enumerate(agents, 1)),
        skills=_strings(data.get("skills", []), "skills"),
        amd=_flag(data.get("amd", True), "amd"),
        stream_params=names,
        dispositions=_strings(data["dispositions"], "dispositions")
        if "dispositions" in data else DEFAULT_DISPOSITIONS,
        segment_fields=_strings(data.get("segment_fields", []), "segment_fields"),
        lead_order=_string(data.get("lead_order", "model"), "lead_order"),  # type: ignore[arg-type]
        shared=_flag(data.get("shared", False), "shared"),
    )


def campaign_from_toml(text: str) -> CampaignSpec:
    """Parse a campaign TOML document (see the module docstring)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CampaignError(f"not valid TOML: {exc}") from exc
    return campaign_from_dict(data)
