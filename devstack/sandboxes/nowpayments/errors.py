"""NOWPayments' error shape, ``{"status": false, "statusCode", "code", "message"}``, and the
errors the sandbox answers in it.

Codes (``PROVIDERS.md`` names none; these are the ones NOWPayments' clients are seen to handle,
the messages are the sandbox's own, in the style of NOWPayments' Joi validation):

- ``INVALID_API_KEY`` (HTTP 401): no ``x-api-key``, or one of no account;
- ``INVALID_REQUEST_PARAMS`` (HTTP 400): a missing, mistyped or unknown field or query
  parameter (``"price_amount" must be a number``, ``"colour" is not allowed``), a price currency
  NOWPayments does not know, a body that is not JSON;
- ``CURRENCY_UNAVAILABLE`` (HTTP 400): a pay currency that is not one of ``GET /v1/currencies``;
- ``AMOUNT_MINIMAL_ERROR`` (HTTP 400): a payment whose pay amount is below the pair's minimum;
- ``PAYMENT_NOT_FOUND`` (HTTP 404): a payment id of no payment of the calling account;
- ``NOT_FOUND`` (HTTP 404): a path NOWPayments does not have;
- ``CONFLICT`` (HTTP 409, admin only): a status change the payment cannot make.
"""

from __future__ import annotations

from devstack.sandboxes.kit import Json, SandboxError

INVALID_API_KEY = "INVALID_API_KEY"
INVALID_REQUEST_PARAMS = "INVALID_REQUEST_PARAMS"
CURRENCY_UNAVAILABLE = "CURRENCY_UNAVAILABLE"
AMOUNT_MINIMAL_ERROR = "AMOUNT_MINIMAL_ERROR"
PAYMENT_NOT_FOUND = "PAYMENT_NOT_FOUND"
NOT_FOUND = "NOT_FOUND"
CONFLICT = "CONFLICT"
INTERNAL_ERROR = "INTERNAL_ERROR"


class NowPaymentsError(SandboxError):
    """An error in NOWPayments' shape (``status`` is the HTTP status)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(status, message)
        self.code = code

    def body(self) -> Json:
        return {
            "status": False,
            "statusCode": self.status,
            "code": self.code,
            "message": self.message,
        }


def invalid(message: str) -> NowPaymentsError:
    return NowPaymentsError(400, INVALID_REQUEST_PARAMS, message)


def invalid_api_key() -> NowPaymentsError:
    return NowPaymentsError(401, INVALID_API_KEY, "Invalid api key")


def conflict(message: str) -> NowPaymentsError:
    return NowPaymentsError(409, CONFLICT, message)
