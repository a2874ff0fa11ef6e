"""The built-in ``echo`` adapter: plays every inbound chunk straight back (loopback).

For tests and load measurements. Options: ``sample_rate`` (``"call"``, the default, uses the
call's own rate so PCM calls echo bit-exact; or ``"8000"``/``"16000"``/``"24000"``).
It opts out of barge-in (``allow_barge_in = False``): a loopback talks over the customer by
design.
"""

from __future__ import annotations

from collections.abc import Mapping

from bot_adapters.contract import SUPPORTED_ADAPTER_RATES, BotAdapter, CallControl


class EchoAdapter(BotAdapter):
    """Loopback bot."""

    allow_barge_in = False

    def __init__(self, options: Mapping[str, str] | None = None) -> None:
        rate = (options or {}).get("sample_rate", "call")
        self._fixed_rate: int | None = None
        if rate != "call":
            try:
                self._fixed_rate = int(rate)
            except ValueError:
                raise ValueError(f"echo: bad sample_rate option {rate!r}") from None
            if self._fixed_rate not in SUPPORTED_ADAPTER_RATES:
                raise ValueError(f"echo: unsupported sample_rate {rate!r}")
            self.rate = self._fixed_rate
        else:
            self.rate = 8000
        self._call: CallControl | None = None

    @property
    def sample_rate(self) -> int:  # type: ignore[override]  # read after on_start
        return self.rate

    async def on_start(self, call: CallControl) -> None:
        self._call = call
        if self._fixed_rate is None:
            self.rate = call.info.call_sample_rate

    async def on_audio(self, pcm: bytes) -> None:
        if self._call is not None:
            self._call.play(pcm)
