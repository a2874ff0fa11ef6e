"""The dialling floor of :mod:`dialer.pacing.sim` with real leads behind the dials.

Each dial takes the next lead from a policy (:class:`TodayOrder` or :class:`VoxgateOrder`);
its outcome is drawn from THAT lead's true curve at the local hour (:mod:`dialer.leads.population`;
given not live, machine / busy / failed / no answer in the scenario's proportions). The
policy learns only outcomes. A run is ``days`` calling windows (``open_h`` to ``close_h``
local time, one time zone), each a shift of the floor with a fresh pacer warm-started from the
previous day's snapshot, as the campaign does between shifts.

Times: the run's clock is seconds since Monday 00:00 local time of day 0.
"""

from __future__ import annotations

import dataclasses
import heapq
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from dialer.campaign.model import DEFAULT_RETRY
from dialer.leads.pickup import LeadRef, PickupModel
from dialer.leads.population import Population, SimLead
from dialer.leads.select import Candidate, next_try, rank
from dialer.pacing.sim import Scenario, SimResult, _Floor
from dialer.pacing.types import DialOutcome, Pacer, PacerState

__all__ = ["Calendar", "LeadRunResult", "TodayOrder", "VoxgateOrder", "run_days"]

DAY = 86_400.0
RETRY_BY_OUTCOME: Mapping[DialOutcome, float] = {
    DialOutcome.NO_ANSWER: DEFAULT_RETRY["no_answer"],
    DialOutcome.BUSY: DEFAULT_RETRY["busy"],
    DialOutcome.MACHINE: DEFAULT_RETRY["machine"],
    DialOutcome.FAILED: DEFAULT_RETRY["failed"],
}


