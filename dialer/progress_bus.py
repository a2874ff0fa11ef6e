"""Progress events handed to listeners: the dialer's :class:`~dialer.ports.ProgressSink`
(calls publish typed events, :mod:`dialer.progress`; the campaign runner, the greeting gate's
waits and the dashboard listen)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from dialer.progress import ProgressEvent, UnknownProgressKind, from_notification

log = logging.getLogger("dialer.service")

__all__ = ["ProgressBus", "ProgressListener"]

ProgressListener = Callable[[ProgressEvent], None]


class ProgressBus:
    """Listeners of progress events; :class:`~dialer.service.Dialer` is one."""

    def __init__(self) -> None:
        self._listeners: list[ProgressListener] = []

    def subscribe(self, listener: ProgressListener) -> Callable[[], None]:
        """Call ``listener(event)`` for every progress event; returns an unsubscribe function.

        Listeners run inline on the event loop: keep them short and never raise."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def notify(self, call_id: str, kind: str, detail: str = "") -> None:
        """Publish the typed event for ``kind`` (a flow's ``Notify``; :mod:`dialer.progress`)."""
        try:
            ev = from_notification(kind, call_id, detail, time.monotonic())
        except (UnknownProgressKind, ValueError):
            log.exception("call %s: progress %s %r has no typed event", call_id, kind, detail)
            return
        self.publish(ev)

    def publish(self, ev: ProgressEvent) -> None:
        """Hand ``ev`` to every listener (one that raises is logged, the others still run)."""
        for listener in list(self._listeners):
            try:
                listener(ev)
            except Exception:
                log.exception("progress listener failed on %s", ev.kind)
