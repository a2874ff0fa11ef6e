"""Key tones in the caller's audio against the gateway's voice detection (gateway.tones).

Prints, for the shipped fixtures, the largest share of a voiced frame's energy at one low and
one high DTMF frequency (speech, music and noise against the 12 key tones); then how often random
key sequences start speech (1-5 keys held 100-300 ms, random gaps and offsets; mu-law, PCM
8 kHz and PCM 16 kHz, fed in 20 ms chunks), with the tone check on and off; then the cost of the
check per voiced 30 ms frame. Run:

    .venv/bin/python bench/dtmf_tones.py [--trials 3000]
"""

from __future__ import annotations

import argparse
import random
import sys
import timeit
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import audio_fixtures
from gateway.audio import Resampler, mulaw_to_pcm16, pcm16_to_mulaw
from gateway.tones import HIGH_GROUP, LOW_GROUP, ToneDetector
from gateway.vad import FRAME_MS, SPEECH_START, SpeechDetector

KEYS = ("0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "hash", "star")
OTHERS = ("cust_hello", "cust_yes", "cust_no", "cust_human", "agent_hello", "greeting",
          "bot_ask_interest", "bot_goodbye", "bot_reprompt", "bot_transfer", "hold_message",
          "hold_music", "noise_1s")


def share(frame: bytes, rate: int) -> float:
    """The share of ``frame``'s energy at its strongest low and high DTMF frequency."""
    x = np.frombuffer(frame, dtype="<i2").astype(np.float64)
    t = np.arange(len(x)) / rate
    freqs = np.array(LOW_GROUP + HIGH_GROUP)[:, None]
    power = (np.cos(2 * np.pi * freqs * t) @ x) ** 2 + (np.sin(2 * np.pi * freqs * t) @ x) ** 2
    energy = float(x @ x) * len(x) / 2
    return float(power[:4].max() + power[4:].max()) / energy if energy else 0.0


def voiced_frames(name: str) -> tuple[list[bytes], int]:
    import webrtcvad

    clip = audio_fixtures.load(name)
    n = clip.sample_rate * FRAME_MS // 1000 * 2
    vad = webrtcvad.Vad(2)
    frames = [clip.pcm[i : i + n] for i in range(0, len(clip.pcm) - n + 1, n)]
    return [f for f in frames if vad.is_speech(f, clip.sample_rate)], clip.sample_rate


def fixture_shares() -> None:
    for group, names in (("speech, music, noise", OTHERS), ("key tones", KEYS)):
        shares = []
        for name in names:
            frames, rate = voiced_frames(name if group != "key tones" else f"dtmf_{name}")
            shares += [share(f, rate) for f in frames]
        print(f"{group:22s} voiced frames {len(shares):4d}  share min {min(shares):.2f}  "
              f"max {max(shares):.2f}")


def starts(trials: int, check_tones: bool) -> int:
    keys = [audio_fixtures.load(f"dtmf_{k}").pcm for k in KEYS]
    bad = 0
    for trial in range(trials):
        r = random.Random(trial)
        pcm = bytes(2 * r.randrange(0, 800))
        for _ in range(r.randrange(1, 6)):
            pcm += r.choice(keys) * r.choice((1, 1, 1, 2, 3)) + bytes(2 * r.randrange(0, 3000))
        rate = 8000
        if trial % 3 == 0:  # through mu-law and back, as a mu-law stream carries it
            pcm = mulaw_to_pcm16(pcm16_to_mulaw(pcm))
        elif trial % 3 == 2:
            pcm, rate = Resampler(8000, 16000).convert(pcm), 16000
        det = SpeechDetector(rate)
        if not check_tones:
            det._tones = _NeverTone()  # type: ignore[assignment]
        step = rate // 50 * 2
        out = [t for i in range(0, len(pcm), step) for t in det.feed(pcm[i : i + step])]
        bad += SPEECH_START in out
    return bad


class _NeverTone:
    def is_tone(self, frame: bytes | memoryview) -> bool:
        return False


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=3000)
    args = parser.parse_args()
    fixture_shares()
    for check in (True, False):
        bad = starts(args.trials, check)
        print(f"random key sequences starting speech, tone check {'on ' if check else 'off'}: "
              f"{bad} of {args.trials}")
    for rate in (8000, 16000):
        det = ToneDetector(rate, rate * FRAME_MS // 1000)
        frame = voiced_frames("cust_yes" if rate == 8000 else "cust_yes_16k")[0][10]
        n = 20_000
        cost = timeit.timeit(lambda: det.is_tone(frame), number=n) / n  # noqa: B023
        print(f"tone check at {rate} Hz: {cost * 1e6:.1f} us per voiced 30 ms frame")


if __name__ == "__main__":
    main()
