"""The dashboard's HTML pages: ``templates/*.html`` filled with :class:`string.Template`
(every value HTML-escaped here). Pages are skeletons; ``static/app.js`` fills them from the live
feed. To add a page: a template with its body, a :func:`page` call in a handler, a nav entry in
:data:`NAV` and a route in :mod:`dialer.web.app`."""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from string import Template

from dialer.web.audit import AuditEntry
from dialer.web.sessions import Session

__all__ = ["NAV", "audit_rows", "login_page", "page"]

NAV = (("campaigns", "Campaigns"), ("agents", "Agents"), ("calls", "Calls"),
       ("reports", "Reports"), ("audit", "Audit"))
SCRIPTS = {
    "campaigns": ("vendor/uplot/uPlot.iife.min.js", "app.js"),
    "agents": ("app.js",),
    "desk": ("app.js",),
    "calls": ("calls.js",),
    "audit": (),
}


@cache
def _template(name: str) -> Template:
    text = resources.files("dialer.web").joinpath("templates", f"{name}.html").read_text("utf-8")
    return Template(text)


def login_page(csrf: str, next_url: str, error: str = "") -> str:
    return _template("login").substitute(csrf=html.escape(csrf), next=html.escape(next_url),
                                         error=html.escape(error))


def page(name: str, title: str, session: Session, **body: str) -> str:
    """Page ``name`` (its template ``name.html`` inside ``base.html``); ``body`` values are
    escaped, except those whose key ends in ``_html``."""
    values = {k.removesuffix("_html"): v if k.endswith("_html") else html.escape(v)
              for k, v in body.items()}
    inner = _template(name).substitute(values)
    if session.role == "supervisor":
        nav = " ".join(
            f'<a href="/ui/{key}"{" aria-current=page" if key == name else ""}>{label}</a>'
            for key, label in NAV)
    else:
        nav = f'<a href="/ui/desk/{html.escape(session.agent_id)}">My desk</a>'
    scripts = "\n".join(f'<script src="/ui/static/{src}"></script>'
                        for src in SCRIPTS.get(name, ()))
    head = ('<link rel="stylesheet" href="/ui/static/vendor/uplot/uPlot.min.css">'
            if name == "campaigns" else "")
    feed = '<p class="feed" id="feed">connecting…</p>' if "app.js" in SCRIPTS.get(name, ()) \
        else ""
    return _template("base").substitute(
        title=html.escape(title), page=name, nav=nav, body=inner, scripts=scripts, head=head,
        feed=feed,
        csrf=html.escape(session.csrf), user=html.escape(session.user),
        role=html.escape(session.role))


def _value(v: object) -> str:
    return html.escape(v if isinstance(v, str) else json.dumps(v))


def audit_rows(entries: list[AuditEntry]) -> str:
    """The audit table's rows (newest first)."""
    return "\n".join(
        "<tr>"
        f"<td>{datetime.fromtimestamp(e.at, UTC).strftime('%Y-%m-%d %H:%M:%S')}</td>"
        f"<td>{html.escape(e.user)}</td><td>{html.escape(e.action)}</td>"
        f"<td>{html.escape(e.target)}</td><td>{_value(e.before)}</td><td>{_value(e.after)}</td>"
        "</tr>" for e in entries) or '<tr><td colspan="6">no action yet</td></tr>'
