"""The media plane: Exotel stream WebSocket server, audio pipeline and sessions.

The hot modules (``COMPILED_MODULES``) may be compiled in place with mypyc (``make fast``, part
of ``make install``): the same source, about a fifth less CPU per stream. A compiled module whose
source changed after the build would run stale code, so importing the package then fails with
the command that fixes it.
"""

from __future__ import annotations

from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

COMPILED_MODULES = (
    "audio", "chunker", "connection", "frames", "media_format", "playout", "protocol", "session",
    "vad", "wire",
)


def compiled_modules(here: Path = Path(__file__).parent) -> list[str]:
    """The gateway modules this interpreter loads compiled (an empty list: pure Python).
    Raises ImportError for a compiled module older than its source."""
    found = []
    for name in COMPILED_MODULES:
        source = here / f"{name}.py"
        for suffix in EXTENSION_SUFFIXES:
            binary = here / f"{name}{suffix}"
            if binary.exists():
                if source.exists() and source.stat().st_mtime > binary.stat().st_mtime:
                    raise ImportError(
                        f"gateway/{name}.py changed after it was compiled: run `make fast` to "
                        "rebuild the compiled gateway core, or `make pure` to remove it"
                    )
                found.append(name)
                break
    return found


CORE = "compiled (mypyc)" if compiled_modules() else "pure Python"
