"""De-duplication and per-leg reordering of Exotel events (pure: no I/O, no asyncio).

Exotel retries a callback up to 3 times, so the same ``event_sid`` can arrive more than once,
and deliveries over separate connections can overtake each other. Feed every parsed event to
:meth:`EventSequencer.accept`; it returns the events to deliver now, in a legal order:

* duplicates (an ``event_sid`` seen among the last ``dedup_capacity``) are dropped;
* a leg lifecycle event older than one already delivered for the leg (``leg_ringing`` after
  ``leg_answered``) is stale and dropped;
* an action event (``stream_started`` ...) that overtakes its leg's ``leg_answered`` is held,
  and released right after the answer (bounded per leg; overflow is dropped and counted);
* anything for a leg after its terminal event is dropped, except ``recording_available``.

Bridge events pass straight through (after de-duplication). Every drop is counted in
:attr:`EventSequencer.stats`. Memory is bounded: ``dedup_capacity`` event sids and
``leg_capacity`` legs (oldest forgotten first).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from dialer.events import BridgeLifecycle, ExotelEvent, LegAction, LegLifecycle

LATE_OK = frozenset({"recording_available", "recording_stopped"})


@dataclass(slots=True)
class SequencerStats:
    """Counters; read them for metrics."""

    accepted: int = 0
    duplicates: int = 0
    stale: int = 0
    held: int = 0
    hold_overflow: int = 0
    after_terminal: int = 0


@dataclass(slots=True)
class _LegState:
    rank: int = 0
    terminal: bool = False
    held: list[LegAction] = field(default_factory=list)


class EventSequencer:
    """Per-leg ordering and de-duplication. One per intake; not thread-safe."""

    def __init__(
        self, dedup_capacity: int = 100_000, leg_capacity: int = 50_000, hold_limit: int = 16
    ) -> None:
        if dedup_capacity < 1 or leg_capacity < 1 or hold_limit < 0:
            raise ValueError("sequencer capacities must be positive")
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._legs: OrderedDict[str, _LegState] = OrderedDict()
        self._dedup_capacity = dedup_capacity
        self._leg_capacity = leg_capacity
        self._hold_limit = hold_limit
        self.stats = SequencerStats()

    def accept(self, event: ExotelEvent) -> list[ExotelEvent]:
        """Take one event; return the events to deliver now (possibly none), in order."""
        if event.event_sid in self._seen:
            self.stats.duplicates += 1
            return []
        self._seen[event.event_sid] = None
        if len(self._seen) > self._dedup_capacity:
            self._seen.popitem(last=False)
        if isinstance(event, BridgeLifecycle):
            self.stats.accepted += 1
            return [event]
        leg = self._leg(event.leg_sid)
        if isinstance(event, LegLifecycle):
            return self._lifecycle(leg, event)
        return self._action(leg, event)

    def reopen(self, leg_sid: str) -> None:
        """The terminal event taken for ``leg_sid`` was found forged (:mod:`dialer.confirm`):
        accept the leg's events again, its real end included."""
        leg = self._legs.get(leg_sid)
        if leg is not None:
            leg.terminal = False

    def forget(self, leg_sid: str) -> None:
        """Drop a leg's ordering state (call when its call is finished and recorded)."""
        self._legs.pop(leg_sid, None)

    def _leg(self, leg_sid: str) -> _LegState:
        leg = self._legs.get(leg_sid)
        if leg is None:
            leg = self._legs[leg_sid] = _LegState()
            if len(self._legs) > self._leg_capacity:
                self._legs.popitem(last=False)
        return leg

    def _lifecycle(self, leg: _LegState, event: LegLifecycle) -> list[ExotelEvent]:
        if leg.terminal:
            self.stats.after_terminal += 1
            return []
        rank = event.rank
        if rank and rank < leg.rank:
            self.stats.stale += 1
            return []
        leg.rank = max(leg.rank, rank)
        self.stats.accepted += 1
        out: list[ExotelEvent] = [event]
        if event.terminal:
            leg.terminal = True
            if leg.held:
                self.stats.after_terminal += len(leg.held)
                leg.held.clear()
        elif rank >= LEG_RANK_ANSWERED and leg.held:
            out.extend(leg.held)
            self.stats.accepted += len(leg.held)
            leg.held.clear()
        return out

    def _action(self, leg: _LegState, event: LegAction) -> list[ExotelEvent]:
        if leg.terminal and event.name not in LATE_OK:
            self.stats.after_terminal += 1
            return []
        if 0 < leg.rank < LEG_RANK_ANSWERED and event.name not in LATE_OK:
            if len(leg.held) >= self._hold_limit:
                self.stats.hold_overflow += 1
                return []
            leg.held.append(event)
            self.stats.held += 1
            return []
        self.stats.accepted += 1
        return [event]


LEG_RANK_ANSWERED = 3
