"""Route each control request to the dialer that placed its call (N gateways x M dialers).

A dialer with an id signs ``vx_call=CALL_ID~MAC.OWNER`` (:mod:`dialer.call_binding`); the
gateway reads ``OWNER`` (:func:`voxgate_shared.control.vx_call_owner`) and posts to that
dialer's control API. ``voxgate gateway --control-url`` is repeatable: ``ID=URL`` names a
dialer, a bare ``URL`` is the default (the one-dialer wiring, unchanged: every request goes
there, whatever owner it names). A request whose owner is not named, with no default, is
refused (:class:`gateway.errors.ControlHookError`, status ``None``): the connection logs it and
counts it in ``voxgate_gateway_control_errors_total``; ``unrouted`` (and
``voxgate_gateway_control_unrouted_total`` once :attr:`RoutingControlHook.metrics` is set)
counts it here.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from gateway.control import HttpControlHook
from gateway.metrics import GatewayMetrics
from voxgate_shared.control import VX_CALL, ControlRequest, check_dialer_id, vx_call_owner

__all__ = ["RoutingControlHook", "parse_control_urls"]

log = logging.getLogger(__name__)


def parse_control_urls(values: Iterable[str]) -> tuple[str | None, dict[str, str]]:
    """``--control-url`` values -> (default URL or ``None``, {dialer id: URL}); raises
    :class:`ValueError` for a second default, a repeated id or a URL that is not http(s)."""
    default: str | None = None
    named: dict[str, str] = {}
    for value in values:
        owner, sep, url = value.partition("=")
        if not sep or "://" in owner:  # a bare URL (its query may hold "=")
            owner, url = "", value
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"--control-url {value!r}: want URL or ID=URL (http:// or https://)")
        if not owner:
            if default is not None:
                raise ValueError("--control-url: at most one URL without an ID= (the default)")
            default = url
            continue
        check_dialer_id(owner)
        if owner in named:
            raise ValueError(f"--control-url: dialer id {owner!r} given twice")
        named[owner] = url
    return default, named


class RoutingControlHook:
    """A :class:`~voxgate_shared.control.ControlHook` over one
    :class:`~gateway.control.HttpControlHook` per dialer (see the module docstring)."""

    def __init__(self, default: str | None, named: Mapping[str, str]) -> None:
        self._default = HttpControlHook(default) if default else None
        self._named = {owner: HttpControlHook(url) for owner, url in named.items()}
        self.unrouted = 0
        self.metrics: GatewayMetrics | None = None  # the server's, set once it exists

    def route(self, request: ControlRequest) -> HttpControlHook | None:
        """The hook of the request's owner (the default when it names none we know)."""
        owner = vx_call_owner(request.custom_parameters.get(VX_CALL, ""))
        return self._named.get(owner, self._default)

    async def submit(self, request: ControlRequest) -> None:
        from gateway.errors import ControlHookError

        hook = self.route(request)
        if hook is None:
            self.unrouted += 1
            if self.metrics is not None:
                self.metrics.control_unrouted += 1
            owner = vx_call_owner(request.custom_parameters.get(VX_CALL, ""))
            raise ControlHookError(
                f"control request {request.kind} for {request.call_sid}: no --control-url for "
                f"dialer {owner!r} (known: {sorted(self._named)})"
            )
        await hook.submit(request)

    async def close(self) -> None:
        for hook in (self._default, *self._named.values()):
            if hook is not None:
                await hook.close()

    async def __aenter__(self) -> RoutingControlHook:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
