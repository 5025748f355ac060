"""Stripe's error shape, and the errors the sandbox answers in it."""

from __future__ import annotations

import re
from typing import NoReturn

from devstack.sandboxes.kit import Json, SandboxError

_KEY_PREFIX = re.compile(r"(?:sk|rk|pk)_(?:test|live)_")


def mask_key(key: str) -> str:
    """What Stripe shows of a rejected key: its kind and last four characters, never the rest."""
    match = _KEY_PREFIX.match(key)
    prefix = match.group(0) if match else ""
    tail = key[-4:] if len(key) - len(prefix) >= 12 else ""
    return f"{prefix}****{tail}"


class StripeApiError(SandboxError):
    """An error in Stripe's shape; the Python helpers raise it too (``status`` is the HTTP one)."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        error_type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(status, message)
        self.error_type = error_type
        self.code = code
        self.param = param

    def body(self) -> Json:
        error: Json = {"type": self.error_type, "message": self.message}
        if self.code is not None:
            error["code"] = self.code
        if self.param is not None:
            error["param"] = self.param
        return {"error": error}


def missing(param: str) -> StripeApiError:
    return StripeApiError(
        400, f"Missing required param: {param}.", code="parameter_missing", param=param
    )


def invalid(param: str, message: str, code: str = "parameter_invalid") -> StripeApiError:
    return StripeApiError(400, message, code=code, param=param)


def no_such(object_type: str, object_id: str, *, param: str = "id", status: int = 404) -> NoReturn:
    raise StripeApiError(
        status, f"No such {object_type}: '{object_id}'", code="resource_missing", param=param
    )
