"""Campaign state in SQLite or PostgreSQL: campaigns, leads, attempts, calls, agents,
dispositions, do-not-call.

:class:`CampaignStore` is the facade: one database (:func:`dialer.db.open_db`, chosen by URL: a
SQLite path or ``sqlite:///...``, or ``postgresql://...``; its migrations applied on open), each
method borrowing one connection for one short transaction, and one method per operation of
:class:`~dialer.campaign.store.protocol.CampaignStoreProtocol`, each handing it to the module
that does that job (:mod:`.schema`, :mod:`.campaigns`, :mod:`.leases`, :mod:`.claims`,
:mod:`.settle`, :mod:`.ledger`, :mod:`.snapshots`, :mod:`.reports`).

Crash safety rests on one rule: **an attempt row is committed before its dial**.
:meth:`CampaignStore.claim_next` picks the next due lead (priority, then due time), runs the
compliance checks, and in the same transaction (SQLite ``BEGIN IMMEDIATE``; PostgreSQL: the
candidate leads locked ``FOR UPDATE SKIP LOCKED``, so dialers claiming at once never get the same
lead and never wait on each other) inserts the attempt (state
``dialing``, a deterministic call id ``{campaign}-{lead}-{attempt}``) and marks the lead
``dialing``. Only after that commit does the runner dial. A process killed at any point then
leaves either no attempt (nothing was dialled) or a ``dialing`` attempt, which
:meth:`CampaignStore.recover` settles on restart from the dialer's call record when one exists
(no call record is lost), or as ``interrupted`` (it counts as an attempt and is retried as a
*new* attempt after the ``interrupted`` retry delay). No attempt is ever dialled twice.

Every method is one short transaction that never touches the event loop, so callers may run it
in a worker thread: on SQLite the one connection (``check_same_thread=False``) is lent to one
thread at a time; on PostgreSQL each call borrows a pooled connection. SQLite's WAL journal and
``synchronous=FULL`` make each commit durable.

One dialer per campaign: a runner takes the campaign's **lease** (:meth:`CampaignStore.acquire`:
owner id, pid and host in the campaign's row, in one transaction, the row locked) before it
recovers anything or dials. While another owner's heartbeat is fresh (under
:data:`~dialer.campaign.progress.HEARTBEAT_STALE_S` old) it is refused with
:class:`CampaignBusy`, unless that owner is a process on this host that no longer exists (killed
and restarted at once). A stale lease is taken over. Claims (:meth:`CampaignStore.claim_next`
with ``owner``) and heartbeats (:meth:`CampaignStore.heartbeat` with ``owner``) only succeed for
the lease's owner, so a runner whose lease was taken over can no longer dial.

The lease holder records a heartbeat in its campaign's row (:meth:`CampaignStore.heartbeat`,
with each progress snapshot) and clears it with the lease when it stops
(:meth:`CampaignStore.detach`), so ``status`` tells a campaign being dialled from one whose
dialer has gone. A database from an older version is migrated when it is opened
(:data:`~dialer.campaign.store.schema.MIGRATIONS`, :func:`dialer.db.migrate`).

:meth:`CampaignStore.read_only` opens an existing database for reading only (``voxgate campaign
check``): nothing in it or beside it is created or changed, and the tables and columns an older
SQLite database lacks read as empty; on PostgreSQL its transactions are read-only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from dialer.campaign.model import AgentSpec, CampaignSpec, Lead
from dialer.campaign.progress import HEARTBEAT_STALE_S
from dialer.campaign.store import (
    campaigns,
    claims,
    leases,
    ledger,
    members,
    reports,
    schema,
    settle,
    snapshots,
)
from dialer.campaign.store.members import Member
from dialer.campaign.store.snapshots import SNAPSHOT_MAX_AGE_S
from dialer.campaign.store.types import (
    AttemptResult,
    CampaignStats,
    Claim,
    Lease,
    PendingLeads,
    pid_alive,
)
from dialer.pacing.ledger import AbandonmentLedger

__all__ = ["CampaignStore"]


class CampaignStore:
    """See the module docstring. ``path`` is a SQLite file (or ``sqlite:///...``, or
    ``":memory:"`` for tests) or a ``postgresql://`` URL."""

    def __init__(self, path: str, *, _read_only: bool = False) -> None:
        self.path = path
        self._database = schema.open_read_only(path) if _read_only else schema.open_store(path)
        self.display = self._database.display
        """``path`` without a password, for messages."""
        self.dialect = self._database.dialect

    @classmethod
    def read_only(cls, path: str) -> CampaignStore:
        """The store of the existing database ``path``, for reading only: the reading methods
        work (on a SQLite database from an older version too: what it lacks reads as empty)
        and the writing ones raise (``sqlite3.OperationalError``; on PostgreSQL psycopg's
        ``ReadOnlySqlTransaction``). Nothing is created or changed, not even the write-ahead
        log's files beside a SQLite file when no other process has it open."""
        return cls(path, _read_only=True)

    def close(self) -> None:
        self._database.close()

    # --- campaigns, leads, agents, do-not-call ---------------------------------------------
    def create_campaign(self, spec: CampaignSpec, now: float) -> None:
        """Create the campaign, or update its settings if it exists (its leads stay; its agents
        become exactly the spec's: agents no longer listed are removed)."""
        with self._database.connection() as db:
            campaigns.create_campaign(db, spec, now)

    def campaign(self, name: str) -> CampaignSpec:
        """The stored campaign ``name``; :class:`CampaignError` when there is none, or when its
        stored settings are not valid (written by an older version that let ``nan`` through)."""
        with self._database.connection() as db:
            return campaigns.campaign(db, self.display, name)

    def campaigns(self) -> list[str]:
        with self._database.connection() as db:
            return campaigns.campaigns(db)

    def agents(self, campaign: str) -> list[AgentSpec]:
        with self._database.connection() as db:
            return campaigns.agents(db, campaign)

    def set_status(self, campaign: str, status: str, now: float) -> None:
        """``running``, ``paused`` or ``done``; a running runner polls it."""
        with self._database.connection() as db:
            campaigns.set_status(db, campaign, status, now)

    def status(self, campaign: str) -> str:
        with self._database.connection() as db:
            return str(campaigns.campaign_row(db, campaign)["status"])

    def add_leads(self, campaign: str, leads: Iterable[Lead], now: float) -> int:
        """Add leads (a phone already in the campaign is skipped); returns how many were new."""
        with self._database.connection() as db:
            return campaigns.add_leads(db, campaign, leads, now)

    def add_dnc(self, phones: Iterable[str], now: float, reason: str = "") -> None:
        with self._database.connection() as db:
            campaigns.add_dnc(db, phones, now, reason)

    def lead_states(self, campaign: str) -> dict[str, str]:
        """The campaign's leads: phone -> state (``pending``, ``dialing``, ``done`` ...)."""
        with self._database.connection() as db:
            return campaigns.lead_states(db, campaign)

    def on_dnc(self, phone: str) -> bool:
        """Whether ``phone`` is on the do-not-call list (an indexed lookup)."""
        with self._database.connection() as db:
            return campaigns.on_dnc(db, phone)

    # --- the lease ---------------------------------------------------------------------------
    def acquire(
        self,
        campaign: str,
        lease: Lease,
        now: float,
        *,
        stale_s: float = HEARTBEAT_STALE_S,
        alive: Callable[[int], bool] = pid_alive,
        dialer_id: str = "",
    ) -> None:
        """Take the campaign's lease for ``lease.owner`` (and record a heartbeat at ``now``), in
        one transaction. Raises :class:`CampaignBusy` while another owner's heartbeat is under
        ``stale_s`` old, unless that owner ran on this host and its process is gone
        (``alive(pid)`` is false), or while a dialer that joined is alive. A stale or released
        lease is taken over; the runner becomes the campaign's only member (``dialer_id``: its
        dialer's id, the owner of its live calls)."""
        with self._database.connection() as db:
            leases.acquire(db, campaign, lease, now, stale_s, alive, dialer_id)

    def join(self, campaign: str, lease: Lease, now: float, dialer_id: str = "") -> None:
        """``lease.owner`` joins the campaign beside the dialers running it (or alone): it may
        claim as long as it beats. See :mod:`.members`."""
        with self._database.connection() as db:
            members.join(db, campaign, lease, dialer_id, now)

    def members(self, campaign: str) -> list[Member]:
        """The dialers running the campaign (its ``campaign_dialers`` rows)."""
        with self._database.connection() as db:
            return members.members(db, campaign)

    def take_stale(
        self,
        campaign: str,
        reaper: Lease,
        now: float,
        *,
        stale_s: float = HEARTBEAT_STALE_S,
        alive: Callable[[int], bool] = pid_alive,
    ) -> list[Member]:
        """The dead members ``reaper`` takes over (marked; one reaper wins each): settle each
        with :meth:`settle_member` once its live calls are reconciled."""
        with self._database.connection() as db:
            return members.take_stale(db, campaign, reaper, now, stale_s, alive)

    def dialing_of(self, campaign: str, member: str) -> list[str]:
        """Call ids of ``member``'s attempts still ``dialing``."""
        with self._database.connection() as db:
            return members.dialing_of(db, campaign, member)

    def settle_member(
        self,
        campaign: str,
        member: str,
        now: float,
        lookup: Callable[[str], AttemptResult | None],
        heir: str = "",
    ) -> tuple[int, int]:
        """Settle a reaped member's ``dialing`` attempts (record, else ``interrupted``), remove
        it and give its agents to ``heir`` (``""``: unassigned); returns ``(from records,
        interrupted)``."""
        with self._database.connection() as db:
            return members.settle_member(db, self.display, campaign, member, now, lookup, heir)

    def assign_agents(self, campaign: str, member: str, share: int | None = None) -> list[str]:
        """``member`` takes unassigned agents (at most ``share``); the ids it holds now."""
        with self._database.connection() as db:
            return members.assign_agents(db, campaign, member, share)

    def held_agents(self, campaign: str, member: str) -> list[str]:
        with self._database.connection() as db:
            return members.held_agents(db, campaign, member)

    def move_agent(self, campaign: str, agent: str, to: str) -> str:
        """Give ``agent`` to the dialer ``to`` (member or dialer id); the member that held it."""
        with self._database.connection() as db:
            return members.move_agent(db, campaign, agent, to)

    def busy(
        self,
        campaign: str,
        now: float,
        *,
        stale_s: float = HEARTBEAT_STALE_S,
        alive: Callable[[int], bool] = pid_alive,
    ) -> str:
        """Why :meth:`acquire` would refuse a new dialer on this host the campaign at ``now``
        (the :class:`CampaignBusy` message), or ``""``; changes nothing."""
        with self._database.connection() as db:
            return leases.busy(db, campaign, now, stale_s, alive)

    def holder(self, campaign: str) -> str:
        """Who holds the campaign's lease, in words: ``pid 4242 on host h``, or ``nobody``."""
        with self._database.connection() as db:
            return leases.holder(campaigns.campaign_row(db, campaign))

    def owner(self, campaign: str) -> str | None:
        """The owner id of the campaign's lease (``None`` when no dialer holds it)."""
        with self._database.connection() as db:
            return leases.owner(db, campaign)

    def heartbeat(self, campaign: str, now: float, owner: str | None = None) -> bool:
        """A dialer is attached to the campaign and alive at ``now``. With ``owner``, only the
        lease's owner renews it: returns ``False`` (and changes nothing) when the lease is held
        by another owner or was released."""
        with self._database.connection() as db:
            return leases.heartbeat(db, campaign, now, owner)

    def detach(self, campaign: str, now: float, owner: str | None = None) -> None:
        """The campaign's dialer stops at ``now`` (a clean exit): no dialer is attached, the
        lease is released. With ``owner``, only if that owner still holds the lease (a runner
        whose lease was taken over leaves the new owner's alone)."""
        with self._database.connection() as db:
            leases.detach(db, campaign, now, owner)

    # --- claiming and settling ---------------------------------------------------------------
    def claim_next(
        self, campaign: str, now: float, batch: int = 50, *, owner: str | None = None
    ) -> Claim | None:
        """Claim the next lead that may be dialled now, committing its attempt first; ``None``
        when no lead is due. Leads failing a check are updated on the way: do-not-call and
        exhausted leads end, leads outside their window (or over today's limit) wait. With
        ``owner``, raises :class:`CampaignBusy` (claiming nothing) unless ``owner`` holds the
        campaign's lease, checked in the claim's transaction."""
        with self._database.connection() as db:
            return claims.claim_next(db, self.display, campaign, now, batch, owner)

    def finish_attempt(self, call_id: str, result: AttemptResult, now: float) -> None:
        """Record an attempt's result, its call record and disposition, and schedule the lead
        (retry delay by outcome, or finished). Recording the same call twice is a no-op."""
        with self._database.connection() as db:
            settle.finish_attempt(db, self.display, call_id, result, now)

    def recover(
        self,
        campaign: str,
        now: float,
        lookup: Callable[[str], AttemptResult | None],
    ) -> tuple[int, int]:
        """Settle attempts left ``dialing`` by a process that died: from the dialer's call
        record when ``lookup(call_id)`` finds one, else as ``interrupted``. Returns
        ``(recovered from records, interrupted)``. Call once before dialling."""
        with self._database.connection() as db:
            return settle.recover(db, self.display, campaign, now, lookup)

    def in_flight(self, campaign: str) -> list[str]:
        """Call ids of attempts claimed and not finished."""
        with self._database.connection() as db:
            return claims.in_flight(db, campaign)

    # --- the abandonment ledger and pacer snapshots ------------------------------------------
    def ledger(self, campaign: str, now: float) -> AbandonmentLedger:
        """The campaign's abandonment ledger rebuilt from its last 30 days of live answers."""
        with self._database.connection() as db:
            return ledger.ledger(db, campaign, now)

    def save_pacer_snapshot(
        self, campaign: str, pacer: str, snapshot: dict[str, Any], now: float
    ) -> None:
        """Keep the campaign's latest pacer estimator state (one row per campaign and pacer),
        so the next run starts warm (see ``dialer.pacing.types.WarmStartPacer``)."""
        with self._database.connection() as db:
            snapshots.save_pacer_snapshot(db, campaign, pacer, snapshot, now)

    def pacer_snapshot(
        self, campaign: str, pacer: str, now: float, max_age_s: float = SNAPSHOT_MAX_AGE_S
    ) -> dict[str, Any] | None:
        """The campaign's stored snapshot for ``pacer`` if one was saved within ``max_age_s``
        (``None`` otherwise, or if the stored text is not a JSON object)."""
        with self._database.connection() as db:
            return snapshots.pacer_snapshot(db, campaign, pacer, now, max_age_s)

    # --- reports and export ------------------------------------------------------------------
    def pending(self, campaign: str, now: float) -> PendingLeads:
        """The pending leads at ``now``: how many may be dialled now, how many wait, and when the
        first waiting one becomes due. Reads the due times :meth:`claim_next` keeps and the
        campaign's calling window (for leads the dialer has not looked at yet)."""
        with self._database.connection() as db:
            return reports.pending(db, self.display, campaign, now)

    def stats(
        self, campaign: str, now: float, ledger: AbandonmentLedger | None = None
    ) -> CampaignStats:
        """Counts for ``status`` and progress. Pass the runner's live ``ledger`` to skip
        rebuilding it from 30 days of attempts."""
        with self._database.connection() as db:
            return reports.stats(db, campaign, now, ledger)

    def attempts(self, campaign: str) -> list[dict[str, Any]]:
        with self._database.connection() as db:
            return reports.attempts(db, campaign)

    def leads(self, campaign: str) -> list[dict[str, Any]]:
        with self._database.connection() as db:
            return reports.leads(db, campaign)

    def call_record(self, call_id: str) -> dict[str, Any] | None:
        with self._database.connection() as db:
            return reports.call_record(db, call_id)

    def export_csv(self, campaign: str) -> str:
        """One row per lead (:data:`~dialer.campaign.store.reports.LEAD_COLUMNS`): where it
        stands and what its last attempt gave; times in ISO 8601 UTC. The leads' custom fields
        follow as extra columns (the union of their names, sorted; empty where a lead lacks
        one), so the list can be imported again."""
        with self._database.connection() as db:
            return reports.export_csv(db, campaign)

    def export_attempts_csv(self, campaign: str) -> str:
        """One row per attempt (:data:`~dialer.campaign.store.reports.ATTEMPT_COLUMNS`); times
        in ISO 8601 UTC, empty when unset (an attempt not answered, or still ringing)."""
        with self._database.connection() as db:
            return reports.export_attempts_csv(db, campaign)

