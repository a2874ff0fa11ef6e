"""Playout tracking: marks, what was heard, and the cut position of a clear."""

from __future__ import annotations

import pytest

from bot_adapters.contract import PlayedPosition
from gateway.media_format import MediaFormat
from gateway.playout import Playout

FMT = MediaFormat("pcm16", 8000)  # 16 bytes per ms
CHUNK = 3200  # 200 ms


def queue_utterance(p: Playout, label: str | None, chunks: int, now: float) -> None:
    for _ in range(chunks):
        p.queue(CHUNK)
        p.sent(CHUNK, now)
    p.end_utterance(label)


def test_mark_echo_reports_heard_labels_in_order() -> None:
    p = Playout(FMT)
    queue_utterance(p, "a", 2, 0.0)
    queue_utterance(p, "b", 1, 0.0)
    assert p.pending_marks == ("a", "b")
    assert p.on_mark("zzz", 0.5) is None
    assert p.on_mark("b", 0.6) == ["a", "b"]  # a mark implies every earlier one
    assert p.heard_bytes == 3 * CHUNK and p.heard_ms == 600
    assert p.pending_marks == ()


def test_clear_mid_utterance_cuts_after_the_playing_chunk() -> None:
    p = Playout(FMT)
    queue_utterance(p, "greeting", 5, 0.0)  # 1 s of audio sent at t=0
    queue_utterance(p, "next", 2, 0.0)
    position, finished = p.clear(held_bytes=0, now=0.45)  # third chunk (0.4-0.6 s) playing
    assert position == PlayedPosition("greeting", 600, 1000, ("next",))
    assert finished == []
    assert p.sent_bytes == p.queued == 3 * CHUNK
    assert not p.is_playing(0.61)


def test_clear_after_a_mark_reports_its_label_finished() -> None:
    p = Playout(FMT)
    queue_utterance(p, "one", 1, 0.0)
    queue_utterance(p, "two", 3, 0.0)
    position, finished = p.clear(held_bytes=0, now=0.1)  # "one" playing, will finish
    assert finished == ["one"]
    assert position.label == "one" and position.heard_ms == position.total_ms == 200
    assert position.dropped_labels == ("two",)


def test_schedule_follows_send_times_and_marks_reanchor() -> None:
    p = Playout(FMT)
    queue_utterance(p, "a", 1, 0.0)  # plays 0.0-0.2
    assert p.is_playing(0.1) and not p.is_playing(0.5)
    queue_utterance(p, "b", 1, 1.0)  # sent late: plays 1.0-1.2
    assert p.is_playing(1.1) and p.backlog_bytes(1.1) == CHUNK
    # Exotel says "a" finished only at 1.1: "b" now plays 1.1-1.3.
    assert p.on_mark("a", 1.1) == ["a"]
    position, _ = p.clear(0, 1.25)
    assert position.label == "b" and position.heard_ms == 200


def test_clear_with_nothing_playing_and_held_audio() -> None:
    p = Playout(FMT)
    p.queue(1000)  # held by the chunker, never sent
    position, finished = p.clear(held_bytes=1000, now=5.0)
    assert position == PlayedPosition(None, 0, 0, ())
    assert finished == [] and p.queued == p.sent_bytes == 0
    queue_utterance(p, "after", 1, 6.0)
    assert p.pending_marks == ("after",)


def test_clear_between_sends_in_a_gap_reports_cut_inside_utterance() -> None:
    p = Playout(FMT)
    p.queue(CHUNK)
    p.sent(CHUNK, 0.0)  # plays 0.0-0.2
    p.queue(CHUNK)
    p.sent(CHUNK, 0.5)  # plays 0.5-0.7
    p.end_utterance("u")
    position, _ = p.clear(0, 0.3)  # gap: nothing playing, second chunk not started
    assert position == PlayedPosition("u", 200, 400, ())


def test_trimming_forgets_played_audio() -> None:
    p = Playout(FMT)
    for second in range(100):
        p.queue(CHUNK)
        p.sent(CHUNK, second * 0.2)
    assert p.backlog_bytes(100.0) == 0
    assert len(p._chunks) == 0


def test_bare_mark_right_after_the_playing_chunk_counts_as_heard() -> None:
    p = Playout(FMT)
    queue_utterance(p, "a", 1, 0.0)
    p.end_utterance("m")  # a bare mark after "a"
    queue_utterance(p, "b", 2, 0.0)
    position, finished = p.clear(0, 0.1)
    assert position == PlayedPosition("a", 200, 200, ("b",))
    assert finished == ["a", "m"]


def test_own_marks_anchor_but_report_no_label() -> None:
    p = Playout(FMT)
    p.queue(CHUNK)
    p.sent(CHUNK, 0.0)
    p.end_utterance(None, "vx:1")
    queue_utterance(p, "x", 1, 0.0)
    assert p.pending_marks == ("vx:1", "x")
    assert p.on_mark("vx:1", 0.3) == []
    assert p.heard_ms == 200
    position, finished = p.clear(0, 0.35)  # "x" re-anchored to start at 0.3
    assert position.label == "x" and finished == ["x"]


def test_echoes_due_are_the_marks_played_out_with_their_times() -> None:
    p = Playout(FMT)
    queue_utterance(p, "a", 2, 0.0)  # 0.0-0.4 s
    queue_utterance(p, "b", 1, 0.0)  # 0.4-0.6 s
    p.queue(CHUNK)  # held back (not sent): its mark is not due however late
    p.end_utterance("c")
    assert p.echoes_due(0.3) == []
    assert p.echoes_due(0.5) == [("a", 0.4)]
    assert p.echoes_due(9.0) == [("a", 0.4), ("b", pytest.approx(0.6))]
    name, at = p.echoes_due(0.5)[0]
    assert p.on_mark(name, at) == ["a"]
    p.sent(CHUNK, 0.5)  # plays 0.6-0.8 s, after b: no re-anchoring moved it
    assert p.is_playing(0.79) and not p.is_playing(0.81)


def test_a_bare_mark_with_nothing_playing_is_due_at_once() -> None:
    p = Playout(FMT)
    queue_utterance(p, "a", 1, 0.0)
    assert not p.is_playing(1.0)  # its chunk is forgotten
    p.end_utterance("late")
    assert p.echoes_due(1.0) == [("a", 1.0), ("late", 1.0)]
