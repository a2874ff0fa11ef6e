"""A lead's time zones come from its number (libphonenumber's data), and a number spanning
several zones is called only inside the intersection of their calling windows (issue 13 #8)."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from dialer.campaign.compliance import check_dial, in_window, next_window_open
from dialer.campaign.leads_csv import parse_leads
from dialer.campaign.model import CallingWindow, CampaignSpec, Limits
from dialer.campaign.store import CampaignStore
from dialer.campaign.zones import zones_for_number
from voxgate.cli import main

PACIFIC, EASTERN = "America/Los_Angeles", "America/New_York"
WINDOW = CallingWindow()  # 09:00-21:00


def at(local: str, zone: str) -> float:
    return datetime.fromisoformat(local).replace(tzinfo=ZoneInfo(zone)).timestamp()


def test_a_san_francisco_number_is_not_dialled_at_0352_pacific() -> None:
    store = CampaignStore(":memory:")
    now = at("2026-12-07 03:52", PACIFIC)  # 17:22 in the campaign's Kolkata: inside its window
    store.create_campaign(CampaignSpec("us", timezone="Asia/Kolkata"), now)
    leads = parse_leads("phone,name\n+1 415 555 0100,Sam\n").leads
    assert leads[0].timezone == PACIFIC  # from the area code, with no timezone column
    store.add_leads("us", leads, now)
    assert store.claim_next("us", now) is None  # the old code dialled it in Kolkata's window
    [lead] = store.leads("us")
    assert lead["due_at"] == at("2026-12-07 09:00", PACIFIC)
    claim = store.claim_next("us", at("2026-12-07 09:00", PACIFIC))
    assert claim is not None and claim.timezone == PACIFIC


def test_an_explicit_timezone_column_is_kept() -> None:
    [lead] = parse_leads("phone,timezone\n+14155550100,Asia/Kolkata\n").leads
    assert lead.timezone == "Asia/Kolkata"


def test_a_number_of_several_zones_is_called_only_inside_their_intersection() -> None:
    zones = zones_for_number("+61412345678")  # an Australian mobile: every zone of the country
    assert {"Australia/Perth", "Australia/Sydney"} <= set(zones)
    both = f"{EASTERN} {PACIFIC}"  # a timezone column may name several zones, too
    noon_eastern = at("2026-12-07 11:59", EASTERN)  # 08:59 in Los Angeles
    assert in_window(noon_eastern, EASTERN, WINDOW) and not in_window(noon_eastern, both, WINDOW)
    assert next_window_open(noon_eastern, both, WINDOW) == at("2026-12-07 12:00", EASTERN)
    assert in_window(at("2026-12-07 20:59", EASTERN), both, WINDOW)
    late = at("2026-12-07 21:00", EASTERN)  # 18:00 in Los Angeles: inside its window alone
    assert not in_window(late, both, WINDOW)
    assert next_window_open(late, both, WINDOW) == at("2026-12-08 12:00", EASTERN)
    [lead] = parse_leads("phone\n+61412345678\n").leads
    assert lead.timezone == " ".join(zones)
    perth_noon = at("2026-12-07 12:00", "Australia/Perth")  # 15:00 Sydney, 16:00 Lord Howe
    sydney_9 = at("2026-12-07 09:00", "Australia/Sydney")  # 06:00 in Perth
    assert in_window(perth_noon, lead.timezone, WINDOW)
    assert not in_window(sydney_9, lead.timezone, WINDOW)


def test_zones_that_share_no_calling_hour_end_the_lead_with_a_reason(
    caplog: pytest.LogCaptureFixture,
) -> None:
    toll_free = zones_for_number("+18005550100")  # the whole of +1: Guam to Newfoundland
    assert {"Pacific/Guam", "America/St_Johns"} <= set(toll_free)
    zone, now = " ".join(toll_free), at("2026-12-07 12:00", EASTERN)
    # 09:00-21:00: Guam's 09:00-10:30 is 12:00-13:30 in Pago Pago and 19:30-21:00 in St John's
    assert next_window_open(now, zone, WINDOW) == at("2026-12-08 09:00", "Pacific/Guam")
    office = CallingWindow.parse("09:00", "17:00")  # shorter: no moment inside all of them
    assert next_window_open(now, zone, office) is None
    verdict = check_dial(now=now, phone="+18005550100", timezone=zone, window=office,
                         limits=Limits(), dnc=set(), attempts_total=0, attempts_today=0)
    assert (verdict.allowed, verdict.reason, verdict.final) == (False, "no_common_window", True)
    store = CampaignStore(":memory:")
    store.create_campaign(CampaignSpec("us", window=office), now)
    store.add_leads("us", parse_leads("phone\n+18005550100\n").leads, now)
    with caplog.at_level(logging.WARNING, "dialer.campaign"):
        assert store.claim_next("us", now) is None
    [lead] = store.leads("us")
    assert (lead["state"], lead["final_reason"]) == ("exhausted", "no_common_window")
    assert "never dialled" in caplog.text and "Pacific/Guam" in caplog.text


def check(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    code = main(["campaign", "check", *args])
    return code, capsys.readouterr().out.splitlines()


def test_check_counts_the_numbers_with_no_zone_and_no_common_window(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    toml = tmp_path / "c.toml"
    toml.write_text(
        'name = "c"\nbot = "echo"\ntimezone = "Asia/Kolkata"\n[window]\nstart = "09:00"\n'
        'end = "17:00"\n'
    )
    leads = tmp_path / "leads.csv"
    leads.write_text("phone\n+99912345678\n+99912345679\n+18005550100\n+919812345678\n")
    code, lines = check([str(toml), "--leads", str(leads)], capsys)
    assert code == 1
    assert (
        "  warning: 2 leads without a time zone (no timezone or region column value, and no "
        "zone known for the number) will be called in the campaign's timezone Asia/Kolkata"
    ) in lines
    assert any(line.startswith("  warning: 1 lead whose number spans time zones with no "
                               "calling hours in common") for line in lines)
    assert lines[-1] == (
        "result: usable; worth a look: 1 lead never dialled: no common calling window; 2 leads "
        "in the campaign's timezone for want of their own"
    )
    db = tmp_path / "c.db"
    with caplog.at_level(logging.WARNING, "dialer.campaign"):  # run: the same count, logged
        assert main(["campaign", "run", str(toml), "--db", str(db), "--leads", str(leads),
                     "--max-seconds", "0", "--emulator"]) == 0
    assert "2 leads without a time zone" in caplog.text

