"""Lead fields on the stream URL: names checked at load, values encoded and bounded at dial."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dialer.campaign.model import CampaignError, CampaignSpec, campaign_from_toml
from dialer.service import CallRequest
from dialer.stream_params import MAX_CHARS, add_stream_params, check_field_names, encoded_len

BASE = "ws://127.0.0.1:9000/stream/scripted?vx_call=renewals-12-1"


def custom(url: str) -> list[tuple[str, str]]:
    return [(k, v) for k, v in parse_qsl(urlsplit(url).query, keep_blank_values=True)
            if k != "sample-rate"]


def test_fields_are_appended_url_encoded() -> None:
    out = add_stream_params(BASE, {"name": "Asha Rao & Co=1", "plan": "gold/ü"})
    assert out.truncated == ()
    assert "name=Asha%20Rao%20%26%20Co%3D1" in out.url and "plan=gold%2F%C3%BC" in out.url
    assert custom(out.url) == [("vx_call", "renewals-12-1"), ("name", "Asha Rao & Co=1"),
                               ("plan", "gold/ü")]


def test_no_fields_leaves_the_url_alone() -> None:
    assert add_stream_params(BASE, {}).url == BASE


def test_long_value_is_shortened_and_reported() -> None:
    out = add_stream_params(BASE, {"name": "Asha", "note": "x" * 400})
    assert out.truncated == ("note",)
    sent = dict(out.sent)
    assert sent["name"] == "Asha" and 0 < len(sent["note"]) < 400
    assert sum(encoded_len(k, v) for k, v in custom(out.url)) == MAX_CHARS


def test_two_long_values_share_the_room() -> None:
    out = add_stream_params(BASE, {"a": "é" * 300, "b": "y" * 300})
    assert set(out.truncated) == {"a", "b"}
    total = sum(encoded_len(k, v) for k, v in custom(out.url))
    assert total <= MAX_CHARS
    # never cut inside a percent-escape: every value decodes to whole characters
    assert set(dict(out.sent)["a"]) == {"é"}


def test_too_many_parameters_is_refused() -> None:
    with pytest.raises(ValueError, match="at most 3"):
        add_stream_params(BASE + "&x=1", {"a": "1", "b": "2"})
    with pytest.raises(ValueError, match="already in the URL"):
        add_stream_params(BASE, {"vx_call": "2"})


@given(st.dictionaries(st.sampled_from(["name", "plan"]), st.text(max_size=400), max_size=2))
def test_any_values_fit_and_are_prefixes(fields: dict[str, str]) -> None:
    out = add_stream_params(BASE, fields)
    assert sum(encoded_len(k, v) for k, v in custom(out.url)) <= MAX_CHARS
    assert len(custom(out.url)) <= 3
    for name, value in out.sent:
        assert fields[name].startswith(value)
        assert (value != fields[name]) == (name in out.truncated)


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (["name", "plan", "city"], "at most 2"),
        (["vx_call"], "reserved"),
        (["vx_lead"], "reserved"),
        (["sample-rate"], "must be 1-32|reserved"),
        (["1abc"], "must be 1-32"),
        (["a b"], "must be 1-32"),
        (["plan", "plan"], "duplicate"),
        (["a" * 32, "b" * 32 + "c"], "must be 1-32"),
    ],
)
def test_bad_field_names(names: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_field_names(names)


def test_longest_names_with_the_longest_call_id_leave_room_for_values() -> None:
    names = check_field_names(["a" * 32, "b" * 32])
    url = f"ws://h/stream/x?vx_call={'c' * 64}-9999999999-999"
    out = add_stream_params(url, dict.fromkeys(names, "v" * 300))
    assert all(len(v) >= 40 for _, v in out.sent) and out.truncated == names


def test_campaign_load_rejects_bad_stream_params() -> None:
    with pytest.raises(CampaignError, match="at most 2"):
        campaign_from_toml('name = "x"\nstream_params = ["name", "plan", "city"]\n')
    with pytest.raises(CampaignError, match="array of field names"):
        campaign_from_toml('name = "x"\nstream_params = "name"\n')
    with pytest.raises(CampaignError, match="reserved"):
        CampaignSpec("x", stream_params=("vx_call",))
    spec = campaign_from_toml('name = "x"\nstream_params = ["name", "plan"]\n')
    assert spec.stream_params == ("name", "plan")


def test_call_request_checks_its_stream_params() -> None:
    req = CallRequest("+919900000001", stream_params={"plan": "gold"})
    assert dict(req.stream_params) == {"plan": "gold"}
    with pytest.raises(ValueError, match="at most 2"):
        CallRequest("+919900000001", stream_params={"a": "1", "b": "2", "c": "3"})
