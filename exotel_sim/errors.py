"""The emulator's error tree: every API error carries Exotel's status and a field-level message.

``ApiError`` (base, an HTTP status and a message)
  ``BadRequest`` 400, names the offending ``field``
  ``Unauthorized`` 401, ``Forbidden`` 403
  ``NotFound`` 404 (unknown sid; also hang-up of a leg that already ended, as Exotel does)
  ``StateConflict`` 409 (an action that does not fit the leg's or bridge's state)
  ``RateLimited`` 429 (request rate, channel limit, stream throttle)

Raise them anywhere below the API; ``api.py`` turns them into Exotel's envelope.
"""

from __future__ import annotations


class ApiError(Exception):
    """An error answered to the API caller with ``status`` and an Exotel-shaped body."""

    status: int = 500
    code: str = "internal_error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def error_data(self) -> dict[str, object]:
        """The ``response.error_data`` object of Exotel's envelope."""
        data: dict[str, object] = {
            "code": self.status,
            "error": self.code,
            "message": self.message,
            "description": self.message,
        }
        if self.field is not None:
            data["field"] = self.field
        return data


class BadRequest(ApiError):
    status = 400
    code = "bad_request"


class Unauthorized(ApiError):
    status = 401
    code = "unauthorized"


class Forbidden(ApiError):
    status = 403
    code = "forbidden"


class NotFound(ApiError):
    status = 404
    code = "not_found"


class StateConflict(ApiError):
    status = 409
    code = "invalid_state"


class RateLimited(ApiError):
    status = 429
    code = "too_many_requests"
