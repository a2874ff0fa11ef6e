"""A campaign's ``default_country``: numbers written nationally in its campaign file, lead CSVs and
do-not-call files get that country's code (+91 when unset), and a resumed campaign keeps it."""

from __future__ import annotations

import sqlite3
import time
from contextlib import closing
from pathlib import Path

import pytest
from calling_time import daytime_zone

from dialer.campaign.inputs import parse_dnc
from dialer.campaign.leads_csv import parse_leads
from dialer.campaign.model import (
    CampaignError,
    CampaignSpec,
    campaign_from_toml,
    country_code,
    normalise_phone,
)
from dialer.campaign.store import CampaignStore
from voxgate.cli import main


@pytest.mark.parametrize(
    ("raw", "country", "phone"),
    [
        # India (the default): 10 digits, or the trunk prefix 0 and 10 digits
        ("98123 45678", "91", "+919812345678"),
        ("098123-45678", "91", "+919812345678"),
        ("919812345678", "91", "+919812345678"),  # has its country code
        ("0044 20 7946 0000", "91", "+442079460000"),  # international prefix 00
        ("+1 (415) 555-0100", "91", "+14155550100"),
        ("14155550100", "91", "+14155550100"),  # 11 digits: a country code, not +91
        # North America: 10 digits, or 1 and 10 digits; 011 is the international prefix
        ("(415) 555-0100", "1", "+14155550100"),
        ("415.555.0100", "+1", "+14155550100"),
        ("1 415 555 0100", "1", "+14155550100"),
        ("1-415-555-0100", "1", "+14155550100"),
        ("011 91 98123 45678", "1", "+919812345678"),
        ("0044 20 7946 0000", "1", "+442079460000"),
        ("+44 20 7946 0000", "1", "+442079460000"),
        ("919812345678", "1", "+919812345678"),
        # the trunk prefix 0 makes a number national whatever its length
        ("020 7946 0000", "44", "+442079460000"),
        ("07700 900123", "+44", "+447700900123"),
        ("7700 900123", "44", "+447700900123"),
        ("030 1234567", "49", "+49301234567"),
        ("0221 12345678", "49", "+4922112345678"),
    ],
)
def test_national_numbers_get_the_default_country(raw: str, country: str, phone: str) -> None:
    assert normalise_phone(raw, country) == phone


@pytest.mark.parametrize(
    ("raw", "country"),
    [
        ("04155550100", "1"),  # no trunk prefix 0 in North America: no country code 0 either
        ("+0123456789", "91"),
        ("00 0123 456789", "44"),
        ("1234567890123456", "91"),  # more than 15 digits
        ("12345", "91"),
    ],
)
def test_numbers_that_cannot_be_e164_are_refused(raw: str, country: str) -> None:
    with pytest.raises(CampaignError, match=r"^bad phone number "):
        normalise_phone(raw, country)


def test_country_codes() -> None:
    codes = [country_code(c) for c in ("1", "+1", "44", "+44", "971")]
    assert codes == ["1", "1", "44", "44", "971"]
    for bad in ("", "+", "0", "+01", "1234", "x", " 1", "1 ", "+ 1"):
        with pytest.raises(CampaignError) as info:
            country_code(bad)
        assert str(info.value) == (
            'default_country: must be a country calling code such as "1" or "+44" (a string of '
            f"1-3 digits), got {bad!r}"
        )
    with pytest.raises(CampaignError, match=r"got 1$"):
        country_code(1)


def test_campaign_file_default_country() -> None:
    assert campaign_from_toml('name = "c"\n').default_country == "91"
    toml = (
        'name = "c"\ndefault_country = "+1"\n'
        '[[agents]]\nid = "a1"\nnumber = "(212) 555-0001"\n'
    )
    spec = campaign_from_toml(toml)
    assert spec.default_country == "1"
    assert spec.agents[0].number == "+12125550001"  # the campaign's numbers, agents too
    assert CampaignSpec("c", default_country="+44").default_country == "44"
    for value, shown in (("1", "1"), ('"0"', "'0'"), ('"+1 "', "'+1 '"), ('["1"]', "['1']")):
        with pytest.raises(CampaignError) as info:
            campaign_from_toml(f'name = "c"\ndefault_country = {value}\n')
        assert str(info.value) == (
            'default_country: must be a country calling code such as "1" or "+44" (a string of '
            f"1-3 digits), got {shown}"
        )
    with pytest.raises(CampaignError, match=r"^default_country: "):
        CampaignSpec("c", default_country="USA")


