"""The control API's bearer token: where it comes from, on both sides of the control channel.

The dialer's control API (``voxgate dialer run``) wants a token by default. It is, in order:

1. the environment's ``VOXGATE_CONTROL_TOKEN`` (:data:`CONTROL_TOKEN_ENV`);
2. the token file: ``VOXGATE_CONTROL_TOKEN_FILE`` (:data:`TOKEN_FILE_ENV`), by default
   ``$XDG_STATE_HOME/voxgate/control-token`` (``~/.local/state/voxgate/control-token``);
   ``voxgate dialer run`` creates it on its first start (:func:`ensure_control_token`: 32 random
   bytes, URL-safe, mode 0600 in a 0700 directory) and reads it on later starts.

The gateway (``voxgate gateway --control-url``) and any client on the same machine and user find
the same token with :func:`read_control_token`; elsewhere, copy it into their environment.
Tokens are compared as UTF-8 bytes (:func:`token_bytes`), in constant time.
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
from pathlib import Path

log = logging.getLogger(__name__)

CONTROL_TOKEN_ENV = "VOXGATE_CONTROL_TOKEN"
TOKEN_FILE_ENV = "VOXGATE_CONTROL_TOKEN_FILE"
MAX_TOKEN_CHARS = 4096


def token_file() -> Path:
    """Where the token file is (the environment's choice, else the user's state directory)."""
    named = os.environ.get(TOKEN_FILE_ENV, "")
    if named:
        return Path(named).expanduser()
    state = os.environ.get("XDG_STATE_HOME", "") or str(Path("~/.local/state").expanduser())
    return Path(state) / "voxgate" / "control-token"


def token_bytes(text: str) -> bytes:
    """``text`` as bytes for a constant-time comparison; never raises (a header aiohttp decoded
    with surrogate escapes, any non-ASCII text, compares as the bytes it came from)."""
    return text.encode("utf-8", "surrogateescape")


def _read(path: Path) -> str:
    text = path.read_text(encoding="utf-8").strip()
    if not text or len(text) > MAX_TOKEN_CHARS or any(c.isspace() for c in text):
        raise ValueError(f"{path}: not a control token (one line, no spaces, at most "
                         f"{MAX_TOKEN_CHARS} characters)")
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning("control token file %s is readable by others (mode %o): chmod 600 it",
                    path, mode)
    return text


def read_control_token() -> str:
    """The token to send or want: the environment's, else the token file's, else ``""``.
    A token file that exists but cannot be used raises ``ValueError`` naming it."""
    token = os.environ.get(CONTROL_TOKEN_ENV, "")
    if token:
        return token
    path = token_file()
    try:
        return _read(path)
    except FileNotFoundError:
        return ""
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"control token file {path}: {exc}") from None


def ensure_control_token() -> tuple[str, str]:
    """The dialer's token and where it came from (for one log line): the environment, else the
    token file, which is created (0600) with a new random token when there is none. Raises
    ``ValueError`` (naming the file) when it can be neither read nor created."""
    if os.environ.get(CONTROL_TOKEN_ENV, ""):
        return os.environ[CONTROL_TOKEN_ENV], f"${CONTROL_TOKEN_ENV}"
    token = read_control_token()
    path = token_file()
    if token:
        return token, f"the token file {path}"
    token = secrets.token_urlsafe(32)
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it meanwhile: use theirs
        return _read(path), f"the token file {path}"
    except OSError as exc:
        raise ValueError(f"control token file {path}: cannot create it: {exc}") from None
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(token + "\n")
    return token, f"a new token file {path} (mode 0600; clients on this machine read it)"
