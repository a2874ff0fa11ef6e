"""What the dashboard's handlers share: the dialer, its campaigns, the sessions, the audit log
and the settings (one :class:`UiContext` per mounted dashboard, kept in the sub-app as
``app[CONTEXT]``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from dialer.db import is_postgres_url, sqlite_path
from dialer.web.audit import AuditLog
from dialer.web.audit_table import AuditTable
from dialer.web.sessions import Session, SessionStore, Throttle

if TYPE_CHECKING:
    from dialer.campaign.service_api import CampaignService
    from dialer.service import Dialer

__all__ = ["CONTEXT", "SESSION", "UiContext", "UiSettings", "session_of"]

PREFIX = "/ui"
COOKIE = "vx_session"
LOGIN_COOKIE = "vx_login"  # the login form's CSRF token (double submit: no session yet)


@dataclass(frozen=True, slots=True)
class UiSettings:
    """``users``: the users file; ``behind_tls``: cookies are ``Secure`` even though the
    request came over plain HTTP (a TLS proxy in front); ``audit``: the audit's JSONL copy (None:
    none; the entries are in the database's ``audit_log``)."""

    users: Path
    behind_tls: bool = False
    audit: Path | None = None
    idle_s: float = 30 * 60.0
    absolute_s: float = 12 * 3600.0
    max_viewers: int = 100  # live feeds at once (each more gets a 503)
    desk_max_wrap_s: float = 120.0  # a desk agent's longest wrap-up without a ready click


@dataclass
class UiContext:
    dialer: Dialer
    campaigns: CampaignService | None
    settings: UiSettings
    clock: Callable[[], float] = time.monotonic
    wall: Callable[[], float] = time.time
    sessions: SessionStore = field(init=False)
    throttle: Throttle = field(default_factory=Throttle)
    audit: AuditLog = field(init=False)
    paused: dict[str, str] = field(default_factory=dict)  # agent id -> pause reason (the desk)

    def __post_init__(self) -> None:
        self.sessions = SessionStore(self.clock, self.settings.idle_s, self.settings.absolute_s)
        db = self.dialer.config.db_path  # the audit table beside the dialer's call records
        usable = db and (is_postgres_url(db) or sqlite_path(db) != ":memory:")
        table = AuditTable(db) if usable else None
        self.audit = AuditLog(self.settings.audit, table=table, calls=self.dialer.calls)


CONTEXT = web.AppKey("voxgate_ui", UiContext)
# the request's Session (a typed key where aiohttp has them, 3.12+)
SESSION: Any = (web.RequestKey("vx_session", Session) if hasattr(web, "RequestKey")
                else "vx_session")


def session_of(request: web.Request) -> Session:
    """The request's session (the auth middleware put it there)."""
    session: Session = request[SESSION]
    return session