def test_leads_take_the_default_country_and_its_single_zone() -> None:
    text = (
        "phone,name\n(212) 555-0101,A\n+1 212 555 0101,again\n1-212-555-0101,and again\n"
        "415 555 0102,B\n+91 98123 45678,C\n"
    )
    result = parse_leads(text, default_country="1")
    phones = [lead.phone for lead in result.leads]
    assert phones == ["+12125550101", "+14155550102", "+919812345678"]
    assert result.duplicates == 2  # one number, however it is written
    # +1 has several zones: each number takes its area code's; +91 has one
    zones = [lead.timezone for lead in result.leads]
    assert zones == ["America/New_York", "America/Los_Angeles", "Asia/Kolkata"]
    london = parse_leads("phone\n020 7946 0000\n98123 45678\n", default_country="44").leads
    assert [(lead.phone, lead.timezone) for lead in london] == [
        ("+442079460000", "Europe/London"),
        # 10 digits: national, here British; not a valid UK number: every zone of the country
        ("+449812345678", "Europe/Guernsey Europe/Isle_of_Man Europe/Jersey Europe/London"),
    ]
    (india,) = parse_leads("phone\n98123 45678\n").leads  # unset: +91 as before
    assert (india.phone, india.timezone) == ("+919812345678", "Asia/Kolkata")


def test_dnc_numbers_take_the_default_country() -> None:
    phones, errors = parse_dnc("(212) 555-0101\n0044 20 7946 0000\n0212 555 0101\n", "d", "1")
    assert phones == ["+12125550101", "+442079460000"]
    assert errors == ["d line 3: bad phone number '0212 555 0101'"]
    assert parse_dnc("98123 45678\n", "d")[0] == ["+919812345678"]


def test_the_store_keeps_the_default_country(tmp_path: Path) -> None:
    store = CampaignStore(str(tmp_path / "c.db"))
    store.create_campaign(CampaignSpec("us", default_country="+1"), 0.0)
    store.create_campaign(CampaignSpec("in"), 0.0)
    assert store.campaign("us").default_country == "1"
    assert store.campaign("in").default_country == "91"
    store.close()
    with closing(sqlite3.connect(tmp_path / "c.db")) as db:
        specs = dict(db.execute("SELECT name, spec FROM campaigns"))
    assert '"default_country": "1"' in specs["us"]
    assert "default_country" not in specs["in"]  # at its default: an older version reads it
    old = sqlite3.connect(tmp_path / "c.db")  # a campaign stored before the setting: +91
    old.execute("UPDATE campaigns SET spec = ? WHERE name = 'us'", ('{"name": "us"}',))
    old.commit()
    old.close()
    store = CampaignStore(str(tmp_path / "c.db"))
    assert store.campaign("us").default_country == "91"
    store.close()


US_TOML = (
    'name = "us"\nbot = "echo"\ndefault_country = "1"\n'
    '[[agents]]\nid = "a1"\nnumber = "212 555 0001"\n'
)


def test_run_by_name_parses_leads_and_dnc_in_the_stored_country(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("EXOTEL_API_BASE", raising=False)
    db = tmp_path / "us.db"
    store = CampaignStore(str(db))
    store.create_campaign(campaign_from_toml(US_TOML), time.time())
    store.set_status("us", "paused", time.time())  # the runs below dial nothing
    store.close()
    leads = tmp_path / "leads.csv"
    zone = daytime_zone()  # the calling window is open in the leads' zone, whatever the hour
    leads.write_text(f"phone,name,timezone\n(212) 555-0101,A,{zone}\n212 555 0102,B,{zone}\n")
    dnc = tmp_path / "dnc.txt"
    dnc.write_text("1 212 555 0102  # written nationally, with the trunk prefix\n")
    args = ["campaign", "run", "us", "--db", str(db), "--leads", str(leads), "--dnc", str(dnc),
            "--emulator"]
    assert main([*args, "--max-seconds", "0"]) == 0
    out = capsys.readouterr().out
    assert "imported 2 new leads (0 already there, 0 duplicate rows, 0 bad rows)" in out
    store = CampaignStore(str(db))
    assert [lead["phone"] for lead in store.leads("us")] == ["+12125550101", "+12125550102"]
    assert store.on_dnc("+12125550102")
    store.set_status("us", "running", time.time())
    claim = store.claim_next("us", time.time())
    assert claim is not None and claim.phone == "+12125550101"
    assert store.claim_next("us", time.time()) is None  # the other is scrubbed: on the list
    assert [lead["state"] for lead in store.leads("us")] == ["dialing", "dnc"]
    store.close()


def test_a_bad_default_country_stops_run_before_the_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    toml = tmp_path / "us.toml"
    toml.write_text(US_TOML.replace('"1"', "1"))
    db = tmp_path / "us.db"
    assert main(["campaign", "run", str(toml), "--db", str(db)]) == 2
    assert capsys.readouterr().err == (
        f'voxgate campaign: {toml}: default_country: must be a country calling code such as "1" '
        'or "+44" (a string of 1-3 digits), got 1\n'
    )
    assert not db.exists()


def test_run_of_an_unknown_name_leaves_the_database_as_it_was(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "c.db"
    store = CampaignStore(str(db))
    store.create_campaign(CampaignSpec("c", timezone=daytime_zone()), time.time())
    store.close()
    before = db.read_bytes()
    assert main(["campaign", "run", "nope", "--db", str(db)]) == 2
    assert capsys.readouterr().err == "voxgate campaign: no campaign named 'nope'\n"
    assert db.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.db"]
