"""Re-sign a Stripe webhook sample in events/webhook_stripe/ so it verifies now.

Stripe signatures expire after 300 s, so a stored sample cannot carry a valid one. Usage:

    .venv/bin/python scripts/sign_stripe_event.py events/webhook_stripe/X.json \\
        --secret whsec_... [--tenant ten_...] > /tmp/signed.json
    sam local invoke WebhookStripeFunction -e /tmp/signed.json

The secret is the tenant's webhook signing secret (the one `payctl credentials set` stored).
Signing uses the stripe SDK's own routine.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import stripe


def signed(event: dict[str, object], secret: str, tenant_id: str | None) -> dict[str, object]:
    if tenant_id:
        event["rawPath"] = f"/{tenant_id}"
        http = event["requestContext"]["http"]  # type: ignore[index]
        http["path"] = f"/{tenant_id}"  # type: ignore[index]
    body = str(event["body"])
    stamp = int(time.time())
    signature = stripe.WebhookSignature._compute_signature(f"{stamp}.{body}", secret)
    event["headers"]["stripe-signature"] = f"t={stamp},v1={signature}"  # type: ignore[index]
    return event


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("event", type=Path)
    parser.add_argument("--secret", required=True, help="the tenant's whsec_ signing secret")
    parser.add_argument("--tenant", help="deliver to this tenant id instead of the sample's")
    args = parser.parse_args()
    event = json.loads(args.event.read_text(encoding="utf-8"))
    json.dump(signed(event, args.secret, args.tenant), sys.stdout, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
