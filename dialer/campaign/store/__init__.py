"""The campaign store: campaigns, leads, attempts, the abandonment ledger, pacer snapshots,
reports. One facade (:class:`CampaignStore`, :mod:`.sqlite`, on SQLite or PostgreSQL through the
dialect layer :mod:`dialer.db`) over one module per job, each taking a
:class:`dialer.db.Connection`, and the interface it implements (:class:`CampaignStoreProtocol`,
:mod:`.protocol`):

- :mod:`.schema`: tables, versioned migrations (:data:`MIGRATIONS`), read-write and read-only
  opening;
- :mod:`.campaigns`: campaigns, leads, agents, do-not-call;
- :mod:`.leases`: one dialer per campaign (unless others join), its heartbeat;
- :mod:`.members`: the dialers sharing a campaign, reaping a dead one, agents per dialer;
- :mod:`.claims`: the next lead claimed with the compliance checks, attempt committed first;
- :mod:`.settle`: an attempt's result recorded, its lead retried or finished; recovery;
- :mod:`.ledger`: the abandonment ledger rebuilt from the attempts;
- :mod:`.snapshots`: pacer snapshots for a warm start;
- :mod:`.reports`: pending leads, counts, the CSV exports;
- :mod:`.types`: the values they take and give.
"""

from dialer.campaign.model import Outcome
from dialer.campaign.store.protocol import CampaignStoreProtocol
from dialer.campaign.store.reports import ATTEMPT_COLUMNS, LEAD_COLUMNS, MAX_TIME
from dialer.campaign.store.schema import COLUMNS_ADDED, MIGRATIONS, SCHEMA
from dialer.campaign.store.snapshots import SNAPSHOT_MAX_AGE_S
from dialer.campaign.store.sqlite import CampaignStore
from dialer.campaign.store.types import (
    STATUSES,
    AttemptResult,
    CampaignBusy,
    CampaignStats,
    Claim,
    Lease,
    PendingLeads,
    pid_alive,
)

__all__ = [
    "ATTEMPT_COLUMNS",
    "COLUMNS_ADDED",
    "LEAD_COLUMNS",
    "MAX_TIME",
    "MIGRATIONS",
    "SCHEMA",
    "SNAPSHOT_MAX_AGE_S",
    "STATUSES",
    "AttemptResult",
    "CampaignBusy",
    "CampaignStats",
    "CampaignStore",
    "CampaignStoreProtocol",
    "Claim",
    "Lease",
    "Outcome",
    "PendingLeads",
    "pid_alive",
]
