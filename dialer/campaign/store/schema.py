"""The campaign database's schema, its versioned migrations (:data:`MIGRATIONS`, applied by
:func:`dialer.db.migrate`), and its opening (read-write or read-only) on either dialect.

Version 1 is the whole schema as SQLite had it before versioned migrations, on SQLite with the
:data:`COLUMNS_ADDED` upgrades, so a file from an older version opens and gains what it lacks;
on PostgreSQL the same tables with identity columns and ``DOUBLE PRECISION``
(:func:`dialer.db.postgres_ddl`). Opened read-only (:func:`open_read_only`), what an older
SQLite file lacks reads as empty (:func:`stand_in`), and nothing in it or beside it is created
or changed; a PostgreSQL database read-only runs read-only transactions.
"""

from __future__ import annotations

from pathlib import Path

from dialer.campaign.model import CampaignError
from dialer.campaign.store.desk import DESK_MIGRATIONS
from dialer.campaign.store.intel import LEADS_MIGRATIONS
from dialer.campaign.store.members import MIGRATION as MEMBERS_MIGRATION
from dialer.db import (
    Connection,
    Database,
    Migration,
    Migrations,
    is_postgres_url,
    migrate,
    open_db,
    postgres_ddl,
    sqlite_path,
    statements,
    transaction,
)

__all__ = [
    "COLUMNS_ADDED",
    "MIGRATIONS",
    "SCHEMA",
    "add_missing_columns",
    "missing_columns",
    "open_read_only",
    "open_store",
    "stand_in",
    "transaction",
]

SCHEMA = """
CREATE TABLE IF NOT EXISTS campaigns (
    name TEXT PRIMARY KEY,
    spec TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'running',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    heartbeat_at REAL,
    last_seen_at REAL,
    owner_id TEXT,
    owner_pid INTEGER,
    owner_host TEXT
);
CREATE TABLE IF NOT EXISTS leads (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    campaign TEXT NOT NULL,
    phone TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    timezone TEXT NOT NULL DEFAULT '',
    priority INTEGER NOT NULL DEFAULT 0,
    custom TEXT NOT NULL DEFAULT '{}',
    state TEXT NOT NULL DEFAULT 'pending',
    due_at REAL NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_outcome TEXT NOT NULL DEFAULT '',
    final_reason TEXT NOT NULL DEFAULT '',
    UNIQUE (campaign, phone)
);
CREATE INDEX IF NOT EXISTS leads_due ON leads (campaign, state, priority DESC, due_at, id);
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    campaign TEXT NOT NULL,
    lead_id INTEGER NOT NULL,
    attempt_no INTEGER NOT NULL,
    call_id TEXT NOT NULL UNIQUE,
    local_day TEXT NOT NULL,
    claimed_at REAL NOT NULL,
    state TEXT NOT NULL DEFAULT 'dialing',
    outcome TEXT NOT NULL DEFAULT '',
    live INTEGER NOT NULL DEFAULT 0,
    abandoned INTEGER NOT NULL DEFAULT 0,
    escalated INTEGER NOT NULL DEFAULT 0,
    answered_at REAL,
    ended_at REAL,
    connected INTEGER NOT NULL DEFAULT 0,
    UNIQUE (lead_id, attempt_no)
);
CREATE INDEX IF NOT EXISTS attempts_lead_day ON attempts (lead_id, local_day);
CREATE INDEX IF NOT EXISTS attempts_state ON attempts (campaign, state);
CREATE TABLE IF NOT EXISTS calls (
    call_id TEXT PRIMARY KEY,
    campaign TEXT NOT NULL,
    lead_id INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS dispositions (
    call_id TEXT PRIMARY KEY,
    campaign TEXT NOT NULL,
    lead_id INTEGER NOT NULL,
    disposition TEXT NOT NULL,
    outcome TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS agents (
    campaign TEXT NOT NULL,
    id TEXT NOT NULL,
    number TEXT NOT NULL,
    skills TEXT NOT NULL DEFAULT '',
    nailed INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (campaign, id)
);
CREATE TABLE IF NOT EXISTS dnc (
    phone TEXT PRIMARY KEY,
    added_at REAL NOT NULL,
    reason TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS pacer_snapshots (
    campaign TEXT NOT NULL,
    pacer TEXT NOT NULL,
    saved_at REAL NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (campaign, pacer)
);
"""

