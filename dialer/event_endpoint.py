"""Where the event intake listens, and the URL Exotel is given (pure: no I/O, no asyncio).

Two settings, kept apart (Exotel reaches the dialer from the internet; the dialer binds a local
address):

* ``event_endpoint`` (``VOXGATE_EVENT_ENDPOINT``): the **public URL** handed to Exotel as
  ``leg_event_endpoint``/``bridge_event_endpoint``: ``https://[user:pass@]host[:port]/path``,
  ``http://...``, ``grpcs://[token@]host:port`` or ``grpc://...``. Its scheme picks the intake
  (HTTP or gRPC) and is handed on as written: never downgraded.
* ``event_listen`` (``VOXGATE_EVENT_LISTEN``): ``host:port`` to bind (``0.0.0.0:8443``,
  ``[::]:8443``, ``10.0.0.5:8443``). Empty: the endpoint's own host and port, which must then be
  loopback (tests, the demo; port 0 takes a free port and the URL gets the real one). A public
  host name is never bound.

TLS: an ``https``/``grpcs`` endpoint is served with TLS here when ``event_certfile`` and
``event_keyfile`` are set; without them the listener is plain, for a TLS-terminating reverse
proxy in front, which needs an explicit ``event_listen`` (an https URL is never served as
plain HTTP by accident).

Credentials (:attr:`EventEndpoint.auth`): ``event_auth`` (``VOXGATE_EVENT_AUTH``) or the
``user:pass@`` of the endpoint itself; the public URL always carries them, as Exotel sends
Basic auth from the credentials in the URL. HTTP: ``user:password``, checked as
``Authorization: Basic``. gRPC: the same string is a shared secret sent as
``authorization: Bearer <secret>`` metadata (our convention: Exotel's gRPC proto is not
public), carried in the URL's user part (percent-encoded).

Exposure: a listener off loopback without credentials is refused unless ``insecure_events``
(``--insecure-events``, ``VOXGATE_INSECURE_EVENTS=1``) says so; :attr:`EventEndpoint.warnings`
lists what a start-up should log (the override used, credentials over plain HTTP/gRPC).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote, unquote, urlsplit

from dialer.errors import ConfigError
from voxgate_shared.net import is_loopback

Transport = Literal["http", "grpc"]
SCHEMES: dict[str, tuple[Transport, bool]] = {
    "http": ("http", False),
    "https": ("http", True),
    "grpc": ("grpc", False),
    "grpcs": ("grpc", True),
}
DEFAULT_PORTS = {"http": 80, "https": 443}
DEFAULT_PATH = "/exotel/events"
WILDCARDS = frozenset({"0.0.0.0", "::", "*", ""})
PROXY_HINT = "VOXGATE_EVENT_LISTEN"


@dataclass(frozen=True, slots=True)
class EventEndpoint:
    """The intake's plan: what to bind, whether to serve TLS, what to tell Exotel."""

    transport: Transport
    scheme: str  # the public URL's scheme, kept as given
    bind_host: str
    bind_port: int
    path: str  # HTTP path ("" for gRPC)
    public_host: str
    public_port: int | None  # None: the scheme's default; 0: the port bound
    auth: str  # "user:password" (HTTP) or a shared secret (gRPC); "" none
    certfile: str = ""
    keyfile: str = ""
    warnings: tuple[str, ...] = ()

    @property
    def serve_tls(self) -> bool:
        """True when this process terminates TLS (cert and key given)."""
        return bool(self.certfile)

    @property
    def public_tls(self) -> bool:
        return SCHEMES[self.scheme][1]

    @property
    def loopback(self) -> bool:
        return is_loopback(self.bind_host)

    def public_url(self, bound_port: int) -> str:
        """The URL for Exotel, credentials included (redact it before logging)."""
        port = bound_port if self.public_port == 0 else self.public_port
        host = f"[{self.public_host}]" if ":" in self.public_host else self.public_host
        netloc = host if port is None else f"{host}:{port}"
        if self.auth:
            netloc = f"{_userinfo(self.auth, self.transport)}@{netloc}"
        return f"{self.scheme}://{netloc}{self.path}"


def _userinfo(auth: str, transport: Transport) -> str:
    if transport == "http":
        user, _, password = auth.partition(":")
        return f"{quote(user, safe='')}:{quote(password, safe='')}"
    return quote(auth, safe="")


def parse_listen(listen: str) -> tuple[str, int]:
    """``host:port`` (``[v6]:port``) -> (host, port); :class:`ConfigError` otherwise."""
    host, sep, port_text = listen.strip().rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port_text.isdigit() or int(port_text) > 65535:
        raise ConfigError(
            f"event_listen must be host:port (e.g. 0.0.0.0:8443), got {listen!r}"
        )
    return host, int(port_text)


