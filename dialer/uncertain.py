"""Creates that timed out, and the rule for a leg that surfaces afterwards (pure: no I/O).

A ``POST /legs`` that times out (:class:`~dialer.errors.CreateLegUncertain`) may or may not have
made a leg, and it is never sent again (that could ring the customer twice). The call waits
(``reconcile_timeout``) for the leg to surface through its events: an event for a leg sid no
call knows whose ``data.contact_uri`` is the number dialled and whose ``data.exophone`` is ours.
Exotel documents no list of legs and no ``custom_param`` in event data, so the match is by
number and ExoPhone only (a ``custom_param`` naming the call, where present, is a hint that
settles an ambiguity). The dialer asks only once no create to that number is in flight (a leg
held meanwhile may be that create's, named by its 202). :meth:`UncertainCreates.match`
decides, by this documented rule:

* exactly one call waits for a leg to that number: the call **adopts** the leg and goes on;
* several calls wait for a leg to that number (ambiguous: it cannot be told whose it is): the
  leg is **hung up** and every one of those calls gives up its create as ``hung_up`` (their
  other legs, surfacing later, are hung up too, by the next rule);
* no call waits, but a call gave up on a create to that number within ``remember_s``: the leg
  is **hung up** (no answered customer is left in silence);
* otherwise the leg is not ours to decide (:data:`None`).

Numbers are compared by their digits (``+91 98...`` and ``9198...`` are the same); ``sip:``
URIs as they are, case-insensitively.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

ADOPTED = "adopted"
HUNG_UP = "hung_up"
LOST = "lost"


def same_number(a: str, b: str) -> bool:
    """True when two numbers (or ``sip:`` URIs) name the same party."""
    if not a or not b:
        return False
    if a.lower().startswith("sip:") or b.lower().startswith("sip:"):
        return a.lower() == b.lower()
    da = "".join(ch for ch in a if ch.isdigit())
    db = "".join(ch for ch in b if ch.isdigit())
    if not da or not db:
        return False
    if len(da) != len(db):  # a national form against an international one
        return len(da) >= 10 and len(db) >= 10 and da[-10:] == db[-10:]
    return da == db


@dataclass(frozen=True, slots=True)
class Adopt:
    """The waiting call ``call_id`` takes the leg."""

    call_id: str


@dataclass(frozen=True, slots=True)
class HangUp:
    """Hang the leg up; ``call_ids`` waited for it (now given up as ``hung_up``) or had given up
    on it earlier."""

    call_ids: tuple[str, ...]
    ambiguous: bool = False


Decision = Adopt | HangUp | None


@dataclass(slots=True)
class _Create:
    call_id: str
    number: str
    exophone: str
    since: float
    until: float = 0.0  # given up: remembered until then


class UncertainCreates:
    """The creates that timed out: calls waiting for their leg, and recent give-ups."""

    def __init__(self, remember_s: float = 120.0, max_entries: int = 1024) -> None:
        if remember_s < 0 or max_entries < 1:
            raise ValueError("remember_s must be >= 0 and max_entries positive")
        self._remember_s = remember_s
        self._max = max_entries
        self._waiting: OrderedDict[str, _Create] = OrderedDict()
        self._given_up: OrderedDict[str, _Create] = OrderedDict()

    def waiting(self, number: str) -> bool:
        """True when a call waits for a leg to ``number``."""
        return any(same_number(c.number, number) for c in self._waiting.values())

    def wait(self, call_id: str, number: str, exophone: str, now: float) -> None:
        """``call_id``'s create to ``number`` from ``exophone`` timed out; it waits for the leg."""
        self._waiting[call_id] = _Create(call_id, number, exophone, now)
        while len(self._waiting) > self._max:
            self._waiting.popitem(last=False)

    def adopted(self, call_id: str) -> None:
        """The call has its leg (adopted, or listed by the API): no longer waiting."""
        self._waiting.pop(call_id, None)

    def give_up(self, call_id: str, now: float) -> None:
        """The call stopped waiting; a leg of that create surfacing later gets hung up."""
        create = self._waiting.pop(call_id, None)
        if create is None:
            return
        create.until = now + self._remember_s
        self._given_up[call_id] = create
        while len(self._given_up) > self._max:
            self._given_up.popitem(last=False)

    def match(self, contact_uri: str, exophone: str, now: float, hint: str = "") -> Decision:
        """What to do with an unknown leg to ``contact_uri`` from ``exophone`` (see the module
        docstring); ``hint`` is the ``custom_param`` an event carried, if any."""
        self._forget(now)
        waiting = [c for c in self._waiting.values() if self._fits(c, contact_uri, exophone)]
        if hint and any(c.call_id == hint for c in waiting):
            self.adopted(hint)
            return Adopt(hint)
        if len(waiting) == 1:
            self.adopted(waiting[0].call_id)
            return Adopt(waiting[0].call_id)
        if waiting:
            ids = tuple(c.call_id for c in waiting)
            for call_id in ids:
                self.give_up(call_id, now)
            return HangUp(ids, ambiguous=True)
        for create in self._given_up.values():
            if self._fits(create, contact_uri, exophone):
                del self._given_up[create.call_id]  # one leg per create
                return HangUp((create.call_id,))
        return None

    @staticmethod
    def _fits(create: _Create, contact_uri: str, exophone: str) -> bool:
        return same_number(create.number, contact_uri) and (
            not exophone or same_number(create.exophone, exophone)
        )

    def _forget(self, now: float) -> None:
        for call_id in [k for k, c in self._given_up.items() if c.until <= now]:
            del self._given_up[call_id]
