"""The dialer's error tree. Catch the narrowest class that fits.

::

    DialerError                      anything the dialer raises on purpose
    ├── ConfigError                  bad configuration (file or environment)
    ├── ExotelError                  talking to Exotel (or the emulator) failed
    │   ├── ExotelApiError           Exotel answered with an error status; carries status + body
    │   └── ExotelTransportError     no usable answer: connection refused/reset, bad JSON
    │       └── ExotelTimeout        no answer in time; the request may or may not have acted
    │           └── CreateLegUncertain  a create-leg timed out: never retried blindly
    ├── MalformedEvent (also ValueError)  an Exotel event we cannot parse (the peer's fault)
    ├── IllegalTransition            a call flow was driven in a way its state table forbids (ours)
    ├── UnknownCall                  a control request or lookup names no live call
    └── ControlRefused               a control request not bound to its call (bad MAC, wrong leg)

Lower-layer errors (aiohttp, grpc, json) are converted at the boundary with ``raise ... from``.
"""

from __future__ import annotations

from typing import Any


class DialerError(Exception):
    """Base of every error the dialer raises on purpose."""


class ConfigError(DialerError):
    """The configuration (file or environment) is invalid; the message names the setting."""


class ExotelError(DialerError):
    """A request to Exotel's Legs/Bridges API failed."""


class ExotelApiError(ExotelError):
    """Exotel answered with a non-2xx status.

    ``status`` is the HTTP status, ``body`` Exotel's error body (parsed JSON when it was JSON,
    else the text). ``method`` and ``path`` say which request failed (no credentials in them).
    """

    def __init__(self, status: int, body: Any, method: str = "", path: str = "") -> None:
        self.status = status
        self.body = body
        self.method = method
        self.path = path
        super().__init__(f"Exotel {method} {path} answered {status}: {_short(body)}")

    @property
    def retryable(self) -> bool:
        """True for 429 and 5xx: the same request may succeed later."""
        return self.status == 429 or self.status >= 500

    @property
    def not_found(self) -> bool:
        """True for 404 (a hang-up of a leg that is already gone counts as done)."""
        return self.status == 404


class ExotelTransportError(ExotelError):
    """No usable HTTP answer (connection error, unreadable body)."""


class ExotelTimeout(ExotelTransportError):
    """The request timed out; it may have been acted on by Exotel."""


class CreateLegUncertain(ExotelTimeout):
    """``POST /legs`` timed out: the customer may be ringing. Reconcile, never retry blindly."""

    def __init__(self, message: str, contact_uri: str, custom_param: str) -> None:
        self.contact_uri = contact_uri
        self.custom_param = custom_param
        super().__init__(message)


class MalformedEvent(DialerError, ValueError):
    """An Exotel callback event that cannot be parsed. Logged and counted, never fatal."""


class IllegalTransition(DialerError):
    """A call flow was asked to move along an edge its state table does not have."""


class UnknownCall(DialerError, KeyError):
    """No live call matches the given call id or leg sid."""


class ControlRefused(DialerError):
    """A control request that cannot prove it comes from its call's stream (``403`` over HTTP).

    ``reason``: ``unbound`` (no ``vx_call``), ``bad_mac`` (not this dialer's MAC), or
    ``leg_mismatch`` (the stream's ``call_sid`` is not the call's customer leg)."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"control request refused: {reason}")
        self.reason = reason


def _short(body: Any, limit: int = 300) -> str:
    text = body if isinstance(body, str) else repr(body)
    return text if len(text) <= limit else text[:limit] + "..."
