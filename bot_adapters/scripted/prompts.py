"""Loading a script's prompts as PCM16 at the adapter's rate (file I/O, cached per process).

Call :func:`load_prompts` when an adapter is created; the clips are read once per
(script, rate) and shared by every call using that script.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from bot_adapters.clips import ClipError, load_clip
from bot_adapters.scripted.script import Script, ScriptError

_cache: dict[tuple[int, int], tuple[Script, Mapping[str, bytes]]] = {}
_cache_lock = threading.Lock()


def load_prompt(source: str, base_dir: Path | None, rate: int) -> bytes:
    """One prompt as PCM16 at ``rate``; raises :class:`ScriptError`."""
    try:
        return load_clip(source, rate, base_dir)
    except ClipError as exc:
        raise ScriptError(str(exc)) from exc


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
