"""``voxgate campaign run|pause|resume|status|export --dialer URL``: the commands as clients of a
running ``voxgate dialer run`` service (its ``/v1/campaigns`` routes,
:mod:`dialer.campaign.service_api`), with the control token the gateway uses
(``VOXGATE_CONTROL_TOKEN``, else the token file). Errors are :class:`CampaignError`, one line."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import quote

from dialer.campaign.loading import read_text
from dialer.campaign.model import CampaignError
from voxgate_shared.control_token import read_control_token

TIMEOUT_S = 30.0


class DialerClient:
    """One service's campaign routes at ``base`` (``http://host:port``)."""

    def __init__(self, base: str, token: str | None = None) -> None:
        self.base = base.rstrip("/")
        self.token = read_control_token() if token is None else token

    def _call(self, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.base}{path}", data=data, method=method)
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                message = json.loads(raw)["error"]
            except (ValueError, KeyError, TypeError):
                message = raw.decode("utf-8", "replace").strip() or exc.reason
            raise CampaignError(f"dialer {self.base}: {exc.code}: {message}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise CampaignError(f"dialer {self.base}: unreachable: {reason}") from None

    def _json(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        _, raw = self._call(method, path, body)
        result: dict[str, Any] = json.loads(raw)
        return result

    def create(self, campaign: str, leads: str | None, dnc: str | None) -> dict[str, Any]:
        """Create the campaign from the TOML file ``campaign`` and the lead CSV ``leads`` (both
        read here and sent as the body)."""
        body = {"campaign": read_text(campaign)}
        if leads:
            body["leads"] = read_text(leads)
        if dnc:
            body["dnc"] = read_text(dnc)
        return self._json("POST", "/v1/campaigns", body)

    def post_leads(self, name: str, rows: list[dict[str, str]]) -> dict[str, Any]:
        """Add, update and withdraw the campaign's leads (a lead CSV's rows; issue 19)."""
        return self._json("POST", f"/v1/campaigns/{quote(name)}/leads", rows)

    def start(self, name: str, join: bool = False, agents: int | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"join": True} if join else {}
        if agents is not None:
            body["agents"] = agents
        return self._json("POST", f"/v1/campaigns/{quote(name, safe='')}/start", body)

    def move_agent(self, name: str, agent: str, to: str) -> dict[str, Any]:
        path = f"/v1/campaigns/{quote(name, safe='')}/agents/{quote(agent, safe='')}/move"
        return self._json("POST", path, {"to": to})

    def set_status(self, name: str, action: str) -> dict[str, Any]:
        return self._json("POST", f"/v1/campaigns/{quote(name, safe='')}/{action}", {})

    def status(self, name: str) -> dict[str, Any]:
        return self._json("GET", f"/v1/campaigns/{quote(name, safe='')}")

    def export(self, name: str, attempts: bool) -> str:
        query = "?attempts=1" if attempts else ""
        _, raw = self._call("GET", f"/v1/campaigns/{quote(name, safe='')}/export{query}")
        return raw.decode("utf-8")
