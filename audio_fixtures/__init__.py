"""Shipped audio fixtures (made by ``make_fixtures.sh``) and a loader for them.

``load("cust_yes")`` returns the clip's PCM16 little-endian mono samples and its rate.
"""

from __future__ import annotations

import wave
from dataclasses import dataclass
from pathlib import Path

FIXTURE_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True, slots=True)
class Clip:
    """A mono PCM16LE clip."""

    name: str
    pcm: bytes
    sample_rate: int

    @property
    def duration_ms(self) -> int:
        return len(self.pcm) * 1000 // (2 * self.sample_rate)


def path(name: str) -> Path:
    """The file of fixture ``name`` (with or without ``.wav``); raises ``FileNotFoundError``."""
    file = FIXTURE_DIR / (name if name.endswith(".wav") else f"{name}.wav")
    if not file.is_file():
        raise FileNotFoundError(f"no audio fixture {name!r} in {FIXTURE_DIR}")
    return file


def read_wav(file: Path | str) -> Clip:
    """Read a mono PCM16 WAV file; raises ``ValueError`` for any other format."""
    file = Path(file)
    with wave.open(str(file), "rb") as wav:
        if wav.getnchannels() != 1 or wav.getsampwidth() != 2:
            raise ValueError(f"{file}: need mono 16-bit PCM WAV")
        return Clip(file.stem, wav.readframes(wav.getnframes()), wav.getframerate())


def load(name: str) -> Clip:
    """Load fixture ``name``."""
    return read_wav(path(name))


def names() -> list[str]:
    """All fixture names."""
    return sorted(p.stem for p in FIXTURE_DIR.glob("*.wav"))
