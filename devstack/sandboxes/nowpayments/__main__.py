"""``python -m devstack.sandboxes.nowpayments``: run a sandbox with one account until Ctrl-C."""

from __future__ import annotations

import argparse
import logging

from devstack.sandboxes.nowpayments.sandbox import NowPaymentsSandbox


def main(argv: list[str] | None = None) -> None:
    """``python -m devstack.sandboxes.nowpayments``: run a sandbox with one account until Ctrl-C."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=12114)
    parser.add_argument("--outcome-currency", default="")
    parser.add_argument("--ipn-callback-url", default="")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    sandbox = NowPaymentsSandbox(args.host, args.port).start()
    account = sandbox.create_account(
        {"outcome_currency": args.outcome_currency, "ipn_callback_url": args.ipn_callback_url}
    )
    sandbox.run_until_interrupted(account.credentials())


if __name__ == "__main__":
    main()
