"""Counters for ``GET /sim/stats`` (pure): media pace (lag of each sent chunk behind its real-time
schedule) and protocol problems. Bounded: lag percentiles use the most recent samples only."""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field

RECENT = 50_000


@dataclass(slots=True)
class LagStats:
    """How late media chunks went out compared with their real-time schedule."""

    count: int = 0
    late: int = 0  # chunks sent more than one chunk period late
    max_ms: float = 0.0
    total_ms: float = 0.0
    recent: deque[float] = field(default_factory=lambda: deque(maxlen=RECENT))

    def record(self, lag_ms: float, chunk_ms: float) -> None:
        lag_ms = max(0.0, lag_ms)
        self.count += 1
        self.total_ms += lag_ms
        self.max_ms = max(self.max_ms, lag_ms)
        if lag_ms > chunk_ms:
            self.late += 1
        self.recent.append(lag_ms)

    def percentile(self, q: float) -> float:
        if not self.recent:
            return 0.0
        ordered = sorted(self.recent)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def reset(self) -> None:
        self.count = self.late = 0
        self.max_ms = self.total_ms = 0.0
        self.recent.clear()

    def to_json(self) -> dict[str, float | int]:
        return {
            "chunks": self.count,
            "late_chunks": self.late,
            "mean_ms": round(self.total_ms / self.count, 3) if self.count else 0.0,
            "p50_ms": round(self.percentile(0.5), 3),
            "p99_ms": round(self.percentile(0.99), 3),
            "max_ms": round(self.max_ms, 3),
        }


@dataclass(slots=True)
class SimStats:
    """Everything ``/sim/stats`` reports besides live counts."""

    lag: LagStats = field(default_factory=LagStats)
    counters: Counter[str] = field(default_factory=Counter)

    def count(self, name: str, n: int = 1) -> None:
        self.counters[name] += n
