"""Per-party ear timeline (pure): what one simulated party heard and said, to the millisecond.

All times are milliseconds on the emulator's clock (0 = the emulator started). Sources heard:
``say``, ``play`` (and hold audio), ``stream`` (the bot), ``bridge`` (the other party of a
bridge, derived from that party's speech while both are bridged), ``dtmf``. The party's own
speech is kept apart (``speech``). The emulator calls :meth:`PartyTimeline.hear` when audio is
scheduled into the ear, :meth:`PartyTimeline.cut` when it is stopped or cleared, and
:meth:`PartyTimeline.speak` when the party talks. Readers call :meth:`heard_intervals`.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from exotel_sim.audio import Placed

MERGE_GAP_MS = 1.0


@dataclass(frozen=True, slots=True)
class Interval:
    """``source`` (with ``detail``) audible from ``start_ms`` to ``end_ms``."""

    source: str
    detail: str
    start_ms: float
    end_ms: float

    def to_json(self) -> dict[str, object]:
        return {
            "source": self.source,
            "detail": self.detail,
            "start_ms": round(self.start_ms),
            "end_ms": round(self.end_ms),
        }


@dataclass(slots=True)
class _Seg:
    source: str
    detail: str
    start: float
    end: float


@dataclass(slots=True)
class BridgeWindow:
    """This party was in ``bridge_sid`` with ``peer`` from ``start`` to ``end`` (None: still)."""

    bridge_sid: str
    peer: PartyTimeline
    start: float
    end: float | None = None


@dataclass(slots=True)
class PartyTimeline:
    """One party's ear and mouth. ``keep_stream_audio`` says whether bot audio is retained
    (for leg recordings); say/play/speech audio is shared bytes and always kept."""

    name: str = ""
    keep_stream_audio: bool = False
    stream_audio_max_ms: float = 600_000.0  # bot audio older than this is not kept
    heard: list[_Seg] = field(default_factory=list)
    spoke: list[_Seg] = field(default_factory=list)
    ear_audio: list[Placed] = field(default_factory=list)
    ear_audio_sources: list[str] = field(default_factory=list)
    stream_audio: deque[Placed] = field(default_factory=deque)
    mouth_audio: list[Placed] = field(default_factory=list)
    bridges: list[BridgeWindow] = field(default_factory=list)
    version: int = 0

    # -- writers -------------------------------------------------------------------------
    def hear(
        self,
        source: str,
        detail: str,
        start: float,
        end: float,
        pcm: bytes | None = None,
        *,
        merge: bool = False,
    ) -> None:
        """``source`` becomes audible over ``[start, end)``; ``merge`` joins it to the previous
        interval of the same source and detail when they touch (stream chunks)."""
        if end <= start:
            return
        last = self._last(source, detail) if merge else None
        if last is not None and last.start <= start <= last.end + MERGE_GAP_MS:
            last.end = max(last.end, end)
        else:
            self.heard.append(_Seg(source, detail, start, end))
        if pcm is not None and source == "stream":
            if self.keep_stream_audio:
                self.stream_audio.append(Placed(start, end, pcm))
                while self.stream_audio[0].end_ms < end - self.stream_audio_max_ms:
                    self.stream_audio.popleft()  # bounded: the oldest bot audio goes
        elif pcm is not None:
            self.ear_audio.append(Placed(start, end, pcm))
            self.ear_audio_sources.append(source)
        self.version += 1

    def cut(self, source: str, at: float, detail: str | None = None) -> bool:
        """Stop ``source`` at ``at``: later intervals vanish, a playing one ends at ``at``.
        Returns whether anything audible was cut."""
        changed = False
        kept: list[_Seg] = []
        for seg in self.heard:
            if seg.source != source or (detail is not None and seg.detail != detail):
                kept.append(seg)
            elif seg.start >= at:
                changed = True
            else:
                if seg.end > at:
                    seg.end = at
                    changed = True
                kept.append(seg)
        self.heard = kept
        if source == "stream":
            self.stream_audio = deque(
                Placed(p.start_ms, min(p.end_ms, at), p.pcm) for p in self.stream_audio
                if p.start_ms < at
            )
        audio: list[Placed] = []
        sources: list[str] = []
        for piece, src in zip(self.ear_audio, self.ear_audio_sources, strict=True):
            if src == source and piece.start_ms >= at:
                continue
            if src == source and piece.end_ms > at:
                piece = Placed(piece.start_ms, at, piece.pcm)
            audio.append(piece)
            sources.append(src)
        self.ear_audio, self.ear_audio_sources = audio, sources
        if changed:
            self.version += 1
        return changed

    def speak(self, detail: str, start: float, pcm: bytes) -> float:
        """The party says ``pcm`` (8 kHz PCM16) from ``start`` (or when its current utterance
        ends, if later); returns the end time."""
        start = max(start, self.speaking_until())
        end = start + len(pcm) / 16
        self.spoke.append(_Seg("speech", detail, start, end))
        self.mouth_audio.append(Placed(start, end, pcm))
        self.version += 1
        if self.bridges and self.bridges[-1].end is None:
            self.bridges[-1].peer.version += 1
        return end

    def hush(self, at: float) -> None:
        """The party stops talking at ``at`` (hung up): cut its speech there."""
        self.spoke = [s for s in self.spoke if s.start < at]
        for seg in self.spoke:
            seg.end = min(seg.end, at)
        self.mouth_audio = [
            Placed(p.start_ms, min(p.end_ms, at), p.pcm) for p in self.mouth_audio
            if p.start_ms < at
        ]

    def join_bridge(self, bridge_sid: str, peer: PartyTimeline, at: float) -> None:
        self.bridges.append(BridgeWindow(bridge_sid, peer, at))
        self.version += 1

    def leave_bridge(self, bridge_sid: str, at: float) -> None:
        for window in self.bridges:
            if window.bridge_sid == bridge_sid and window.end is None:
                window.end = at
        self.version += 1

    # -- readers -------------------------------------------------------------------------
    def speaking_until(self) -> float:
        return self.spoke[-1].end if self.spoke else 0.0

    def _last(self, source: str, detail: str) -> _Seg | None:
        for seg in reversed(self.heard[-8:]):
            if seg.source == source and seg.detail == detail:
                return seg
        return None

    def bridge_intervals(self) -> list[Interval]:
        """The other party's speech while bridged, as heard here."""
        out: list[Interval] = []
        for window in self.bridges:
            end = window.end if window.end is not None else float("inf")
            for seg in window.peer.spoke:
                lo, hi = max(seg.start, window.start), min(seg.end, end)
                if hi > lo:
                    out.append(Interval("bridge", f"{window.peer.name}:{seg.detail}", lo, hi))
        return out

    def heard_intervals(self) -> list[Interval]:
        """Everything audible to this party, sorted by start."""
        items = [Interval(s.source, s.detail, s.start, s.end) for s in self.heard]
        items.extend(self.bridge_intervals())
        items.sort(key=lambda i: (i.start_ms, i.end_ms))
        return items

    def speech_intervals(self) -> list[Interval]:
        return [Interval("speech", s.detail, s.start, s.end) for s in self.spoke]

    def last_heard_end(self, since: float = 0.0) -> float | None:
        """The end of the latest audio that started at or after ``since`` (None: nothing)."""
        ends = [s.end for s in self.heard if s.end > since]
        ends.extend(i.end_ms for i in self.bridge_intervals() if i.end_ms > since)
        return max(ends) if ends else None

    def run_start(self, t: float, sources: frozenset[str]) -> float | None:
        """When the unbroken run of ``sources`` audible at ``t`` began (None: none audible)."""
        items = sorted(
            (i for i in self.heard_intervals() if i.source in sources and i.start_ms <= t),
            key=lambda i: i.start_ms,
        )
        start: float | None = None
        end = -1.0
        for item in items:
            if start is None or item.start_ms > end + MERGE_GAP_MS:
                start = item.start_ms
                end = item.end_ms
            else:
                end = max(end, item.end_ms)
        return start if start is not None and end > t else None

    def speech_pieces(self) -> list[Placed]:
        return list(self.mouth_audio)

    def ear_pieces(self) -> list[Placed]:
        """Audio in this party's ear (say/play/dtmf, stream when kept, bridge speech)."""
        pieces = list(self.ear_audio) + list(self.stream_audio)
        for window in self.bridges:
            end = window.end if window.end is not None else float("inf")
            for piece in window.peer.mouth_audio:
                lo, hi = max(piece.start_ms, window.start), min(piece.end_ms, end)
                if hi > lo:
                    pieces.append(Placed(piece.start_ms, hi, piece.pcm) if lo == piece.start_ms
                                  else _shift(piece, lo, hi))
        return pieces

    def to_json(self) -> dict[str, object]:
        return {
            "heard": [i.to_json() for i in self.heard_intervals()],
            "speech": [i.to_json() for i in self.speech_intervals()],
            "bridges": [
                {"bridge_sid": w.bridge_sid, "peer": w.peer.name, "start_ms": round(w.start),
                 "end_ms": None if w.end is None else round(w.end)}
                for w in self.bridges
            ],
        }


