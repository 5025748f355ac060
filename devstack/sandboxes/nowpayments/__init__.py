"""A local NOWPayments: currencies, estimates and minimums, payments, hosted invoices, and IPNs
signed with each account's IPN secret.

The server speaks NOWPayments' wire format (``PROVIDERS.md``, NOWPayments) under ``/v1``:
``x-api-key`` on every call but ``GET /v1/status``, NOWPayments' fields and checks on
``POST /v1/payment`` and ``POST /v1/invoice``, ``GET /v1/payment/{id}`` for the calling account
only, errors as ``{"status": false, "statusCode", "code", "message"}``. Rates are fixed and
amounts exact decimals (``market``); answers and IPNs write amounts as JSON numbers the way
Node.js does (``wire``). An invoice's ``invoice_url`` is a hosted page (``/invoice/{id}``) where a
person picks the currency and pays in full, pays half or lets it expire. ``POST
/_sandbox/payments/{id}/advance`` moves a payment through waiting -> confirming -> confirmed ->
sending -> finished (or partially_paid, failed, expired, refunded), one IPN per change, to its
``ipn_callback_url`` (loopback only) with ``x-nowpayments-sig``; per-account ``ChaosSettings``
duplicate, shuffle, reverse, delay, drop, unsign or mis-sign IPNs, sign them in the Python or
the JavaScript canonical form, or forge a "finished" that ``GET /v1/payment`` contradicts.

What is assumed where ``PROVIDERS.md`` says nothing (from NOWPayments' public docs and clients,
not checked against the real service):

- 401 ``{"status": false, "statusCode": 401, "code": "INVALID_API_KEY", "message": "Invalid api
  key"}`` for a missing or unknown key; the other codes and messages are in ``errors``;
- ``payment_id`` is a numeric *string* in the answer to ``POST /v1/payment`` but a JSON
  *number* in ``GET /v1/payment/{id}`` and in IPNs (so is ``invoice_id``; ``purchase_id`` is a
  string everywhere); the invoice's ``id`` and ``price_amount`` are strings;
- an IPN's ``updated_at`` is milliseconds since the epoch (a number); ``GET /v1/payment``
  writes ``created_at`` / ``updated_at`` as ISO 8601 with milliseconds;
- an IPN also carries ``payment_extra_ids`` (null); amounts NOWPayments writes as numbers are
  numbers, ``GET /v1/estimate`` answers decimal strings, ``GET /v1/min-amount`` numbers;
- ``POST /v1/payment`` answers 201 and ``POST /v1/invoice`` 200; a payment below the minimum
  is ``AMOUNT_MINIMAL_ERROR`` "amountTo is too small";
- an IPN not answered 2xx is sent again (``ipns.IPN_RETRY_BACKOFF``).

Built on the sandbox kit (:mod:`devstack.sandboxes.kit`), in parts: ``market`` (currencies,
rates, minimums, fees), ``wire`` (JSON numbers and the signed texts), ``objects`` (accounts,
payments, invoices, switches, ids), ``errors``, ``core`` (accounts, ``x-api-key``, bodies),
``ipns`` (statuses and IPN delivery), ``api`` (``/v1``), ``invoice`` (the hosted page),
``admin`` (``/_sandbox/...``) and ``sandbox`` (routes). ``python -m devstack.sandboxes.nowpayments``
runs one.
"""

from devstack.sandboxes.nowpayments.errors import NowPaymentsError
from devstack.sandboxes.nowpayments.objects import (
    Account,
    AccountSettings,
    ChaosSettings,
    Settings,
)
from devstack.sandboxes.nowpayments.sandbox import NowPaymentsSandbox
from devstack.sandboxes.nowpayments.wire import (
    ipn_signature,
    javascript_signature_text,
    python_signature_text,
)

__all__ = [
    "Account",
    "AccountSettings",
    "ChaosSettings",
    "NowPaymentsError",
    "NowPaymentsSandbox",
    "Settings",
    "ipn_signature",
    "javascript_signature_text",
    "python_signature_text",
]
