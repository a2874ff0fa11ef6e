"""The scripted bot's conversation file: parsing and validation (TOML), no audio, no I/O.

Call :func:`parse_script` with the TOML text (or :func:`load_script` with a path) once per
configuration; the resulting :class:`Script` is immutable and shared by every call. Any mistake
raises :class:`ScriptError` naming the offending key, e.g. ``states.ask.dtmf.7: unknown state``.

Format (see ``bot_adapters/scripted/sales.toml`` and docs/adapters.md)::

    [script]
    name = "sales"
    start = "greet"            # first state
    end_silence_ms = 400       # silence after VAD end-of-speech before the bot takes the turn
    interrupt_on = "barge_in"  # prompts stop on the gateway's barge-in ("barge_in"), or as
                               # soon as VAD hears speech ("speech_start": faster, less robust)
    no_input_ms = 4000         # default wait for an answer once the prompts have been heard

    [prompts]                  # name = "fixture:NAME" (audio_fixtures) or a WAV path
    ask = "fixture:bot_ask_interest"

    [dtmf]                     # keys valid in every state (a state's own menu wins)
    "0" = "human"

    [states.ask]
    say = ["ask"]              # prompts played on entering the state
    on_speech = "goodbye"      # the caller answered (spoke, then fell silent)
    dtmf = { "1" = "human" }   # menu; other keys go to on_invalid_dtmf or count as no match
    no_input_ms = 5000         # overrides [script].no_input_ms
    reprompt = ["reprompt"]    # played on no input / no match, at most max_reprompts times
    max_reprompts = 1
    on_no_input = "human"      # after the reprompts are used up
    next = "..."               # go on once the prompts are heard (no input expected)
    action = "transfer"        # or "hangup": runs once the prompts are heard
    reason = "lead_asked_for_human"
    skills = ["sales"]
    forecast_transfer = { within_s = 4, likelihood = 0.95 }
                               # on entering the state, tell the dialer a transfer is expected
                               # within 4 s (or just `forecast_transfer = 4`: likelihood 1);
                               # likelihood 0 withdraws an earlier forecast
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from bot_adapters.contract import MAX_FORECAST_S

DTMF_KEYS = frozenset("0123456789*#")
ActionKind = Literal["hangup", "transfer"]
InterruptOn = Literal["barge_in", "speech_start"]


class ScriptError(ValueError):
    """The script file is malformed; the message names the key at fault."""


@dataclass(frozen=True, slots=True)
class Action:
    """Hang up or transfer to a human agent, once the state's prompts have been heard."""

    kind: ActionKind
    reason: str
    skills: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Forecast:
    """A transfer forecast made on entering a state (``CallControl.forecast_transfer``)."""

    within_s: float
    likelihood: float = 1.0


@dataclass(frozen=True, slots=True)
class State:
    """One step of the conversation."""

    name: str
    say: tuple[str, ...] = ()
    on_speech: str | None = None
    dtmf: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    on_invalid_dtmf: str | None = None
    no_input_ms: int = 4000
    reprompt: tuple[str, ...] = ()
    max_reprompts: int = 0
    on_no_input: str | None = None
    next: str | None = None
    action: Action | None = None
    forecast: Forecast | None = None


@dataclass(frozen=True, slots=True)
class Script:
    """A validated conversation. ``prompts`` maps prompt names to their source strings."""

    name: str
    start: str
    end_silence_ms: int
    prompts: Mapping[str, str]
    states: Mapping[str, State]
    global_dtmf: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    base_dir: Path | None = None
    interrupt_on: InterruptOn = "barge_in"


_SCRIPT_KEYS = {"name", "start", "end_silence_ms", "no_input_ms", "interrupt_on"}
_STATE_KEYS = {
    "say", "on_speech", "dtmf", "on_invalid_dtmf", "no_input_ms", "reprompt", "max_reprompts",
    "on_no_input", "next", "action", "reason", "skills", "forecast_transfer",
}  # fmt: skip
_TOP_KEYS = {"script", "prompts", "dtmf", "states"}