COLUMNS_ADDED: tuple[tuple[str, str, str], ...] = (
    ("agents", "nailed", "INTEGER NOT NULL DEFAULT 0"),  # nailed-up campaign agents
    ("campaigns", "heartbeat_at", "REAL"),  # the attached dialer's last heartbeat
    ("campaigns", "last_seen_at", "REAL"),  # the last dialer's last sign of life
    ("campaigns", "owner_id", "TEXT"),  # the lease: the runner dialling the campaign
    ("campaigns", "owner_pid", "INTEGER"),
    ("campaigns", "owner_host", "TEXT"),
    ("attempts", "connected", "INTEGER NOT NULL DEFAULT 0"),  # the call reached an agent
)
"""Columns added since a table was first made: ``(table, column, type)``, added on open to a
database that lacks them (``CREATE TABLE IF NOT EXISTS`` leaves an existing table as it is)."""


def add_missing_columns(db: Connection) -> None:
    """Add the :data:`COLUMNS_ADDED` a SQLite database from an older version lacks."""
    for table, column, kind in missing_columns(db):
        db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")


_SHARED = "several dialers on one campaign: members, the dialer of attempts and agents"

MIGRATIONS = Migrations(
    "campaign",
    sqlite=(
        Migration(1, "the campaign schema", (*statements(SCHEMA), add_missing_columns)),
        Migration(2, _SHARED, statements(MEMBERS_MIGRATION)),
    ),
    postgresql=(
        Migration(1, "the campaign schema", statements(postgres_ddl(SCHEMA))),
        Migration(2, _SHARED, statements(postgres_ddl(MEMBERS_MIGRATION))),
    ),
)
"""The campaign store's migrations; a new one is appended to both dialects' tuples."""


def open_store(url: str) -> Database:
    """The database ``url`` (a path, ``":memory:"``, ``sqlite:///...``, ``postgresql://...``)
    opened for reading and writing, its migrations applied (and the agent desk's,
    :data:`~dialer.campaign.store.desk.DESK_MIGRATIONS`, and lead intelligence's,
    :data:`~dialer.campaign.store.intel.LEADS_MIGRATIONS`)."""
    db = open_db(url)
    try:
        migrate(db, MIGRATIONS)
        migrate(db, DESK_MIGRATIONS)  # the agent desk's table, its own component
        migrate(db, LEADS_MIGRATIONS)  # lead intelligence's columns and table, its own
    except BaseException:
        db.close()
        raise
    return db


def missing_columns(db: Connection) -> list[tuple[str, str, str]]:
    """The :data:`COLUMNS_ADDED` that a SQLite ``db``'s tables lack (those of an older
    version)."""
    missing = []
    for table, column, kind in COLUMNS_ADDED:
        columns = {r[1] for r in db.execute(f"PRAGMA main.table_info({table})")}
        if columns and column not in columns:
            missing.append((table, column, kind))
    return missing


def open_read_only(url: str) -> Database:
    """The existing database ``url`` for reading only. SQLite: reads as the current schema
    (:func:`stand_in`), nothing created or changed; :class:`CampaignError` when there is no
    such file."""
    if not is_postgres_url(url):
        path = sqlite_path(url)
        if not Path(path).is_file():
            raise CampaignError(f"no campaign database at {path}")
    db = open_db(url, read_only=True)
    if db.dialect == "sqlite":
        with db.connection() as conn:
            stand_in(conn)
    return db


def stand_in(db: Connection) -> None:
    """Empty temporary stand-ins (read first, in SQLite's name lookup) for the tables that a
    read-only ``db`` lacks, and views adding the :data:`COLUMNS_ADDED` it lacks (at their
    defaults) to its older tables: reading methods then see the current schema."""
    db.execute("PRAGMA temp_store = MEMORY")
    tables = {r[0] for r in db.execute("SELECT name FROM main.sqlite_master WHERE type = 'table'")}
    for statement in SCHEMA.split(";"):
        words = statement.split()
        if words[:5] == ["CREATE", "TABLE", "IF", "NOT", "EXISTS"] and words[5] not in tables:
            db.execute(statement.replace("CREATE TABLE IF NOT EXISTS", "CREATE TEMP TABLE", 1))
    added: dict[str, list[str]] = {}
    for table, column, kind in missing_columns(db):
        default = kind.split("DEFAULT ")[1] if "DEFAULT " in kind else "NULL"
        added.setdefault(table, []).append(f"{default} AS {column}")
    for table, columns in added.items():
        db.execute(f"CREATE TEMP VIEW {table} AS SELECT *, {', '.join(columns)} FROM main.{table}")
