"""Loading a script's prompts as PCM16 at the adapter's rate (file I/O, cached per process).

Call :func:`load_prompts` when an adapter is created; the clips are read once per
(script, rate) and shared by every call using that script.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

import audio_fixtures
from bot_adapters.audio import resample
from bot_adapters.scripted.script import Script, ScriptError

FIXTURE_PREFIX = "fixture:"

_cache: dict[tuple[int, int], tuple[Script, Mapping[str, bytes]]] = {}
_cache_lock = threading.Lock()


def load_prompt(source: str, base_dir: Path | None, rate: int) -> bytes:
    """One prompt: ``fixture:NAME`` from ``audio_fixtures`` or a mono PCM16 WAV path
    (relative paths resolve against ``base_dir``, the script's folder)."""
    try:
        if source.startswith(FIXTURE_PREFIX):
            clip = audio_fixtures.load(source.removeprefix(FIXTURE_PREFIX))
        else:
            file = Path(source)
            if not file.is_absolute() and base_dir is not None:
                file = base_dir / file
            clip = audio_fixtures.read_wav(file)
    except (OSError, ValueError, EOFError) as exc:
        raise ScriptError(f"prompt {source!r}: {exc}") from exc
    return resample(clip.pcm, clip.sample_rate, rate)


def load_prompts(script: Script, rate: int) -> Mapping[str, bytes]:
    """Every prompt of ``script`` as PCM16 at ``rate``; raises :class:`ScriptError`."""
    key = (id(script), rate)
    with _cache_lock:
        cached = _cache.get(key)
    if cached is not None and cached[0] is script:
        return cached[1]
    clips = MappingProxyType(
        {name: load_prompt(src, script.base_dir, rate) for name, src in script.prompts.items()}
    )
    with _cache_lock:
        _cache[key] = (script, clips)
    return clips
