"""Estimators over recent observations, for the predictive and bot-first pacers.

Each keeps the last ``size`` samples (bounded) and answers conditional questions of the form
"given this has lasted ``e`` seconds so far, how likely is it to end (a certain way) within the
next ``h`` seconds?", from the empirical distribution of recent samples. Sorted copies are
rebuilt lazily, at most once every ``refresh`` new samples, so asking once a second is cheap.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["DurationWindow", "OutcomeWindow", "UnforecastWindow"]


def _sample(value: Any, *, negative: bool = False) -> float:
    """A stored sample as a float; refuses what no observation could have produced."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise ValueError(f"a stored sample must be a number, got {value!r}")
    if (not negative and value < 0) or math.isinf(value):
        raise ValueError(f"a stored sample must be finite and not negative, got {value!r}")
    return float(value)


def _count_in(sorted_values: Sequence[float], lo: float, hi: float) -> int:
    """How many values v satisfy lo < v <= hi."""
    return bisect_right(sorted_values, hi) - bisect_right(sorted_values, lo)


def _quantile(sorted_values: Sequence[float], q: float) -> float:
    index = min(len(sorted_values) - 1, max(0, math.ceil(q * len(sorted_values)) - 1))
    return sorted_values[index]


class _Lazy:
    """Counts samples added since the sorted views were last rebuilt."""

    __slots__ = ("_pending", "_refresh")

    def __init__(self, refresh: int) -> None:
        self._refresh = max(1, refresh)
        self._pending = 0

    def added(self) -> None:
        self._pending += 1

    def due(self, count: int) -> bool:
        """Rebuild when enough new samples arrived, or always while the window is small."""
        if self._pending == 0:
            return False
        return self._pending >= self._refresh or count < 4 * self._refresh

    def done(self) -> None:
        self._pending = 0


class DurationWindow:
    """Recent durations (talk, wrap-up, bot conversation ...)."""

    def __init__(self, size: int = 400, refresh: int = 20) -> None:
        if size < 1:
            raise ValueError("size must be >= 1")
        self._values: deque[float] = deque(maxlen=size)
        self._sorted: list[float] = []
        self._sum = 0.0
        self._lazy = _Lazy(refresh)
        self._revision = 0

    def add(self, duration: float) -> None:
        if len(self._values) == self._values.maxlen:
            self._sum -= self._values[0]
        self._values.append(duration)
        self._sum += duration
        self._lazy.added()

    def __len__(self) -> int:
        return len(self._values)

    def samples(self) -> list[float]:
        """The samples held, oldest first (for a warm-start snapshot)."""
        return list(self._values)

    def load(self, samples: Iterable[float]) -> None:
        """Add stored samples (oldest first), as if observed; the newest ``size`` are kept."""
        for value in samples:
            self.add(_sample(value))

    def _view(self) -> list[float]:
        if self._lazy.due(len(self._values)):
            self._sorted = sorted(self._values)
            self._lazy.done()
            self._revision += 1
        return self._sorted

    @property
    def revision(self) -> int:
        """Changes whenever the answers below may change (the sorted view was rebuilt)."""
        self._view()
        return self._revision

    def mean(self, default: float) -> float:
        """The mean, or ``default`` with no samples."""
        return self._sum / len(self._values) if self._values else default

    def quantile(self, q: float, default: float) -> float:
        view = self._view()
        return _quantile(view, q) if view else default

    def cdf(self, t: float) -> float:
        """P(duration <= t); 0.0 with no samples."""
        view = self._view()
        return bisect_right(view, t) / len(view) if view else 0.0

    def ends_within(self, elapsed: float, horizon: float, default_mean: float) -> float:
        """P(duration <= elapsed + horizon | duration > elapsed).

        Past every recent sample (or with none), assume a memoryless tail with the window's
        mean (or ``default_mean``)."""
        if horizon <= 0:
            return 0.0
        view = self._view()
        above = len(view) - bisect_right(view, elapsed)
        if above == 0:
            return 1.0 - math.exp(-horizon / max(1e-9, self.mean(default_mean)))
        return _count_in(view, elapsed, elapsed + horizon) / above


