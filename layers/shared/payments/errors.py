"""The one family of errors a caller may see, each with its HTTP status and a stable code.

Services raise these; ``payments.http`` turns any of them into
``{"error": {"code": ..., "message": ...}}`` with ``status``. Messages are for humans and never
carry secrets or internals.
"""

from __future__ import annotations

from http import HTTPStatus


class PaymentsError(Exception):
    status: int = HTTPStatus.BAD_REQUEST
    code: str = "bad_request"
    # When set, the answer carries `Retry-After: <seconds>`.
    retry_after_seconds: int | None = None

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status


class NotFoundError(PaymentsError):
    status = HTTPStatus.NOT_FOUND
    code = "not_found"


class InvalidQueryError(PaymentsError):
    """A query parameter that passed its pattern but means nothing (a range backwards, a date
    out of range, a filter no value has)."""

    code = "invalid_query"


class UnauthorizedError(PaymentsError):
    status = HTTPStatus.UNAUTHORIZED
    code = "unauthorized"


class ForbiddenError(PaymentsError):
    """A valid caller that may not use this route (an operator key on a merchant route, or the
    other way round)."""

    status = HTTPStatus.FORBIDDEN
    code = "forbidden"


class ConflictError(PaymentsError):
    status = HTTPStatus.CONFLICT
    code = "conflict"


class UnprocessableError(PaymentsError):
    status = HTTPStatus.UNPROCESSABLE_ENTITY
    code = "invalid_request"


class BusyError(PaymentsError):
    """Too many concurrent changes to one record; the client should retry shortly."""

    status = HTTPStatus.SERVICE_UNAVAILABLE
    code = "concurrent_update"


class RateLimitedError(PaymentsError):
    """The tenant used up its budget for a costly operation; it may try again later."""

    status = HTTPStatus.TOO_MANY_REQUESTS
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after_seconds: int) -> None:
        super().__init__(message)
        self.retry_after_seconds = max(1, retry_after_seconds)