def load_script(path: Path | str) -> Script:
    """Read and validate a script file; prompt paths resolve relative to its folder."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScriptError(f"{file}: cannot read script: {exc}") from exc
    return parse_script(text, base_dir=file.parent, source=str(file))


def parse_script(text: str, *, base_dir: Path | None = None, source: str = "<script>") -> Script:
    """Parse and validate script TOML text."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScriptError(f"{source}: not valid TOML: {exc}") from exc
    try:
        return _build(doc, base_dir)
    except ScriptError as exc:
        raise ScriptError(f"{source}: {exc}") from None


def _build(doc: dict[str, Any], base_dir: Path | None) -> Script:
    _no_unknown(doc, _TOP_KEYS, "")
    head = _table(doc, "script", "")
    _no_unknown(head, _SCRIPT_KEYS, "script.")
    name = _str(head, "name", "script.", default="script")
    start = _str(head, "start", "script.")
    end_silence = _ms(head, "end_silence_ms", "script.", default=400)
    default_no_input = _ms(head, "no_input_ms", "script.", default=4000)
    interrupt_on = head.get("interrupt_on", "barge_in")
    if interrupt_on not in ("barge_in", "speech_start"):
        raise ScriptError("script.interrupt_on: must be 'barge_in' or 'speech_start'")

    prompts_raw = _table(doc, "prompts", "")
    prompts: dict[str, str] = {}
    for key, value in prompts_raw.items():
        if not isinstance(value, str) or not value:
            raise ScriptError(f"prompts.{key}: must be a non-empty string")
        prompts[key] = value

    states_raw = _table(doc, "states", "")
    if not states_raw:
        raise ScriptError("states: at least one state is required")
    states: dict[str, State] = {}
    for state_name, body in states_raw.items():
        if not isinstance(body, dict):
            raise ScriptError(f"states.{state_name}: must be a table")
        states[state_name] = _state(state_name, body, default_no_input)

    global_dtmf = _dtmf_table(doc.get("dtmf", {}), "dtmf")
    script = Script(
        name=name,
        start=start,
        end_silence_ms=end_silence,
        prompts=MappingProxyType(prompts),
        states=MappingProxyType(states),
        global_dtmf=MappingProxyType(global_dtmf),
        base_dir=base_dir,
        interrupt_on=interrupt_on,
    )
    _check_references(script)
    return script


def _state(name: str, body: dict[str, Any], default_no_input: int) -> State:
    where = f"states.{name}."
    _no_unknown(body, _STATE_KEYS, where)
    action: Action | None = None
    kind = body.get("action")
    if kind is not None:
        if kind not in ("hangup", "transfer"):
            raise ScriptError(f"{where}action: must be 'hangup' or 'transfer', not {kind!r}")
        default_reason = "bot_hangup" if kind == "hangup" else "bot_transfer"
        skills = _str_list(body, "skills", where)
        if kind == "hangup" and skills:
            raise ScriptError(f"{where}skills: only a transfer takes skills")
        action = Action(kind, _str(body, "reason", where, default=default_reason), skills)
    elif "reason" in body or "skills" in body:
        raise ScriptError(f"{where}reason: 'reason' and 'skills' need an action")
    nxt = _opt_str(body, "next", where)
    if action is not None and nxt is not None:
        raise ScriptError(f"{where}next: a state has either 'next' or 'action', not both")
    max_reprompts = body.get("max_reprompts", 0)
    if (
        not isinstance(max_reprompts, int)
        or isinstance(max_reprompts, bool)
        or not (0 <= max_reprompts <= 10)
    ):
        raise ScriptError(f"{where}max_reprompts: must be an integer from 0 to 10")
    reprompt = _str_list(body, "reprompt", where)
    if max_reprompts and not reprompt:
        raise ScriptError(f"{where}reprompt: max_reprompts needs reprompt prompts")
    return State(
        name=name,
        say=_str_list(body, "say", where),
        on_speech=_opt_str(body, "on_speech", where),
        dtmf=MappingProxyType(_dtmf_table(body.get("dtmf", {}), f"{where}dtmf")),
        on_invalid_dtmf=_opt_str(body, "on_invalid_dtmf", where),
        no_input_ms=_ms(body, "no_input_ms", where, default=default_no_input),
        reprompt=reprompt,
        max_reprompts=max_reprompts,
        on_no_input=_opt_str(body, "on_no_input", where),
        next=nxt,
        action=action,
        forecast=_forecast(body.get("forecast_transfer"), f"{where}forecast_transfer"),
    )


