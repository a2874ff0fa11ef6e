"""Log set-up for every ``voxgate`` command: plain text or one JSON object per line.

``configure(level, fmt)`` installs one stderr handler on the root logger with the
:class:`~voxgate_shared.redact.RedactingFilter` (a filter runs before the formatter, so JSON
lines are masked like text ones). ``fmt``: ``"text"`` or ``"json"``; ``None`` reads
``VOXGATE_LOG_FORMAT`` (default text).

A JSON line holds ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``message`` and, when known,
``call_id``, ``leg_sid`` and ``stream_sid``: from the log call's ``extra=`` or else from the
context variables :func:`bind` sets for the current task (and the tasks it starts); ``exc``
holds a traceback.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime

from voxgate_shared import redact

FORMAT_ENV = "VOXGATE_LOG_FORMAT"
FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
FIELDS = ("call_id", "leg_sid", "stream_sid")

_CONTEXT: dict[str, contextvars.ContextVar[str | None]] = {
    name: contextvars.ContextVar(f"voxgate_{name}", default=None) for name in FIELDS
}


# A getter of fields known later than the task starts (a stream's sid arrives with its start).
FieldSource = Callable[[], Mapping[str, str | None]]
_SOURCE: contextvars.ContextVar[FieldSource | None] = contextvars.ContextVar(
    "voxgate_log_source", default=None)


def bind_source(source: FieldSource) -> None:
    """Fields for the current task's log lines asked of ``source`` at each line (after
    ``extra=`` and :func:`bind`'s)."""
    _SOURCE.set(source)


def bind(**fields: str | None) -> None:
    """Set ``call_id``/``leg_sid``/``stream_sid`` for the current task's log lines from now
    on (tasks started afterwards inherit them)."""
    for name, value in fields.items():
        _CONTEXT[name].set(value)


@contextmanager
def bound(**fields: str | None) -> Iterator[None]:
    """:func:`bind` for a block, then restore what was there."""
    tokens = [(_CONTEXT[name], _CONTEXT[name].set(value)) for name, value in fields.items()]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def context_fields(record: logging.LogRecord) -> dict[str, str]:
    """The record's ``call_id``/``leg_sid``/``stream_sid`` (``extra=`` first, then context)."""
    out: dict[str, str] = {}
    source = _SOURCE.get()
    late: Mapping[str, str | None] = {}
    if source is not None:
        try:
            late = source()
        except Exception:  # a log line never fails for its context
            late = {}
    for name in FIELDS:
        value = getattr(record, name, None) or _CONTEXT[name].get() or late.get(name)
        if value:
            out[name] = str(value)
    return out


class JsonFormatter(logging.Formatter):
    """One JSON object per line (see the module docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(context_fields(record))
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exc"] = record.exc_text
        if record.stack_info:
            line["stack"] = record.stack_info
        return json.dumps(line, ensure_ascii=False)


def log_format(flag: str | None = None) -> str:
    """``flag``, else ``$VOXGATE_LOG_FORMAT``, else ``text``; ValueError for anything else."""
    value = (flag or os.environ.get(FORMAT_ENV) or "text").strip().lower()
    if value not in FORMATS:
        raise ValueError(f"log format {value!r}: want one of {', '.join(FORMATS)}")
    return value


class _Handler(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler :func:`configure` installs (and replaces on a second call)."""


def configure(level: str | int = "INFO", fmt: str | None = None) -> None:
    """One stderr handler in ``fmt`` at ``level`` on the root logger, with the redaction filter
    (the environment's secrets registered). Like ``logging.basicConfig``, handlers someone else
    put there first (a test harness's) are left alone, and then so is the level."""
    if isinstance(level, str):
        level = getattr(logging, level.upper(), logging.INFO)
    formatter = JsonFormatter() if log_format(fmt) == "json" else logging.Formatter(TEXT_FORMAT)
    root = logging.getLogger()
    if all(isinstance(h, _Handler) for h in root.handlers):
        for old in list(root.handlers):
            root.removeHandler(old)
        handler = _Handler(sys.stderr)
        handler.setFormatter(formatter)
        root.addHandler(handler)
        root.setLevel(level)
    redact.install(secrets=redact.secrets_in_env(os.environ))