@dataclass(frozen=True, slots=True)
class Calendar:
    """The calling window (local hours) over ``days`` days from Monday, and the limits."""

    days: int = 2
    open_h: float = 9.0
    close_h: float = 21.0
    max_attempts: int = 3
    max_per_day: int = 2

    def spans(self, after: float = 0.0) -> list[tuple[float, float]]:
        out = []
        for d in range(self.days):
            a, b = d * DAY + self.open_h * 3600, d * DAY + self.close_h * 3600
            if b > after:
                out.append((max(a, after), b))
        return out

    def next_day_open(self, t: float) -> float:
        return (t // DAY + 1) * DAY + self.open_h * 3600

    @staticmethod
    def hour_of_week(t: float) -> int:
        return int(t // 3600) % 168

    @staticmethod
    def hour(t: float) -> float:
        return (t % DAY) / 3600.0


class _Policy:
    """Shared bookkeeping: attempts, limits, contacts, deadlines."""

    per_dial = False

    def __init__(self, population: Population, cal: Calendar) -> None:
        self.leads = population.leads
        self.cal = cal

    def limit_ok(self, lead: SimLead, t: float) -> bool:
        day = int(t // DAY)
        if lead.day != day:
            lead.day, lead.attempts_today = day, 0
        return (
            not lead.contacted
            and lead.attempts < self.cal.max_attempts
            and lead.attempts_today < self.cal.max_per_day
            and lead.arrives <= t
        )

    def dialled(self, lead: SimLead, t: float) -> None:
        lead.attempts += 1
        lead.attempts_today += 1
        if lead.first_dial is None:
            lead.first_dial = t

    def finish(self, lead: SimLead, t: float, outcome: DialOutcome) -> float | None:
        """Record the outcome; the earliest legal retry time, or ``None`` when finished."""
        if outcome is DialOutcome.LIVE:
            lead.contacted = True
            return None
        if lead.attempts >= self.cal.max_attempts:
            return None
        earliest = t + RETRY_BY_OUTCOME[outcome]
        if lead.attempts_today >= self.cal.max_per_day:
            earliest = max(earliest, self.cal.next_day_open(t))
        return earliest

    def p_of(self, lead: SimLead, t: float) -> float | None:
        return None

    def next_p(self) -> float | None:
        return None


class TodayOrder(_Policy):
    """Today's order: priority, then due time, then import order; fixed retry delays."""

    name = "today (priority, due, import)"

    def __init__(self, population: Population, cal: Calendar) -> None:
        super().__init__(population, cal)
        self.waiting = [(lead.due, lead.id) for lead in self.leads]
        heapq.heapify(self.waiting)
        self.due: list[tuple[int, float, int]] = []

    def pick(self, t: float) -> SimLead | None:
        while self.waiting and self.waiting[0][0] <= t:
            due, i = heapq.heappop(self.waiting)
            heapq.heappush(self.due, (-self.leads[i].priority, due, i))
        while self.due:
            _, _, i = heapq.heappop(self.due)
            lead = self.leads[i]
            if self.limit_ok(lead, t):
                self.dialled(lead, t)
                return lead
        return None

    def outcome(self, lead: SimLead, t: float, outcome: DialOutcome) -> None:
        again = self.finish(lead, t, outcome)
        if again is not None:
            lead.due = again
            heapq.heappush(self.waiting, (again, lead.id))


class VoxgateOrder(_Policy):
    """voxgate's order: pickup model + selection (:func:`~dialer.leads.select.rank`) +
    retries in the lead's likely hours + per-dial probabilities for the pacer. The ranking
    is rebuilt every ``rerank_s`` of the run's clock (and when it runs out)."""

    name = "voxgate (model + selection + retry hours)"
    per_dial = True

    def __init__(
        self, population: Population, cal: Calendar, rerank_s: float = 300.0
    ) -> None:
        super().__init__(population, cal)
        self.model = PickupModel()
        self.refs = [LeadRef(str(lead.id), lead.segment.name) for lead in self.leads]
        self.rerank_s = rerank_s
        self.ranked: list[Candidate] = []
        self.position = 0
        self.ranked_at = -1e18
        self.dial_times: list[float] = []

    def dials_per_s(self, t: float) -> float:
        recent = [x for x in self.dial_times[-2000:] if x > t - 600]
        return max(0.05, len(recent) / 600.0)

    def rerank(self, t: float) -> None:
        hours = {self.cal.hour_of_week(t)}
        for a, b in self.cal.spans(t)[:2]:  # the rest of today's and tomorrow's window
            hours.update(self.cal.hour_of_week(x) for x in range(int(a), int(b), 3600))
        how = self.cal.hour_of_week(t)
        curves: dict[str, tuple[float, float]] = {}  # segment -> (p now, best p)
        candidates = []
        for lead, ref in zip(self.leads, self.refs, strict=True):
            if lead.due > t or not self.limit_ok(lead, t):
                continue
            if ref.segment not in curves:
                curve = self.model.segment_curve(ref.segment)
                curves[ref.segment] = (curve[how], max(curve[h] for h in hours))
            now_p, best_p = curves[ref.segment]
            f = self.model.propensity(ref)  # p_live, with the segment's curve read once
            candidates.append(
                Candidate(
                    ref, min(0.99, f * now_p), min(0.99, f * best_p), lead.priority, lead.deadline
                )
            )
        self.ranked = rank(candidates, now=t, dials_per_s=self.dials_per_s(t))
        self.position = 0
        self.ranked_at = t

    def pick(self, t: float) -> SimLead | None:
        for attempt in range(2):
            stale = t - self.ranked_at >= (self.rerank_s if attempt == 0 else 30.0)
            if stale:
                self.rerank(t)
            elif attempt:
                return None
            while self.position < len(self.ranked):
                cand = self.ranked[self.position]
                self.position += 1
                lead = self.leads[int(cand.lead.id)]
                if lead.due <= t and self.limit_ok(lead, t):
                    self.dialled(lead, t)
                    self.dial_times.append(t)
                    return lead
        return None

    def p_of(self, lead: SimLead, t: float) -> float | None:
        return self.model.p_live(self.refs[lead.id], self.cal.hour_of_week(t))

    def next_p(self) -> float | None:
        ahead = self.ranked[self.position : self.position + 10]
        return sum(c.p_now for c in ahead) / len(ahead) if ahead else None

    def outcome(self, lead: SimLead, t: float, outcome: DialOutcome) -> None:
        ref = self.refs[lead.id]
        self.model.observe(ref, self.cal.hour_of_week(t), outcome is DialOutcome.LIVE)
        earliest = self.finish(lead, t, outcome)
        if earliest is None:
            return
        again = next_try(
            self.model,
            ref,
            after=earliest,
            open_spans=self.cal.spans(earliest)[:2],
            hour_of=self.cal.hour_of_week,
            min_gap_s=0.0,
        )
        lead.due = again if again is not None else float("inf")


Policy = TodayOrder | VoxgateOrder
_OTHERS = (DialOutcome.MACHINE, DialOutcome.BUSY, DialOutcome.FAILED)


class LeadFloor(_Floor):
    """One day's shift of the simulated floor, dialling the policy's leads."""

    def __init__(
        self, scenario: Scenario, pacer: Pacer, seed: int, policy: Policy, start: float
    ) -> None:
        super().__init__(scenario, pacer, seed)
        self.policy = policy
        self.start = start
        self.lead_of: dict[int, SimLead] = {}
        self.call_p: dict[int, float] = {}
        rates = (scenario.machine_rate, scenario.busy_rate, scenario.failed_rate)
        self.rest = [r / max(1e-9, 1.0 - scenario.live_rate) for r in rates]

    def state(self, now: float) -> PacerState:
        base = super().state(now)
        if not self.policy.per_dial:
            return base
        return dataclasses.replace(
            base,
            ringing_live=tuple(self.call_p[c] for c in self.ringing),
            next_live=self.policy.next_p(),
        )

    def dial(self, now: float) -> None:
        t = self.start + now
        lead = self.policy.pick(t)
        if lead is None:
            return
        p = lead.true_p(Calendar.hour(t))
        u = self.rng.random()
        outcome = DialOutcome.LIVE
        if u >= p:  # not live: the scenario's other outcomes in their proportions
            v, outcome = (u - p) / (1.0 - p), DialOutcome.NO_ANSWER
            for share, other in zip(self.rest, _OTHERS, strict=True):
                if v < share:
                    outcome = other
                    break
                v -= share
        call = self.place(now, outcome, self.ring_time(outcome))
        self.lead_of[call] = lead
        p_model = self.policy.p_of(lead, t)
        if p_model is not None:
            self.call_p[call] = p_model

    def ring_end(self, call: int, now: float) -> None:
        outcome = self.ringing[call][1]
        super().ring_end(call, now)
        self.call_p.pop(call, None)
        self.policy.outcome(self.lead_of.pop(call), self.start + now, outcome)


@dataclass(slots=True)
class LeadRunResult:
    """A run's figures over all its days."""

    policy: str
    agents: int
    days: list[SimResult]
    leads: list[SimLead]

    def total(self, name: str) -> float:
        return float(sum(getattr(r, name) for r in self.days))

    @property
    def live_per_100(self) -> float:
        return 100.0 * self.total("live") / max(1.0, self.total("dials"))

    @property
    def talk_min_per_agent_hour(self) -> float:
        return self.total("talk_s") / 60.0 / sum(r.agent_hours for r in self.days)

    @property
    def abandon_rate(self) -> float:
        return self.total("abandoned") / max(1.0, self.total("live"))

    @property
    def sla_met(self) -> float:
        dated = [x for x in self.leads if x.deadline is not None]
        met = sum(
            1 for x in dated if x.first_dial is not None and x.first_dial <= (x.deadline or 0)
        )
        return met / len(dated) if dated else 1.0

    @property
    def attempts_per_contact(self) -> float:
        contacts = sum(1 for x in self.leads if x.contacted)
        return self.total("dials") / max(1, contacts)


def run_days(
    scenario: Scenario,
    make_pacer: Callable[[], Pacer],
    policy: Policy,
    cal: Calendar,
    seed: int,
) -> LeadRunResult:
    """Run ``cal.days`` shifts of ``scenario`` dialling ``policy``'s leads."""
    hours = cal.close_h - cal.open_h
    days = []
    snapshot = None
    for day in range(cal.days):
        pacer = make_pacer()
        restore = getattr(pacer, "restore", None)
        if snapshot is not None and restore is not None:
            restore(snapshot)
        shift = dataclasses.replace(scenario, name=f"{scenario.name} day {day}", hours=hours)
        start = day * DAY + cal.open_h * 3600
        days.append(LeadFloor(shift, pacer, seed, policy, start).run())
        take = getattr(pacer, "snapshot", None)
        snapshot = take() if take is not None else None
    return LeadRunResult(policy.name, scenario.agents, days, policy.leads)
