"""The pickup model: P(live answer) of a lead by hour of the week in the lead's local time.

Which estimate, and why: a **hierarchical Beta-Binomial with empirical-Bayes shrinkage**.
Each level is a Beta prior centred on the level above, updated by the live/not-live counts of
its own attempts (conjugate, so an update is two additions and an estimate reads "k of n at
this hour in this segment, pulled toward the level above with weight tau"):

* **global curve** ``p_g(h) = (K_g(h) + a0 m) / (N_g(h) + a0)``: every attempt, ``m`` the
  overall live rate;
* **segment curve** ``p_s(h) = (K_s(h) + tau p_g(h)) / (N_s(h) + tau)``: a segment is the
  lead's region, source and any custom field the campaign names (:func:`segment_of`); ``tau``
  is estimated from the data (empirical Bayes, method of moments: the spread of the
  segments' live rates beyond what binomial noise explains), so segments that really differ
  keep their own curves and noisy ones are pooled;
* **lead propensity** ``f = (k + c) / (e + c)``: the lead's live answers ``k`` against the
  answers ``e`` its segment curve expected at the hours it was called, shrunk toward 1 by
  ``c`` pseudo-answers (a lead with one attempt sits near its segment);
  ``p_live = min(0.99, f p_s(h))``.

Hour bins are smoothed with their neighbours before the shrinkage: an hour's counts are its
own plus ``neighbour`` times the adjacent hours' plus ``same_hour`` times the same hour on the
other six days (people keep daily habits), so a sparse week still gives a curve. The
neighbours' weight fades as the hour's own attempts grow (times ``fade / (fade + n)``, 30
attempts by default): it is a prior for sparse hours, and a well-sampled hour keeps its own
rate instead of being blurred toward its neighbours (a peak an hour or two wide is what lead
selection aims at).

Online: :meth:`PickupModel.observe` is O(1): counts are added; the smoothed curves are cached
per segment and recomputed when read after their counts grew by ``refresh`` (2 %) or more, so
estimates lag the counts by at most that share. Pure: no clock, no I/O; times are given.
:meth:`PickupModel.to_json`/:meth:`PickupModel.from_json` persist it with the campaign.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

__all__ = [
    "HOURS",
    "LIVE_OUTCOMES",
    "LeadRef",
    "PickupModel",
    "hour_of_week",
    "import_history",
    "segment_of",
]

HOURS = 168
JSON_VERSION = 1
LIVE_OUTCOMES = frozenset({"live", "human", "answered", "completed", "escalated", "callback"})
"""Outcome names (campaign outcomes or an imported CSV's) that count as a live answer."""
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True, slots=True)
class LeadRef:
    """A lead as the model knows it: its id and its segment key (:func:`segment_of`)."""

    id: str
    segment: str = ""


def hour_of_week(at: float, timezone: str) -> int:
    """The hour of the week (0 = Monday 00:00-01:00) of epoch ``at`` in ``timezone``'s (first
    zone's) local time."""
    local = datetime.fromtimestamp(at, UTC).astimezone(ZoneInfo(timezone.split()[0]))
    return local.weekday() * 24 + local.hour


def segment_of(fields: Mapping[str, str], keys: Sequence[str]) -> str:
    """The segment key of a lead: ``key=value`` of each named field, joined by ``|`` (a
    missing field is empty). ``keys`` are the campaign's (e.g. region, source, a custom one)."""
    return "|".join(f"{key}={fields.get(key, '')}" for key in keys)


def describe_hour(how: int) -> str:
    return f"{_DAYS[how // 24]} {how % 24:02d}:00"


def _check_how(how: int) -> int:
    if not 0 <= how < HOURS:
        raise ValueError(f"hour of week must be within 0..167, got {how!r}")
    return how


@dataclass(slots=True)
class _Counts:
    live: list[float] = field(default_factory=lambda: [0.0] * HOURS)
    dials: list[float] = field(default_factory=lambda: [0.0] * HOURS)
    curve: list[float] | None = None  # cached smoothed estimate
    changes: int = 0  # attempts counted since the curve was computed
    n: int = 0

    def stale(self, refresh: float) -> bool:
        return self.curve is None or self.changes > refresh * self.n


@dataclass(slots=True)
class _Lead:
    segment: str
    live: int = 0
    dials: int = 0
    expected: float = 0.0  # live answers the segment curve expected at the hours called


