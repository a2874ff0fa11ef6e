"""Lead selection and retry timing (dialer.leads.select)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, time

from dialer.campaign.compliance import check_dial
from dialer.campaign.model import CallingWindow, Limits
from dialer.leads.pickup import LeadRef, PickupModel
from dialer.leads.select import Candidate, index_score, next_try, rank, select

WINDOW = CallingWindow(time(9, 0), time(21, 0))
LIMITS = Limits(max_attempts=3, max_attempts_per_day=2)
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC).timestamp()  # Monday noon UTC


def legal_select(leads: list[dict[str, object]], count: int, dnc: set[str]) -> list[Candidate]:
    """What the store does: filter by compliance, then select; asserts every pick is legal."""
    def verdict(lead: dict[str, object]) -> bool:
        return check_dial(
            now=NOW, phone=str(lead["phone"]), timezone=str(lead["tz"]), window=WINDOW,
            limits=LIMITS, dnc=dnc, attempts_total=int(str(lead["total"])),
            attempts_today=int(str(lead["today"])),
        ).allowed

    legal = [lead for lead in leads if verdict(lead)]
    candidates = [
        Candidate(LeadRef(str(lead["phone"])), float(str(lead["p"])), float(str(lead["p"])),
                  int(str(lead["priority"])), lead["deadline"])  # type: ignore[arg-type]
        for lead in legal
    ]
    chosen = select(candidates, count, now=NOW, dials_per_s=1.0)
    by_phone = {str(lead["phone"]): lead for lead in leads}
    assert all(verdict(by_phone[c.lead.id]) for c in chosen)
    return chosen


def test_never_picks_an_illegal_lead_whatever_its_score() -> None:
    rng = random.Random(3)
    leads: list[dict[str, object]] = []
    zones = ("UTC", "Asia/Kolkata", "America/New_York", "Pacific/Auckland")
    for i in range(400):
        leads.append({
            "phone": f"+9198{i:08d}", "tz": rng.choice(zones), "total": rng.randrange(4),
            "today": rng.randrange(3), "p": rng.random() * 0.99, "priority": rng.randrange(3),
            "deadline": NOW + rng.randrange(0, 7200) if rng.random() < 0.2 else None,
        })
    dnc = {str(leads[i]["phone"]) for i in range(0, 400, 7)}
    for lead in leads[::5]:  # the best scores go to leads that are illegal now
        lead.update(p=0.99, priority=5, deadline=NOW + 60)
        lead["total" if int(str(lead["phone"])[-1]) % 2 else "today"] = 3
    chosen = legal_select(leads, 50, dnc)
    assert len(chosen) == 50
    assert not any(c.lead.id in dnc for c in chosen)


def test_short_deadlines_go_first_earliest_first_and_ample_ones_wait() -> None:
    urgent_late = Candidate(LeadRef("late"), 0.05, 0.3, 0, NOW + 600)
    urgent_soon = Candidate(LeadRef("soon"), 0.05, 0.3, 0, NOW + 300)
    ample = Candidate(LeadRef("ample"), 0.05, 0.3, 0, NOW + 86_400)
    vip = Candidate(LeadRef("vip"), 0.9, 0.9, 9)
    good = Candidate(LeadRef("good"), 0.5, 0.5, 0)
    order = [c.lead.id for c in rank([vip, good, ample, urgent_late, urgent_soon],
                                     now=NOW, dials_per_s=1.0)]
    assert order == ["soon", "late", "vip", "good", "ample"]
    # slack is measured against capacity: at one dial a minute, a deadline 40 min away with
    # 30 others before it is short too
    crowd = [Candidate(LeadRef(f"c{i}"), 0.1, 0.1, 0, NOW + 60 * i) for i in range(30)]
    far = Candidate(LeadRef("far"), 0.1, 0.1, 0, NOW + 2400)
    assert "far" in [c.lead.id for c in rank([*crowd, far, vip], now=NOW, dials_per_s=1 / 60)
                     [:31]]


def test_index_calls_now_whose_good_hour_is_now() -> None:
    now_best = Candidate(LeadRef("now"), 0.3, 0.3)
    later_best = Candidate(LeadRef("later"), 0.35, 0.7)
    assert index_score(0.3, 0.3) > index_score(0.35, 0.7)
    assert [c.lead.id for c in select([later_best, now_best], 1, now=NOW,
                                      dials_per_s=1.0)] == ["now"]
    assert select([now_best], 0, now=NOW, dials_per_s=1.0) == []


def test_next_try_falls_in_the_window_at_the_likely_hour_after_the_gap() -> None:
    model = PickupModel()
    rng = random.Random(5)
    for i in range(2000):  # the segment answers in the evening
        hour = rng.randrange(9, 21)
        model.observe(LeadRef(str(i % 50), "s"), rng.randrange(7) * 24 + hour,
                      rng.random() < (0.4 if hour >= 18 else 0.1))
    lead = LeadRef("1", "s")
    day = 86_400.0
    spans = [(d * day + 9 * 3600, d * day + 21 * 3600) for d in range(3)]

    def hour_of(t: float) -> int:
        return int(t // 3600) % 168

    after = 10 * 3600.0  # Monday 10:00, minimum gap 1 h
    retry = next_try(model, lead, after=after, open_spans=spans, hour_of=hour_of,
                     min_gap_s=3600.0)
    assert retry is not None
    assert any(a <= retry < b for a, b in spans) and retry >= after + 3600
    assert 18 <= (retry % day) / 3600 < 21  # an evening hour, not the next free one
    # past the last span: nothing left
    assert next_try(model, lead, after=3 * day, open_spans=spans, hour_of=hour_of,
                    min_gap_s=0.0) is None
