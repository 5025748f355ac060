"""NEO Bank's error shape, ``{"error": {"code", "message"}}``, and the codes of the contract
(``docs/providers/neobank.md``):

- 401 ``unknown_client``, ``invalid_signature``, ``stale_timestamp``; 409 ``duplicate_request_id``
  (the signed-request checks, see :mod:`~devstack.sandboxes.neobank.core`);
- 404 ``unknown_cprn``, ``unknown_transaction``; 409 ``reference_conflict``,
  ``registration_not_verified``; 422 ``invalid_request`` (the field first in ``message``);
- the sandbox's own: 404 ``not_found`` (no such route or admin object), 405
  ``method_not_allowed``, 409 ``invalid_transition`` (an admin move a payment cannot make), 413
  ``request_too_large``, 500 ``internal_error``.
"""

from __future__ import annotations

from devstack.sandboxes.kit import Json, SandboxError

UNKNOWN_CLIENT = "unknown_client"
INVALID_SIGNATURE = "invalid_signature"
STALE_TIMESTAMP = "stale_timestamp"
DUPLICATE_REQUEST_ID = "duplicate_request_id"
UNKNOWN_CPRN = "unknown_cprn"
UNKNOWN_TRANSACTION = "unknown_transaction"
REFERENCE_CONFLICT = "reference_conflict"
REGISTRATION_NOT_VERIFIED = "registration_not_verified"
INVALID_REQUEST = "invalid_request"
NOT_FOUND = "not_found"
METHOD_NOT_ALLOWED = "method_not_allowed"
INVALID_TRANSITION = "invalid_transition"
REQUEST_TOO_LARGE = "request_too_large"
INTERNAL_ERROR = "internal_error"


class NeoBankError(SandboxError):
    """An error in NEO Bank's shape (``status`` is the HTTP status)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(status, message)
        self.code = code

    def body(self) -> Json:
        return {"error": {"code": self.code, "message": self.message}}


def invalid(field: str, message: str) -> NeoBankError:
    """422 ``invalid_request``; the message starts with the field (``wallet_address must ...``)."""
    return NeoBankError(422, INVALID_REQUEST, f"{field} {message}")


def not_found(message: str) -> NeoBankError:
    return NeoBankError(404, NOT_FOUND, message)
