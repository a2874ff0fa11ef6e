"""The calls pages' HTML pieces (dialer/web/calls_view.py): the calls in flight are summed up
by stage and at most LIVE_SHOWN rows are drawn (1,000 calls made a 150 KB page), a call page
never holds Exotel's recording URL, and every value from the record is escaped."""

from __future__ import annotations

from dialer.records import CallRecord
from dialer.web.calls_view import LIVE_SHOWN, call_sections, event_kind, live_rows, live_summary


def test_many_calls_in_flight_are_summed_up() -> None:
    calls = [{"call_id": f"c{i}", "number": "+91", "campaign": "x", "stage": ("bot", "hold")[i % 2],
              "agent": "", "since": 0.0} for i in range(1000)]
    assert live_rows(calls, 10.0).count("<tr") == LIVE_SHOWN
    assert live_summary(calls) == (
        f"1000 in flight (bot 500, hold 500); the {LIVE_SHOWN} longest shown")
    assert live_summary([]) == "0 in flight"


def test_a_call_page_has_the_route_not_exotels_url() -> None:
    record = CallRecord("c<1>", "+919900000001", "bot_first", bridged=True,
                        recording_url="https://api.exotel.com/rec/abc.wav?token=s3cret",
                        hangup_reason="entered:42", started_at=1_800_000_000.0,
                        timeline=(("dial", 0.0), ("escalation_requested", 900.0),
                                  ("bridged", 1500.0)),
                        custom={"campaign": "c1", "note": "<script>x</script>"})
    page = call_sections(record)
    assert "exotel.com" not in page and "s3cret" not in page
    assert 'src="/ui/api/calls/c%3C1%3E/recording"' in page
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "<dd>42</dd>" in page  # the digits the bot reported
    assert [event_kind(n) for n, _ in record.timeline] == ["leg", "escalation", "bridge"]
