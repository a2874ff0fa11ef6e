"""The dashboard's users: a small JSON file (``VOXGATE_USERS`` or ``--users``, mode 0600) of
names, roles and scrypt password hashes.

Roles: ``supervisor`` (every page and control) and ``agent`` (bound to one agent id of the
dialer's pool: only that agent's desk). A password is stored as
``scrypt$N$r$p$SALT$HASH`` (base64, 16-byte random salt, :func:`hashlib.scrypt`); it is
checked in constant time and never logged. ``voxgate users add NAME --role ...`` writes the file
(:mod:`dialer.web.users_cli`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from pathlib import Path

from dialer.private_files import open_private

__all__ = ["ROLES", "USERS_ENV", "User", "UsersError", "check_password", "hash_password",
           "load_users", "save_users"]

USERS_ENV = "VOXGATE_USERS"
ROLES = ("supervisor", "agent")
_N, _R, _P = 2**14, 8, 1  # ~16 MB and ~50 ms per check: slow for a guesser, fine for a login
MIN_PASSWORD = 8


class UsersError(ValueError):
    """A users file or a user that cannot be used (the message says why)."""


@dataclass(frozen=True, slots=True)
class User:
    name: str
    role: str
    password_hash: str
    agent_id: str = ""

    def __post_init__(self) -> None:
        if not self.name or not self.name.replace("_", "").replace("-", "").replace(".",
                                                                                     "").isalnum():
            raise UsersError(f"user name {self.name!r}: letters, digits, '_', '-', '.' only")
        if self.role not in ROLES:
            raise UsersError(f"user {self.name}: role must be one of {', '.join(ROLES)}")
        if self.role == "agent" and not self.agent_id:
            raise UsersError(f"user {self.name}: an agent user needs --agent-id")
        if self.role == "supervisor" and self.agent_id:
            raise UsersError(f"user {self.name}: a supervisor has no agent id")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str, salt: bytes | None = None) -> str:
    """``scrypt$N$r$p$SALT$HASH`` of ``password`` (a fresh random salt unless given)."""
    if len(password) < MIN_PASSWORD:
        raise UsersError(f"the password must have at least {MIN_PASSWORD} characters")
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(digest)}"


def check_password(stored: str, password: str) -> bool:
    """Whether ``password`` matches ``stored`` (constant-time compare; a malformed hash: no)."""
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        want = base64.b64decode(digest)
        got = hashlib.scrypt(password.encode("utf-8"), salt=base64.b64decode(salt), n=int(n),
                             r=int(r), p=int(p), dklen=len(want))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, want)


def load_users(path: str | Path) -> dict[str, User]:
    """The users of ``path`` by name (a missing file: none); :class:`UsersError` if unusable."""
    p = Path(path)
    if not p.exists():
        return {}
    try:
        raw = json.loads(p.read_text(encoding="utf-8"))
        rows = raw["users"]
        users = [User(str(u["name"]), str(u["role"]), str(u["password"]),
                      str(u.get("agent_id", ""))) for u in rows]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UsersError(f"users file {p}: cannot read it: {exc}") from None
    return {u.name: u for u in users}


def save_users(path: str | Path, users: dict[str, User]) -> None:
    """Write ``users`` to ``path`` (mode 0600 before anything is written)."""
    rows = [{"name": u.name, "role": u.role, "agent_id": u.agent_id, "password": u.password_hash}
            for u in sorted(users.values(), key=lambda u: u.name)]
    with open_private(path) as out:
        json.dump({"users": rows}, out, indent=1)
        out.write("\n")