def plan_event_endpoint(
    endpoint: str,
    listen: str = "",
    *,
    auth: str = "",
    certfile: str = "",
    keyfile: str = "",
    insecure: bool = False,
) -> EventEndpoint:
    """Check the event settings together; raises :class:`ConfigError` naming the setting."""
    parts = urlsplit(endpoint)
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise ConfigError(
            f"event_endpoint must be https://, http://, grpcs:// or grpc://, got {endpoint!r}"
        )
    transport, tls = SCHEMES[scheme]
    try:
        host, port = parts.hostname or "", parts.port
    except ValueError:
        raise ConfigError(f"event_endpoint has a bad port: {endpoint!r}") from None
    if host in WILDCARDS:
        raise ConfigError(
            f"event_endpoint {endpoint!r} names no host Exotel can reach: it is the public URL; "
            f"put the address to bind in {PROXY_HINT} (e.g. 0.0.0.0:8443)"
        )
    if transport == "grpc" and port is None:
        raise ConfigError(f"event_endpoint {endpoint!r}: a gRPC endpoint needs host:port")
    auth = _credentials(parts.username, parts.password, auth, transport)
    if bool(certfile) != bool(keyfile):
        raise ConfigError("event_certfile and event_keyfile go together (TLS needs both)")
    if certfile and not tls:
        raise ConfigError(
            f"event_certfile is set but event_endpoint is {scheme}://: use "
            f"{'https' if transport == 'http' else 'grpcs'}:// (the URL Exotel is given)"
        )
    if listen:
        bind_host, bind_port = parse_listen(listen)
        public_port = port
    elif is_loopback(host):
        bind_host, bind_port = host, port or 0
        public_port = 0 if not port else port
    else:
        raise ConfigError(
            f"event_endpoint {scheme}://{host}... is the public URL given to Exotel; set "
            f"{PROXY_HINT} (host:port, e.g. 0.0.0.0:8443) to the address to bind here"
        )
    if tls and not certfile and not listen:
        raise ConfigError(
            f"a {scheme}:// event endpoint needs event_certfile and event_keyfile (TLS here), "
            f"or {PROXY_HINT} for a plain listener behind a TLS-terminating proxy"
        )
    warnings: list[str] = []
    off_loopback = not is_loopback(bind_host)
    if off_loopback and not auth:
        if not insecure:
            raise ConfigError(
                f"the event intake would listen on {bind_host}:{bind_port} (not loopback) "
                "without event credentials, so anyone who reaches it could drive calls: set "
                "VOXGATE_EVENT_AUTH (or user:pass@ in VOXGATE_EVENT_ENDPOINT), or "
                "--insecure-events / VOXGATE_INSECURE_EVENTS=1 to accept that"
            )
        warnings.append(
            f"event intake on {bind_host}:{bind_port} without credentials "
            "(--insecure-events): anyone who reaches it can post events"
        )
    if off_loopback and auth and not tls:
        warnings.append(
            f"event credentials travel in clear over {scheme}://: use "
            f"{'https' if transport == 'http' else 'grpcs'}:// (TLS here or at a proxy)"
        )
    return EventEndpoint(
        transport=transport,
        scheme=scheme,
        bind_host=bind_host,
        bind_port=bind_port,
        path=(parts.path or DEFAULT_PATH) if transport == "http" else "",
        public_host=host,
        public_port=public_port,
        auth=auth,
        certfile=certfile,
        keyfile=keyfile,
        warnings=tuple(warnings),
    )


def _credentials(
    user: str | None, password: str | None, auth: str, transport: Transport
) -> str:
    """The one credential string, from ``event_auth`` or the URL (both: they must agree)."""
    in_url = ""
    if user is not None:
        in_url = unquote(user) + ("" if password is None else ":" + unquote(password))
    if in_url and auth and in_url != auth:
        raise ConfigError(
            "event_auth and the credentials in event_endpoint differ: set one of them"
        )
    found = in_url or auth
    if found and transport == "http" and (":" not in found or found.startswith(":")):
        raise ConfigError("event_auth must be user:password for an HTTP(S) event endpoint")
    return found


def endpoint_credentials(url: str) -> str:
    """The credential string carried in an event URL (``""`` none); what a sender uses."""
    parts = urlsplit(url)
    if parts.username is None:
        return ""
    return unquote(parts.username) + (
        "" if parts.password is None else ":" + unquote(parts.password)
    )
