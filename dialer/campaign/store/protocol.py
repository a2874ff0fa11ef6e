"""The campaign store's interface: what the runner, the CLI and the checks call, and what every
store implements (:class:`~dialer.campaign.store.CampaignStore`, on SQLite or PostgreSQL).
Each method is one short transaction; times are wall-clock seconds (``now``) passed in by the
caller, never read by the store.

What an implementation must keep:

- **an attempt is committed before its dial**: :meth:`claim_next` checks compliance (do-not-call,
  calling window, attempt limits) and inserts the attempt in the same transaction, and only the
  lease's owner may claim (with ``owner``);
- :meth:`finish_attempt` is idempotent (recording the same call twice is a no-op);
- the lease: one owner per campaign, refused (:class:`~dialer.campaign.store.CampaignBusy`)
  while another owner's heartbeat is fresh, renewed and released only by its owner; dialers
  may instead :meth:`join` a campaign (its members); only a fresh member claims, and a dead
  member is taken over by one of the others (:meth:`take_stale`, :meth:`settle_member`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol

from dialer.campaign.model import AgentSpec, CampaignSpec, Lead
from dialer.campaign.store.members import Member
from dialer.campaign.store.types import (
    AttemptResult,
    CampaignStats,
    Claim,
    Lease,
    PendingLeads,
)
from dialer.pacing.ledger import AbandonmentLedger

__all__ = ["CampaignStoreProtocol"]


class CampaignStoreProtocol(Protocol):
    """The campaign store's public methods (documented on
    :class:`~dialer.campaign.store.CampaignStore`)."""

    def close(self) -> None: ...

    # --- campaigns, leads, agents, do-not-call ---------------------------------------------
    def create_campaign(self, spec: CampaignSpec, now: float) -> None: ...

    def campaign(self, name: str) -> CampaignSpec: ...

    def campaigns(self) -> list[str]: ...

    def agents(self, campaign: str) -> list[AgentSpec]: ...

    def set_status(self, campaign: str, status: str, now: float) -> None: ...

    def status(self, campaign: str) -> str: ...

    def add_leads(self, campaign: str, leads: Iterable[Lead], now: float) -> int: ...

    def add_dnc(self, phones: Iterable[str], now: float, reason: str = "") -> None: ...

    def lead_states(self, campaign: str) -> dict[str, str]: ...

    def on_dnc(self, phone: str) -> bool: ...

    # --- the lease ---------------------------------------------------------------------------
    def acquire(
        self,
        campaign: str,
        lease: Lease,
        now: float,
        *,
        stale_s: float = ...,
        alive: Callable[[int], bool] = ...,
        dialer_id: str = "",
    ) -> None: ...

    def join(self, campaign: str, lease: Lease, now: float, dialer_id: str = "") -> None: ...

    def members(self, campaign: str) -> list[Member]: ...

    def take_stale(
        self,
        campaign: str,
        reaper: Lease,
        now: float,
        *,
        stale_s: float = ...,
        alive: Callable[[int], bool] = ...,
    ) -> list[Member]: ...

    def dialing_of(self, campaign: str, member: str) -> list[str]: ...

    def settle_member(
        self,
        campaign: str,
        member: str,
        now: float,
        lookup: Callable[[str], AttemptResult | None],
        heir: str = "",
    ) -> tuple[int, int]: ...

    def assign_agents(
        self, campaign: str, member: str, share: int | None = None
    ) -> list[str]: ...

    def held_agents(self, campaign: str, member: str) -> list[str]: ...

    def move_agent(self, campaign: str, agent: str, to: str) -> str: ...

    def busy(
        self,
        campaign: str,
        now: float,
        *,
        stale_s: float = ...,
        alive: Callable[[int], bool] = ...,
    ) -> str: ...

    def holder(self, campaign: str) -> str: ...

    def owner(self, campaign: str) -> str | None: ...

    def heartbeat(self, campaign: str, now: float, owner: str | None = None) -> bool: ...

    def detach(self, campaign: str, now: float, owner: str | None = None) -> None: ...

    # --- claiming and settling ---------------------------------------------------------------
    def claim_next(
        self, campaign: str, now: float, batch: int = 50, *, owner: str | None = None
    ) -> Claim | None: ...

    def finish_attempt(self, call_id: str, result: AttemptResult, now: float) -> None: ...

    def recover(
        self,
        campaign: str,
        now: float,
        lookup: Callable[[str], AttemptResult | None],
    ) -> tuple[int, int]: ...

    def in_flight(self, campaign: str) -> list[str]: ...

    # --- the abandonment ledger and pacer snapshots ------------------------------------------
    def ledger(self, campaign: str, now: float) -> AbandonmentLedger: ...

    def save_pacer_snapshot(
        self, campaign: str, pacer: str, snapshot: dict[str, Any], now: float
    ) -> None: ...

    def pacer_snapshot(
        self, campaign: str, pacer: str, now: float, max_age_s: float = ...
    ) -> dict[str, Any] | None: ...

    # --- reports and export ------------------------------------------------------------------
    def pending(self, campaign: str, now: float) -> PendingLeads: ...

    def stats(
        self, campaign: str, now: float, ledger: AbandonmentLedger | None = None
    ) -> CampaignStats: ...

    def attempts(self, campaign: str) -> list[dict[str, Any]]: ...

    def leads(self, campaign: str) -> list[dict[str, Any]]: ...

    def call_record(self, call_id: str) -> dict[str, Any] | None: ...

    def export_csv(self, campaign: str) -> str: ...

    def export_attempts_csv(self, campaign: str) -> str: ...
