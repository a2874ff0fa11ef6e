"""Playout tracking: what the customer has heard of the bot's audio, and where ``clear`` cuts.

Sans-I/O. The session tells a :class:`Playout` about audio queued for an utterance
(:meth:`queue`), each chunk as it goes out (:meth:`sent`), the end of an utterance and its mark
(:meth:`end_utterance`), inbound mark echoes (:meth:`on_mark`) and ``clear``
(:meth:`clear`). Offsets are bytes of wire audio since the stream started; times are the
driver's monotonic clock in seconds.

Exotel plays audio in real time, in order, and echoes a ``mark`` once everything before it
has played; ``clear`` drops what has not started and lets the playing chunk finish
(docs/exotel.md section 1). So the model is a play-out schedule: each chunk starts when it was
sent or when the previous one ends, whichever is later, and lasts its duration; mark echoes
re-anchor the schedule to what Exotel reports. The cut of a ``clear`` is the end of the
chunk playing at that moment, a whole-chunk position.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from bot_adapters.contract import PlayedPosition
from gateway.media_format import MediaFormat


@dataclass(slots=True)
class _Utterance:
    label: str | None
    start: int
    end: int
    closed: bool = False


@dataclass(slots=True)
class _Chunk:
    start: int
    end: int
    t_start: float
    t_end: float


class Playout:
    """The bot audio timeline of one stream (see the module docstring)."""

    def __init__(self, fmt: MediaFormat) -> None:
        self._bps = float(fmt.bytes_per_second)
        self._fmt = fmt
        self.queued = 0  # bytes queued (sent + held by the chunker), padding included
        self.sent_bytes = 0  # bytes sent to Exotel
        self.heard_bytes = 0  # bytes confirmed played by mark echoes
        self._utts: deque[_Utterance] = deque()
        self._chunks: deque[_Chunk] = deque()
        # (wire name, offset, label) of marks awaiting their echo
        self._marks: deque[tuple[str, int, str | None]] = deque()
        self._tail = 0.0  # estimated time the last sent chunk finishes

    @property
    def heard_ms(self) -> int:
        """Milliseconds of bot audio the customer has heard, per mark echoes."""
        return int(self.heard_bytes * 1000 // self._bps)

    @property
    def pending_marks(self) -> tuple[str, ...]:
        return tuple(name for name, _, _ in self._marks)

    def queue(self, nbytes: int) -> None:
        """``nbytes`` of wire audio joined the open utterance (one is opened if needed)."""
        utts = self._utts
        if not utts or utts[-1].closed:
            utts.append(_Utterance(None, self.queued, self.queued))
        self.queued += nbytes
        utts[-1].end = self.queued

    def sent(self, nbytes: int, now: float) -> None:
        """A chunk of ``nbytes`` went out at ``now``."""
        start = self.sent_bytes
        t_start = now if now > self._tail else self._tail
        t_end = t_start + nbytes / self._bps
        self._tail = t_end
        self.sent_bytes = start + nbytes
        self._chunks.append(_Chunk(start, self.sent_bytes, t_start, t_end))

    def end_utterance(self, label: str | None, mark: str | None = None) -> None:
        """Close the open utterance. With ``mark`` (the wire name, by default ``label``) a mark
        follows it and is awaited; ``label`` is what the adapter hears about."""
        utts = self._utts
        if not utts or utts[-1].closed:
            utts.append(_Utterance(label, self.queued, self.queued))
        utt = utts[-1]
        utt.label = label
        utt.closed = True
        name = label if mark is None else mark
        if name is not None:
            self._marks.append((name, self.queued, label))

    def backlog_bytes(self, now: float) -> int:
        """Bytes queued that have not (by the schedule) finished playing."""
        self._trim(now)
        chunks = self._chunks
        played = chunks[0].start if chunks else self.sent_bytes
        return self.queued - played

    def is_playing(self, now: float) -> bool:
        """Is bot audio playing or queued at ``now`` (barge-in makes sense)?"""
        return self.backlog_bytes(now) > 0

    def on_mark(self, name: str, now: float) -> list[str] | None:
        """A mark echo arrived: returns the labels now fully heard (in order; empty for the
        session's own marks), ``None`` if ``name`` matches no pending mark (stale, e.g. after
        ``clear``)."""
        marks = self._marks
        names = [pending for pending, _, _ in marks]
        if name not in names:
            return None
        index = names.index(name)
        done: list[str] = []
        offset = 0
        for _ in range(index + 1):
            _, offset, label = marks.popleft()
            if label is not None:
                done.append(label)
        self.heard_bytes = max(self.heard_bytes, offset)
        chunks = self._chunks
        while chunks and chunks[0].end <= offset:
            chunks.popleft()
        if chunks and chunks[0].t_start < now:
            # Playback is behind the schedule: shift what is left to start now.
            shift = now - chunks[0].t_start
            for chunk in chunks:
                chunk.t_start += shift
                chunk.t_end += shift
            self._tail += shift
        return done

    def echoes_due(self, now: float) -> list[tuple[str, float]]:
        """The pending marks whose audio the schedule has finished playing by ``now``, in
        order, each with the time it finished (``now`` once that is no longer known): the
        echoes an Exotel with no network delay would send. The gateway waits for Exotel's
        own; a fake Exotel (``bot_adapters.testing.FakeCall``) feeds these to :meth:`on_mark`
        with their times, so the schedule needs no re-anchoring."""
        due: list[tuple[str, float]] = []
        chunks = self._chunks
        i, count = 0, len(chunks)
        finished = now
        for name, offset, _ in self._marks:
            if offset > self.sent_bytes:
                break  # its audio is still held back
            while i < count and chunks[i].end <= offset:
                if chunks[i].t_end > now:
                    return due
                finished = chunks[i].t_end
                i += 1
            if i < count and chunks[i].start < offset:
                break  # inside a chunk still playing
            due.append((name, finished))
        return due

    def clear(self, held_bytes: int, now: float) -> tuple[PlayedPosition, list[str]]:
        """``clear`` at ``now`` with ``held_bytes`` dropped from the chunker. Returns the
        position heard at the cut and the labels whose marks lie before the cut (they count
        as heard once the playing chunk finishes; Exotel will not echo them)."""
        self._trim(now)
        chunks = self._chunks
        playing = bool(chunks) and chunks[0].t_start <= now
        if playing:
            cut = chunks[0].end
            self._tail = chunks[0].t_end
            while len(chunks) > 1:
                chunks.pop()
        else:
            cut = chunks[0].start if chunks else self.sent_bytes
            chunks.clear()
            self._tail = now
        assert self.queued - held_bytes == self.sent_bytes
        label: str | None = None
        heard = total = 0
        dropped: list[str] = []
        for utt in self._utts:
            if utt.end <= cut and not (playing and utt.end == cut and utt.start < cut):
                continue
            if utt.start < cut:
                label = utt.label
                heard, total = cut - utt.start, utt.end - utt.start
            elif utt.label is not None:
                dropped.append(utt.label)
        finished = [
            label for _, offset, label in self._marks if offset <= cut and label is not None
        ]
        self._marks.clear()
        self._utts.clear()
        self.sent_bytes = self.queued = cut
        position = PlayedPosition(
            label=label,
            heard_ms=int(heard * 1000 // self._bps),
            total_ms=int(total * 1000 // self._bps),
            dropped_labels=tuple(dropped),
        )
        return position, finished

    def _trim(self, now: float) -> None:
        """Forget chunks (and closed utterances) the schedule says have finished playing."""
        chunks = self._chunks
        while chunks and chunks[0].t_end <= now:
            chunks.popleft()
        played = chunks[0].start if chunks else self.sent_bytes
        utts = self._utts
        while utts and utts[0].closed and utts[0].end <= played:
            utts.popleft()
