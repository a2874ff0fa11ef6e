"""A campaign's settings and leads, as frozen validated values. Load settings with
:func:`campaign_from_toml` (a TOML file) or build :class:`CampaignSpec` directly.

Example TOML::

    name = "renewals"
    mode = "bot_first"            # or "agent_first"
    exophone = "+918047112233"
    bot = "scripted"
    pacer = "bot_first"           # progressive | adaptive | predictive | bot_first
    timezone = "Asia/Kolkata"     # leads without timezone/region
    stream_params = ["name", "plan"]  # up to 2 lead fields handed to the bot on the stream URL
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

from dialer.stream_params import check_field_names

__all__ = [
    "DEFAULT_RETRY",
    "AgentSpec",
    "CallingWindow",
    "CampaignError",
    "CampaignSpec",
    "Lead",
    "Limits",
    "Outcome",
    "campaign_from_dict",
    "campaign_from_toml",
    "normalise_phone",
]

PacerName = Literal["progressive", "adaptive", "predictive", "bot_first"]
_PHONE = re.compile(r"^\+?[0-9]{6,15}$")


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


class CampaignError(ValueError):
    """A campaign setting or lead is invalid (the message names the field)."""


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
    def live(self) -> bool:
        """A live answer (machines never are; an interrupted attempt is not known to be)."""
        return self in (Outcome.COMPLETED, Outcome.ESCALATED, Outcome.ABANDONED, Outcome.CALLBACK)


def normalise_phone(raw: str, default_country: str = "91") -> str:
    """``+`` and digits only. A bare 10-digit number gets ``+{default_country}``; a leading
    ``0`` trunk prefix is dropped first. Raises :class:`CampaignError` on anything else."""
    text = re.sub(r"[\s\-().]", "", raw)
    if text.startswith("00"):
        text = "+" + text[2:]
    if not _PHONE.match(text):
        raise CampaignError(f"bad phone number {raw!r}")
    if not text.startswith("+"):
        text = text.lstrip("0")
        if len(text) == 10:
            text = default_country + text
        text = "+" + text
    return text


def _parse_hhmm(value: str, name: str) -> time:
    if name == "window.end" and value.strip() == "24:00":
        return time.max  # the end of the day: a window open until midnight
    match = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", value.strip())
    if match is None:
        raise CampaignError(f"{name} must be HH:MM, got {value!r}")
    return time(int(match.group(1)), int(match.group(2)))


@dataclass(frozen=True, slots=True)
class CallingWindow:
    """Daily calling hours in the lead's local time: ``start`` <= t < ``end`` (end > start).
    ``end = "24:00"`` (``time.max``) keeps the window open until midnight."""

    start: time = time(9, 0)
    end: time = time(21, 0)

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise CampaignError("calling window end must be after its start")

    @classmethod
    def parse(cls, start: str, end: str) -> CallingWindow:
        return cls(_parse_hhmm(start, "window.start"), _parse_hhmm(end, "window.end"))

    def describe(self) -> tuple[str, str]:
        """``(start, end)`` as ``HH:MM`` (an end of ``time.max`` is ``"24:00"``); parses back."""
        end = "24:00" if self.end == time.max else self.end.strftime("%H:%M")
        return self.start.strftime("%H:%M"), end


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-number attempt limits, ring times, concurrency and the abandonment target.

    ``min_ring_s`` is the legal floor for ringing an unanswered call (the FCC's 15 s / four
    rings); ``ring_timeout_s`` below it is refused."""

    max_attempts: int = 3
    max_attempts_per_day: int = 2
    ring_timeout_s: float = 30.0
    min_ring_s: float = 15.0
    max_lines: int = 20
    abandon_target: float = 0.03

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.max_attempts_per_day < 1:
            raise CampaignError("attempt limits must be >= 1")
        if self.ring_timeout_s < self.min_ring_s:
            raise CampaignError(
                f"ring_timeout_s {self.ring_timeout_s} is under the minimum ring time "
                f"{self.min_ring_s} s"
            )
        if self.max_lines < 1:
            raise CampaignError("max_lines must be >= 1")
        if not 0 < self.abandon_target < 1:
            raise CampaignError("abandon_target must be within (0, 1)")


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


