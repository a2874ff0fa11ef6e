"""exotel_sim.timeline and audio: intervals heard and said, cuts, bridges, mixing."""

from __future__ import annotations

import io
import wave

import numpy as np

from exotel_sim.audio import Placed, decode_wav, from_wire, mix, to_wire, wav_bytes
from exotel_sim.timeline import Interval, PartyTimeline, cross_overlaps, overlaps, silences


def tone(ms: int, value: int = 1000) -> bytes:
    return np.full(ms * 8, value, dtype="<i2").tobytes()


def test_stream_chunks_merge_and_clear_cuts_the_future() -> None:
    t = PartyTimeline("c")
    for start in (100, 200, 300):
        t.hear("stream", "MZ", start, start + 100, merge=True)
    assert [(i.start_ms, i.end_ms) for i in t.heard_intervals()] == [(100, 400)]
    t.cut("stream", 250)
    assert [(i.start_ms, i.end_ms) for i in t.heard_intervals()] == [(100, 250)]


def test_cut_only_touches_its_source() -> None:
    t = PartyTimeline("c")
    t.hear("say", "greeting", 0, 3000, tone(3000))
    t.hear("stream", "MZ", 1000, 1500)
    assert t.cut("say", 1200)
    heard = {i.source: (i.start_ms, i.end_ms) for i in t.heard_intervals()}
    assert heard == {"say": (0, 1200), "stream": (1000, 1500)}
    assert not t.cut("play", 0)
    assert len(overlaps([i for i in t.heard_intervals() if i.source == "say"],
                        [i for i in t.heard_intervals() if i.source == "stream"])) == 1


def test_speech_queues_and_bridge_makes_it_audible_to_the_peer() -> None:
    a, b = PartyTimeline("A"), PartyTimeline("B")
    end = a.speak("cust_hello", 0, tone(1000))
    assert end == 1000
    assert a.speak("cust_yes", 500, tone(500)) == 1500  # waits for its own utterance
    a.join_bridge("BR", b, 800)
    b.join_bridge("BR", a, 800)
    a.leave_bridge("BR", 1200)
    b.leave_bridge("BR", 1200)
    heard = [(i.detail, i.start_ms, i.end_ms) for i in b.heard_intervals()]
    assert heard == [("A:cust_hello", 800, 1000), ("A:cust_yes", 1000, 1200)]
    assert a.heard_intervals() == []
    assert b.last_heard_end() == 1200


def test_run_start_finds_an_unbroken_run() -> None:
    t = PartyTimeline()
    t.hear("play", "hold", 0, 1000)
    t.hear("say", "msg", 1000, 2000)
    assert t.run_start(1500, frozenset({"say", "play"})) == 0
    assert t.run_start(2500, frozenset({"say", "play"})) is None


def test_mix_places_pieces_in_time() -> None:
    pcm = mix([Placed(100, 200, tone(100, 1000)), Placed(150, 250, tone(100, 2000))], 0, 300)
    samples = np.frombuffer(pcm, dtype="<i2")
    assert len(samples) == 2400
    assert samples[799] == 0 and samples[800] == 1000
    assert samples[1200] == 3000 and samples[1700] == 2000 and samples[2000] == 0


def test_wire_round_trips_and_wav() -> None:
    pcm = tone(100, 4000)
    assert abs(int(np.frombuffer(from_wire(to_wire(pcm, "mulaw", 8000), "mulaw", 8000),
                                 dtype="<i2")[40]) - 4000) < 200
    wide = to_wire(pcm, "pcm16", 16000)
    assert len(wide) == 2 * len(pcm)
    assert len(from_wire(wide, "pcm16", 16000)) == len(pcm)
    wav = wav_bytes(pcm)
    with wave.open(io.BytesIO(wav)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getnframes()) == (8000, 1, 800)
    assert decode_wav(wav) == pcm


def test_silences_are_the_gaps_in_what_was_heard_or_said() -> None:
    heard = [Interval("say", "greeting", 100, 900), Interval("stream", "MZ", 1500, 2500)]
    spoke = [Interval("speech", "cust_yes", 2600, 3000)]
    assert silences(heard, spoke, 0, 4000) == [(0, 100), (900, 1500), (2500, 2600),
                                               (3000, 4000)]
    assert silences(heard, spoke, 0, 4000, min_ms=500) == [(900, 1500), (3000, 4000)]


def test_cross_overlaps_ignore_one_source() -> None:
    greeting = Interval("say", "greeting", 0, 1000)
    bot = Interval("stream", "MZ", 900, 1500)
    more_bot = Interval("stream", "MZ", 1500, 1600)
    assert cross_overlaps([bot, greeting, more_bot]) == [(greeting, bot)]
    assert cross_overlaps([bot, more_bot]) == []


def test_kept_bot_audio_is_bounded() -> None:
    t = PartyTimeline("c", keep_stream_audio=True, stream_audio_max_ms=300)
    t.hear("say", "greeting", 0, 100, tone(100))
    for start in range(0, 1000, 100):
        t.hear("stream", "MZ", start, start + 100, tone(100), merge=True)
    assert [p.start_ms for p in t.ear_audio] == [0]  # say audio is shared bytes, kept
    assert [p.start_ms for p in t.stream_audio] == [600, 700, 800, 900]
    assert [(i.start_ms, i.end_ms) for i in t.heard_intervals() if i.source == "stream"] == [
        (0, 1000)]  # the timeline itself keeps everything
