"""Secrets out of logs: :func:`redact_url` for a URL about to be logged, :func:`redact_text` for
any text, and :class:`RedactingFilter`, the safety net every ``voxgate`` command installs on its
log handlers (:func:`install`).

What is scrubbed (replaced by ``***``):

* ``user:password@`` in any ``scheme://`` URL (the whole userinfo: Exotel's key is half of the
  credential);
* the value of an ``Authorization``, ``Proxy-Authorization``, ``Cookie``, ``X-Api-Key`` or
  ``X-Auth-Token`` header, in ``Name: value`` lines (the websockets library's DEBUG handshake
  log) and in dict/tuple reprs (``{'Authorization': 'Basic ...'}``);
* a bare ``Bearer TOKEN``, and ``Basic B64`` when B64 decodes to ``user:password``;
* query and form parameters whose name ends in ``token``, ``password``, ``passwd``, ``secret``,
  ``api_key``/``apikey``, ``signature``, ``sig`` or ``auth`` (``?token=...``), and such keys'
  string values in dict reprs (``'crm_secret': '...'``), ``<set>``/``<unset>`` left as they are;
* every secret value registered at start-up (:func:`register_secrets`; the CLI registers the
  environment's, :func:`secrets_in_env`), in plain, URL-encoded and Basic-auth (base64) forms.
  Values shorter than :data:`MIN_SECRET_LEN` are left to the patterns above (redacting every
  ``"pass"`` would garble the logs without hiding anything).

Pure: no I/O; the registry is process-wide because logging is.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import logging
import re
import sys
import threading
import traceback
from collections.abc import Iterable, Mapping
from types import TracebackType
from urllib.parse import quote, unquote, urlsplit

MASK = "***"
MIN_SECRET_LEN = 4
"""Registered values shorter than this are not replaced wherever they appear."""
_NOT_SECRET = re.compile(r"true|false|yes|no|on|off|none|null|\d+(?:\.\d+)?", re.IGNORECASE)
"""Values a secret-named setting may hold that are flags or numbers, not secrets
(``VOXGATE_INSECURE_AUTH=true`` must not mask every ``true`` in the logs)."""

_SECRET_NAME = r"[\w.-]*?(?:token|password|passwd|secret|api[_-]?key|signature|sig|auth)"
_SECRET_WORDS = ("token", "passw", "secret", "key", "sig", "auth")  # cheap pre-test of _SECRET_NAME
_HEADER_NAMES = ("authorization", "cookie", "x-api-key", "x-auth-token")
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.\-]*://)[^/\s@?#'\"<>]+@")
_HEADER = re.compile(
    r"(?P<name>\b(?:proxy-)?authorization|\bcookie|\bset-cookie|\bx-api-key|\bx-auth-token)"
    r"(?P<sep>['\"]?\s*[:=,]\s*(?:b?(?P<q>['\"]))?)"
    r"(?:(?P<scheme>basic|bearer|digest|token|negotiate)\s+)?"
    r"(?P<value>(?(q)[^'\"]+|[^\s'\",;}\]\)]+))",
    re.IGNORECASE,
)
_BEARER = re.compile(r"(?P<scheme>\bbearer\s+)(?P<value>[A-Za-z0-9+/=._~-]{8,})", re.IGNORECASE)
_BASIC = re.compile(r"(?P<scheme>\bbasic\s+)(?P<value>[A-Za-z0-9+/]{4,}={0,2})", re.IGNORECASE)
_PARAM = re.compile(rf"(?P<name>\b{_SECRET_NAME})=(?P<value>[^&\s'\"#,;)]+)", re.IGNORECASE)
_DICT_ITEM = re.compile(
    rf"(?P<key>['\"]{_SECRET_NAME}['\"]\s*:\s*)(?P<q>['\"])(?P<value>[^'\"]*)(?P=q)",
    re.IGNORECASE,
)
_SECRET_ENV = re.compile(
    r"(?:^|_)(?:TOKEN|PASSWORD|PASSWD|PASS|SECRET|AUTH|KEY|CREDENTIALS)$", re.IGNORECASE
)


def redact_url(url: str) -> str:
    """``url`` fit for a log: ``user:password@`` becomes ``***@`` and secret-named query
    parameters (``token=``, ``password=``, ...) become ``***``."""
    parts = urlsplit(url)
    if "@" in parts.netloc:
        parts = parts._replace(netloc=f"{MASK}@{parts.netloc.rsplit('@', 1)[1]}")
    if parts.query:
        parts = parts._replace(query=_PARAM.sub(rf"\g<name>={MASK}", parts.query))
    return parts.geturl()


def _basic(match: re.Match[str]) -> str:
    """``Basic B64`` masked when B64 is a ``user:password`` pair (not ``Basic auth``)."""
    try:
        decoded = base64.b64decode(match["value"], validate=True)
    except (binascii.Error, ValueError):
        return match[0]
    return f"{match['scheme']}{MASK}" if b":" in decoded else match[0]


def _dict_item(match: re.Match[str]) -> str:
    value = match["value"]
    if not value or value in ("<set>", "<unset>", MASK):
        return match[0]
    return f"{match['key']}{match['q']}{MASK}{match['q']}"


class SecretRegistry:
    """Secret values to replace wherever they appear (thread-safe; logging runs in threads)."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._lock = threading.Lock()

    def add(self, *values: str) -> None:
        """Register ``values`` (and their URL-encoded forms); short or empty ones are skipped."""
        with self._lock:
            before = len(self._values)
            for value in values:
                for form in (value, quote(value, safe=""), unquote(value)):
                    if len(form) >= MIN_SECRET_LEN and not _NOT_SECRET.fullmatch(form):
                        self._values.add(form)
            if len(self._values) != before:
                ordered = sorted(self._values, key=len, reverse=True)  # longest first
                self._pattern = re.compile("|".join(map(re.escape, ordered)))

    def add_credentials(self, user: str, password: str) -> None:
        """Register a Basic-auth pair: the password and the header's base64 of ``user:pass``."""
        token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
        self.add(password, token)

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
            self._pattern = None

    def scrub(self, text: str) -> str:
        pattern = self._pattern
        return text if pattern is None else pattern.sub(MASK, text)

    def __contains__(self, value: object) -> bool:
        return value in self._values


