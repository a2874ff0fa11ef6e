"""Credentials in URLs the emulator is handed (stream and event endpoints): taken out to send
as a header, and out of what it logs or reports. Pure."""

from __future__ import annotations

import base64
from urllib.parse import urlsplit, urlunsplit


def split_auth(url: str) -> tuple[str, dict[str, str]]:
    """``ws://KEY:TOKEN@host/p`` -> (``ws://host/p``, ``{"Authorization": "Basic ..."}``)."""
    parts = urlsplit(url)
    if not parts.username:
        return url, {}
    netloc = parts.hostname or ""
    if ":" in netloc:
        netloc = f"[{netloc}]"
    if parts.port:
        netloc += f":{parts.port}"
    token = base64.b64encode(f"{parts.username}:{parts.password or ''}".encode()).decode()
    clean = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return clean, {"Authorization": f"Basic {token}"}


def redact(url: str) -> str:
    """The URL without credentials (for events and logs)."""
    return split_auth(url)[0]
