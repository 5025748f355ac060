"""A local Safaricom Daraja: OAuth, M-PESA STK push and STK query, a virtual phone, callbacks.

The server speaks Daraja's wire format (see ``PROVIDERS.md``: Basic-auth OAuth with tokens that
expire and are invalidated by a newer one, bearer-authenticated JSON requests, the STK Password
and Timestamp, Daraja's field rules and ``{requestId, errorCode, errorMessage}`` errors, spike
arrest and quota) and checks what it receives the way Daraja does. Each push waits on a virtual
phone page (``/_sandbox/phone/<CheckoutRequestID>``) where a person or a test pays, cancels,
enters a wrong PIN, lacks funds or does not answer; the push then ends with Daraja's ResultCode
and an unsigned callback in Daraja's exact body shape goes to its ``CallBackURL`` (loopback only)
from a configurable source address. ``ChaosSettings`` duplicates, delays, drops or tampers with
callbacks and forces spike-arrest or quota refusals.

Built on the sandbox kit (:mod:`devstack.sandboxes.kit`), in parts: ``objects`` (apps, tokens,
pushes, settings, ids, ResultCodes), ``errors`` (the error shape and codes), ``core`` (apps,
OAuth, bearer tokens, throttling), ``callbacks`` (how a push ends, the callback body and its
delivery), ``stk`` (STK push and query), ``phone`` (the virtual phone page), ``admin``
(``/_sandbox/...``) and ``sandbox`` (routes). ``python -m devstack.sandboxes.daraja`` runs one.
"""

from devstack.sandboxes.daraja.callbacks import callback_body
from devstack.sandboxes.daraja.errors import DarajaError
from devstack.sandboxes.daraja.objects import (
    NAIROBI,
    App,
    ChaosSettings,
    Settings,
    nairobi_timestamp,
)
from devstack.sandboxes.daraja.sandbox import DarajaSandbox
from devstack.sandboxes.daraja.stk import stk_password

__all__ = [
    "NAIROBI",
    "App",
    "ChaosSettings",
    "DarajaError",
    "DarajaSandbox",
    "Settings",
    "callback_body",
    "nairobi_timestamp",
    "stk_password",
]
