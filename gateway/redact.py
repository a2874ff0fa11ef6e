"""Moved to :mod:`voxgate_shared.redact` (the gateway, the dialer and the CLI all use it).

Kept for the compiled gateway core (``gateway/wire.py`` imports :class:`RedactingFilter` from
here; its import line switches at the next ``make fast``) and code written before the move.
"""

from voxgate_shared.redact import RedactingFilter

__all__ = ["RedactingFilter"]
