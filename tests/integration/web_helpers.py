"""Helpers of the dashboard's tests: a users file, a logged-in aiohttp session, the CSRF token
of a page."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import aiohttp

from dialer.web.users import User, hash_password, save_users

PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf" (?:content|value)="([^"]+)"')


@cache
def _hash(password: str) -> str:
    return hash_password(password)  # scrypt is slow by design: once per test process


def write_users(path: Path, agents: dict[str, str] | None = None) -> Path:
    """A users file: ``sup`` (supervisor) and one agent user per ``agents`` (name -> agent id),
    all with :data:`PASSWORD`."""
    users = {"sup": User("sup", "supervisor", _hash(PASSWORD))}
    for name, agent_id in (agents or {}).items():
        users[name] = User(name, "agent", _hash(PASSWORD), agent_id)
    save_users(path, users)
    return path


async def login_form_token(s: aiohttp.ClientSession, base: str) -> str:
    async with s.get(f"{base}/ui/login") as r:
        assert r.status == 200
        found = CSRF.search(await r.text())
    assert found
    return found.group(1)


async def log_in(s: aiohttp.ClientSession, base: str, user: str,
                 password: str = PASSWORD) -> aiohttp.ClientResponse:
    """POST the login form (no redirect followed); the response."""
    token = await login_form_token(s, base)
    async with s.post(f"{base}/ui/login", allow_redirects=False,
                      data={"user": user, "password": password, "csrf": token}) as r:
        await r.read()
        return r


async def page_csrf(s: aiohttp.ClientSession, url: str) -> str:
    """The session's CSRF token, from a page's ``<meta name="csrf">``."""
    async with s.get(url) as r:
        assert r.status == 200, r.status
        found = CSRF.search(await r.text())
    assert found
    return found.group(1)
