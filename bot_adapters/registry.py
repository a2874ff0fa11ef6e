"""Find bot adapters by name through Python entry points (group ``voxgate.bot_adapters``).

A third-party package adds an adapter by declaring, in its own ``pyproject.toml``::

    [project.entry-points."voxgate.bot_adapters"]
    mybot = "mypackage.bot:MyBotAdapter"

and the gateway serves it at ``/stream/mybot``. Built-ins are registered the same way.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points

from bot_adapters.contract import AdapterFactory

GROUP = "voxgate.bot_adapters"


class UnknownAdapter(LookupError):
    """No installed adapter has this name (the stream is closed with code 4005)."""

    def __init__(self, name: str, available: list[str]) -> None:
        super().__init__(
            f"no bot adapter named {name!r} (installed: {', '.join(available) or 'none'})"
        )
        self.name = name
        self.available = available


class AdapterLoadError(ImportError):
    """The entry point exists but its object could not be imported or is not callable."""


def _entry_points() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def available_adapters() -> list[str]:
    """Names of every installed adapter, sorted."""
    return sorted(_entry_points())


def load_adapter(name: str) -> AdapterFactory:
    """The factory registered as ``name``; raises :class:`UnknownAdapter` or
    :class:`AdapterLoadError`. Each call re-reads the installed entry points, so callers
    that resolve per call should cache the result."""
    points = _entry_points()
    point = points.get(name)
    if point is None:
        raise UnknownAdapter(name, sorted(points))
    try:
        factory = point.load()
    except Exception as exc:
        raise AdapterLoadError(f"adapter {name!r} ({point.value}) failed to load: {exc}") from exc
    if not callable(factory):
        raise AdapterLoadError(f"adapter {name!r} ({point.value}) is not callable")
    loaded: AdapterFactory = factory
    return loaded
