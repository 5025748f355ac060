"""`make dev`: start the local stack, print how to use it, stop cleanly on Ctrl-C."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

from devstack.sandboxes.registry import SANDBOXES
from devstack.stack import DevStack, DevStackInfo, PortInUseError

DEFAULT_STATE_FILE = Path(".devstack/state.json")


# Each server's port when neither --<name>-port nor --free-ports says otherwise.
DEFAULT_PORTS = {
    "api": 3000,
    "webhooks": 3001,
    "pages": 3002,
    "aws": 5000,
    "bookings": 8080,
    "marketplace": 8081,
    **{entry.name: entry.default_port for entry in SANDBOXES},
}


def _sandbox_lines(info: DevStackInfo) -> str:
    return "\n".join(
        f"  {entry.name.capitalize() + ' sandbox':<16} {info.sandbox_urls[entry.name]}  "
        f"({entry.description})"
        for entry in SANDBOXES
    )


def _usage(info: DevStackInfo, payctl: str) -> str:
    pages = info.return_pages_url
    daraja = info.sandbox_urls["daraja"]
    nowpayments = info.sandbox_urls["nowpayments"]
    neobank = info.sandbox_urls["neobank"]
    market = info.marketplace_app_url
    export = (
        f"export BASE={info.api_base_url} KEY={info.api_key} KEY2={info.second_api_key} "
        f"OPKEY={info.operator_key}"
    )
    return f"""
Payments devstack is up (moto as AWS, real handlers behind a local API Gateway).

  API base URL     {info.api_base_url}
  API reference    {info.api_base_url}/v1/docs  (Swagger UI; the contract: /v1/openapi.json)
  Dashboard        {info.api_base_url}/dashboard  (sign in with the API key below)
  Function URLs    {info.function_urls_base}/<FunctionLogicalId>/...
  Embedded AWS     {info.aws_endpoint}
{_sandbox_lines(info)}
  Bookings app     {info.bookings_app_url}  (reference consumer, receives our callbacks)
  Marketplace app  {info.marketplace_app_url}  (token marketplace on NEO Bank trades)
  Shop pages       {pages}  (/thanks and /cancelled: success_url, cancel_url)
  Demo tenant      {info.tenant_name} ({info.tenant_id}), Stripe sandbox account connected,
                   M-PESA: its own Daraja sandbox app, PayBill {info.demo_mpesa_shortcode},
                   a NOWPayments account and a NEO Bank client {info.demo_neobank_client_id}
  Demo payment     {info.demo_payment_id}
  Second tenant    {info.second_tenant_name} ({info.second_tenant_id}), API key $KEY2
  Operator key     id {info.operator_key_id}, $OPKEY: the operator API (/v1/admin/...) only

The demo tenant's API key (id {info.api_key_id}), the second tenant's and the operator key are
printed this once, on the next line. Paste it into your shell: the commands below use $BASE,
$KEY, $KEY2 and $OPKEY.
  {export}

Try it:
  curl -s $BASE/v1/health
  curl -s -H "Authorization: Bearer $KEY" $BASE/v1/payments/{info.demo_payment_id}
  curl -s -H "Authorization: Bearer $KEY" \\
       "$BASE/v1/payments?payable_type=booking&payable_id=bk_demo_1"
  {payctl} ledger verify
As the platform operator (every request is in the audit log: GET /v1/admin/audit):
  curl -s -H "Authorization: Bearer $OPKEY" $BASE/v1/admin/tenants

Take a payment with Stripe Checkout (amounts are in minor units: 4500 is USD 45.00). Open the
answer's checkout_url in a browser and press Pay; you land on the shop's thanks page:
  curl -s -X POST -H "Authorization: Bearer $KEY" \\
       -H "Idempotency-Key: demo-$(date +%s)" -H "Content-Type: application/json" \\
       -d '{{"payable_type":"booking","payable_id":"bk_2","amount":4500,"currency":"USD",
            "description":"Massage","customer":{{"email":"ann@example.com"}},
            "success_url":"{pages}/thanks?session_id={{CHECKOUT_SESSION_ID}}",
            "cancel_url":"{pages}/cancelled"}}' \\
       $BASE/v1/checkout
Or book through the reference app (it calls /v1/checkout): open the answer's checkout_url and
press Pay; the booking's page shows CONFIRMED as soon as our callback has reached the app:
  curl -s -X POST -H "Content-Type: application/json" {info.bookings_app_url}/bookings \\
       -d '{{"service":"Haircut","amount":2500,"currency":"USD","customer_email":"a@b.co"}}'
Take an M-PESA payment (STK push; KES in cents, whole shillings: 5000 is KES 50):
  curl -s -X POST -H "Authorization: Bearer $KEY" \\
       -H "Idempotency-Key: stk-$(date +%s)" -H "Content-Type: application/json" \\
       -d '{{"payable_type":"hotspot_plan","payable_id":"plan_1h","amount":5000,
            "phone_number":"0708374149","account_reference":"WIFI-1H",
            "transaction_desc":"Wi-Fi 1 hour"}}' \\
       $BASE/v1/mpesa/stk-push
The customer's phone is the Daraja sandbox's phone page of the answer's checkout_request_id:
open {daraja}/_sandbox/phone/<checkout_request_id> and choose Pay (or Cancel, Wrong PIN,
Insufficient funds, No answer). The callback reaches WebhookMpesaFunction, is confirmed with
an STK query, and then:
  curl -s -H "Authorization: Bearer $KEY" "$BASE/v1/payments/<payment_id>?refresh=true"
