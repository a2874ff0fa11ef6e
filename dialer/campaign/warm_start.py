"""The campaign's pacer: the one its settings name, seeded on start from the campaign's stored
snapshot of that pacer (a warm start) and saved back, so the next run (the next shift, or a
restart after a crash) starts from these figures instead of cold. No snapshot, an old one or one
that does not fit: the pacer starts cold, as on a campaign's first day."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from dialer.campaign.model import CampaignSpec
from dialer.campaign.store.protocol import CampaignStoreProtocol
from dialer.pacing.adaptive import AdaptiveBaselinePacer
from dialer.pacing.botfirst import BotFirstPacer
from dialer.pacing.predictive import PredictivePacer
from dialer.pacing.progressive import ProgressivePacer
from dialer.pacing.types import Pacer, WarmStartPacer

log = logging.getLogger("dialer.campaign.runner")  # the runner's doing, logged as such

__all__ = ["make_pacer", "restore_pacer", "save_pacer", "snapshot_of", "use_snapshot"]


def make_pacer(spec: CampaignSpec) -> Pacer:
    """The pacer the campaign names, set to its abandonment target and line limit."""
    if spec.pacer == "progressive":
        return ProgressivePacer()
    if spec.pacer == "adaptive":
        return AdaptiveBaselinePacer(drop_target=spec.limits.abandon_target)
    if spec.pacer == "predictive":
        target = spec.limits.abandon_target
        return PredictivePacer(target=target, aim=target * 2 / 3)
    return BotFirstPacer(stream_limit=spec.limits.max_lines)


def restore_pacer(
    store: CampaignStoreProtocol, campaign: str, pacer: Pacer, wall_clock: Callable[[], float]
) -> float | None:
    """Seed ``pacer`` (if it can start warm) from the campaign's stored snapshot; returns when
    that snapshot was saved, or ``None`` (a cold start, logged)."""
    if not isinstance(pacer, WarmStartPacer):
        return None
    return use_snapshot(campaign, pacer, store.pacer_snapshot(campaign, pacer.name, wall_clock()))


def use_snapshot(campaign: str, pacer: Pacer, snapshot: dict[str, Any] | None) -> float | None:
    """Seed ``pacer`` from ``snapshot`` (read from the store by the caller: the runner reads it
    off the event loop); returns when that snapshot was saved, or ``None`` (a cold start,
    logged)."""
    if not isinstance(pacer, WarmStartPacer):
        return None
    if snapshot is None:
        log.info("campaign %s: no recent %s snapshot: cold start", campaign, pacer.name)
        return None
    try:
        pacer.restore(snapshot)
    except (ValueError, TypeError) as exc:
        log.warning("campaign %s: pacer snapshot not used (%s): cold start", campaign, exc)
        return None
    saved_at = float(snapshot.get("saved_at", 0.0)) or None
    log.info("campaign %s: %s starts warm from its stored snapshot", campaign, pacer.name)
    return saved_at


def snapshot_of(pacer: Pacer, now: float) -> dict[str, Any] | None:
    """What to store for ``pacer`` at ``now`` (``None``: it keeps no history)."""
    if not isinstance(pacer, WarmStartPacer):
        return None
    return {**pacer.snapshot(), "saved_at": now}


def save_pacer(
    store: CampaignStoreProtocol, campaign: str, pacer: Pacer, wall_clock: Callable[[], float]
) -> bool:
    """Store ``pacer``'s snapshot now (if it makes one); returns whether it was stored."""
    now = wall_clock()
    snapshot = snapshot_of(pacer, now)
    if snapshot is None:
        return False
    store.save_pacer_snapshot(campaign, pacer.name, snapshot, now)
    return True
