"""The gateway's side of the control channel: :class:`HttpControlHook`, the HTTP client the
gateway uses when the dialer runs in another process.

The contract itself (``ControlRequest``, ``ControlHook``, the ``vx_call`` format,
``bot_parameters``) lives in :mod:`voxgate_shared.control`, which the gateway and the dialer
both import. Its names are re-exported here for the gateway's modules and for code written
against ``gateway.control`` before the move (adapters' tests); new code imports them from
:mod:`voxgate_shared.control`.
"""

from __future__ import annotations

import logging
from typing import Any

from voxgate_shared.control import (
    BOT_FAILURES,
    CONTROL_KINDS,
    VX_CALL,
    VX_CALL_SEP,
    ControlHook,
    ControlKind,
    ControlRequest,
    RecordingControlHook,
    bot_parameters,
    split_vx_call,
)
from voxgate_shared.control_token import CONTROL_TOKEN_ENV, read_control_token

__all__ = ["BOT_FAILURES", "CONTROL_KINDS", "CONTROL_TOKEN_ENV", "VX_CALL", "VX_CALL_SEP",
           "ControlHook", "ControlKind", "ControlRequest", "HttpControlHook",
           "RecordingControlHook", "bot_parameters", "split_vx_call"]

log = logging.getLogger(__name__)


class HttpControlHook:
    """Hook for the separate-process wiring: ``POST {control_url}/v1/control`` with
    :meth:`ControlRequest.to_json` as the body. ``202`` accepts; any other answer (or a
    connection error or timeout) raises :class:`gateway.errors.ControlHookError` carrying
    the status and body. Use it as an async context manager, or call :meth:`close`.
    ``token`` (``None``: :func:`~voxgate_shared.control_token.read_control_token`, the environment's
    ``VOXGATE_CONTROL_TOKEN`` or the dialer's token file) goes out as ``Authorization: Bearer
    TOKEN`` when not empty (read at the first request that finds one, so a gateway may start
    before the dialer that makes the token file). A refusal (``403``: not bound to the call) is
    logged by the caller with the status."""

    def __init__(self, control_url: str, timeout: float = 5.0, token: str | None = None) -> None:
        self.url = control_url.rstrip("/") + "/v1/control"
        self._timeout = timeout
        self._token = token
        self._session: Any = None  # aiohttp.ClientSession, made on first use

    async def submit(self, request: ControlRequest) -> None:
        import aiohttp

        from gateway.errors import ControlHookError

        token = self._token
        if token is None:  # from the environment or the token file, once there is one
            token = read_control_token()
            self._token = token or None
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self._timeout)
            )
        try:
            async with self._session.post(
                self.url, json=request.to_json(), headers=headers
            ) as response:
                body = await response.text()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ControlHookError(f"control API {self.url} unreachable: {exc!r}") from exc
        if status != 202:
            raise ControlHookError(
                f"control API refused {request.kind} for {request.call_sid}: {status}",
                status=status,
                body=body[:500],
            )
        log.info("control request %s for call %s accepted", request.kind, request.call_sid)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> HttpControlHook:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
