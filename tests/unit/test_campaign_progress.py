"""The campaign's live view: snapshot rendering, one-line form, in-place redraw on a TTY."""

from __future__ import annotations

import io

from dialer.campaign.model import CallingWindow, CampaignSpec
from dialer.campaign.progress import CampaignSnapshot, LiveView, one_line, render
from dialer.campaign.store import CampaignStore


def snap(done: int = 3) -> CampaignSnapshot:
    return CampaignSnapshot(
        "renewals", "running", 12.5, leads=8, done=done, pending=8 - done, in_flight=2,
        attempts=5, answered=3, escalated=1, bridged=1, abandoned=0, abandon_rate_24h=0.0,
        abandon_rate_30d=0.0, occupancy=0.25, agents={"idle": 1, "talking": 1},
    )


def test_render_shows_the_campaign_figures() -> None:
    lines = render(snap())
    assert len(lines) == 3 and all(len(line) <= 90 for line in lines)
    assert "leads 3/8 done [#########..............." in lines[0]
    assert "in flight  2" in lines[1] and "escalated  1" in lines[1] and "(0.0%)" in lines[1]
    assert "occupancy  25%" in lines[2] and "talking 1" in lines[2] and "ringing 0" in lines[2]
    assert "leads done 3/8" in one_line(snap()) and "agent occupancy 25%" in one_line(snap())


def test_live_view_redraws_in_place_on_a_tty_and_appends_otherwise() -> None:
    tty = io.StringIO()
    view = LiveView(tty, tty=True)
    view(snap(3))
    view(snap(4))
    text = tty.getvalue()
    assert text.count("\x1b[3F\x1b[J") == 1  # the second draw went back over the first
    view.finish()
    view(snap(5))
    assert tty.getvalue().count("\x1b[3F") == 1  # after finish: drawn below, not over
    pipe = io.StringIO()
    plain = LiveView(pipe, tty=False)
    plain(snap(3))
    plain(snap(4))
    assert "\x1b" not in pipe.getvalue() and len(pipe.getvalue().splitlines()) == 2


def test_window_open_until_midnight_round_trips_through_the_store() -> None:
    store = CampaignStore(":memory:")
    spec = CampaignSpec("allday", window=CallingWindow.parse("00:00", "24:00"))
    store.create_campaign(spec, 0.0)
    assert store.campaign("allday").window == spec.window
    assert spec.window.describe() == ("00:00", "24:00")