class PickupModel:
    """Hierarchical Beta-Binomial pickup model (see the module docstring)."""

    def __init__(
        self,
        *,
        global_strength: float = 2.0,
        lead_strength: float = 2.0,
        neighbour: float = 0.5,
        same_hour: float = 0.15,
        tau_bounds: tuple[float, float] = (4.0, 400.0),
        refresh: float = 0.02,
        fade: float = 30.0,
    ) -> None:
        if (
            global_strength <= 0
            or lead_strength <= 0
            or neighbour < 0
            or same_hour < 0
            or fade < 0
        ):
            raise ValueError("strengths must be > 0 and smoothing weights >= 0")
        self.global_strength = global_strength
        self.lead_strength = lead_strength
        self.neighbour = neighbour
        self.same_hour = same_hour
        self.tau_bounds = tau_bounds
        self.refresh = refresh
        self.fade = fade
        self.total = _Counts()
        self.segments: dict[str, _Counts] = {}
        self.leads: dict[str, _Lead] = {}
        self._tau: float | None = None

    # --- learning ---------------------------------------------------------------------------
    def observe(self, lead: LeadRef, how: int, live: bool) -> None:
        """One attempt of ``lead`` at local hour of week ``how``: a live answer or not."""
        _check_how(how)
        state = self.leads.get(lead.id)
        if state is None:
            state = self.leads[lead.id] = _Lead(lead.segment)
        state.segment = lead.segment
        state.expected += self.segment_p(lead.segment, how)  # before this outcome counts
        state.dials += 1
        state.live += live
        seg = self.segments.get(lead.segment)
        if seg is None:
            seg = self.segments[lead.segment] = _Counts()
        for counts in (self.total, seg):
            counts.dials[how] += 1
            counts.live[how] += live
            counts.changes += 1
            counts.n += 1

    # --- estimates --------------------------------------------------------------------------
    def _smoothed(self, counts: _Counts, how: int) -> tuple[float, float]:
        """(live, dials) of hour ``how`` with its neighbours' and same hours' counts added at
        their weights; with ``fade`` > 0 the neighbours' weight shrinks as the hour's own
        attempts grow (times ``fade / (fade + n)``), so a well-sampled hour keeps its shape."""
        day, hour = divmod(how, 24)
        own = counts.dials[how]
        scale = self.fade / (self.fade + own) if self.fade > 0 else 1.0
        live, dials = counts.live[how], own
        w = self.neighbour * scale
        if w:
            for h in ((how - 1) % HOURS, (how + 1) % HOURS):
                live += w * counts.live[h]
                dials += w * counts.dials[h]
        w = self.same_hour  # other days' same hour: a habit, not a blur; it does not fade
        if w:
            for d in range(7):
                if d != day:
                    live += w * counts.live[d * 24 + hour]
                    dials += w * counts.dials[d * 24 + hour]
        return live, dials

    def mean_rate(self) -> float:
        """The overall live rate (0.2 before any attempt: a neutral prior)."""
        n = sum(self.total.dials)
        return (sum(self.total.live) + 0.2 * self.global_strength) / (n + self.global_strength)

    def _global_curve(self) -> list[float]:
        if self.total.stale(self.refresh):
            self._tau = None
            self.total.changes = 0
            m, a0 = self.mean_rate(), self.global_strength
            curve = []
            for h in range(HOURS):
                live, dials = self._smoothed(self.total, h)
                curve.append((live + a0 * m) / (dials + a0))
            self.total.curve = curve
            return curve
        assert self.total.curve is not None
        return self.total.curve

    def tau(self) -> float:
        """The segment prior's strength, by empirical Bayes (method of moments: the spread of
        the segments' hourly live rates around the global curve beyond binomial noise, over
        the bins with 5 or more attempts), within ``tau_bounds``."""
        self._global_curve()  # refreshes tau with the global curve
        if self._tau is None:
            lo, hi = self.tau_bounds
            base = self._global_curve()
            tau, spread, noise, bins = hi, 0.0, 0.0, 0
            for seg in self.segments.values():
                for h in range(HOURS):
                    n = seg.dials[h]
                    if n >= 5:
                        p = base[h]
                        spread += (seg.live[h] / n - p) ** 2
                        noise += p * (1 - p) / n
                        bins += 1
            if bins and len(self.segments) >= 2 and spread > noise:
                m = self.mean_rate()
                tau = m * (1 - m) / ((spread - noise) / bins) - 1.0
            self._tau = min(hi, max(lo, tau))
        return self._tau

    def segment_curve(self, segment: str) -> list[float]:
        """The segment's smoothed, shrunk curve (168 probabilities)."""
        base = self._global_curve()
        seg = self.segments.get(segment)
        if seg is None:
            return base
        if seg.stale(self.refresh):
            seg.changes = 0
            tau = self.tau()
            curve = []
            for h in range(HOURS):
                live, dials = self._smoothed(seg, h)
                curve.append((live + tau * base[h]) / (dials + tau))
            seg.curve = curve
            return curve
        assert seg.curve is not None
        return seg.curve

    def segment_p(self, segment: str, how: int) -> float:
        return self.segment_curve(segment)[_check_how(how)]

    def propensity(self, lead: LeadRef) -> float:
        """The lead's factor over its segment, shrunk toward 1 by its attempt count."""
        state = self.leads.get(lead.id)
        if state is None:
            return 1.0
        c = self.lead_strength
        return (state.live + c) / (state.expected + c)

    def p_live(self, lead: LeadRef, how: int) -> float:
        """P(live answer) of ``lead`` dialled at local hour of week ``how``."""
        return min(0.99, self.propensity(lead) * self.segment_p(lead.segment, how))

    def best_hours(
        self, lead: LeadRef, window: Iterable[int], count: int = 3
    ) -> list[tuple[int, float]]:
        """The ``count`` hours of ``window`` (hours of week) where ``lead`` most likely
        answers, best first, with their probabilities."""
        curve = self.segment_curve(lead.segment)
        f = self.propensity(lead)
        ranked = sorted(
            ((_check_how(h), min(0.99, f * curve[h])) for h in set(window)),
            key=lambda item: (-item[1], item[0]),
        )
        return ranked[:count]

    def explain(self, lead: LeadRef, how: int) -> str:
        """Why ``lead`` has its probability at ``how``, in counts a supervisor can check."""
        seg = self.segments.get(lead.segment, _Counts())
        state = self.leads.get(lead.id, _Lead(lead.segment))
        g = self.total
        return (
            f"lead {lead.id} at {describe_hour(how)}: p_live {self.p_live(lead, how):.2f} = "
            f"segment {lead.segment or '(none)'} {self.segment_p(lead.segment, how):.2f} "
            f"({seg.live[how]:.0f} of {seg.dials[how]:.0f} at this hour, smoothed, "
            f"shrunk with weight {self.tau():.0f} toward all leads' "
            f"{self._global_curve()[how]:.2f}: {g.live[how]:.0f} of {g.dials[how]:.0f}) "
            f"x lead factor {self.propensity(lead):.2f} ({state.live} live of {state.dials} "
            f"attempts, {state.expected:.1f} expected)"
        )

    # --- persistence ------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """Plain JSON-able data (counts only; curves are recomputed)."""
        return {
            "version": JSON_VERSION,
            "settings": {
                "global_strength": self.global_strength,
                "lead_strength": self.lead_strength,
                "neighbour": self.neighbour,
                "same_hour": self.same_hour,
                "tau_bounds": list(self.tau_bounds),
                "refresh": self.refresh,
                "fade": self.fade,
            },
            "total": [self.total.live, self.total.dials],
            "segments": {k: [c.live, c.dials] for k, c in self.segments.items()},
            "leads": {k: [s.segment, s.live, s.dials, s.expected] for k, s in self.leads.items()},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PickupModel:
        """Rebuild a model from :meth:`to_json`; ``ValueError`` for another format."""
        if not isinstance(data, Mapping) or data.get("version") != JSON_VERSION:
            raise ValueError("not a pickup model of a supported version")
        try:
            s = data["settings"]
            model = cls(
                global_strength=float(s["global_strength"]),
                lead_strength=float(s["lead_strength"]),
                neighbour=float(s["neighbour"]),
                same_hour=float(s["same_hour"]),
                tau_bounds=(float(s["tau_bounds"][0]), float(s["tau_bounds"][1])),
            )
            model.total = _counts(data["total"])
            model.segments = {str(k): _counts(v) for k, v in data["segments"].items()}
            model.refresh = float(s.get("refresh", 0.02))
            model.fade = float(s.get("fade", model.fade))
            model.leads = {
                str(k): _Lead(str(v[0]), int(v[1]), int(v[2]), float(v[3]))
                for k, v in data["leads"].items()
            }
        except (KeyError, IndexError, TypeError, AttributeError) as exc:
            raise ValueError(f"malformed pickup model: {exc!r}") from exc
        return model


def _counts(pair: Sequence[Sequence[float]]) -> _Counts:
    live, dials = [float(x) for x in pair[0]], [float(x) for x in pair[1]]
    if len(live) != HOURS or len(dials) != HOURS:
        raise ValueError("a pickup curve must have 168 hours")
    return _Counts(live, dials, n=round(sum(dials)))


def import_history(
    model: PickupModel,
    rows: Iterable[tuple[str, float, str]],
    lead_of: Callable[[str], tuple[LeadRef, str] | None],
) -> tuple[int, int]:
    """Feed past attempts ``(number, epoch time, outcome)`` (a CSV loader's rows) into
    ``model``. ``lead_of(number)`` gives the lead and its time zone, or ``None`` for a number
    not in the campaign (skipped). An outcome in :data:`LIVE_OUTCOMES` is a live answer.
    Returns (rows used, rows skipped)."""
    used = skipped = 0
    for number, at, outcome in rows:
        found = lead_of(number)
        if found is None:
            skipped += 1
            continue
        lead, timezone = found
        model.observe(lead, hour_of_week(at, timezone), outcome.strip().lower() in LIVE_OUTCOMES)
        used += 1
    return used, skipped
