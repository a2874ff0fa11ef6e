"""A call's recording for the browser: ``GET /ui/api/calls/{call_id}/recording`` fetches the
recording from the URL Exotel gave (``recording_available``) with the account's credentials
(HTTP Basic, as every Exotel API request) and streams it through. The browser never gets
Exotel's URL nor the credentials: pages name only this route.

The credentials go only to Exotel's own hosts: the API base's host (the emulator's, in tests)
or a host under ``exotel.com``/``exotel.in`` over HTTPS; a recording URL elsewhere is refused
(``502``, logged), never fetched with them. A ``Range`` header is passed on (seeking), and
Exotel's status, type, length and range come back; an upstream failure is a ``502`` naming its
status, never its URL.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

__all__ = ["RecordingProxy", "allowed"]

log = logging.getLogger(__name__)

EXOTEL_DOMAINS = ("exotel.com", "exotel.in")
_PASSED_ON = ("Content-Type", "Content-Length", "Content-Range", "Accept-Ranges")
CHUNK = 64 * 1024


def allowed(url: str, api_base: str) -> bool:
    """May ``url`` be fetched with the account's credentials? (See the module docstring.)"""
    target, api = urlsplit(url), urlsplit(api_base)
    if target.scheme not in ("http", "https") or not target.hostname:
        return False
    if api.hostname and (target.scheme, target.netloc) == (api.scheme, api.netloc):
        return True
    host = target.hostname.lower()
    return target.scheme == "https" and any(
        host == d or host.endswith("." + d) for d in EXOTEL_DOMAINS)


class RecordingProxy:
    """Fetches recordings with ``api_key``/``api_token`` (one HTTP session, closed by
    :meth:`close`, the app's ``on_cleanup``)."""

    def __init__(self, api_base: str, api_key: str, api_token: str,
                 timeout_s: float = 30.0) -> None:
        self.api_base = api_base
        self._auth = ({"Authorization": aiohttp.encode_basic_auth(api_key, api_token)}
                      if api_key or api_token else {})
        self._timeout = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=timeout_s)
        self._session: aiohttp.ClientSession | None = None
        self.refused = 0
        self.failed = 0

    async def close(self, app: web.Application | None = None) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def stream(self, request: web.Request, call_id: str, url: str) -> web.StreamResponse:
        """Stream the recording at ``url`` (call ``call_id``) as the response to ``request``."""
        if not allowed(url, self.api_base):
            self.refused += 1
            log.warning("dashboard: recording of call %s is not on an Exotel host: not fetched",
                        call_id)
            return web.json_response({"error": "the recording is not on an Exotel host"},
                                     status=502)
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        headers = dict(self._auth)
        if "Range" in request.headers:
            headers["Range"] = request.headers["Range"]
        response: web.StreamResponse | None = None
        try:
            async with self._session.get(url, headers=headers,
                                         allow_redirects=False) as upstream:
                if upstream.status not in (200, 206):
                    self.failed += 1
                    log.warning("dashboard: recording of call %s: Exotel answered %d", call_id,
                                upstream.status)
                    return web.json_response(
                        {"error": f"the recording could not be fetched (Exotel: "
                                  f"{upstream.status})"}, status=502)
                response = web.StreamResponse(status=upstream.status, headers={
                    k: upstream.headers[k] for k in _PASSED_ON if k in upstream.headers})
                response.headers.setdefault("Content-Type", "audio/wav")
                response.headers["Cache-Control"] = "private, no-store"
                await response.prepare(request)
                async for chunk in upstream.content.iter_chunked(CHUNK):
                    await response.write(chunk)
                await response.write_eof()
                return response
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.failed += 1
            log.warning("dashboard: recording of call %s: %s", call_id, type(exc).__name__)
            if response is not None:  # cut short after it began: the player sees the end
                return response
            return web.json_response({"error": "the recording could not be fetched"},
                                     status=502)