SECRETS = SecretRegistry()
"""The process's registered secrets (what :func:`redact_text` replaces by default)."""


def register_secrets(*values: str) -> None:
    """Register secret values known at start-up (tokens, passwords; URLs with credentials are
    taken apart: their password and Basic token are registered)."""
    for value in values:
        parts = urlsplit(value) if "://" in value else None
        if parts is not None and parts.password:
            SECRETS.add_credentials(unquote(parts.username or ""), unquote(parts.password))
        elif ":" in value and "://" not in value and not value.startswith(("sip:", "sips:")):
            user, _, password = value.partition(":")  # user:password (VOXGATE_EVENT_AUTH)
            SECRETS.add_credentials(user, password)
            SECRETS.add(value)
        else:
            SECRETS.add(value)


def secrets_in_env(environ: Mapping[str, str]) -> list[str]:
    """The environment's secrets: variables named like ``*_TOKEN``, ``*_PASSWORD``, ``*_SECRET``,
    ``*_AUTH``, ``*_KEY`` (``EXOTEL_API_TOKEN``, ``VOXGATE_CONTROL_TOKEN``, a gateway password
    under any ``--auth-password-env`` name), and any value that is a URL with a password
    (``VOXGATE_STREAM_URL``, ``VOXGATE_CRM_URL``, ``VOXGATE_EVENT_ENDPOINT``)."""
    out: list[str] = []
    for name, value in environ.items():
        if not value:
            continue
        if _SECRET_ENV.search(name) or ("://" in value and urlsplit(value).password):
            out.append(value)
    return out


def secrets_in_settings(settings: Mapping[str, object] | object) -> list[str]:
    """The secrets among a config's settings (a mapping or a dataclass instance such as
    ``DialerConfig``): string values of secret-named settings (``api_token``, ``event_auth``,
    ``crm_secret``, ...) and URLs carrying a password."""
    if not isinstance(settings, Mapping):
        fields = dataclasses.fields(settings) if dataclasses.is_dataclass(settings) else ()
        settings = {f.name: getattr(settings, f.name) for f in fields}
    name = re.compile(rf"{_SECRET_NAME}$", re.IGNORECASE)
    out: list[str] = []
    for key, value in settings.items():
        if not isinstance(value, str) or not value:
            continue
        if name.match(key) or ("://" in value and urlsplit(value).password):
            out.append(value)
    return out


def _header(match: re.Match[str]) -> str:
    scheme = f"{match['scheme']} " if match["scheme"] else ""
    return f"{match['name']}{match['sep']}{scheme}{MASK}"


def redact_text(text: str, registry: SecretRegistry = SECRETS) -> str:
    """``text`` with every credential form listed in the module docstring masked. Each pattern
    runs only when a cheap substring test says it may match (most log lines match none)."""
    text = registry.scrub(text)
    low = text.lower()
    if "://" in text and "@" in text:
        text = _USERINFO.sub(rf"\g<scheme>{MASK}@", text)
    if any(name in low for name in _HEADER_NAMES):
        text = _HEADER.sub(_header, text)
    if "bearer" in low:
        text = _BEARER.sub(rf"\g<scheme>{MASK}", text)
    if "basic" in low:
        text = _BASIC.sub(_basic, text)
    if any(word in low for word in _SECRET_WORDS):
        if "=" in text:
            text = _PARAM.sub(rf"\g<name>={MASK}", text)
        if ":" in text:
            text = _DICT_ITEM.sub(_dict_item, text)
    return text


class RedactingFilter(logging.Filter):
    """A handler filter that masks secrets in each record's message, traceback and stack (the
    message is formatted here, so ``record.args`` is emptied). Never drops a record."""

    def __init__(self, registry: SecretRegistry = SECRETS) -> None:
        super().__init__()
        self.registry = registry

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: let the handler report it as usual
            return True
        record.msg, record.args = redact_text(message, self.registry), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text, self.registry)
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info, self.registry)
        return True


def redacted_excepthook(
    kind: type[BaseException], exc: BaseException, tb: TracebackType | None
) -> None:
    """``sys.excepthook`` that prints an uncaught exception's traceback masked."""
    text = "".join(traceback.format_exception(kind, exc, tb))
    sys.stderr.write(redact_text(text))


def install(logger: logging.Logger | None = None, secrets: Iterable[str] = ()) -> None:
    """Register ``secrets`` and put a :class:`RedactingFilter` on every handler of ``logger``
    (the root logger by default), once each; an uncaught exception's traceback (printed outside
    logging) is masked too. Call after the handlers are configured."""
    register_secrets(*secrets)
    for handler in (logger or logging.getLogger()).handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
    if sys.excepthook is sys.__excepthook__:
        sys.excepthook = redacted_excepthook