@dataclass(frozen=True, slots=True)
class CampaignSpec:
    """Everything a campaign needs besides its leads. ``retry`` maps an :class:`Outcome` value
    to the delay in seconds before the next attempt; outcomes not in it end the lead."""

    name: str
    mode: Literal["bot_first", "agent_first"] = "bot_first"
    exophone: str = ""
    bot: str = "echo"
    pacer: PacerName = "bot_first"
    timezone: str = "Asia/Kolkata"
    window: CallingWindow = CallingWindow()
    limits: Limits = Limits()
    retry: Mapping[str, float] = field(default_factory=lambda: DEFAULT_RETRY)
    agents: tuple[AgentSpec, ...] = ()
    skills: tuple[str, ...] = ()
    amd: bool = True
    stream_params: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", self.name):
            raise CampaignError(f"campaign name must be 1-64 of A-Z a-z 0-9 _ . -: {self.name!r}")
        if self.mode not in ("bot_first", "agent_first"):
            raise CampaignError(f"mode must be bot_first or agent_first, got {self.mode!r}")
        if self.pacer not in ("progressive", "adaptive", "predictive", "bot_first"):
            raise CampaignError(f"unknown pacer {self.pacer!r}")
        for key, delay in self.retry.items():
            if key not in Outcome.__members__.values() or delay < 0:
                raise CampaignError(f"retry.{key} must be a known outcome with a delay >= 0")
        object.__setattr__(self, "retry", MappingProxyType(dict(self.retry)))
        object.__setattr__(self, "agents", tuple(self.agents))
        object.__setattr__(self, "skills", tuple(self.skills))
        try:
            names = check_field_names(tuple(self.stream_params))
        except ValueError as exc:
            raise CampaignError(str(exc)) from exc
        object.__setattr__(self, "stream_params", names)


def _section(data: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, Mapping):
        raise CampaignError(f"[{name}] must be a table")
    return value


def _names(value: Any) -> tuple[str, ...]:
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise CampaignError("stream_params must be an array of field names")
    return tuple(value)


def campaign_from_dict(data: Mapping[str, Any]) -> CampaignSpec:
    """Build a :class:`CampaignSpec` from parsed TOML/JSON; raises :class:`CampaignError`."""
    try:
        window = _section(data, "window")
        limits = _section(data, "limits")
        retry = _section(data, "retry")
        agents = data.get("agents", [])
        if not isinstance(agents, list):
            raise CampaignError("agents must be an array of tables")
        return CampaignSpec(
            name=str(data.get("name", "")),
            mode=data.get("mode", "bot_first"),
            exophone=str(data.get("exophone", "")),
            bot=str(data.get("bot", "echo")),
            pacer=data.get("pacer", "bot_first"),
            timezone=str(data.get("timezone", "Asia/Kolkata")),
            window=CallingWindow.parse(
                str(window.get("start", "09:00")), str(window.get("end", "21:00"))
            ),
            limits=Limits(**{k: v for k, v in limits.items()}),
            retry=(
                {str(k): float(v) for k, v in retry.items()} if "retry" in data else DEFAULT_RETRY
            ),
            agents=tuple(
                AgentSpec(str(a["id"]), str(a["number"]), tuple(a.get("skills", ())),
                          nailed=bool(a.get("nailed", False)))
                for a in agents
            ),
            skills=tuple(data.get("skills", ())),
            amd=bool(data.get("amd", True)),
            stream_params=_names(data.get("stream_params", ())),
        )
    except CampaignError:
        raise
    except (TypeError, KeyError, ValueError) as exc:
        raise CampaignError(f"bad campaign settings: {exc}") from exc


def campaign_from_toml(text: str) -> CampaignSpec:
    """Parse a campaign TOML document (see the module docstring)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CampaignError(f"campaign file is not valid TOML: {exc}") from exc
    return campaign_from_dict(data)
