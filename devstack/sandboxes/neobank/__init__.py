"""A local NEO Bank (Bill Bitts): signed requests checked against each client's registered RSA
public key, customer registrations (CPRNs), payments for security-token trades (TXNs) moving
PENDING -> SUCCESS -> SETTLED (T+2, compressed) or FAILED, and webhooks signed with the bank's
own RSA-2048 key, generated at start.

The server speaks the contract of ``docs/providers/neobank.md`` under ``/v1``: every call
carries ``X-Neo-Client-Id``, ``X-Neo-Timestamp``, ``X-Neo-Request-Id`` and ``X-Neo-Signature``
and is refused (401 ``unknown_client`` / ``invalid_signature`` / ``stale_timestamp``, 409
``duplicate_request_id``) unless every check passes; errors are ``{"error": {"code",
"message"}}``. Signatures are made and checked with ``cryptography`` (never pycryptodome, which
the production adapter uses: the two are independent). Webhooks go to the client's loopback
``webhook_url``, are retried on non-2xx and recorded with each attempt's answer; per-client
``ClientSettings`` pace verifications and settlements and ``ChaosSettings`` add duplicate,
unsigned, forged or stale copies or send SETTLED before SUCCESS. What was assumed where the
contract says nothing is in ``docs/providers/neobank-sandbox.md`` (Assumptions).

Built on the sandbox kit (:mod:`devstack.sandboxes.kit`), in parts: ``signing`` (RSA keys and
the signed messages), ``objects`` (clients, registrations, payments, webhooks, requests,
switches, ids, currencies), ``errors``, ``core`` (the bank's key, clients, the signed-request
checks), ``webhooks`` (moves and deliveries), ``api`` (``/v1``), ``admin`` (``/_sandbox/...``)
and ``sandbox`` (routes). ``python -m devstack.sandboxes.neobank`` runs one.
"""

from devstack.sandboxes.neobank.errors import NeoBankError
from devstack.sandboxes.neobank.objects import (
    ChaosSettings,
    Client,
    ClientSettings,
    Settings,
)
from devstack.sandboxes.neobank.sandbox import NeoBankSandbox
from devstack.sandboxes.neobank.signing import request_message, webhook_message

__all__ = [
    "ChaosSettings",
    "Client",
    "ClientSettings",
    "NeoBankError",
    "NeoBankSandbox",
    "Settings",
    "request_message",
    "webhook_message",
]
