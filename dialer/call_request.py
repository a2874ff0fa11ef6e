"""One call to place (:class:`CallRequest`), as :meth:`dialer.service.Dialer.place_call` takes
it and a call's runner reads it."""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from dialer.config import clean_exophone
from dialer.stream_params import check_field_names

Mode = Literal["bot_first", "agent_first"]
MAX_RING_TIMEOUT = 600  # Exotel's ring_timeout bound (seconds), as a campaign's limit


@dataclass(frozen=True, slots=True)
class CallRequest:
    """One call to place. ``call_id`` is generated when empty; ``custom`` ends up in the record.

    ``stream_params`` (name -> value, at most two, names checked by
    :func:`dialer.stream_params.check_field_names`) are added to the stream URL and reach the
    bot in ``CallInfo.custom_parameters`` beside ``vx_call``; a value too long for Exotel's
    256 characters is shortened and reported (log, ``DialerStats.stream_params_truncated``, and
    ``stream_params_truncated`` in the record's ``custom``).

    Per-call settings (a campaign's, inside the dialer service), each falling back to the
    dialer's configuration when unset: ``ring_timeout`` (seconds, 1-600; the customer leg's
    ``ring_timeout``, instead of ``customer_ring_timeout``; a fraction rounds up, so a legal
    minimum ring time holds) and ``caller_id`` (the ExoPhone the customer and an on-demand
    agent see, instead of ``exophone``; checked and cleaned as the configuration's is)."""

    number: str
    mode: Mode = "bot_first"
    bot: str = ""
    custom: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    call_id: str = ""
    skills: tuple[str, ...] = ()
    amd: bool = False
    stream_params: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    ring_timeout: int | None = None
    caller_id: str = ""

    def __post_init__(self) -> None:
        if not self.number:
            raise ValueError("CallRequest.number must not be empty")
        if self.mode not in ("bot_first", "agent_first"):
            raise ValueError(f"CallRequest.mode must be bot_first or agent_first: {self.mode!r}")
        if not self.call_id:
            object.__setattr__(self, "call_id", "vx" + uuid.uuid4().hex[:16])
        if not isinstance(self.custom, MappingProxyType):
            object.__setattr__(self, "custom", MappingProxyType(dict(self.custom)))
        object.__setattr__(self, "skills", tuple(self.skills))
        check_field_names(list(self.stream_params), "CallRequest.stream_params")
        if not all(isinstance(v, str) for v in self.stream_params.values()):
            raise ValueError("CallRequest.stream_params values must be strings")
        if not isinstance(self.stream_params, MappingProxyType):
            object.__setattr__(self, "stream_params", MappingProxyType(dict(self.stream_params)))
        object.__setattr__(self, "ring_timeout", _ring_timeout(self.ring_timeout))
        if self.caller_id:
            cleaned = clean_exophone(self.caller_id) if isinstance(self.caller_id, str) else None
            if cleaned is None:
                raise ValueError("CallRequest.caller_id must be a phone number (an ExoPhone of "
                                 f"the account), got {self.caller_id!r}")
            object.__setattr__(self, "caller_id", cleaned)


def _ring_timeout(value: object) -> int | None:
    """``value`` as whole seconds (rounded up), checked against 1-600; None stays None."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(
        value
    ):
        raise ValueError(f"CallRequest.ring_timeout must be a number of seconds, got {value!r}")
    seconds = math.ceil(value)
    if not 1 <= seconds <= MAX_RING_TIMEOUT:
        raise ValueError(f"CallRequest.ring_timeout must be 1-{MAX_RING_TIMEOUT} seconds, "
                         f"got {value!r}")
    return seconds
