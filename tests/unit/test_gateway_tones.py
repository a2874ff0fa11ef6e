"""DTMF tones in the caller's audio are told apart from speech (gateway.tones, gateway.vad)."""

from __future__ import annotations

import math
import struct

import pytest

import audio_fixtures
from gateway.tones import ToneDetector
from gateway.vad import FRAME_MS, SPEECH_START, SpeechDetector

KEYS = ("0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "hash", "star")
SPEECH = ("cust_hello", "cust_yes", "cust_no", "cust_human", "agent_hello", "greeting",
          "bot_ask_interest", "hold_message", "hold_music", "noise_1s")


def frames(pcm: bytes, rate: int) -> list[bytes]:
    n = rate * FRAME_MS // 1000 * 2
    return [pcm[i : i + n] for i in range(0, len(pcm) - n + 1, n)]


def tone(low: float, high: float, ms: int, rate: int = 8000, low_amp: float = 8000.0,
         high_amp: float = 8000.0) -> bytes:
    n = rate * ms // 1000
    return struct.pack(f"<{n}h", *(
        round(low_amp * math.sin(2 * math.pi * low * i / rate)
              + high_amp * math.sin(2 * math.pi * high * i / rate)) for i in range(n)))


@pytest.mark.parametrize("key", KEYS)
def test_every_key_tone_fixture_is_a_tone(key: str) -> None:
    clip = audio_fixtures.load(f"dtmf_{key}")
    det = ToneDetector(clip.sample_rate, clip.sample_rate * FRAME_MS // 1000)
    assert all(det.is_tone(f) for f in frames(clip.pcm, clip.sample_rate))


@pytest.mark.parametrize("name", SPEECH)
def test_speech_music_and_noise_are_not(name: str) -> None:
    clip = audio_fixtures.load(name)
    det = ToneDetector(clip.sample_rate, clip.sample_rate * FRAME_MS // 1000)
    assert not any(det.is_tone(f) for f in frames(clip.pcm, clip.sample_rate))


def test_one_frequency_or_too_much_twist_or_silence_is_not_a_tone() -> None:
    det = ToneDetector(8000, 240)
    assert det.is_tone(tone(770, 1336, 30))
    assert det.is_tone(tone(770, 1336, 30, high_amp=3000))  # 8.5 dB twist: still a key
    assert not det.is_tone(tone(770, 1336, 30, high_amp=0))  # one frequency: a whistle
    assert not det.is_tone(tone(770, 1336, 30, high_amp=2000))  # 12 dB apart
    assert not det.is_tone(tone(500, 1100, 30))  # two tones, not DTMF frequencies
    assert not det.is_tone(bytes(480))


def test_a_held_key_never_starts_speech_and_its_frames_are_counted() -> None:
    det = SpeechDetector(8000, start_ms=60)
    held = tone(852, 1477, 600)  # "9" held for 0.6 s, fed in 20 ms chunks
    out = [t for i in range(0, len(held), 320) for t in det.feed(held[i : i + 320])]
    assert out == [] and not det.in_speech
    assert det.tone_frames >= 19


def test_speech_right_after_a_key_still_starts_speech() -> None:
    det = SpeechDetector(8000, start_ms=60)
    pcm = tone(697, 1209, 100) + audio_fixtures.load("cust_yes").pcm
    out = [t for i in range(0, len(pcm), 320) for t in det.feed(pcm[i : i + 320])]
    assert out[:1] == [SPEECH_START]