def silences(heard: list[Interval], spoke: list[Interval], start: float, end: float,
             min_ms: float = 0.0) -> list[tuple[float, float]]:
    """Gaps in ``[start, end)`` when the party heard nothing and was not talking itself (dead
    air), at least ``min_ms`` long."""
    busy = sorted((i.start_ms, i.end_ms) for i in heard + spoke if i.end_ms > start)
    gaps: list[tuple[float, float]] = []
    cursor = start
    for lo, hi in busy:
        if lo >= end:
            break
        if lo - cursor >= min_ms and lo > cursor:
            gaps.append((cursor, lo))
        cursor = max(cursor, hi)
    if end - cursor >= min_ms and end > cursor:
        gaps.append((cursor, end))
    return gaps


def cross_overlaps(heard: list[Interval]) -> list[tuple[Interval, Interval]]:
    """Pairs of heard intervals from different sources that play at the same time (e.g. the
    greeting over the bot)."""
    items = sorted(heard, key=lambda i: i.start_ms)
    out: list[tuple[Interval, Interval]] = []
    for n, a in enumerate(items):
        for b in items[n + 1:]:
            if b.start_ms >= a.end_ms:
                break
            if a.source != b.source:
                out.append((a, b))
    return out


def _shift(piece: Placed, lo: float, hi: float) -> Placed:
    """The part of ``piece`` audible from ``lo`` to ``hi`` as its own piece."""
    skip = round((lo - piece.start_ms) * 8) * 2
    return Placed(lo, hi, piece.pcm[skip:])


def overlaps(a: list[Interval], b: list[Interval]) -> list[tuple[Interval, Interval]]:
    """Pairs of intervals from ``a`` and ``b`` that overlap in time (for tests and reports)."""
    return [
        (x, y) for x in a for y in b if min(x.end_ms, y.end_ms) > max(x.start_ms, y.start_ms)
    ]
