"""The campaign's lease (one dialer per campaign unless others join) and its heartbeat, kept in
the campaign's row: taken in one transaction (the row locked ``FOR UPDATE`` on PostgreSQL),
refused while another owner's heartbeat is fresh (unless that owner's process on this host is
gone) or while dialers that joined are (:mod:`.members`), renewed and released only by its
owner. Taking it enrols the runner as the campaign's only member; the heartbeat renews the
runner's member row (``False`` once it is no member: overridden, or reaped)."""

from __future__ import annotations

from collections.abc import Callable

from dialer.campaign.store import members
from dialer.campaign.store.campaigns import campaign_row
from dialer.campaign.store.types import CampaignBusy, Lease
from dialer.db import Connection, Row, transaction

__all__ = ["acquire", "busy", "detach", "heartbeat", "holder", "owner", "refusal"]


def acquire(
    db: Connection,
    campaign: str,
    lease: Lease,
    now: float,
    stale_s: float,
    alive: Callable[[int], bool],
    dialer_id: str = "",
) -> None:
    """See :meth:`dialer.campaign.store.CampaignStore.acquire`."""
    with transaction(db):
        row = campaign_row(db, campaign, lock="UPDATE")  # read (and locked) in the transaction
        refused = refusal(campaign, row, lease, now, stale_s, alive)
        if refused:
            raise CampaignBusy(refused)
        joined = members.fresh_others(db, campaign, lease, now, stale_s, alive)
        if joined:
            raise CampaignBusy(
                f"campaign {campaign} is already being run by {len(joined)} dialer(s) ("
                f"{', '.join(m.describe() for m in joined)}): join it or stop them first"
            )
        db.execute(
            "UPDATE campaigns SET owner_id = ?, owner_pid = ?, owner_host = ?, "
            "heartbeat_at = ?, last_seen_at = ? WHERE name = ?",
            (lease.owner, lease.pid, lease.host, now, now, campaign),
        )
        # the others are dead or stale: marked as taken over by this runner (they can no longer
        # beat or claim), which settles them first (members.take_stale returns them to it)
        db.execute(
            "UPDATE campaign_dialers SET reaped_by = ?, heartbeat_at = ? WHERE campaign = ? "
            "AND member <> ?",
            (lease.owner, now, campaign, lease.owner),
        )
        members.enrol(db, campaign, lease, dialer_id, now)


def busy(
    db: Connection,
    campaign: str,
    now: float,
    stale_s: float,
    alive: Callable[[int], bool],
) -> str:
    """See :meth:`dialer.campaign.store.CampaignStore.busy`."""
    lease = Lease.here(owner="")
    return refusal(campaign, campaign_row(db, campaign), lease, now, stale_s, alive)


def owner(db: Connection, campaign: str) -> str | None:
    """The owner id of the campaign's lease (``None`` when no dialer holds it)."""
    held = campaign_row(db, campaign)["owner_id"]
    return None if held is None else str(held)


def heartbeat(db: Connection, campaign: str, now: float, owner: str | None) -> bool:
    """See :meth:`dialer.campaign.store.CampaignStore.heartbeat`."""
    if owner is None:
        db.execute(
            "UPDATE campaigns SET heartbeat_at = ?, last_seen_at = ? WHERE name = ?",
            (now, now, campaign),
        )
        return True
    with transaction(db):
        db.execute(  # the lease's heartbeat, when this member holds it
            "UPDATE campaigns SET heartbeat_at = ?, last_seen_at = ? "
            "WHERE name = ? AND owner_id = ?",
            (now, now, campaign, owner),
        )
        db.execute("UPDATE campaigns SET last_seen_at = ? WHERE name = ?", (now, campaign))
        return members.beat(db, campaign, owner, now)


def detach(db: Connection, campaign: str, now: float, owner: str | None) -> None:
    """See :meth:`dialer.campaign.store.CampaignStore.detach`."""
    sql = (
        "UPDATE campaigns SET heartbeat_at = NULL, last_seen_at = ?, owner_id = NULL, "
        "owner_pid = NULL, owner_host = NULL WHERE name = ?"
    )
    if owner is None:
        db.execute(sql, (now, campaign))
    else:
        with transaction(db):
            db.execute(sql + " AND owner_id = ?", (now, campaign, owner))
            members.forget(db, campaign, owner)


def refusal(
    campaign: str,
    row: Row,
    lease: Lease,
    now: float,
    stale_s: float,
    alive: Callable[[int], bool],
) -> str:
    """Why ``lease`` may not take the lease of ``campaign`` (its ``row``) at ``now``, or ``""``:
    another owner's heartbeat is under ``stale_s`` old and its process is not known to be gone
    (it ran on ``lease``'s host and ``alive(pid)`` is false)."""
    beat, held_by, pid, host = (
        row[k] for k in ("heartbeat_at", "owner_id", "owner_pid", "owner_host")
    )
    fresh = beat is not None and now - beat < stale_s
    if not fresh or held_by == lease.owner:
        return ""
    if host == lease.host and pid is not None and not alive(int(pid)):
        return ""
    who = holder(row, nobody="a dialer of an older version")
    return (
        f"campaign {campaign} is already being run by {who} (heartbeat "
        f"{max(0, round(now - beat))} s ago); stop it first"
    )


def holder(row: Row, nobody: str = "nobody") -> str:
    """The lease holder of a campaign ``row``: ``pid 4242 on host h``, else ``nobody``."""
    if row["owner_id"] is None:
        return nobody
    return f"pid {row['owner_pid']} on host {row['owner_host']}"
