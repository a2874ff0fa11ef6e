"""A placed call as its caller holds it (:class:`CallHandle`, from
:meth:`dialer.service.Dialer.place_call`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from dialer.flows import HangupRequest, Transfer
from dialer.records import CallRecord
from dialer.runner import CallRunner


class CallHandle:
    """A placed call. ``await handle.wait()`` returns its :class:`CallRecord`."""

    def __init__(self, runner: CallRunner,
                 saved: Callable[[str], Awaitable[None]] | None = None) -> None:
        self._runner = runner
        self._saved = saved  # waits until a finished call's record is stored
        self.call_id = runner.call_id
        self.request = runner.request

    @property
    def state(self) -> str:
        return self._runner.flow.state.value

    @property
    def done(self) -> bool:
        return self._runner.done.is_set()

    @property
    def customer_leg_sid(self) -> str:
        return self._runner.flow.customer_leg

    async def wait(self) -> CallRecord:
        """Wait for the call to end (bound it with ``asyncio.timeout`` if needed)."""
        await self._runner.done.wait()
        if self._saved is not None:
            await self._saved(self.call_id)
        assert self._runner.record is not None
        return self._runner.record

    async def transfer(self, reason: str = "requested", skills: tuple[str, ...] = ()) -> None:
        """Ask for a live agent (same as a control request)."""
        self._runner.deliver(Transfer(reason, skills))

    async def hangup(self, reason: str = "requested") -> None:
        self._runner.deliver(HangupRequest(reason))
