"""A call's own settings (a campaign's inside the dialer service): ``CallRequest.ring_timeout``
and ``caller_id``, checked as the configuration's are, accepted by ``POST /v1/calls`` with the
field named on a refusal, and the watchdog's wait for the first event moving with the ring."""

from __future__ import annotations

import pytest

from dialer.call_request import CallRequest
from dialer.call_setup import call_flow_settings, flow_settings
from dialer.config import DialerConfig
from dialer.control_api import BadField, parse_call_request

NUMBER = "+919812345678"


def test_per_call_settings_are_checked_and_cleaned() -> None:
    r = CallRequest(NUMBER, ring_timeout=15.2, caller_id="080 4711-2233")  # type: ignore[arg-type]
    assert (r.ring_timeout, r.caller_id) == (16, "08047112233")  # up: a legal minimum holds
    unset = CallRequest(NUMBER)
    assert (unset.ring_timeout, unset.caller_id) == (None, "")
    for bad in (0, 601, True, "20", float("nan")):
        with pytest.raises(ValueError, match="ring_timeout"):
            CallRequest(NUMBER, ring_timeout=bad)  # type: ignore[arg-type]
    for bad_id in ("abc", "12", "+91 80 4711 2233 1234 5678"):
        with pytest.raises(ValueError, match="caller_id"):
            CallRequest(NUMBER, caller_id=bad_id)


def test_post_v1_calls_takes_them_and_names_the_field_it_refuses() -> None:
    body = {"number": NUMBER, "mode": "agent_first", "ring_timeout": 20,
            "caller_id": "+918047110000"}
    r = parse_call_request(body)
    assert (r.ring_timeout, r.caller_id) == (20, "+918047110000")
    for name, value in (("ring_timeout", "x"), ("ring_timeout", 0), ("caller_id", 5),
                        ("caller_id", "abc")):
        with pytest.raises(BadField) as refused:
            parse_call_request({**body, name: value})
        assert refused.value.field == name


def test_the_watchdog_waits_for_the_first_event_as_long_as_the_call_rings() -> None:
    config = DialerConfig(customer_ring_timeout=30, watchdog_dial_margin=15)
    base = flow_settings(config)
    assert call_flow_settings(base, config, CallRequest(NUMBER)) is base
    own = call_flow_settings(base, config, CallRequest(NUMBER, ring_timeout=90))
    assert (base.watchdog_dial_after, own.watchdog_dial_after) == (45, 105)
