"""``voxgate dialer run``'s dashboard options: ``--audit-log FILE`` names the audit's JSONL copy;
without it there is none (the entries are in the database's ``audit_log``). Before, the copy
defaulted to ``{db}.audit.jsonl``, a nonsense path for a ``postgresql://`` database."""

from __future__ import annotations

import argparse
from pathlib import Path

from dialer.web.options import add_arguments, settings_from
from dialer.web.users import save_users


def parsed(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(list(argv))


def test_the_jsonl_copy_only_when_audit_log_is_given(tmp_path: Path) -> None:
    users = str(tmp_path / "users.json")
    save_users(Path(users), {})  # no user yet: the dashboard is on all the same
    settings = settings_from(parsed("--users", users))
    assert settings is not None and settings.audit is None
    settings = settings_from(parsed("--users", users, "--audit-log", str(tmp_path / "a.jsonl")))
    assert settings is not None and settings.audit == tmp_path / "a.jsonl"
