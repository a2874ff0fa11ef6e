"""Campaign settings, lead CSV import, compliance checks and the retry policy (pure code)."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from dialer.campaign.compliance import check_dial, in_window, local_day, next_window_open
from dialer.campaign.leads_csv import parse_leads, resolve_timezone
from dialer.campaign.model import (
    DEFAULT_RETRY,
    AgentSpec,
    CallingWindow,
    CampaignError,
    CampaignSpec,
    Lead,
    Limits,
    Outcome,
    campaign_from_toml,
    normalise_phone,
)
from dialer.campaign.retry import lead_order_key, next_attempt_at

IST = "Asia/Kolkata"


def at(local: str, zone: str = IST) -> float:
    """Epoch seconds of a local wall-clock time like '2026-11-21 10:30'."""
    return datetime.fromisoformat(local).replace(tzinfo=ZoneInfo(zone)).timestamp()


# --- model ---------------------------------------------------------------------------------------
def test_phone_numbers_are_normalised_or_refused() -> None:
    assert normalise_phone("98123 45678") == "+919812345678"
    assert normalise_phone("098123-45678") == "+919812345678"
    assert normalise_phone("919812345678") == "+919812345678"  # has its country code
    assert normalise_phone("+1 (415) 555-0100") == "+14155550100"
    assert normalise_phone("0044 20 7946 0000") == "+442079460000"
    for bad in ("", "abc", "12", "+91 98123 4567x"):
        with pytest.raises(CampaignError):
            normalise_phone(bad)


def test_outcomes_from_dialer_dispositions() -> None:
    assert Outcome.from_disposition("busy") is Outcome.BUSY
    assert Outcome.from_disposition("agent_handled") is Outcome.ESCALATED
    assert Outcome.from_disposition("bot_completed") is Outcome.COMPLETED
    assert Outcome.from_disposition("customer_hangup", bridged=True) is Outcome.ESCALATED
    assert Outcome.from_disposition("callback_scheduled") is Outcome.CALLBACK
    assert Outcome.from_disposition("stream_failed") is Outcome.FAILED
    assert Outcome.ABANDONED.live and not Outcome.MACHINE.live and not Outcome.INTERRUPTED.live


def test_settings_validation_names_the_field() -> None:
    with pytest.raises(CampaignError, match="minimum ring"):
        Limits(ring_timeout_s=10, min_ring_s=15)
    with pytest.raises(CampaignError, match="attempt"):
        Limits(max_attempts=0)
    with pytest.raises(CampaignError, match="max_lines"):
        Limits(max_lines=0)
    with pytest.raises(CampaignError, match="abandon"):
        Limits(abandon_target=0.0)
    with pytest.raises(CampaignError, match="window: end 09:00 must be after start 21:00"):
        CallingWindow(time(21), time(9))
    with pytest.raises(CampaignError, match="HH:MM"):
        CallingWindow.parse("9am", "21:00")
    with pytest.raises(CampaignError, match="name"):
        CampaignSpec("bad name!")
    with pytest.raises(CampaignError, match="mode"):
        CampaignSpec("c", mode="blended")  # type: ignore[arg-type]
    with pytest.raises(CampaignError, match="pacer"):
        CampaignSpec("c", pacer="magic")  # type: ignore[arg-type]
    with pytest.raises(CampaignError, match="retry"):
        CampaignSpec("c", retry={"sometimes": 5.0})
    with pytest.raises(CampaignError, match="agent id"):
        AgentSpec("", "+919800000001")


def test_campaign_toml_round_trip_and_errors() -> None:
    spec = campaign_from_toml(
        """
        name = "renewals"
        mode = "agent_first"
        exophone = "+918047112233"
        pacer = "predictive"
        [window]
        start = "10:00"
        end = "19:30"
        [limits]
        max_attempts = 4
        ring_timeout_s = 25
        [retry]
        busy = 60
        [[agents]]
        id = "a1"
        number = "9800000001"
        skills = ["sales"]
        """
    )
    assert spec.mode == "agent_first" and spec.pacer == "predictive"
    assert spec.window == CallingWindow(time(10), time(19, 30))
    assert spec.limits.max_attempts == 4 and spec.limits.ring_timeout_s == 25
    assert dict(spec.retry) == {"busy": 60.0}
    assert spec.agents == (AgentSpec("a1", "+919800000001", ("sales",)),)
    assert dict(campaign_from_toml('name = "x"').retry) == dict(DEFAULT_RETRY)
    assert dict(campaign_from_toml('name = "x"\n[retry]\n').retry) == {}  # no retries at all
    with pytest.raises(CampaignError, match="TOML"):
        campaign_from_toml("name = ")
    # strict since the QA audit: an unknown key is named, not a generic "bad campaign settings"
    with pytest.raises(CampaignError, match=r"^limits: unknown key 'surprise'"):
        campaign_from_toml('name = "x"\n[limits]\nsurprise = 1')
    with pytest.raises(CampaignError, match="table"):
        campaign_from_toml('name = "x"\nwindow = 5')
    with pytest.raises(CampaignError, match="array"):
        campaign_from_toml('name = "x"\nagents = 5')


# --- CSV import ----------------------------------------------------------------------------------
def test_csv_import_keeps_good_rows_reports_bad_ones_and_drops_duplicates() -> None:
    text = (
        "\ufeffPhone,Name,Region,Timezone,Priority,plan,due\n"
        "98123 45678,Asha,IN,,5,gold,2026-12-01\n"
        "+14155550100,Bob,,America/Los_Angeles,,silver,\n"
        "not-a-number,Bad,,,,,\n"
        "+919812345678,Dup,,,,,\n"
        "+442079460000,Zed,XX,,,,\n"
        "+442079460001,Pri,GB,,high,,\n"
        "+442079460002,Zone,,Mars/Base,,,\n"
        "+442079460003,Long,,,,,,extra\n"
    )
    result = parse_leads(text)
    assert [lead.phone for lead in result.leads] == ["+919812345678", "+14155550100"]
    asha = result.leads[0]
    assert (asha.name, asha.timezone, asha.priority) == ("Asha", IST, 5)
    assert dict(asha.custom) == {"plan": "gold", "due": "2026-12-01"}
    assert result.duplicates == 1
    assert [(e.line, e.reason.split(" ")[0]) for e in result.errors] == [
        (4, "bad"),
        (6, "unknown"),
        (7, "priority"),
        (8, "unknown"),
        (9, "more"),
    ]


def test_csv_import_refuses_files_without_phone_or_too_long() -> None:
    with pytest.raises(CampaignError, match="phone"):
        parse_leads("name\nAsha\n")
    with pytest.raises(CampaignError, match="more than 1 leads"):
        parse_leads("phone\n9812345678\n9812345679\n", max_leads=1)
    many = (
        "phone,"
        + ",".join(f"c{i}" for i in range(21))
        + "\n9812345678,"
        + ",".join("v" for _ in range(21))
    )
    assert "custom fields" in parse_leads(many).errors[0].reason


def test_timezone_resolution() -> None:
    assert resolve_timezone("", "us-ca") == "America/Los_Angeles"
    assert resolve_timezone("", "IN-MH") == IST  # subdivision falls back to its country
    assert resolve_timezone("Europe/Paris", "IN") == "Europe/Paris"
    assert resolve_timezone("", "") == ""


# --- compliance ----------------------------------------------------------------------------------
WINDOW = CallingWindow()
LIMITS = Limits(max_attempts=3, max_attempts_per_day=2)


def verdict(now: float, **kwargs: object):  # type: ignore[no-untyped-def]
    args: dict[str, object] = {
        "now": now,
        "phone": "+919812345678",
        "timezone": IST,
        "window": WINDOW,
        "limits": LIMITS,
        "dnc": set(),
        "attempts_total": 0,
        "attempts_today": 0,
    }
    args.update(kwargs)
    return check_dial(**args)  # type: ignore[arg-type]


def test_window_is_in_the_leads_local_time() -> None:
    now = at("2026-11-21 11:00")  # 11:00 in India is 21:30 the day before in California
    assert in_window(now, IST, WINDOW)
    assert not in_window(now, "America/Los_Angeles", WINDOW)
    assert local_day(now, "America/Los_Angeles") == "2026-11-20"
    assert next_window_open(now, IST, WINDOW) == now
    early = at("2026-11-21 07:15")
    assert next_window_open(early, IST, WINDOW) == at("2026-11-21 09:00")
    late = at("2026-11-21 21:00")  # the end is exclusive
    assert next_window_open(late, IST, WINDOW) == at("2026-11-22 09:00")


def test_check_dial_order_of_rules() -> None:
    now = at("2026-11-21 12:00")
    assert verdict(now).allowed
    dnc = verdict(now, dnc={"+919812345678"}, attempts_total=5)
    assert (dnc.allowed, dnc.reason, dnc.final) == (False, "dnc", True)
    exhausted = verdict(now, attempts_total=3)
    assert (exhausted.reason, exhausted.final) == ("max_attempts", True)
    daily = verdict(now, attempts_total=2, attempts_today=2)
    assert (daily.reason, daily.final) == ("daily_limit", False)
    assert daily.not_before == at("2026-11-22 09:00")
    night = verdict(at("2026-11-21 22:30"))
    assert (night.reason, night.not_before) == ("outside_window", at("2026-11-22 09:00"))


def test_window_across_daylight_saving_change() -> None:
    # London leaves summer time on 2026-10-25: 09:00 local is 09:00 UTC that day
    saturday_night = at("2026-10-24 22:00", "Europe/London")
    opening = next_window_open(saturday_night, "Europe/London", WINDOW)
    assert opening is not None
    assert datetime.fromtimestamp(opening, UTC).hour == 9


# --- retry and order -----------------------------------------------------------------------------
def test_retry_by_outcome_and_limits() -> None:
    retry = {"busy": 600.0, "no_answer": 3600.0, "callback": 1800.0}
    kwargs = {"now": 1000.0, "retry": retry, "attempts_made": 1, "max_attempts": 3}
    assert next_attempt_at(Outcome.BUSY, **kwargs) == 1600.0  # type: ignore[arg-type]
    assert next_attempt_at(Outcome.NO_ANSWER, **kwargs) == 4600.0  # type: ignore[arg-type]
    assert next_attempt_at(Outcome.MACHINE, **kwargs) is None  # type: ignore[arg-type]
    assert next_attempt_at(Outcome.COMPLETED, **kwargs) is None  # type: ignore[arg-type]
    assert next_attempt_at(Outcome.CALLBACK, **kwargs) == 2800.0  # type: ignore[arg-type]
    asked = next_attempt_at(Outcome.CALLBACK, callback_at=9000.0, **kwargs)  # type: ignore[arg-type]
    assert asked == 9000.0
    past = next_attempt_at(Outcome.CALLBACK, callback_at=10.0, **kwargs)  # type: ignore[arg-type]
    assert past == 1000.0
    used_up = dict(kwargs, attempts_made=3)
    assert next_attempt_at(Outcome.BUSY, **used_up) is None  # type: ignore[arg-type]


def test_lead_order_priority_then_due_then_import() -> None:
    leads = [(0, 5.0, 1), (9, 50.0, 2), (0, 1.0, 3), (9, 50.0, 0)]
    ordered = sorted(leads, key=lambda t: lead_order_key(*t))
    assert ordered == [(9, 50.0, 0), (9, 50.0, 2), (0, 1.0, 3), (0, 5.0, 1)]


def test_lead_custom_fields_are_frozen() -> None:
    lead = Lead("9812345678", custom={"plan": "gold"})
    with pytest.raises(TypeError):
        lead.custom["plan"] = "x"  # type: ignore[index]
