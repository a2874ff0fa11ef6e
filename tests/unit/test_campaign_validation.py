"""Strict campaign files, lead CSVs and do-not-call lists: every bad input gets one line
naming the key or line (the QA audit's findings)."""

from __future__ import annotations

import pytest

from dialer.campaign.inputs import parse_dnc
from dialer.campaign.leads_csv import parse_leads, resolve_timezone
from dialer.campaign.model import AgentSpec, CampaignError, CampaignSpec, campaign_from_toml

BASE = 'name = "c"\n'


def error(text: str) -> str:
    with pytest.raises(CampaignError) as info:
        campaign_from_toml(text)
    return str(info.value)


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            BASE + 'colour = "blue"\n',
            "unknown key 'colour' (known: name, mode, exophone, bot, pacer, timezone, "
            "default_country, window, limits, retry, agents, skills, amd, stream_params, "
            "dispositions, segment_fields, lead_order, shared)",
        ),
        (
            BASE + '[window]\nstart = "09:00"\nstrat = "10:00"\n',
            "window: unknown key 'strat' (known: start, end)",
        ),
        (
            BASE + "[limits]\nmax_line = 3\n",
            "limits: unknown key 'max_line' (known: "
            "max_attempts, max_attempts_per_day, ring_timeout_s, min_ring_s, max_lines, "
            "abandon_target, wrap_up_s)",
        ),
        (
            BASE + '[[agents]]\nid = "a"\nnumber = "+919800000001"\nskill = ["x"]\n',
            "agents[1]: unknown key 'skill' (known: id, number, skills, nailed)",
        ),
        (BASE + 'amd = "false"\n', "amd: must be true or false, got 'false'"),
        (BASE + 'skills = "sales"\n', "skills: must be an array of strings, got 'sales'"),
        (BASE + 'skills = ["a,b"]\n', "skills: skill names may not contain commas, got 'a,b'"),
        (
            BASE + "[limits]\nmax_lines = true\n",
            "limits.max_lines: must be an integer >= 1, got true",
        ),
        (
            BASE + "[limits]\nmax_attempts = 2.5\n",
            "limits.max_attempts: must be an integer >= 1, got 2.5",
        ),
        (
            BASE + "[limits]\nwrap_up_s = -5\n",
            "limits.wrap_up_s: must be within 0..3600 seconds, got -5",
        ),
        (
            BASE + '[limits]\nwrap_up_s = "10"\n',
            "limits.wrap_up_s: must be a number, got '10'",
        ),
        (
            BASE + '[limits]\nmax_attempts = "3"\n',
            "limits.max_attempts: must be an integer >= 1, got '3'",
        ),
        (
            BASE + "[limits]\nmax_attempts_per_day = 0\n",
            "limits.max_attempts_per_day: must be an integer >= 1, got 0",
        ),
        (
            BASE + "[limits]\nmin_ring_s = 0\nring_timeout_s = 1\n",
            "limits.min_ring_s: must be a number >= 1, got 0",
        ),
        (
            BASE + "[limits]\nring_timeout_s = 10\n",
            "limits.ring_timeout_s: 10 is under the minimum ring time limits.min_ring_s 15",
        ),
        (
            BASE + "[limits]\nabandon_target = 3\n",
            "limits.abandon_target: must be within (0, 1), got 3",
        ),
        (BASE + '[[agents]]\nnumber = "+919800000001"\n', "agents[1]: missing key 'id'"),
        (
            BASE + '[[agents]]\nid = "a"\nnumber = "+919800000001"\nskills = "sales"\n',
            "agents[1].skills: must be an array of strings, got 'sales'",
        ),
        (
            BASE + '[[agents]]\nid = "a"\nnumber = "call me"\n',
            "agents[1].number: bad phone number 'call me'",
        ),
        (
            BASE + '[[agents]]\nid = "a"\nnumber = "+919800000001"\nnailed = 1\n',
            "agents[1].nailed: must be true or false, got 1",
        ),
        (
            BASE + '[[agents]]\nid = "a"\nnumber = "+919800000001"\n'
            '[[agents]]\nid = "a"\nnumber = "+919800000002"\n',
            "agents: duplicate agent id 'a'",
        ),
        (
            BASE + '[retry]\nbusy = "soon"\n',
            "retry.busy: must be a number of seconds >= 0, got 'soon'",
        ),
        (BASE + "[retry]\nbusy = -5\n", "retry.busy: must be a number of seconds >= 0, got -5"),
        (
            BASE + "[retry]\ncompleted = 1\n",
            "retry.completed: not a retryable outcome (one of busy, no_answer, failed, machine, "
            "abandoned, callback, interrupted)",
        ),
        (
            BASE + '[window]\nstart = "09:00"\nend = "08:00"\n',
            "window: end 08:00 must be after start 09:00",
        ),
        (BASE + "[window]\nstart = 9\n", "window.start: must be HH:MM, got 9"),
        (BASE + '[window]\nstart = "24:00"\n', "window.start: must be HH:MM, got '24:00'"),
        (BASE + 'timezone = "Mars/Olympus"\n', "timezone: unknown timezone 'Mars/Olympus'"),
        (
            BASE + 'exophone = "not a phone"\n',
            "exophone: must be a phone number, got 'not a phone'",
        ),
        (
            BASE + 'mode = "robot_first"\n',
            "mode: must be bot_first or agent_first, got 'robot_first'",
        ),
        (BASE + "pacer = 3\n", "pacer: must be a string, got 3"),
        (
            BASE + 'stream_params = "name"\n',
            "stream_params: must be an array of field names, got 'name'",
        ),
        ('mode = "bot_first"\n', "missing key 'name'"),
        ("name = \n", "not valid TOML: Invalid value (at line 1, column 8)"),
    ],
)
def test_bad_campaign_settings_name_the_key_and_value(toml: str, message: str) -> None:
    assert error(toml) == message


