"""Prometheus text exposition (version 0.0.4), the one renderer every ``GET /metrics`` uses
(the gateway's, the dialer's, a campaign's). Label values are escaped (backslash, double quote,
newline) wherever they come from: :func:`labels` builds every label set. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["CONTENT_TYPE", "PromText", "Samples", "escape_label", "labels"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
"""The ``Content-Type`` of a scrape's answer."""

Samples = Iterable[tuple[str, float]]
"""``(labels, value)`` pairs: labels as ``""`` or built by :func:`labels`."""


def escape_label(value: str) -> str:
    """A label value as the exposition format wants it (``\\``, ``"`` and newlines escaped)."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def labels(**values: str) -> str:
    """``{a="x",b="y"}`` with the values escaped (``""`` for no labels)."""
    if not values:
        return ""
    return "{" + ",".join(f'{k}="{escape_label(v)}"' for k, v in values.items()) + "}"


class PromText:
    """Builds a Prometheus text exposition of metrics named ``{prefix}_name``."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.lines: list[str] = []

    def metric(self, name: str, kind: str, help_text: str, samples: Samples) -> None:
        full = f"{self.prefix}_{name}"
        self.lines.append(f"# HELP {full} {help_text}")
        self.lines.append(f"# TYPE {full} {kind}")
        for label_set, value in samples:
            shown = f"{value:.6f}" if isinstance(value, float) else str(value)
            self.lines.append(f"{full}{label_set} {shown}")

    def one(self, name: str, kind: str, help_text: str, value: float) -> None:
        """A metric with a single unlabelled sample."""
        self.metric(name, kind, help_text, [("", value)])

    def by(self, name: str, help_text: str, label: str, counts: Mapping[Any, int],
           kind: str = "counter") -> None:
        """A metric with one sample per key of ``counts`` (sorted), labelled ``label``."""
        self.metric(name, kind, help_text,
                    [(labels(**{label: str(k)}), v) for k, v in sorted(counts.items())])

    def render(self) -> str:
        return "\n".join(self.lines) + "\n"
