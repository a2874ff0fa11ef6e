"""The bridge's recording as a machine (pure): whether the call's end waits for its URL.

::

    NONE --start--> STARTED          effect send_start (StartRecording on the new bridge)
    NONE | STARTED | AVAILABLE --url--> AVAILABLE    recording_available with a URL
    AVAILABLE --start--> AVAILABLE   effect send_start (a URL that came first is kept)

The customer gone, the flow waits (phase ``finalizing``, up to ``recording_wait``) only while
the recording is ``STARTED``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType

from dialer.flows.machine import Machine


class RecordingState(enum.Enum):
    NONE = "none"
    STARTED = "started"
    AVAILABLE = "available"


class RecordingInput(enum.Enum):
    START = "start"
    URL = "url"


class RecordingEffect(enum.Enum):
    SEND_START = "send_start"


_S, _I, _E = RecordingState, RecordingInput, RecordingEffect

RECORDING_TABLE: Mapping[tuple[RecordingState, RecordingInput],
                         tuple[RecordingState, tuple[RecordingEffect, ...]]] = MappingProxyType({
    (_S.NONE, _I.START): (_S.STARTED, (_E.SEND_START,)),
    (_S.NONE, _I.URL): (_S.AVAILABLE, ()),
    (_S.STARTED, _I.URL): (_S.AVAILABLE, ()),
    (_S.AVAILABLE, _I.START): (_S.AVAILABLE, (_E.SEND_START,)),
    (_S.AVAILABLE, _I.URL): (_S.AVAILABLE, ()),
})


def recording_machine() -> Machine[RecordingState, RecordingInput, RecordingEffect]:
    return Machine("recording", RECORDING_TABLE, _S.NONE)
