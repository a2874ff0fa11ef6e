"""The unknown-leg hold and the rule for legs of creates that timed out (pure cores)."""

from __future__ import annotations

import pytest

from dialer.events import LegAction, LegLifecycle
from dialer.leg_hold import UnknownLegHold
from dialer.uncertain import Adopt, HangUp, UncertainCreates, same_number

NUMBER = "+919900000001"
EXOPHONE = "+918000000000"


def ev(n: int, leg: str = "L1", name: str = "leg_ringing", number: str = NUMBER,
       **data: str) -> LegLifecycle:
    return LegLifecycle(f"E{n}", name, "", {"contact_uri": number, "exophone": EXOPHONE, **data},
                        leg_sid=leg)


def test_held_events_come_back_in_order_when_the_leg_is_claimed() -> None:
    hold = UnknownLegHold(hold_s=5.0)
    started = LegAction("E3", "stream_started", "", {"contact_uri": NUMBER}, leg_sid="L1")
    for event in (ev(1), ev(2, name="leg_answered"), started):
        assert hold.hold(event, now=0.0) is None
    assert "L1" in hold and len(hold) == 1
    assert [e.event_sid for e in hold.release("L1")] == ["E1", "E2", "E3"]
    assert hold.release("L1") == [] and "L1" not in hold
    assert hold.stats.held == hold.stats.released == 3


def test_a_leg_is_due_after_the_hold_unless_a_create_to_its_number_is_in_flight() -> None:
    hold = UnknownLegHold(hold_s=5.0)
    hold.hold(ev(1), now=0.0)
    hold.hold(ev(2, leg="L2", number="+919900000002"), now=1.0)
    assert hold.next_due() == 5.0
    assert hold.due(4.9, busy=lambda n: False) == []
    assert [h.leg_sid for h in hold.due(6.5, busy=lambda n: n == NUMBER)] == ["L2"]
    (late,) = hold.due(9.0, busy=lambda n: False)
    assert (late.leg_sid, late.contact_uri, late.exophone) == ("L1", NUMBER, EXOPHONE)
    assert hold.next_due() is None and hold.stats.expired_legs == 2


def test_the_hold_is_bounded() -> None:
    hold = UnknownLegHold(hold_s=5.0, max_legs=2, max_per_leg=2)
    for n in range(3):
        hold.hold(ev(n), now=0.0)
    assert hold.stats.overflow == 1
    hold.hold(ev(10, leg="L2"), now=0.0)
    pushed = hold.hold(ev(11, leg="L3"), now=0.0)
    assert pushed is not None and pushed.leg_sid == "L1" and len(hold) == 2
    with pytest.raises(ValueError):
        UnknownLegHold(hold_s=0)


def test_one_waiting_create_adopts_the_leg_to_its_number() -> None:
    creates = UncertainCreates()
    creates.wait("c1", NUMBER, EXOPHONE, now=0.0)
    assert creates.waiting("919900000001")
    assert creates.match("+919800000009", EXOPHONE, now=1.0) is None  # another number
    assert creates.match(NUMBER, "+918000000999", now=1.0) is None  # another ExoPhone
    assert creates.match(NUMBER, EXOPHONE, now=1.0) == Adopt("c1")
    assert not creates.waiting(NUMBER)
    assert creates.match(NUMBER, EXOPHONE, now=1.0) is None  # adopted: nothing to decide


def test_two_waiting_creates_to_one_number_hang_up_every_leg_that_surfaces() -> None:
    creates = UncertainCreates()
    creates.wait("c1", NUMBER, EXOPHONE, now=0.0)
    creates.wait("c2", NUMBER, EXOPHONE, now=0.1)
    assert creates.match(NUMBER, EXOPHONE, now=1.0) == HangUp(("c1", "c2"), ambiguous=True)
    assert not creates.waiting(NUMBER)
    assert creates.match(NUMBER, EXOPHONE, now=2.0) == HangUp(("c1",))  # the other leg
    # a custom_param naming one of them (where the API sends it) settles it
    creates.wait("c3", NUMBER, EXOPHONE, now=3.0)
    creates.wait("c4", NUMBER, EXOPHONE, now=3.0)
    assert creates.match(NUMBER, EXOPHONE, now=4.0, hint="c4") == Adopt("c4")


def test_a_leg_surfacing_after_its_call_gave_up_is_hung_up_once_and_for_a_while() -> None:
    creates = UncertainCreates(remember_s=60.0)
    creates.wait("c1", NUMBER, EXOPHONE, now=0.0)
    creates.give_up("c1", now=3.0)
    assert creates.match(NUMBER, EXOPHONE, now=10.0) == HangUp(("c1",))
    assert creates.match(NUMBER, EXOPHONE, now=11.0) is None  # one leg per create
    creates.wait("c2", NUMBER, EXOPHONE, now=20.0)
    creates.give_up("c2", now=21.0)
    assert creates.match(NUMBER, EXOPHONE, now=82.0) is None  # forgotten after remember_s


def test_numbers_compare_by_their_digits() -> None:
    assert same_number("+91 99000 00001", "919900000001")
    assert same_number("09900000001", "+919900000001")  # national and international forms
    assert not same_number("+919900000001", "+919900000002")
    assert same_number("sip:Agent@pbx", "sip:agent@pbx") and not same_number("sip:a@x", "1")
    assert not same_number("", NUMBER) and not same_number("abc", "def")
