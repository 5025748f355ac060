"""`make dev`: start the local stack, print how to use it, stop cleanly on Ctrl-C."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from devstack.stack import DevStack, DevStackInfo, PortInUseError

DEFAULT_STATE_FILE = Path(".devstack/state.json")


def _usage(info: DevStackInfo) -> str:
    return f"""
Payments devstack is up (moto as AWS, real handlers behind a local API Gateway).

  API base URL     {info.api_base_url}
  Function URLs    {info.function_urls_base}/<FunctionLogicalId>/...
  Embedded AWS     {info.aws_endpoint}
  Stripe sandbox   {info.stripe_sandbox_url}  (webhooks go to WebhookStripeFunction)
  Omnisend sandbox {info.omnisend_sandbox_url}  (e-mails: GET /_sandbox/events)
  Bookings app     {info.bookings_app_url}  (reference consumer, receives our callbacks)
  Demo tenant      {info.tenant_name} ({info.tenant_id}), Stripe sandbox account connected
  API key          {info.api_key}   (id {info.api_key_id}; shown once)
  Demo payment     {info.demo_payment_id}

Try it:
  curl -s {info.api_base_url}/v1/health
  curl -s -H "Authorization: Bearer {info.api_key}" \\
       {info.api_base_url}/v1/payments/{info.demo_payment_id}
  curl -s -H "Authorization: Bearer {info.api_key}" \\
       "{info.api_base_url}/v1/payments?payable_type=booking&payable_id=bk_demo_1"
  .venv/bin/payctl --local ledger verify

Take a payment with Stripe Checkout (open checkout_url in a browser and press Pay):
  curl -s -X POST -H "Authorization: Bearer {info.api_key}" \\
       -H "Idempotency-Key: demo-$(date +%s)" -H "Content-Type: application/json" \\
       -d '{{"payable_type":"booking","payable_id":"bk_2","amount":4500,"currency":"USD",
            "description":"Massage","success_url":"http://localhost:3000/thanks",
            "customer":{{"email":"ann@example.com"}}}}' \\
       {info.api_base_url}/v1/checkout
Or book through the reference app (it calls /v1/checkout and is confirmed by our callback):
  curl -s -X POST -H "Content-Type: application/json" {info.bookings_app_url}/bookings \\
       -d '{{"service":"Haircut","amount":2500,"currency":"USD","customer_email":"a@b.co"}}'
Then refund part of it:
  curl -s -X POST -H "Authorization: Bearer {info.api_key}" \\
       -H "Idempotency-Key: refund-$(date +%s)" -H "Content-Type: application/json" \\
       -d '{{"amount":1500}}' {info.api_base_url}/v1/payments/<payment_id>/refunds

Press Ctrl-C to stop.
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="devstack", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--api-port", type=int, default=3000)
    parser.add_argument("--aws-port", type=int, default=5000)
    parser.add_argument("--webhooks-port", type=int, default=3001)
    parser.add_argument("--stripe-port", type=int, default=12111)
    parser.add_argument("--omnisend-port", type=int, default=12112)
    parser.add_argument("--bookings-port", type=int, default=8080)
    parser.add_argument(
        "--schedule-interval",
        type=float,
        default=None,
        help="run scheduled functions (the sweeper) every N seconds instead of their rate",
    )
    parser.add_argument(
        "--sweeper-age-minutes",
        default=None,
        help="the template's SweeperPendingAgeMinutes (how stale a payment must be to sweep)",
    )
    parser.add_argument(
        "--free-ports", action="store_true", help="let the system pick every port (tests, CI)"
    )
    parser.add_argument("--state-file", type=Path, default=DEFAULT_STATE_FILE)
    args = parser.parse_args(argv)
    if args.free_ports:
        for name in ("api", "aws", "webhooks", "stripe", "omnisend", "bookings"):
            setattr(args, f"{name}_port", 0)

    stack = DevStack(
        host=args.host,
        aws_port=args.aws_port,
        api_port=args.api_port,
        webhooks_port=args.webhooks_port,
        stripe_port=args.stripe_port,
        omnisend_port=args.omnisend_port,
        bookings_port=args.bookings_port,
        schedule_interval=args.schedule_interval,
        parameters={"SweeperPendingAgeMinutes": args.sweeper_age_minutes}
        if args.sweeper_age_minutes is not None
        else {},
    )
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        info = stack.start()
    except PortInUseError as error:
        print(f"devstack: {error}", file=sys.stderr)
        return 2
    try:
        args.state_file.parent.mkdir(parents=True, exist_ok=True)
        args.state_file.write_text(info.to_json(), encoding="utf-8")
        args.state_file.chmod(0o600)  # it holds the demo API key
        print(_usage(info), flush=True)
        stop.wait()
    finally:
        print("Stopping devstack...", flush=True)
        stack.stop()
        args.state_file.unlink(missing_ok=True)
    print("Stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
