"""Loading audio clips for adapters: ``fixture:NAME`` (``audio_fixtures``) or a WAV file.

Call :func:`load_clip` when an adapter is configured, not per chunk: it reads a file.
"""

from __future__ import annotations

from pathlib import Path

import audio_fixtures
from bot_adapters.audio import resample

FIXTURE_PREFIX = "fixture:"


class ClipError(ValueError):
    """The clip cannot be found or is not mono PCM16 WAV."""


def load_clip(source: str, rate: int, base_dir: Path | None = None) -> bytes:
    """PCM16 mono at ``rate`` from ``fixture:NAME`` or a WAV path (relative paths resolve
    against ``base_dir``). Raises :class:`ClipError`."""
    try:
        if source.startswith(FIXTURE_PREFIX):
            clip = audio_fixtures.load(source.removeprefix(FIXTURE_PREFIX))
        else:
            file = Path(source).expanduser()
            if not file.is_absolute() and base_dir is not None:
                file = base_dir / file
            clip = audio_fixtures.read_wav(file)
    except (OSError, ValueError, EOFError) as exc:
        raise ClipError(f"audio clip {source!r}: {exc}") from exc
    return resample(clip.pcm, clip.sample_rate, rate)