class OutcomeWindow:
    """Recent (duration, hit) pairs: ring time and whether it was a live answer, or bot time and
    whether it escalated. Answers "how likely to end *with a hit* within h, given e so far"."""

    def __init__(self, size: int = 600, refresh: int = 25) -> None:
        if size < 1:
            raise ValueError("size must be >= 1")
        self._samples: deque[tuple[float, bool]] = deque(maxlen=size)
        self._all: list[float] = []
        self._hits: list[float] = []
        self._n_hits = 0
        self._lazy = _Lazy(refresh)

    def add(self, duration: float, hit: bool) -> None:
        if len(self._samples) == self._samples.maxlen and self._samples[0][1]:
            self._n_hits -= 1
        self._samples.append((duration, hit))
        self._n_hits += hit
        self._lazy.added()

    def __len__(self) -> int:
        return len(self._samples)

    def samples(self) -> list[tuple[float, bool]]:
        """The ``(duration, hit)`` samples held, oldest first (for a warm-start snapshot)."""
        return list(self._samples)

    def load(self, samples: Iterable[Sequence[Any]]) -> None:
        """Add stored ``(duration, hit)`` samples, as if observed."""
        for duration, hit in samples:
            if not isinstance(hit, bool):
                raise ValueError(f"a stored outcome must be true or false, got {hit!r}")
            self.add(_sample(duration, negative=True), hit)

    def _views(self) -> tuple[list[float], list[float]]:
        if self._lazy.due(len(self._samples)):
            self._all = sorted(d for d, _ in self._samples)
            self._hits = sorted(d for d, hit in self._samples if hit)
            self._lazy.done()
        return self._all, self._hits

    def hit_rate(self, default: float) -> float:
        """Fraction of samples that were hits, or ``default`` with no samples."""
        return self._n_hits / len(self._samples) if self._samples else default

    def hit_rate_upper(self, z: float = 1.64) -> float:
        """A one-sided upper confidence bound (Wilson) on the hit rate; 1.0 with no samples.

        Use it where overestimating is the safe side: a pacer that believes too low an
        answer rate from a few early dials floods its agents."""
        n = len(self._samples)
        if n == 0:
            return 1.0
        p = self._n_hits / n
        centre = p + z * z / (2 * n)
        margin = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
        return min(1.0, (centre + margin) / (1 + z * z / n))

    def hit_quantile(self, q: float, default: float) -> float:
        """Quantile of the durations of hits (e.g. the ring time of live answers)."""
        hits = self._views()[1]
        return _quantile(hits, q) if hits else default

    def hit_cdf(self, t: float) -> float:
        """P(duration <= t | hit); 0.0 with no hits."""
        hits = self._views()[1]
        return bisect_right(hits, t) / len(hits) if hits else 0.0

    def hit_within(self, elapsed: float, horizon: float) -> float:
        """P(ends with a hit in (elapsed, elapsed + horizon] | still going at ``elapsed``)."""
        if horizon <= 0:
            return 0.0
        all_, hits = self._views()
        above = len(all_) - bisect_right(all_, elapsed)
        if above == 0:
            return 0.0
        return _count_in(hits, elapsed, elapsed + horizon) / above

    def still_going(self, elapsed: float) -> float:
        """P(duration > elapsed); 1.0 with no samples."""
        all_ = self._views()[0]
        if not all_:
            return 1.0
        return (len(all_) - bisect_left(all_, elapsed + 1e-12)) / len(all_)


class UnforecastWindow:
    """Recent bot conversations seen from the pool of calls *without* a transfer forecast.

    Each call left that pool at ``left_s`` (bot time of its forecast, or its end if it had none)
    and escalated at ``escalated_s`` (``None``: never). :meth:`escalates_within` answers "a call
    still unforecast after ``e`` s: how likely is it to escalate within the next ``h`` s", with
    or without a forecast first. Answers for one ``h`` are tabulated per whole second of ``e``
    (a difference array, O(samples + seconds)) when first asked after the window changed."""

    def __init__(self, size: int = 600, refresh: int = 25) -> None:
        if size < 1:
            raise ValueError("size must be >= 1")
        self._samples: deque[tuple[float, float | None]] = deque(maxlen=size)
        self._lazy = _Lazy(refresh)
        self._left: list[float] = []
        self._tables: dict[int, list[float]] = {}

    def add(self, left_s: float, escalated_s: float | None) -> None:
        if escalated_s is not None and escalated_s < left_s:
            raise ValueError("a call escalates no earlier than it leaves the unforecast pool")
        self._samples.append((left_s, escalated_s))
        self._lazy.added()

    def __len__(self) -> int:
        return len(self._samples)

    def samples(self) -> list[tuple[float, float | None]]:
        """The ``(left_s, escalated_s)`` samples held, oldest first."""
        return list(self._samples)

    def load(self, samples: Iterable[Sequence[Any]]) -> None:
        """Add stored ``(left_s, escalated_s or None)`` samples, as if observed."""
        for left, escalated in samples:
            self.add(_sample(left), None if escalated is None else _sample(escalated))

    def _refresh(self) -> None:
        if self._lazy.due(len(self._samples)):
            self._left = sorted(left for left, _ in self._samples)
            self._tables = {}
            self._lazy.done()

    def _table(self, h: int) -> list[float]:
        table = self._tables.get(h)
        if table is not None:
            return table
        top = math.ceil(self._left[-1]) + 1 if self._left else 1
        diff = [0] * (top + 1)
        # a call that left at x and escalated at y counts for every whole e with
        # e < x (still in the pool) and y <= e + h (escalates within the horizon)
        for left, escalated in self._samples:
            if escalated is None:
                continue
            lo = max(0, math.ceil(escalated - h))
            hi = math.ceil(left) - 1
            if lo <= hi:
                diff[lo] += 1
                diff[min(hi, top - 1) + 1] -= 1
        table = []
        running = 0
        for e in range(top):
            running += diff[e]
            above = len(self._left) - bisect_right(self._left, e)
            table.append(running / above if above else 0.0)
        self._tables[h] = table
        return table

    def escalates_within(self, elapsed: float, horizon: float) -> float:
        """P(escalates by ``elapsed + horizon`` | no forecast and no end by ``elapsed``);
        0.0 past every recent sample or with none."""
        self._refresh()
        if horizon <= 0 or not self._left:
            return 0.0
        table = self._table(round(horizon))
        e = int(elapsed)
        return table[e] if e < len(table) else 0.0
