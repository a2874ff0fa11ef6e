"""The service's started campaigns remember how each was started (issue 17), on SQLite and
PostgreSQL: migration 2 of the ``service`` component adds ``joined`` and ``agent_share`` to a
live version-1 table (its rows resume alone, as before), and a joined start is read back joined
with its share. Before, a start was only a name: a joined campaign resumed alone."""

from __future__ import annotations

from dialer.campaign.service_runs import MIGRATIONS, ServiceRuns, StartedRun
from dialer.db import Migrations, migrate, open_db


def test_a_version_1_table_is_upgraded_and_a_join_is_kept(store_url: str) -> None:
    db = open_db(store_url)
    try:  # a database from before: version 1 only, one campaign started
        migrate(db, Migrations("service", MIGRATIONS.sqlite[:1], MIGRATIONS.postgresql[:1]))
        with db.connection() as conn:
            conn.execute("INSERT INTO service_campaigns (name, started_at) VALUES ('old', 1.0)")
    finally:
        db.close()
    runs = ServiceRuns(store_url)
    try:
        runs.started("shared", 2.0, join=True, share=3)
        runs.started("all", 3.0, join=True)
        assert runs.recorded_runs() == [StartedRun("old"), StartedRun("shared", True, 3),
                                        StartedRun("all", True, None)]
        runs.started("shared", 4.0)  # started again, alone: so it resumes
        assert runs.recorded_runs()[-1] == StartedRun("shared", False, None)
    finally:
        runs.close()
