"""``python -m devstack.sandboxes.stripe``: run a sandbox with one account until Ctrl-C."""

from __future__ import annotations

import argparse
import logging
from dataclasses import asdict

from devstack.sandboxes.stripe.sandbox import StripeSandbox


def main(argv: list[str] | None = None) -> None:
    """``python -m devstack.sandboxes.stripe``: run a sandbox with one account until Ctrl-C."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=12111)
    parser.add_argument("--secret-key", default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    sandbox = StripeSandbox(args.host, args.port).start()
    account = sandbox.create_account(args.secret_key)
    sandbox.run_until_interrupted(asdict(account))


if __name__ == "__main__":
    main()
