"""Daraja's error shape, ``{requestId, errorCode, errorMessage}``, and the errors the sandbox
answers in it.

Codes (the ones Daraja uses for these cases):

- ``400.002.02`` ``Bad Request - Invalid <Field>`` (HTTP 400): a missing or malformed field, a
  stale Timestamp, an unknown CheckoutRequestID on STK query;
- ``400.008.01`` ``Invalid Authentication passed`` (HTTP 400): OAuth without valid Basic auth of
  a registered app; ``400.008.02`` ``Invalid grant type passed``;
- ``404.001.03`` ``Invalid Access Token`` (HTTP 404): a missing, unknown, expired or superseded
  bearer token;
- ``500.001.1001`` (HTTP 500): ``Wrong credentials`` (Password not built from the app's passkey),
  ``Merchant does not exist`` (a shortcode that is not the app's), and on STK query of a push
  still waiting for the customer, ``The transaction is being processed``;
- ``500.003.02`` ``Spike arrest violation`` and ``500.003.03`` ``Quota Violation`` (HTTP 500);
- ``404.001.01`` ``Resource not found``: a path Daraja does not have.
"""

from __future__ import annotations

from devstack.sandboxes.daraja.objects import request_id
from devstack.sandboxes.kit import Json, SandboxError

BAD_REQUEST = "400.002.02"
INVALID_AUTHENTICATION = "400.008.01"
INVALID_GRANT_TYPE = "400.008.02"
INVALID_TOKEN = "404.001.03"  # noqa: S105 (an error code, not a secret)
NOT_FOUND = "404.001.01"
MERCHANT_ERROR = "500.001.1001"
SPIKE_ARREST = "500.003.02"
QUOTA_VIOLATION = "500.003.03"
INTERNAL_ERROR = "500.002.1001"

BEING_PROCESSED = "The transaction is being processed"
WRONG_CREDENTIALS = "Wrong credentials"
UNKNOWN_MERCHANT = "Merchant does not exist"


class DarajaError(SandboxError):
    """An error in Daraja's shape (``status`` is the HTTP status)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(status, message)
        self.code = code
        self.request_id = request_id()

    def body(self) -> Json:
        return {"requestId": self.request_id, "errorCode": self.code, "errorMessage": self.message}


def bad_field(name: str) -> DarajaError:
    return DarajaError(400, BAD_REQUEST, f"Bad Request - Invalid {name}")


def invalid_token() -> DarajaError:
    return DarajaError(404, INVALID_TOKEN, "Invalid Access Token")


def invalid_authentication() -> DarajaError:
    return DarajaError(400, INVALID_AUTHENTICATION, "Invalid Authentication passed")


def merchant_error(message: str) -> DarajaError:
    return DarajaError(500, MERCHANT_ERROR, message)
