"""The event endpoint's plan (listen address vs public URL, TLS, credentials, exposure), the
intake's credential check, and which events wait for Exotel's confirmation: pure functions."""

from __future__ import annotations

import base64

import pytest

from dialer.config import DialerConfig
from dialer.confirm import agrees, leg_to_confirm
from dialer.errors import ConfigError
from dialer.event_endpoint import endpoint_credentials, plan_event_endpoint
from dialer.events import parse_event
from dialer.flows import CallFlow, FlowSettings, LegCreated, PlaceCall
from dialer.intake import credentials_ok


def test_loopback_endpoint_alone_keeps_the_old_behaviour() -> None:
    plan = plan_event_endpoint("http://127.0.0.1:0/exotel/events")
    assert (plan.bind_host, plan.bind_port, plan.path) == ("127.0.0.1", 0, "/exotel/events")
    assert plan.public_url(41000) == "http://127.0.0.1:41000/exotel/events"
    assert plan_event_endpoint("grpc://127.0.0.1:0").public_url(5) == "grpc://127.0.0.1:5"
    assert not plan.warnings


def test_public_url_and_listen_address_are_separate() -> None:
    plan = plan_event_endpoint("https://events.example.com/exotel/events", "0.0.0.0:8443",
                               auth="exo:p@ss/w:rd")
    assert (plan.bind_host, plan.bind_port, plan.serve_tls) == ("0.0.0.0", 8443, False)
    url = plan.public_url(8443)  # behind a TLS proxy: the scheme is kept, the port is Exotel's
    assert url == "https://exo:p%40ss%2Fw%3Ard@events.example.com/exotel/events"
    assert endpoint_credentials(url) == "exo:p@ss/w:rd"
    grpc = plan_event_endpoint("grpcs://events.example.com:443", "[::]:9000", auth="t0k:en")
    assert grpc.bind_host == "::" and grpc.public_url(9000) == "grpcs://t0k%3Aen@events.example.com:443"
    assert endpoint_credentials(grpc.public_url(9000)) == "t0k:en"


@pytest.mark.parametrize(
    ("endpoint", "listen", "extra", "says"),
    [
        ("https://events.example.com/e", "", {}, "VOXGATE_EVENT_LISTEN"),  # never bind a name
        ("grpc://0.0.0.0:7000", "", {}, "no host Exotel can reach"),
        ("https://127.0.0.1:0/e", "", {}, "event_certfile"),  # never downgraded to http
        ("http://127.0.0.1:0/e", "", {"certfile": "c", "keyfile": "k"}, "use https"),
        ("https://127.0.0.1:0/e", "", {"certfile": "c"}, "go together"),
        ("http://10.0.0.5:80/e", "0.0.0.0:80", {}, "not loopback"),
        ("http://a:b@127.0.0.1:0/e", "", {"auth": "a:c"}, "differ"),
        ("http://127.0.0.1:0/e", "", {"auth": "nocolon"}, "user:password"),
        ("grpc://x.example.com", "0.0.0.0:1", {"auth": "t"}, "host:port"),
        ("http://127.0.0.1:0/e", "8080", {}, "host:port"),
        ("ftp://127.0.0.1/e", "", {}, "https://"),
    ],
)
def test_bad_event_settings_are_one_line_errors(
    endpoint: str, listen: str, extra: dict[str, str], says: str
) -> None:
    with pytest.raises(ConfigError, match=says):
        plan_event_endpoint(endpoint, listen, **extra)  # type: ignore[arg-type]


def test_off_loopback_needs_credentials_or_the_override() -> None:
    with pytest.raises(ConfigError, match="insecure-events"):
        DialerConfig(event_endpoint="https://ev.example.com/e", event_listen="0.0.0.0:8443")
    cfg = DialerConfig(event_endpoint="https://ev.example.com/e", event_listen="0.0.0.0:8443",
                       insecure_events=True)
    assert any("without credentials" in w for w in cfg.event_plan.warnings)
    clear = plan_event_endpoint("http://ev.example.com/e", "0.0.0.0:80", auth="a:b")
    assert any("in clear" in w for w in clear.warnings)
    cfg = DialerConfig.load(env={"VOXGATE_EVENT_ENDPOINT": "https://a:b@ev.example.com/e",
                                 "VOXGATE_EVENT_LISTEN": "0.0.0.0:8443"})
    assert cfg.event_plan.auth == "a:b" and "a:b" not in repr(cfg)
    assert cfg.describe()["event_endpoint"] == "https://***@ev.example.com/e"


def basic(text: str) -> str:
    return "Basic " + base64.b64encode(text.encode()).decode()


def test_credentials_compared_on_bytes() -> None:
    assert credentials_ok(basic("exo:pässwort"), "exo:pässwort")
    assert not credentials_ok(basic("exo:passwort"), "exo:pässwort")  # was a TypeError (500)
    assert not credentials_ok("Basic ünïcode", "exo:pw")  # was a ValueError (500)
    assert not credentials_ok("Basic \udcff\udcfe", "exo:pw")  # undecodable header bytes
    assert not credentials_ok(basic("exo:pw2"), "exo:pw") and not credentials_ok(basic("e"), "e:")
    assert credentials_ok("Bearer s3cret", "s3cret") and not credentials_ok("Bearer s3", "s3cret")
    assert not credentials_ok(None, "x") and not credentials_ok("Digest x", "x")
    assert credentials_ok(None, "")


def _event(name: str, leg: str) -> object:
    return parse_event({
        "event_sid": f"E-{name}", "event_type": "leg_lifecycle_event", "event_name": name,
        "event_timestamp": "", "action_sid": "", "action_custom_parameter": "",
        "event_data": {}, "data": {"leg_sid": leg},
    })


def test_which_events_wait_for_confirmation() -> None:
    settings = FlowSettings()
    agent_first = CallFlow("c1", "+911", "agent_first", settings)
    agent_first.handle(PlaceCall(), 0.0)
    agent_first.handle(LegCreated("customer", "L1"), 0.1)
    assert leg_to_confirm(agent_first, _event("leg_answered", "L1")) == "L1"  # type: ignore[arg-type]
    assert leg_to_confirm(agent_first, _event("leg_ringing", "L1")) == ""  # type: ignore[arg-type]
    assert leg_to_confirm(agent_first, _event("leg_answered", "L9")) == ""  # type: ignore[arg-type]
    bot_first = CallFlow("c2", "+912", "bot_first", settings)
    bot_first.handle(PlaceCall(), 0.0)
    bot_first.handle(LegCreated("customer", "L2"), 0.1)
    assert leg_to_confirm(bot_first, _event("leg_answered", "L2")) == ""  # type: ignore[arg-type]
    assert leg_to_confirm(bot_first, _event("leg_terminated", "L2")) == "L2"  # type: ignore[arg-type]


def test_agreement_with_exotels_leg_state() -> None:
    ended, answered = _event("leg_terminated", "L"), _event("leg_answered", "L")
    assert agrees(ended, {"state": "terminated", "terminal_status": "completed"})  # type: ignore[arg-type]
    assert agrees(ended, {"state": "answered"}) is False  # type: ignore[arg-type]
    assert agrees(ended, {"state": "warp"}) is None  # type: ignore[arg-type]
    assert agrees(answered, {"state": "answered"})  # type: ignore[arg-type]
    assert agrees(answered, {"state": "ringing"}) is False  # type: ignore[arg-type]
    assert agrees(answered, {"state": "terminated", "terminal_status": "completed"})  # type: ignore[arg-type]
    assert agrees(answered, {"state": "terminated", "terminal_status": "no-answer"}) is False  # type: ignore[arg-type]
