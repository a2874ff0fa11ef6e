"""Times as people and spreadsheets read them: ISO 8601 UTC, shared by every export."""

from __future__ import annotations

from datetime import UTC, datetime


def iso_utc(epoch: float | None) -> str:
    """Epoch seconds as ISO 8601 UTC to the second (``2026-11-22T03:30:00Z``); ``""`` when
    unset (``None`` or 0, the stores' "no time")."""
    if not epoch:
        return ""
    return datetime.fromtimestamp(round(epoch), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
