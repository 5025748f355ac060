"""A local Stripe: the API subset the backbone uses, the hosted Checkout page and signed webhooks.

The server speaks Stripe's wire format (form-encoded requests with bracket nesting, JSON objects,
Stripe's error shape and status codes, idempotency keys, ``Stripe-Signature`` webhooks) well enough
that the official SDK works against it unchanged through
``stripe.StripeClient(key, base_addresses={"api": sandbox.base_url})``, and it checks what it
receives the way Stripe does (unknown parameters, limits on metadata, amounts and expiry, one
account's objects invisible to another). Webhooks go only to loopback URLs: nothing leaves the
machine. ``ChaosSettings`` makes delivery as unfriendly as Stripe is allowed to be.

It is built on the sandbox kit (:mod:`devstack.sandboxes.kit`), in parts: ``objects`` (state,
ids, amounts), ``params`` and ``errors`` (the wire format), ``core`` (accounts, API requests,
idempotency, rendering), ``webhooks`` (events, signed deliveries, endpoints), ``customers``,
``checkout`` and ``payments`` (sessions, PaymentIntents, Charges), ``refunds``, ``balance``,
``pages`` (the hosted Checkout page), ``admin`` (Dashboard-side actions, ``/_sandbox/...``)
and ``sandbox`` (routes). ``python -m devstack.sandboxes.stripe`` runs one.
"""

from devstack.sandboxes.stripe.errors import StripeApiError
from devstack.sandboxes.stripe.objects import (
    API_VERSION,
    MAX_AMOUNT,
    Account,
    ChaosSettings,
    format_amount,
)
from devstack.sandboxes.stripe.params import decode_form
from devstack.sandboxes.stripe.sandbox import StripeSandbox
from devstack.sandboxes.stripe.webhooks import stripe_signature_header

__all__ = [
    "API_VERSION",
    "MAX_AMOUNT",
    "Account",
    "ChaosSettings",
    "StripeApiError",
    "StripeSandbox",
    "decode_form",
    "format_amount",
    "stripe_signature_header",
]
