"""Bind control requests to their call: the MAC the dialer puts in ``vx_call`` (pure, no I/O).

A stream's control requests (hang-up, transfer, ``bot_failed`` ...) name their call by the
``vx_call`` custom parameter. The call id alone is guessable (a campaign's ids are
``{campaign}-{lead}-{attempt}``), so the dialer hands Exotel ``vx_call=CALL_ID~MAC`` with
``MAC = base64url(HMAC-SHA256(secret, "vx_call:" + CALL_ID))[:22]`` (128 bits; 23 characters of
Exotel's 256-character custom-parameter budget), and :meth:`CallBinding.verify` gives back the
call id only when the MAC is the dialer's. The dialer then also wants the request's
``call_sid`` to be that call's customer leg (:meth:`dialer.service.Dialer.submit`).

**Owner.** A dialer with an id (``VOXGATE_DIALER_ID`` / ``voxgate dialer run --dialer-id``,
1-32 of ``A-Z a-z 0-9 _ -``) names itself after the MAC: ``vx_call=CALL_ID~MAC.OWNER``, the MAC
then over ``"vx_call@" + OWNER + ":" + CALL_ID`` (both signed), so a gateway in front of several
dialers routes each request to its owner (``voxgate gateway --control-url OWNER=URL``) and a
dialer refuses a value naming another owner. Without an id the value and MAC are as before
(``CALL_ID~MAC``). The owner costs ``1 + len(OWNER)`` characters of the budget.

The secret comes from ``VOXGATE_CALL_SECRET`` (:data:`SECRET_ENV`, any text; set the same one
on every dialer that must accept another's streams), else 32 random bytes per dialer process:
a restarted dialer then refuses the streams of the calls its predecessor placed, which it no
longer runs anyway.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping

from voxgate_shared.control import (
    VX_CALL_SEP,
    VX_OWNER_SEP,
    check_dialer_id,
    split_vx_call,
    vx_call_owner,
)

__all__ = ["DIALER_ID_ENV", "MAC_CHARS", "SECRET_ENV", "SIGNED_EXTRA", "CallBinding",
           "check_dialer_id"]

SECRET_ENV = "VOXGATE_CALL_SECRET"
DIALER_ID_ENV = "VOXGATE_DIALER_ID"
MAC_CHARS = 22  # 16 bytes of HMAC-SHA256, base64url without padding
SIGNED_EXTRA = len(VX_CALL_SEP) + MAC_CHARS
"""Characters the MAC adds to ``vx_call`` (count them in the stream URL's budget)."""
_MIN_SECRET = 16


class CallBinding:
    """Signs call ids into ``vx_call`` values and verifies them (see the module docstring)."""

    def __init__(self, secret: bytes, owner: str = "") -> None:
        if len(secret) < _MIN_SECRET:
            raise ValueError(f"the call binding secret needs at least {_MIN_SECRET} bytes")
        self._secret = secret
        self.owner = check_dialer_id(owner)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> CallBinding:
        """From ``VOXGATE_CALL_SECRET`` (stretched with SHA-256, so any length of at least
        16 characters works), else a random per-process secret; the owner from
        ``VOXGATE_DIALER_ID`` (none when unset)."""
        owner = check_dialer_id(env.get(DIALER_ID_ENV, ""))
        text = env.get(SECRET_ENV, "")
        if text:
            if len(text) < _MIN_SECRET:
                raise ValueError(f"{SECRET_ENV} needs at least {_MIN_SECRET} characters")
            return cls(hashlib.sha256(text.encode("utf-8", "surrogateescape")).digest(), owner)
        return cls(secrets.token_bytes(32), owner)

    def _mac(self, call_id: str) -> str:
        signed = f"vx_call@{self.owner}:{call_id}" if self.owner else f"vx_call:{call_id}"
        digest = hmac.new(self._secret, signed.encode("utf-8", "surrogateescape"),
                          hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:16]).decode("ascii").rstrip("=")

    def sign(self, call_id: str) -> str:
        """The ``vx_call`` value for ``call_id``: ``CALL_ID~MAC`` (``CALL_ID~MAC.OWNER`` for a
        dialer with an id)."""
        owner = f"{VX_OWNER_SEP}{self.owner}" if self.owner else ""
        return f"{call_id}{VX_CALL_SEP}{self._mac(call_id)}{owner}"

    def verify(self, vx_call: str) -> str | None:
        """The call id when ``vx_call`` carries this dialer's MAC for it (and names this dialer
        as its owner, or no owner when it has no id), else ``None``."""
        call_id, mac = split_vx_call(vx_call)
        if not call_id or len(mac) != MAC_CHARS or vx_call_owner(vx_call) != self.owner:
            return None
        good = self.sign(call_id).encode("utf-8", "surrogateescape")
        return call_id if hmac.compare_digest(good, vx_call.encode("utf-8", "surrogateescape")) \
            else None
