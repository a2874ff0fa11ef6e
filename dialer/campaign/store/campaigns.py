"""Campaigns, their leads and agents, and the do-not-call list: created, read and updated."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable

from dialer.campaign.lead_updates import HORIZON_S, split_deadlines, urgent_key
from dialer.campaign.model import (
    DEFAULT_DISPOSITIONS,
    AgentSpec,
    CampaignError,
    CampaignSpec,
    Lead,
    campaign_from_dict,
)
from dialer.campaign.store.types import STATUSES
from dialer.db import Connection, Row, row_lock, transaction

__all__ = [
    "add_dnc",
    "add_leads",
    "agents",
    "campaign",
    "campaign_row",
    "campaigns",
    "create_campaign",
    "lead_states",
    "on_dnc",
    "parse_spec",
    "set_status",
    "spec_to_json",
]


def spec_to_json(spec: CampaignSpec) -> str:
    """The spec as the campaign row keeps it. Settings added since are written only when they
    differ from their default, so that an older version still reads the campaigns that do not
    use them (it refuses keys it does not know)."""
    added: dict[str, object] = (
        {"default_country": spec.default_country} if spec.default_country != "91" else {}
    )
    if spec.dispositions != DEFAULT_DISPOSITIONS:
        added["dispositions"] = list(spec.dispositions)
    if spec.segment_fields:
        added["segment_fields"] = list(spec.segment_fields)
    if spec.lead_order != "model":
        added["lead_order"] = spec.lead_order
    if spec.shared:
        added["shared"] = True
    return json.dumps(
        {
            "name": spec.name,
            "mode": spec.mode,
            "exophone": spec.exophone,
            "bot": spec.bot,
            "pacer": spec.pacer,
            "timezone": spec.timezone,
            "window": dict(zip(("start", "end"), spec.window.describe(), strict=True)),
            "limits": {
                "max_attempts": spec.limits.max_attempts,
                "max_attempts_per_day": spec.limits.max_attempts_per_day,
                "ring_timeout_s": spec.limits.ring_timeout_s,
                "min_ring_s": spec.limits.min_ring_s,
                "max_lines": spec.limits.max_lines,
                "abandon_target": spec.limits.abandon_target,
                **({"wrap_up_s": spec.limits.wrap_up_s} if spec.limits.wrap_up_s else {}),
            },
            "retry": dict(spec.retry),
            "agents": [
                {"id": a.id, "number": a.number, "skills": list(a.skills), "nailed": a.nailed}
                for a in spec.agents
            ],
            "skills": list(spec.skills),
            "amd": spec.amd,
            "stream_params": list(spec.stream_params),
            **added,
        }
    )


def create_campaign(db: Connection, spec: CampaignSpec, now: float) -> None:
    """See :meth:`dialer.campaign.store.CampaignStore.create_campaign`."""
    with transaction(db):
        db.execute(
            "INSERT INTO campaigns (name, spec, created_at, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(name) DO UPDATE SET spec = excluded.spec, "
            "updated_at = excluded.updated_at",
            (spec.name, spec_to_json(spec), now, now),
        )
        db.execute("DELETE FROM agents WHERE campaign = ?", (spec.name,))
        for agent in spec.agents:
            db.execute(
                "INSERT INTO agents (campaign, id, number, skills, nailed) "
                "VALUES (?, ?, ?, ?, ?)",
                (spec.name, agent.id, agent.number, ",".join(agent.skills), int(agent.nailed)),
            )


def campaign(db: Connection, path: str, name: str) -> CampaignSpec:
    """The stored campaign ``name`` of the database at ``path`` (named in the error); see
    :meth:`dialer.campaign.store.CampaignStore.campaign`."""
    row = db.execute("SELECT spec FROM campaigns WHERE name = ?", (name,)).fetchone()
    if row is None:
        raise CampaignError(f"no campaign named {name!r}")
    return parse_spec(path, name, row["spec"])


def parse_spec(path: str, name: str, text: str) -> CampaignSpec:
    """The campaign ``name``'s stored settings ``text`` as its spec. Parsed (and validated)
    once per distinct text: claims and settles read the text with their rows, in their own
    transaction, and reuse the spec while it is unchanged; a campaign changed by any dialer is
    a new text, parsed anew at the next read (never a stale spec)."""
    try:
        return _parsed(text)
    except (CampaignError, ValueError, TypeError) as exc:
        raise CampaignError(
            f"campaign {name} in {path}: stored settings not valid: {exc}"
        ) from None


@functools.lru_cache(maxsize=64)
def _parsed(text: str) -> CampaignSpec:
    return campaign_from_dict(json.loads(text))


def campaigns(db: Connection) -> list[str]:
    return [r["name"] for r in db.execute("SELECT name FROM campaigns ORDER BY name")]


def agents(db: Connection, campaign: str) -> list[AgentSpec]:
    rows = db.execute(
        "SELECT id, number, skills, nailed FROM agents WHERE campaign = ? ORDER BY id",
        (campaign,),
    )
    return [
        AgentSpec(
            r["id"],
            r["number"],
            tuple(s for s in r["skills"].split(",") if s),
            nailed=bool(r["nailed"]),
        )
        for r in rows
    ]


def set_status(db: Connection, campaign: str, status: str, now: float) -> None:
    """See :meth:`dialer.campaign.store.CampaignStore.set_status`."""
    if status not in STATUSES:
        raise CampaignError(f"status must be one of {STATUSES}")
    with transaction(db):
        cur = db.execute(
            "UPDATE campaigns SET status = ?, updated_at = ? WHERE name = ?",
            (status, now, campaign),
        )
        if cur.rowcount == 0:
            raise CampaignError(f"no campaign named {campaign!r}")


def campaign_row(db: Connection, campaign: str, lock: str = "") -> Row:
    """The campaign's status, heartbeat and lease columns; :class:`CampaignError` when there is
    no such campaign. ``lock`` (``"UPDATE"``, ``"SHARE"``): the row is locked that way until the
    transaction ends, on PostgreSQL (on SQLite ``BEGIN IMMEDIATE`` already is)."""
    row: Row | None = db.execute(
        "SELECT status, heartbeat_at, last_seen_at, owner_id, owner_pid, owner_host "
        "FROM campaigns WHERE name = ?" + (row_lock(db, lock) if lock else ""),
        (campaign,),
    ).fetchone()
    if row is None:
        raise CampaignError(f"no campaign named {campaign!r}")
    return row


def add_leads(db: Connection, campaign: str, leads: Iterable[Lead], now: float) -> int:
    """See :meth:`dialer.campaign.store.CampaignStore.add_leads`."""
    added = 0
    with transaction(db):
        for lead in leads:
            custom, call_by, callback_at, deadline = split_deadlines(lead.custom)  # issue 19
            cur = db.execute(
                "INSERT INTO leads (campaign, phone, name, timezone, priority, custom, due_at, "
                "call_by, callback_at, deadline, sla_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (campaign, phone) DO NOTHING",
                (
                    campaign,
                    lead.phone,
                    lead.name,
                    lead.timezone,
                    lead.priority,
                    json.dumps(custom),
                    callback_at or now,
                    call_by,
                    callback_at,
                    deadline,
                    urgent_key(deadline, now, HORIZON_S),
                ),
            )
            added += cur.rowcount
    return added


def add_dnc(db: Connection, phones: Iterable[str], now: float, reason: str) -> None:
    with transaction(db):
        db.executemany(
            "INSERT INTO dnc (phone, added_at, reason) VALUES (?, ?, ?) "
            "ON CONFLICT (phone) DO NOTHING",
            [(p, now, reason) for p in phones],
        )


def lead_states(db: Connection, campaign: str) -> dict[str, str]:
    rows = db.execute("SELECT phone, state FROM leads WHERE campaign = ?", (campaign,))
    return {r["phone"]: r["state"] for r in rows}


def on_dnc(db: Connection, phone: str) -> bool:
    row = db.execute("SELECT 1 FROM dnc WHERE phone = ?", (phone,)).fetchone()
    return row is not None
