"""An aiohttp client for Exotel's Legs and Bridges API v2 (docs/exotel.md section 2).

Use one :class:`ExotelClient` per process, as an async context manager::

    async with ExotelClient(base, sid, key, token) as client:
        leg = await client.create_leg("+9198...", exophone, endpoint, custom_param="vx-1")
        await client.start_stream(leg["leg_sid"], "wss://gw/stream?vx_call=vx-1")

Every method returns the response's ``data`` object (the documented envelope
``{"response": {"data": ...}}`` is unwrapped; a bare object is accepted too) or raises:

* :class:`~dialer.errors.ExotelApiError` (status, body) for a non-2xx answer;
* :class:`~dialer.errors.ExotelTimeout` / :class:`~dialer.errors.ExotelTransportError`.

Retries (exponential backoff with full jitter, ``Retry-After`` honoured on 429):

* reads and actions safe to repeat (``GET``, ``stop_*``, hang-up, recording stop): on 429, 5xx,
  connection errors and timeouts;
* everything else (create leg, create bridge, ``start_*``): only on 429 and on connection
  failures where nothing was sent (the request was not acted on);
* ``create_leg`` is never retried after a timeout: it raises
  :class:`~dialer.errors.CreateLegUncertain` so the caller reconciles (a customer must not ring
  twice).

Credentials go only into the ``Authorization`` header; nothing here logs them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from dataclasses import dataclass
from typing import Any

import aiohttp

from dialer.errors import (
    CreateLegUncertain,
    ExotelApiError,
    ExotelError,
    ExotelTimeout,
    ExotelTransportError,
)

log = logging.getLogger(__name__)

_JSON = {"Content-Type": "application/json"}
SAFE_ACTIONS = frozenset({"stop_stream", "stop_say", "stop_play", "stop_recording", "hangup"})
DEFAULT_CONTENT_TYPE = "audio/x-mulaw;rate=8000"


@dataclass(slots=True)
class ClientStats:
    """Request counters (for benches and the demo summary)."""

    requests: int = 0
    retries: int = 0
    errors: int = 0
    rate_limited: int = 0


def accounts_base(api_base: str, account_sid: str) -> str:
    """``{api_base}/v2/accounts/{sid}``; a base that already ends so is kept as it is."""
    base = api_base.rstrip("/")
    if "/v2/accounts/" in base:
        return base
    return f"{base}/v2/accounts/{account_sid}"


class ExotelClient:
    """Legs/Bridges v2 client. Safe to share between calls (one aiohttp session)."""

    def __init__(
        self,
        api_base: str,
        account_sid: str,
        api_key: str,
        api_token: str,
        *,
        timeout: float = 10.0,
        max_retries: int = 3,
        backoff: float = 0.2,
        max_backoff: float = 5.0,
        connection_limit: int = 200,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        """``session``: an aiohttp session to send the requests through (the transport seam,
        as httpx takes a ``transport``: a session with its own connector, trace hooks or a
        test server). It stays the caller's: :meth:`close` leaves it open. By default the
        client makes (and closes) its own."""
        if not api_base or not account_sid:
            raise ValueError("ExotelClient needs api_base and account_sid")
        self.base = accounts_base(api_base, account_sid)
        self._auth_header = {"Authorization": aiohttp.encode_basic_auth(api_key, api_token)}
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._max_retries = max_retries
        self._backoff = backoff
        self._max_backoff = max_backoff
        self._limit = connection_limit
        self._session: aiohttp.ClientSession | None = session
        self._owns_session = session is None
        self.stats = ClientStats()

    def __repr__(self) -> str:
        return f"ExotelClient(base={self.base!r})"

    async def __aenter__(self) -> ExotelClient:
        self._ensure_session()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _ensure_session(self) -> aiohttp.ClientSession:
        if self._session is None or (self._session.closed and self._owns_session):
            self._session = aiohttp.ClientSession(
                timeout=self._timeout,
                connector=aiohttp.TCPConnector(limit=self._limit),
            )
        return self._session

    async def close(self) -> None:
        """Close the HTTP session (one it made; a session passed in is the caller's to close).
        Call once at shutdown."""
        if self._session is not None and self._owns_session:
            await self._session.close()
            self._session = None

    # -- legs -----------------------------------------------------------------------------

    async def create_leg(
        self,
        contact_uri: str,
        exophone: str,
        leg_event_endpoint: str,
        *,
        custom_param: str = "",
        reference_leg_sid: str = "",
        time_limit: int | None = None,
        ring_timeout: int | None = None,
        amd_enable: bool = False,
        network_type: str = "pstn",
        priority: str = "normal",
    ) -> dict[str, Any]:
        """``POST /legs``: dial ``contact_uri``. Returns ``{"leg_sid", ...}``.

        Raises :class:`CreateLegUncertain` on a timeout: reconcile before trying again.
        """
        body: dict[str, Any] = {
            "contact_uri": contact_uri,
            "exophone": exophone,
            "leg_event_endpoint": leg_event_endpoint,
            "network_type": network_type,
            "priority": priority,
        }
        if custom_param:
            body["custom_param"] = custom_param
        if reference_leg_sid:
            body["reference_leg_sid"] = reference_leg_sid
        if time_limit is not None:
            body["time_limit"] = time_limit
        if ring_timeout is not None:
            body["ring_timeout"] = ring_timeout
        if amd_enable:
            body["amd_enable"] = True
        try:
            data = await self._request("POST", "/legs", body, safe=False)
        except ExotelTimeout as exc:
            raise CreateLegUncertain(
                f"create leg to {contact_uri} timed out", contact_uri, custom_param
            ) from exc
        if not isinstance(data.get("leg_sid"), str):
            raise ExotelTransportError(f"create leg answer has no leg_sid: {data!r}")
        return data

    async def get_leg(self, leg_sid: str) -> dict[str, Any]:
        """``GET /legs/{sid}``: state, terminal status, duration ..."""
        return await self._request("GET", f"/legs/{leg_sid}", None, safe=True)

    async def list_legs(self, **query: str) -> list[dict[str, Any]]:
        """``GET /legs?...`` where the API offers it (used to reconcile a create timeout)."""
        data = await self._request("GET", "/legs", None, safe=True, params=query)
        legs = data.get("legs", data.get("items", []))
        return [leg for leg in legs if isinstance(leg, dict)] if isinstance(legs, list) else []

    async def update_leg(self, leg_sid: str, body: dict[str, Any]) -> dict[str, Any]:
        """``PUT /legs/{sid}``."""
        return await self._request("PUT", f"/legs/{leg_sid}", body, safe=True)

    async def leg_action(
        self, leg_sid: str, action: str, body: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """``POST /legs/{sid}/actions/{action}`` (``start_stream``, ``stop_play`` ...)."""
        return await self._request(
            "POST", f"/legs/{leg_sid}/actions/{action}", body or {}, safe=action in SAFE_ACTIONS
        )

    async def leg_exoml(
        self, leg_sid: str, exoml: str, custom_param: str = "", *, safe: bool = False
    ) -> dict[str, Any]:
        """``POST /legs/{sid}/actions`` with an ExoML flow (the generic action form)."""
        body = {"action_custom_param": custom_param, "exoml": exoml}
        return await self._request("POST", f"/legs/{leg_sid}/actions", body, safe=safe)

    async def start_stream(
        self,
        leg_sid: str,
        url: str,
        *,
        direction: str = "bidirectional",
        content_type: str = DEFAULT_CONTENT_TYPE,
    ) -> dict[str, Any]:
        """Start streaming the leg's audio to ``url`` (the gateway)."""
        body = {"direction": direction, "url": url, "content_type": content_type}
        return await self.leg_action(leg_sid, "start_stream", body)

    async def stop_stream(self, leg_sid: str) -> dict[str, Any]:
        return await self.leg_action(leg_sid, "stop_stream")

    async def start_say(self, leg_sid: str, text: str, loop: int = 0) -> dict[str, Any]:
        return await self.leg_action(leg_sid, "start_say", {"text": text, "loop": loop})

    async def stop_say(self, leg_sid: str) -> dict[str, Any]:
        return await self.leg_action(leg_sid, "stop_say")

    async def start_play(self, leg_sid: str, url: str, loop: int = 0) -> dict[str, Any]:
        return await self.leg_action(leg_sid, "start_play", {"url": url, "loop": loop})

    async def stop_play(self, leg_sid: str) -> dict[str, Any]:
        return await self.leg_action(leg_sid, "stop_play")

    async def hangup(self, leg_sid: str) -> bool:
        """Hang the leg up. Returns False when it was already gone (404 counts as done)."""
        try:
            await self.leg_action(leg_sid, "hangup")
        except ExotelApiError as exc:
            if exc.not_found:
                return False
            raise
        return True

    # -- bridges --------------------------------------------------------------------------

    async def create_bridge(
        self, leg_sids: list[str], bridge_event_endpoint: str, *, absorb_dtmf: bool = False
    ) -> dict[str, Any]:
        """``POST /bridges``: join two live legs. Returns ``{"bridge_sid", ...}``."""
        body = {
            "leg_sids": list(leg_sids),
            "bridge_event_endpoint": bridge_event_endpoint,
            "absorb_dtmf": absorb_dtmf,
        }
        data = await self._request("POST", "/bridges", body, safe=False)
        if not isinstance(data.get("bridge_sid"), str):
            raise ExotelTransportError(f"create bridge answer has no bridge_sid: {data!r}")
        return data

    async def get_bridge(self, bridge_sid: str) -> dict[str, Any]:
        return await self._request("GET", f"/bridges/{bridge_sid}", None, safe=True)

    async def bridge_action(
        self, bridge_sid: str, exoml: str, custom_param: str = "", *, safe: bool = False
    ) -> dict[str, Any]:
        """``POST /bridges/{sid}/actions`` with an ExoML flow."""
        body = {"action_custom_param": custom_param, "exoml": exoml}
        return await self._request("POST", f"/bridges/{bridge_sid}/actions", body, safe=safe)

    async def start_recording(self, bridge_sid: str) -> dict[str, Any]:
        """Record the bridge; ``recording_available`` later carries the URL."""
        return await self.bridge_action(bridge_sid, "<Flow><StartRecording/></Flow>", "record")

    async def stop_recording(self, bridge_sid: str) -> dict[str, Any]:
        return await self.bridge_action(
            bridge_sid, "<Flow><StopRecording/></Flow>", "record", safe=True
        )

    # -- transport ------------------------------------------------------------------------

    async def _request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        *,
        safe: bool,
        params: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        session = self._ensure_session()
        url = self.base + path
        attempt = 0
        while True:
            attempt += 1
            self.stats.requests += 1
            delay: float | None = None
            try:
                data = None if body is None else json.dumps(body).encode()
                async with session.request(
                    method, url, data=data, params=params, timeout=self._timeout,
                    headers=self._auth_header | (_JSON if data is not None else {}),
                ) as resp:
                    raw = await resp.read()
                    if 200 <= resp.status < 300:
                        return _unwrap(raw, method, path)
                    err = ExotelApiError(resp.status, _parse_body(raw), method, path)
                    if resp.status == 429:
                        self.stats.rate_limited += 1
                        delay = _retry_after(resp.headers.get("Retry-After"))
                    if not (resp.status == 429 or (safe and err.retryable)):
                        self.stats.errors += 1
                        raise err
                    last: ExotelError = err
            except aiohttp.ClientConnectorError as exc:
                # Nothing was sent: repeating cannot act twice.
                last = ExotelTransportError(f"{method} {path}: cannot connect: {exc}")
                last.__cause__ = exc
            except TimeoutError as exc:
                last = ExotelTimeout(f"{method} {path}: no answer in time")
                last.__cause__ = exc
                if not safe:
                    self.stats.errors += 1
                    raise last from exc
            except aiohttp.ClientError as exc:
                last = ExotelTransportError(f"{method} {path}: {type(exc).__name__}: {exc}")
                last.__cause__ = exc
                if not safe:
                    self.stats.errors += 1
                    raise last from exc
            if attempt > self._max_retries:
                self.stats.errors += 1
                raise last
            self.stats.retries += 1
            if delay is None:
                cap = min(self._max_backoff, self._backoff * (2 ** (attempt - 1)))
                delay = random.uniform(0, cap)
            log.debug("retrying %s %s in %.3fs (%s)", method, path, delay, last)
            await asyncio.sleep(delay)


def _parse_body(raw: bytes) -> Any:
    """An error body: parsed JSON when it is JSON, else the text."""
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return raw.decode("utf-8", "replace")


def _unwrap(raw: bytes, method: str, path: str) -> dict[str, Any]:
    """Return the ``data`` object of the documented envelope, or the bare object."""
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise ExotelTransportError(f"{method} {path}: answer is not JSON") from exc
    if not isinstance(body, dict):
        raise ExotelTransportError(f"{method} {path}: answer is not a JSON object")
    response = body.get("response")
    if isinstance(response, dict) and "data" in response:
        data = response.get("data")
        return data if isinstance(data, dict) else {"items": data}
    return body


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return min(max(float(value), 0.0), 30.0)
    except ValueError:
        return None
