"""The campaign's live view: snapshot rendering, one-line form, in-place redraw on a TTY."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from dialer.campaign.model import CallingWindow, CampaignSpec
from dialer.campaign.progress import (
    HEARTBEAT_STALE_S,
    CampaignSnapshot,
    LiveView,
    dialer_text,
    iso_utc,
    one_line,
    pending_text,
    render,
    span,
)
from dialer.campaign.store import CampaignStore

NIGHT = datetime(2026, 11, 21, 22, 28, tzinfo=ZoneInfo("Asia/Kolkata")).timestamp()
OPENING = datetime(2026, 11, 22, 9, 0, tzinfo=ZoneInfo("Asia/Kolkata")).timestamp()


def snap(done: int = 3, due_now: int | None = 1) -> CampaignSnapshot:
    return CampaignSnapshot(
        "renewals", "running", 12.5, leads=8, done=done, pending=8 - done, in_flight=2,
        attempts=5, answered=3, escalated=1, bridged=1, abandoned=0, abandon_rate_24h=0.0,
        abandon_rate_30d=0.0, occupancy=0.25, agents={"idle": 1, "talking": 1},
        due_now=due_now, next_due_at=OPENING, wall_time=NIGHT,
    )


def test_render_shows_the_campaign_figures() -> None:
    lines = render(snap())
    assert len(lines) == 4 and all(len(line) <= 90 for line in lines)
    assert "leads 3/8 done [#########..............." in lines[0]
    assert lines[1] == (
        "  pending 5: due now 1, waiting 4, next due 2026-11-22T03:30:00Z (in 10h32m)"
    )
    assert "in flight  2" in lines[2] and "escalated  1" in lines[2] and "(0.0%)" in lines[2]
    assert "occupancy  25%" in lines[3] and "talking 1" in lines[3] and "ringing 0" in lines[3]
    line = one_line(snap())
    assert "leads done 3/8" in line and "agent occupancy 25%" in line
    assert "pending 5: due now 1, waiting 4, next due 2026-11-22T03:30:00Z (in 10h32m)" in line
    assert snap().waiting == 4 and snap(due_now=None).waiting == 0
    assert render(snap(due_now=None))[1] == "  pending 5"  # the split is not known


def test_times_and_spans_read_at_a_glance() -> None:
    assert iso_utc(OPENING) == "2026-11-22T03:30:00Z"
    assert iso_utc(1795318200.4) == "2026-11-22T03:30:00Z"
    assert iso_utc(None) == "" and iso_utc(0.0) == ""
    assert [span(s) for s in (0, 45, 245, 3600, 37_920, 86_400 + 3 * 3600 + 59)] == [
        "0s", "45s", "4m05s", "1h00m", "10h32m", "1d03h",
    ]
    assert span(-5) == "0s"


def test_pending_text_splits_due_now_from_waiting() -> None:
    assert pending_text(7, None, OPENING, NIGHT) == "pending 7"
    assert pending_text(7, 7, None, NIGHT) == "pending 7: due now 7, waiting 0"
    assert pending_text(0, 0, None, NIGHT) == "pending 0: due now 0, waiting 0"
    assert pending_text(7, 0, OPENING, NIGHT) == (
        "pending 7: due now 0, waiting 7, next due 2026-11-22T03:30:00Z (in 10h32m)"
    )
    assert pending_text(7, 0, OPENING, None) == (
        "pending 7: due now 0, waiting 7, next due 2026-11-22T03:30:00Z"
    )


@pytest.mark.parametrize(
    ("heartbeat_at", "last_seen_at", "expected"),
    [
        (NIGHT - 2, NIGHT - 2, "dialer active, updated 2 s ago"),
        (NIGHT - HEARTBEAT_STALE_S, NIGHT - HEARTBEAT_STALE_S, "dialer active, updated 30 s ago"),
        (NIGHT - 300, NIGHT - 300, "no dialer attached; last seen 5 min ago, it did not exit "
         "cleanly"),
        (None, NIGHT - 300, "no dialer attached; last seen 5 min ago"),
        (None, NIGHT - 3 * 3600, "no dialer attached; last seen 3 h ago"),
        (None, NIGHT - 3 * 86_400, "no dialer attached; last seen 3 days ago"),
        (None, None, "never run"),
    ],
)
def test_dialer_text_tells_an_attached_dialer_from_a_gone_one(
    heartbeat_at: float | None, last_seen_at: float | None, expected: str
) -> None:
    assert dialer_text(heartbeat_at, last_seen_at, NIGHT) == expected
    assert dialer_text(heartbeat_at, last_seen_at, NIGHT, dialled=True) == expected.replace(
        "never run", "no dialer attached"  # dialled by a version that kept no heartbeat
    )


def test_live_view_redraws_in_place_on_a_tty_and_appends_otherwise() -> None:
    tty = io.StringIO()
    view = LiveView(tty, tty=True)
    view(snap(3))
    view(snap(4))
    text = tty.getvalue()
    assert text.count("\x1b[4F\x1b[J") == 1  # the second draw went back over the first
    view.finish()
    view(snap(5))
    assert tty.getvalue().count("\x1b[4F") == 1  # after finish: drawn below, not over
    pipe = io.StringIO()
    plain = LiveView(pipe, tty=False)
    plain(snap(3))
    plain(snap(4))  # off a terminal: held back (at most one summary a minute) ...
    assert "\x1b" not in pipe.getvalue() and len(pipe.getvalue().splitlines()) == 1
    plain.finish()  # ... until the end, which prints the last one
    assert len(pipe.getvalue().splitlines()) == 2 and "done 4/8" in pipe.getvalue()


def test_live_view_off_a_terminal_prints_at_most_one_summary_a_minute() -> None:
    pipe = io.StringIO()
    plain = LiveView(pipe, tty=False)
    for second in range(0, 181, 2):  # a 3-minute run reporting every 2 s
        plain(replace(snap(3), elapsed_s=float(second)))
    plain.finish()
    lines = pipe.getvalue().splitlines()
    assert [line.split("]")[0] for line in lines] == [
        "[renewals running 0s", "[renewals running 60s", "[renewals running 120s",
        "[renewals running 180s"]
    assert "\x1b" not in pipe.getvalue()


def test_window_open_until_midnight_round_trips_through_the_store() -> None:
    store = CampaignStore(":memory:")
    spec = CampaignSpec("allday", window=CallingWindow.parse("00:00", "24:00"))
    store.create_campaign(spec, 0.0)
    assert store.campaign("allday").window == spec.window
    assert spec.window.describe() == ("00:00", "24:00")