Take a crypto payment (NOWPayments; the price in minor units, 2500 is USD 25.00, paid in BTC):
  curl -s -X POST -H "Authorization: Bearer $KEY" \\
       -H "Idempotency-Key: crypto-$(date +%s)" -H "Content-Type: application/json" \\
       -d '{{"payable_type":"order","payable_id":"ord_1","price_amount":2500,
            "price_currency":"USD","pay_currency":"BTC"}}' \\
       $BASE/v1/crypto/payments
The customer "sends" the coin on the NOWPayments sandbox: move the answer's
provider_reference
through waiting, confirming and finished (one signed IPN per status, each confirmed with
GET /v1/payment before it counts), then read the payment:
  curl -s -X POST -H "Content-Type: application/json" -d '{{"status":"finished"}}' \\
       {nowpayments}/_sandbox/payments/<provider_reference>/advance
  curl -s -H "Authorization: Bearer $KEY" $BASE/v1/payments/<payment_id>
Buy a security token through NEO Bank: register the buyer (the bank verifies them a second
later, by webhook), then trade for the profile_id it answers (amount in minor units):
  curl -s -X POST -H "Authorization: Bearer $KEY" \\
       -H "Idempotency-Key: buyer-$(date +%s)" -H "Content-Type: application/json" \\
       -d '{{"external_customer_id":"user_1","email":"ada@example.com","name":"Ada",
            "wallet_address":"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"}}' \\
       $BASE/v1/profiles
  curl -s -X POST -H "Authorization: Bearer $KEY" \\
       -H "Idempotency-Key: trade-$(date +%s)" -H "Content-Type: application/json" \\
       -d '{{"profile_id":"<profile_id>","token_contract_address":
            "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359","token_symbol":"ACME",
            "token_quantity":"10.5","amount":25000,"currency":"USD"}}' \\
       $BASE/v1/trades
The bank clears it, then settles it (T+2, here at once): each move is a signed webhook.
  curl -s -X POST -H "Content-Type: application/json" -d '{{"status":"SUCCESS"}}' \\
       {neobank}/_sandbox/payments/<tx_id>/status
  curl -s -X POST -H "Content-Type: application/json" -d '{{"status":"SETTLED"}}' \\
       {neobank}/_sandbox/payments/<tx_id>/status
  curl -s -H "Authorization: Bearer $KEY" $BASE/v1/profiles/<profile_id>/balance
Or through the reference marketplace, which calls /v1/profiles and /v1/trades and delivers the
tokens once, when our trade.settled callback arrives (a "[marketplace] delivering" line here).
Register a buyer; order once GET /buyers/user_2 there shows "verified":true; move the order's
tx_id with the two sandbox commands above; then GET /orders/<id> shows it SETTLED, delivered:
  curl -s -X POST -H "Content-Type: application/json" \\
       -d '{{"user_id":"user_2","email":"grace@example.com","name":"Grace",
            "wallet_address":"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"}}' \\
       {market}/buyers
  curl -s -X POST -H "Content-Type: application/json" \\
       -d '{{"user_id":"user_2","token_contract_address":
            "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359","token_symbol":"ACME",
            "token_quantity":"10.5","amount":25000,"currency":"USD"}}' \\
       {market}/orders
Then refund part of a (Stripe) payment:
  curl -s -X POST -H "Authorization: Bearer $KEY" \\
       -H "Idempotency-Key: refund-$(date +%s)" -H "Content-Type: application/json" \\
       -d '{{"amount":1500}}' $BASE/v1/payments/<payment_id>/refunds

Press Ctrl-C to stop.
"""


def _show_app_lines(name: str) -> None:
    """Print a reference app's INFO lines (the rest of the stack logs warnings only)."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter(f"[{name}] %(message)s"))
    app_logger = logging.getLogger(name)
    app_logger.setLevel(logging.INFO)
    app_logger.addHandler(handler)
    app_logger.propagate = False


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line, with every ``<name>_port`` resolved: the port given for it, else any
    free port (0) under --free-ports, else its default."""
    parser = argparse.ArgumentParser(prog="devstack", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    for name, default in DEFAULT_PORTS.items():
        parser.add_argument(
            f"--{name}-port", type=int, default=None, help=f"default {default}; 0: any free port"
        )
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
        "--free-ports",
        action="store_true",
        help="let the system pick every port not given with its own option (tests, CI)",
    )
    parser.add_argument("--state-file", type=Path, default=DEFAULT_STATE_FILE)
    args = parser.parse_args(argv)
    for name, default in DEFAULT_PORTS.items():
        if getattr(args, f"{name}_port") is None:
            setattr(args, f"{name}_port", 0 if args.free_ports else default)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stack = DevStack(
        host=args.host,
        aws_port=args.aws_port,
        api_port=args.api_port,
        webhooks_port=args.webhooks_port,
        bookings_port=args.bookings_port,
        marketplace_port=args.marketplace_port,
        pages_port=args.pages_port,
        sandbox_ports={entry.name: getattr(args, f"{entry.name}_port") for entry in SANDBOXES},
        schedule_interval=args.schedule_interval,
        parameters={"SweeperPendingAgeMinutes": args.sweeper_age_minutes}
        if args.sweeper_age_minutes is not None
        else {},
    )
    _show_app_lines("marketplace")  # its token deliveries, one line each
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
        args.state_file.chmod(0o600)  # it holds the demo API keys and the operator key
        payctl = ".venv/bin/payctl --local"
        if args.state_file != DEFAULT_STATE_FILE:
            payctl += f" --state-file {args.state_file}"
        print(_usage(info, payctl), flush=True)
        stop.wait()
    finally:
        print("Stopping devstack...", flush=True)
        stack.stop()
        args.state_file.unlink(missing_ok=True)
    print("Stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
