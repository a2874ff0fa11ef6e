"""Custom parameters on the stream URL: how lead fields reach the bot (pure, no I/O).

Exotel passes up to 3 custom query parameters of the stream URL, 256 characters in all, to the
bot in ``start.custom_parameters`` (docs/exotel.md section 1); the gateway hands them to the adapter
as ``CallInfo.custom_parameters``. voxgate's dialer spends one on ``vx_call`` (its call id),
which leaves :data:`MAX_FIELDS` (2) for the caller's own fields, e.g. a lead's ``name`` and
``plan``.

* :func:`check_field_names` -- call when settings are loaded (a campaign's ``stream_params``,
  a :class:`~dialer.service.CallRequest`); raises :class:`ValueError` with a clear message.
* :func:`add_stream_params` -- call when the stream URL is built: appends the fields,
  URL-encoded, within the budget. A value that does not fit is shortened (whole characters,
  never inside an escape) and *reported*: the names come back in ``truncated`` so the caller
  can log, count and record them; nothing is cut silently.

The budget counts the URL-encoded ``key`` and ``value`` lengths of every custom parameter
(``sample-rate`` is the gateway's, not a custom parameter), which is never less than their
decoded length, so it holds whichever way Exotel counts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

__all__ = [
    "MAX_CHARS",
    "MAX_FIELDS",
    "MAX_PARAMS",
    "RESERVED",
    "StreamParams",
    "add_stream_params",
    "check_field_names",
    "encoded_len",
]

MAX_PARAMS = 3  # Exotel: custom query parameters per stream URL
MAX_CHARS = 256  # Exotel: their length in all
MAX_FIELDS = MAX_PARAMS - 1  # one is voxgate's vx_call
RESERVED = frozenset({"vx_call", "sample-rate"})
# Two names of at most 32 characters beside the longest campaign call id (a 64-character
# campaign name, lead id and attempt) leave over 100 characters for the values.
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,31}")


def _q(text: str) -> str:
    return quote(text, safe="")


def encoded_len(key: str, value: str) -> int:
    """Characters ``key`` and ``value`` take in the URL once encoded."""
    return len(_q(key)) + len(_q(value))


def check_field_names(names: Sequence[str], what: str = "stream_params") -> tuple[str, ...]:
    """Validate the names of the fields to pass to the bot; returns them as a tuple.

    At most :data:`MAX_FIELDS`, each 1-32 of ``A-Z a-z 0-9 _ . -`` starting with a letter, no
    duplicates, none of :data:`RESERVED` nor starting ``vx_`` (voxgate's own)."""
    out = tuple(names)
    if len(out) > MAX_FIELDS:
        raise ValueError(
            f"{what}: at most {MAX_FIELDS} fields (Exotel passes {MAX_PARAMS} custom "
            f"parameters and voxgate uses one for vx_call), got {len(out)}: {list(out)}"
        )
    for name in out:
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise ValueError(
                f"{what}: field name {name!r} must be 1-32 of A-Z a-z 0-9 _ . - starting with "
                "a letter"
            )
        if name in RESERVED or name.startswith("vx_"):
            raise ValueError(f"{what}: {name!r} is reserved for voxgate")
    if len(set(out)) != len(out):
        raise ValueError(f"{what}: duplicate field names in {list(out)}")
    return out


@dataclass(frozen=True, slots=True)
class StreamParams:
    """The URL with the fields added, what was sent, and which values had to be shortened."""

    url: str
    sent: tuple[tuple[str, str], ...]
    truncated: tuple[str, ...] = ()


def _fit(value: str, room: int) -> str:
    """The longest prefix of ``value`` (whole characters) whose encoding fits in ``room``."""
    used = 0
    for i, ch in enumerate(value):
        used += len(_q(ch))
        if used > room:
            return value[:i]
    return value


def add_stream_params(url: str, fields: Mapping[str, str]) -> StreamParams:
    """Append ``fields`` (name -> value, in order) to ``url``'s query within Exotel's limits.

    The URL's own custom parameters (``vx_call``) count against the budget first. When the
    values do not fit, the longest are shortened first (each keeps an equal share of what is
    left); their names are returned in ``truncated``. Raises :class:`ValueError` when the names
    alone do not fit or there would be more than :data:`MAX_PARAMS` custom parameters."""
    if not fields:
        return StreamParams(url, ())
    parts = urlsplit(url)
    existing = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                if k != "sample-rate"]
    if len(existing) + len(fields) > MAX_PARAMS:
        raise ValueError(
            f"stream URL would carry {len(existing) + len(fields)} custom parameters; Exotel "
            f"passes at most {MAX_PARAMS}"
        )
    clash = set(fields) & {k for k, _ in parse_qsl(parts.query, keep_blank_values=True)}
    if clash:
        raise ValueError(f"stream parameters {sorted(clash)} are already in the URL")
    room = MAX_CHARS - sum(encoded_len(k, v) for k, v in existing)
    room -= sum(len(_q(k)) for k in fields)
    if room < 0:
        raise ValueError(f"stream parameter names do not fit in {MAX_CHARS} characters")
    names = list(fields)
    need = {n: len(_q(fields[n])) for n in names}
    alloc = dict(need)
    if sum(need.values()) > room:
        # Water-filling: short values keep all they need, long ones share the rest equally.
        left, pending = room, sorted(names, key=lambda n: need[n])
        while pending:
            share = left // len(pending)
            name = pending.pop(0)
            alloc[name] = min(need[name], share)
            left -= alloc[name]
    values = {n: _fit(fields[n], alloc[n]) for n in names}
    truncated = tuple(n for n in names if values[n] != fields[n])
    sent = tuple((n, values[n]) for n in names)
    extra = "&".join(f"{_q(k)}={_q(v)}" for k, v in sent)
    query = f"{parts.query}&{extra}" if parts.query else extra
    full = urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))
    return StreamParams(full, sent, truncated)
