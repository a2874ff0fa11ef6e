"""Process-wide counters kept by bot adapters, shown by the gateway's ``GET /metrics``.

An adapter module asks for a labelled counter once, at import, and counts into it::

    CONNECTS = counter_family("relay_connects_total", "Relay connections made.", "dialect")
    CONNECTS["twilio"] += 1

The gateway renders every family (:func:`counter_families`) after its own metrics, with its
``voxgate_gateway_`` prefix. Pure: no I/O, no locks (one event loop per process).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

_NAME = re.compile(r"[a-z_][a-z0-9_]*")


@dataclass(frozen=True, slots=True)
class CounterFamily:
    """One Prometheus counter with one label: ``counts[label value] = count``."""

    name: str
    help_text: str
    label: str
    counts: Counter[str] = field(default_factory=Counter)


_FAMILIES: dict[str, CounterFamily] = {}


def counter_family(name: str, help_text: str, label: str) -> Counter[str]:
    """The counter ``name`` (registered on first use; the same one after). Raises
    ``ValueError`` for a name or label Prometheus refuses, or ``name`` registered with
    another label."""
    if not _NAME.fullmatch(name) or not _NAME.fullmatch(label):
        raise ValueError(f"bad metric name or label: {name!r}, {label!r}")
    family = _FAMILIES.get(name)
    if family is None:
        family = _FAMILIES[name] = CounterFamily(name, help_text, label)
    elif family.label != label:
        raise ValueError(f"metric {name} is counted by {family.label!r}, not {label!r}")
    return family.counts


def counter_families() -> list[CounterFamily]:
    """Every registered family, by name."""
    return [_FAMILIES[name] for name in sorted(_FAMILIES)]
