"""Every provider sandbox the devstack runs, declared once: what it is, which template parameter
points the system's adapter at it, and its default port. Adding a provider's sandbox is an
entry here, not an edit of devstack/stack.py."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from devstack.sandboxes.daraja import DarajaSandbox
from devstack.sandboxes.kit import Sandbox
from devstack.sandboxes.neobank import NeoBankSandbox
from devstack.sandboxes.nowpayments import NowPaymentsSandbox
from devstack.sandboxes.omnisend import OmnisendSandbox
from devstack.sandboxes.stripe import StripeSandbox


@dataclass(frozen=True, slots=True)
class SandboxEntry:
    name: str  # also its --<name>-port option and its key in DevStack.sandboxes
    provider: str  # the provider spec it stands in for (payments.providers.SPECS)
    make: Callable[[str, int], Sandbox]  # (host, port) -> the sandbox, not yet started
    # The template parameter of the provider's API base (PROVIDER_API_BASE_<NAME>).
    api_base_parameter: str
    default_port: int
    description: str


SANDBOXES: tuple[SandboxEntry, ...] = (
    SandboxEntry(
        "stripe",
        "stripe",
        StripeSandbox,
        "StripeApiBase",
        12111,
        "webhooks go to WebhookStripeFunction",
    ),
    SandboxEntry(
        "omnisend",
        "omnisend",
        OmnisendSandbox,
        "OmnisendApiBase",
        12112,
        "e-mails: GET /_sandbox/events",
    ),
    SandboxEntry(
        "daraja",
        "mpesa",
        DarajaSandbox,
        "MpesaApiBase",
        12113,
        "M-PESA; callbacks go to WebhookMpesaFunction, phone pages at /_sandbox/phone/<id>",
    ),
    SandboxEntry(
        "nowpayments",
        "nowpayments",
        NowPaymentsSandbox,
        "NowpaymentsApiBase",
        12114,
        "crypto; IPNs go to WebhookNowpaymentsFunction, invoice pages at /invoice/<id>",
    ),
    SandboxEntry(
        "neobank",
        "neobank",
        NeoBankSandbox,
        "NeobankApiBase",
        12115,
        "NEO Bank; webhooks go to WebhookNeobankFunction, admin moves at"
        " /_sandbox/payments/<tx_id>/status",
    ),
)
