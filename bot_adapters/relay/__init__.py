"""The relay: forwards calls to an existing voice bot speaking the Exotel or Twilio stream
dialect (``dialects``), with fallbacks when that bot fails (``adapter``, options in ``config``).
``testbots`` holds external test bots of both dialects."""

from bot_adapters.relay.adapter import FALLBACK_LABEL, RelayAdapter, RelayStats
from bot_adapters.relay.config import RelayConfig
from bot_adapters.relay.dialects import Dialect, StreamEncoder, decode_bot_message

__all__ = [
    "FALLBACK_LABEL",
    "Dialect",
    "RelayAdapter",
    "RelayConfig",
    "RelayStats",
    "StreamEncoder",
    "decode_bot_message",
]
