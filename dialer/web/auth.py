"""Login, logout and the dashboard's access middleware.

Every ``/ui/`` path but the login page and the static assets wants a live session (cookie
``vx_session``: random, HttpOnly, SameSite=Strict, Secure over TLS or ``--behind-tls``); with
none, a page redirects to the login page and an API answers ``401``. Every state-changing
request (any method but GET/HEAD) must carry the session's CSRF token (header
``X-CSRF-Token`` or form field ``csrf``): ``403`` otherwise. The login form has its own token
(double submit: cookie ``vx_login`` and the form field). Roles: an agent reaches only its own
desk (``/ui/desk/ID``), the live feed (its own row) and logout; anything else is ``403``.

Login throttling (:class:`~dialer.web.sessions.Throttle`) per user name and per client address:
locked keys get ``429``, whatever the password. Refusals are counted in the dialer's
``control_refused_total`` as ``ui_unauthenticated``, ``ui_csrf``, ``ui_forbidden``,
``ui_login_failed`` and ``ui_throttled``. Logged: who logged in or failed, and from
where; never a password, a session id or a token.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable
from urllib.parse import quote

from aiohttp import web

from dialer.web.context import (
    CONTEXT,
    COOKIE,
    LOGIN_COOKIE,
    PREFIX,
    SESSION,
    UiContext,
)
from dialer.web.pages import login_page
from dialer.web.users import UsersError, check_password, load_users

__all__ = ["login", "login_form", "logout", "middleware"]

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
OPEN = (f"{PREFIX}/login", f"{PREFIX}/static/")
AGENT_PATHS = (f"{PREFIX}/api/live", f"{PREFIX}/logout", f"{PREFIX}/")
SAFE_METHODS = frozenset({"GET", "HEAD"})
_DUMMY_HASH = "scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$" + "A" * 43 + "="


def _secure(ctx: UiContext, request: web.Request) -> bool:
    return ctx.settings.behind_tls or request.secure


def _cookie(ctx: UiContext, request: web.Request, response: web.StreamResponse, name: str,
            value: str, max_age: float | None = None) -> None:
    response.set_cookie(name, value, path=f"{PREFIX}/", httponly=True, samesite="Strict",
                        secure=_secure(ctx, request),
                        max_age=None if max_age is None else int(max_age))


def _count(request: web.Request, reason: str) -> None:
    """Count a refusal in the dialer's ``control_refused_total{reason="ui_..."}``."""
    request.app[CONTEXT].dialer.stats.refused(f"ui_{reason}")


def _forbidden(request: web.Request, why: str, reason: str) -> web.Response:
    log.warning("dashboard: 403 %s %s: %s", request.method, request.path, why)
    _count(request, reason)
    return web.json_response({"error": f"forbidden: {why}"}, status=403)


def _agent_allowed(path: str, agent_id: str) -> bool:
    # a call's recording: its handler lets an agent hear only a call it took
    recording = path.startswith(f"{PREFIX}/api/calls/") and path.endswith("/recording")
    return (path in AGENT_PATHS or path == f"{PREFIX}/desk/{agent_id}" or recording
            or path.startswith(f"{PREFIX}/api/desk/{agent_id}/"))


@web.middleware
async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    if request.path.startswith(OPEN):
        response = await handler(request)
    else:
        session = ctx.sessions.get(request.cookies.get(COOKIE, ""))
        if session is None:
            if request.path.startswith(f"{PREFIX}/api/") or request.method not in SAFE_METHODS:
                _count(request, "unauthenticated")
                return web.json_response({"error": "log in first"}, status=401)
            raise web.HTTPFound(f"{PREFIX}/login?next={quote(request.path_qs)}")
        if request.method not in SAFE_METHODS:
            sent = request.headers.get("X-CSRF-Token", "")
            if not sent and request.content_type == "application/x-www-form-urlencoded":
                sent = str((await request.post()).get("csrf", ""))
            if not hmac.compare_digest(sent.encode(), session.csrf.encode()):
                return _forbidden(request, "missing or wrong CSRF token", "csrf")
        if session.role != "supervisor" and not _agent_allowed(request.path, session.agent_id):
            return _forbidden(request, f"user {session.user} (agent) may not open this",
                              "forbidden")
        request[SESSION] = session
        response = await handler(request)
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'")
    return response


async def login_form(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    token = secrets.token_urlsafe(24)
    response = web.Response(text=login_page(token, request.query.get("next", "")),
                            content_type="text/html")
    _cookie(ctx, request, response, LOGIN_COOKIE, token, max_age=3600)
    return response


def _next_url(raw: str) -> str:
    """Only a path of the dashboard (never another site)."""
    return raw if raw.startswith(f"{PREFIX}/") and not raw.startswith("//") else f"{PREFIX}/"


async def login(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    form = await request.post()
    name, password = str(form.get("user", "")), str(form.get("password", ""))
    token = str(form.get("csrf", ""))
    if not token or not hmac.compare_digest(token.encode(),
                                            request.cookies.get(LOGIN_COOKIE, "").encode()):
        return _forbidden(request, "missing or wrong login form token (reload the page)", "csrf")
    ip = request.remote or "?"
    keys = (f"user:{name}", f"ip:{ip}")
    now = ctx.clock()
    wait = ctx.throttle.locked(keys, now)
    if wait > 0:
        log.warning("dashboard: login of %r from %s refused: throttled for %d s", name, ip,
                    wait)
        _count(request, "throttled")
        return web.Response(text=login_page(token, form.get("next", ""),  # type: ignore[arg-type]
                                            f"Too many failed logins: try again in "
                                            f"{int(wait) + 1} s."),
                            status=429, content_type="text/html")
    try:
        users = load_users(ctx.settings.users)
    except UsersError as exc:
        log.error("dashboard: %s", exc)
        return web.Response(text="the users file cannot be read (see the service's log)",
                            status=500)
    user = users.get(name)
    loop = asyncio.get_running_loop()
    ok = await loop.run_in_executor(None, check_password,
                                    user.password_hash if user else _DUMMY_HASH, password)
    if user is None or not ok:
        ctx.throttle.failed(keys, ctx.clock())
        log.warning("dashboard: failed login for %r from %s", name, ip)
        _count(request, "login_failed")
        return web.Response(text=login_page(token, str(form.get("next", "")),
                                            "Wrong user name or password."),
                            status=401, content_type="text/html")
    ctx.throttle.succeeded(keys[:1])
    session = ctx.sessions.create(user.name, user.role, user.agent_id)
    log.info("dashboard: %s (%s) logged in from %s", user.name, user.role, ip)
    target = _next_url(str(form.get("next", "")))
    if user.role == "agent":
        target = f"{PREFIX}/desk/{user.agent_id}"
    response = web.HTTPFound(target)
    _cookie(ctx, request, response, COOKIE, session.sid)
    response.del_cookie(LOGIN_COOKIE, path=f"{PREFIX}/")
    raise response


async def logout(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    session = request[SESSION]
    ctx.sessions.drop(session.sid)
    log.info("dashboard: %s logged out", session.user)
    response = web.HTTPFound(f"{PREFIX}/login")
    response.del_cookie(COOKIE, path=f"{PREFIX}/")
    raise response