def test_valid_settings_still_load() -> None:
    spec = campaign_from_toml(
        BASE + 'exophone = "080 4711 2233"\ntimezone = "Europe/London"\n[limits]\n'
        "min_ring_s = 1\nring_timeout_s = 1\n[retry]\nbusy = 0\ncallback = 1.5\n"
    )
    assert spec.exophone == "080 4711 2233"  # checked, sent as written
    assert spec.limits.min_ring_s == 1 and dict(spec.retry) == {"busy": 0.0, "callback": 1.5}
    assert campaign_from_toml(BASE).limits.min_ring_s == 15  # the legal floor stays the default


def test_direct_construction_is_checked_too() -> None:
    with pytest.raises(CampaignError, match=r"^timezone: unknown timezone 'Nowhere'$"):
        CampaignSpec("c", timezone="Nowhere")
    with pytest.raises(CampaignError, match="may not contain commas"):
        AgentSpec("a", "+919800000001", ("x,y",))


# --- lead CSV ------------------------------------------------------------------------------------
def test_csv_delimiter_is_sniffed() -> None:
    for sep in (";", "\t"):
        text = sep.join(("phone", "name", "plan")) + "\n" + sep.join(("+919800000001", "A", "g"))
        (lead,) = parse_leads(text + "\n").leads
        assert (
            lead.phone == "+919800000001"
            and lead.name == "A"
            and dict(lead.custom) == {"plan": "g"}
        )


def test_csv_without_phone_column_shows_the_header() -> None:
    with pytest.raises(CampaignError) as info:
        parse_leads("tel|name\n+919800000001|A\n")
    assert str(info.value) == "lead CSV needs a 'phone' column; found header: 'tel|name'"


def test_csv_duplicate_column_is_an_error() -> None:
    with pytest.raises(CampaignError) as info:
        parse_leads("phone,name,Phone\n+919800000001,A,+919800000002\n")
    assert str(info.value) == "lead CSV header: column 'phone' appears twice"


def test_country_regions() -> None:
    assert resolve_timezone("", "GB") == "Europe/London"
    assert resolve_timezone("", "us-ca") == "America/Los_Angeles"
    with pytest.raises(CampaignError) as info:
        resolve_timezone("", "US")
    assert str(info.value) == (
        "unknown region 'US': US has several time zones: use US-NY, US-IL, US-CO, US-CA or a "
        "timezone column"
    )
    with pytest.raises(CampaignError, match="US has several time zones"):
        resolve_timezone("", "US-TX")


def test_lead_without_zone_takes_its_numbers_zone() -> None:
    result = parse_leads(
        "phone,name\n+919800000001,In\n+442079460000,Uk\n+12125550101,Us\n9800000002,Bare\n"
    )
    zones = {lead.name: lead.timezone for lead in result.leads}
    # +1 spans several zones: its area code's (212: New York), not the campaign's
    assert zones == {
        "In": "Asia/Kolkata",
        "Uk": "Europe/London",
        "Us": "America/New_York",
        "Bare": "Asia/Kolkata",
    }
    (explicit,) = parse_leads("phone,timezone\n+919800000001,America/New_York\n").leads
    assert explicit.timezone == "America/New_York"


# --- do-not-call ---------------------------------------------------------------------------------
def test_dnc_comments_and_bad_lines() -> None:
    text = (
        "# header\n  # indented comment\n+12125550304\n   +1 212 555 0399   \n"
        "+12125550398 # inline comment\n\ncall me maybe\n"
    )
    phones, errors = parse_dnc(text, "dnc.txt")
    assert phones == ["+12125550304", "+12125550399", "+12125550398"]
    assert errors == ["dnc.txt line 7: bad phone number 'call me maybe'"]
