"""What the customer hears from us, as a machine (pure): one voice at a time.

::

    SILENT --greeting | hold | fallback | goodbye--> that audio   (only from SILENT: the flow
                                                                   stops one audio first)
    any audio --stop--> SILENT        effect send_stop (a StopSay/StopPlay for it)
    HOLD --end--> SILENT              effect hold_ended (restarted while the customer waits)
    FALLBACK | GOODBYE --end--> SILENT    effect message_ended (the new stream, the hang-up)
    GREETING --end--> SILENT          (the bot took over, nothing follows)
    any --gone--> SILENT              the customer left: nothing to stop

``end`` is an audio-done event or a failed start for the current audio. The flow keeps the
details of what plays (say or play, its tag, its start) in :class:`~dialer.flows.outcome.Audio`.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType

from dialer.flows.machine import Machine


class AudioState(enum.Enum):
    SILENT = "silent"
    GREETING = "greeting"
    HOLD = "hold"
    FALLBACK = "fallback"
    GOODBYE = "goodbye"


class AudioInput(enum.Enum):
    GREETING = "greeting"  # start that audio (the values are the audio's purposes)
    HOLD = "hold"
    FALLBACK = "fallback"
    GOODBYE = "goodbye"
    STOP = "stop"
    END = "end"
    GONE = "gone"


class AudioEffect(enum.Enum):
    SEND_STOP = "send_stop"
    HOLD_ENDED = "hold_ended"
    MESSAGE_ENDED = "message_ended"


_S, _I, _E = AudioState, AudioInput, AudioEffect
_AUDIO = (_S.GREETING, _S.HOLD, _S.FALLBACK, _S.GOODBYE)
_ENDS: Mapping[AudioState, tuple[AudioEffect, ...]] = {
    _S.GREETING: (), _S.HOLD: (_E.HOLD_ENDED,), _S.FALLBACK: (_E.MESSAGE_ENDED,),
    _S.GOODBYE: (_E.MESSAGE_ENDED,),
}

AUDIO_TABLE: Mapping[tuple[AudioState, AudioInput], tuple[AudioState, tuple[AudioEffect, ...]]] = (
    MappingProxyType({
        **{(_S.SILENT, _I(s.value)): (s, ()) for s in _AUDIO},
        (_S.SILENT, _I.STOP): (_S.SILENT, ()),
        (_S.SILENT, _I.GONE): (_S.SILENT, ()),
        **{(s, _I.STOP): (_S.SILENT, (_E.SEND_STOP,)) for s in _AUDIO},
        **{(s, _I.END): (_S.SILENT, _ENDS[s]) for s in _AUDIO},
        **{(s, _I.GONE): (_S.SILENT, ()) for s in _AUDIO},
    })
)


def voice_machine() -> Machine[AudioState, AudioInput, AudioEffect]:
    return Machine("voice", AUDIO_TABLE, _S.SILENT)