def _number(value: Any, where: str, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
        raise ScriptError(f"{where}: must be a number from {lo:g} to {hi:g}")
    return float(value)


def _forecast(value: Any, where: str) -> Forecast | None:
    """``forecast_transfer = SECONDS`` or ``{ within_s = SECONDS, likelihood = 0..1 }``."""
    if value is None:
        return None
    if not isinstance(value, dict):
        return Forecast(_number(value, where, 0.0, MAX_FORECAST_S))
    for key in value:
        if key not in ("within_s", "likelihood"):
            raise ScriptError(f"{where}.{key}: unknown key (expected within_s, likelihood)")
    if "within_s" not in value:
        raise ScriptError(f"{where}.within_s: required")
    return Forecast(
        _number(value["within_s"], f"{where}.within_s", 0.0, MAX_FORECAST_S),
        _number(value.get("likelihood", 1.0), f"{where}.likelihood", 0.0, 1.0),
    )


def _check_references(script: Script) -> None:
    if script.start not in script.states:
        raise ScriptError(f"script.start: unknown state {script.start!r}")
    for key, target in script.global_dtmf.items():
        if target not in script.states:
            raise ScriptError(f"dtmf.{key}: unknown state {target!r}")
    for state in script.states.values():
        where = f"states.{state.name}."
        for prompt in (*state.say, *state.reprompt):
            if prompt not in script.prompts:
                raise ScriptError(f"{where}say: unknown prompt {prompt!r}")
        targets = {
            "on_speech": state.on_speech,
            "on_invalid_dtmf": state.on_invalid_dtmf,
            "on_no_input": state.on_no_input,
            "next": state.next,
        }
        for key, ref in targets.items():
            if ref is not None and ref not in script.states:
                raise ScriptError(f"{where}{key}: unknown state {ref!r}")
        for digit, target in state.dtmf.items():
            if target not in script.states:
                raise ScriptError(f"{where}dtmf.{digit}: unknown state {target!r}")


def _no_unknown(table: dict[str, Any], allowed: set[str], where: str) -> None:
    for key in table:
        if key not in allowed:
            raise ScriptError(f"{where}{key}: unknown key (expected one of {sorted(allowed)})")


def _table(doc: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = doc.get(key, {})
    if not isinstance(value, dict):
        raise ScriptError(f"{where}{key}: must be a table")
    return value


def _str(table: dict[str, Any], key: str, where: str, default: str | None = None) -> str:
    value = table.get(key, default)
    if not isinstance(value, str) or not value:
        raise ScriptError(f"{where}{key}: must be a non-empty string")
    return value


def _opt_str(table: dict[str, Any], key: str, where: str) -> str | None:
    if key not in table:
        return None
    return _str(table, key, where)


def _str_list(table: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = table.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ScriptError(f"{where}{key}: must be a string or a list of strings")
    return tuple(value)


def _ms(table: dict[str, Any], key: str, where: str, default: int) -> int:
    value = table.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or not (0 <= value <= 600_000):
        raise ScriptError(f"{where}{key}: must be an integer number of ms from 0 to 600000")
    return value


def _dtmf_table(value: Any, where: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ScriptError(f"{where}: must be a table of key = state")
    out: dict[str, str] = {}
    for digit, target in value.items():
        if digit not in DTMF_KEYS:
            raise ScriptError(f"{where}.{digit}: not a DTMF key (0-9, *, #)")
        if not isinstance(target, str) or not target:
            raise ScriptError(f"{where}.{digit}: must name a state")
        out[digit] = target
    return out
