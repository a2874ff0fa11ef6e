"""Events for legs no call knows yet, held for a bounded time (pure: no I/O, no asyncio).

Exotel's media servers send ``leg_ringing`` or even ``leg_answered`` independently of the REST
answer, so an event can arrive before the ``202`` of the ``POST /legs`` that made its leg
(docs/exotel.md section 3). The dialer puts such an event in an :class:`UnknownLegHold` instead of
dropping it: :meth:`UnknownLegHold.release` hands a leg's events back, in arrival order, when a
create returns the leg's sid; :meth:`UnknownLegHold.due` returns the legs nobody claimed within
``hold_s`` (the caller matches them to a create that timed out, or logs and counts them). A leg
whose number has a create in flight is not due yet (that create may still name it).

Bounded: at most ``max_legs`` legs (the oldest is given up first) and ``max_per_leg`` events a
leg (later ones are counted in :attr:`HoldStats.overflow` and dropped).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from dialer.events import LegAction, LegLifecycle

HeldEvent = LegLifecycle | LegAction


@dataclass(slots=True)
class HoldStats:
    """Counters; read them for metrics."""

    held: int = 0  # events put on hold
    released: int = 0  # events handed to the call that created their leg
    expired_legs: int = 0  # legs nobody claimed within the hold
    expired_events: int = 0
    overflow: int = 0  # events dropped because the hold was full


@dataclass(slots=True)
class HeldLeg:
    """One unknown leg: when its first event came, what the events say, the events."""

    leg_sid: str
    since: float
    contact_uri: str
    exophone: str
    events: list[HeldEvent] = field(default_factory=list)


def leg_fields(event: HeldEvent) -> tuple[str, str]:
    """``(contact_uri, exophone)`` of an event's leg (documented in event ``data``)."""
    contact = event.data.get("contact_uri")
    exophone = event.data.get("exophone")
    return (contact if isinstance(contact, str) else "",
            exophone if isinstance(exophone, str) else "")


class UnknownLegHold:
    """Events for unknown legs, by leg sid. One per dialer; not thread-safe."""

    def __init__(self, hold_s: float = 5.0, max_legs: int = 256, max_per_leg: int = 32) -> None:
        if hold_s <= 0 or max_legs < 1 or max_per_leg < 1:
            raise ValueError("hold_s, max_legs and max_per_leg must be positive")
        self.hold_s = hold_s
        self._max_legs = max_legs
        self._max_per_leg = max_per_leg
        self._legs: OrderedDict[str, HeldLeg] = OrderedDict()
        self.stats = HoldStats()

    def __len__(self) -> int:
        return len(self._legs)

    def __contains__(self, leg_sid: object) -> bool:
        return leg_sid in self._legs

    def hold(self, event: HeldEvent, now: float) -> HeldLeg | None:
        """Keep ``event`` until its leg is claimed or due. Returns the leg pushed out to make
        room (the oldest, when ``max_legs`` are held): give it up as if due."""
        leg = self._legs.get(event.leg_sid)
        pushed: HeldLeg | None = None
        if leg is None:
            if len(self._legs) >= self._max_legs:
                pushed = self._legs.popitem(last=False)[1]
                self._expired(pushed)
            contact, exophone = leg_fields(event)
            leg = self._legs[event.leg_sid] = HeldLeg(event.leg_sid, now, contact, exophone)
        if len(leg.events) >= self._max_per_leg:
            self.stats.overflow += 1
            return pushed
        leg.events.append(event)
        self.stats.held += 1
        return pushed

    def release(self, leg_sid: str) -> list[HeldEvent]:
        """The leg is known now: its held events, oldest first (none when nothing is held)."""
        leg = self._legs.pop(leg_sid, None)
        if leg is None:
            return []
        self.stats.released += len(leg.events)
        return leg.events

    def get(self, leg_sid: str) -> HeldLeg | None:
        return self._legs.get(leg_sid)

    def legs(self) -> list[HeldLeg]:
        """The legs held now, oldest first (to match them against creates that timed out)."""
        return list(self._legs.values())

    def due(self, now: float, busy: Callable[[str], bool]) -> list[HeldLeg]:
        """Remove and return the legs held ``hold_s`` or longer whose number has no create in
        flight (``busy(contact_uri)`` is false)."""
        out = [
            leg for leg in self._legs.values()
            if now - leg.since >= self.hold_s and not busy(leg.contact_uri)
        ]
        for leg in out:
            del self._legs[leg.leg_sid]
            self._expired(leg)
        return out

    def next_due(self) -> float | None:
        """When the oldest held leg is due (``None`` when nothing is held)."""
        if not self._legs:
            return None
        return min(leg.since for leg in self._legs.values()) + self.hold_s

    def _expired(self, leg: HeldLeg) -> None:
        self.stats.expired_legs += 1
        self.stats.expired_events += len(leg.events)
