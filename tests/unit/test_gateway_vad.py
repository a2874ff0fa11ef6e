"""Speech detection on real fixture speech, silence and noise."""

from __future__ import annotations

import pytest

import audio_fixtures
from gateway.vad import SPEECH_END, SPEECH_START, SpeechDetector


def feed_all(det: SpeechDetector, pcm: bytes, chunk: int) -> list[str]:
    out: list[str] = []
    for i in range(0, len(pcm), chunk):
        out.extend(det.feed(pcm[i : i + chunk]))
    return out


@pytest.mark.parametrize(("name", "rate"), [("cust_hello", 8000), ("cust_hello_16k", 16000)])
def test_speech_then_silence_gives_start_then_end(name: str, rate: int) -> None:
    clip = audio_fixtures.load(name)
    assert clip.sample_rate == rate
    silence = bytes(rate * 2)  # 1 s
    det = SpeechDetector(rate, aggressiveness=2, start_ms=60, hangover_ms=300)
    transitions = feed_all(det, clip.pcm + silence, rate // 10 * 2)
    assert transitions[0] == SPEECH_START
    assert transitions[-1] == SPEECH_END
    assert not det.in_speech and det.voiced_ms == 0


def test_silence_gives_nothing_and_partial_frames_are_kept() -> None:
    det = SpeechDetector(8000)
    assert feed_all(det, audio_fixtures.load("silence_1s").pcm, 333 * 2) == []


def test_voiced_ms_grows_during_speech() -> None:
    clip = audio_fixtures.load("cust_yes")
    det = SpeechDetector(8000, start_ms=20, hangover_ms=1000)
    feed_all(det, clip.pcm, 320)
    assert det.in_speech and det.voiced_ms >= 200


def test_24k_is_analysed_through_a_resampler() -> None:
    from gateway.audio import Resampler

    clip = audio_fixtures.load("cust_hello_16k")
    pcm24 = Resampler(16000, 24000).convert(clip.pcm)
    det = SpeechDetector(24000)
    assert SPEECH_START in feed_all(det, pcm24, 4800)


def test_bad_aggressiveness() -> None:
    with pytest.raises(ValueError):
        SpeechDetector(8000, aggressiveness=4)
