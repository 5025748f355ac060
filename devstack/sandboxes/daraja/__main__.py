"""``python -m devstack.sandboxes.daraja``: run a sandbox with one app until Ctrl-C."""

from __future__ import annotations

import argparse
import logging
from dataclasses import asdict

from devstack.sandboxes.daraja.sandbox import DarajaSandbox


def main(argv: list[str] | None = None) -> None:
    """``python -m devstack.sandboxes.daraja``: run a sandbox with one app until Ctrl-C."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=12113)
    parser.add_argument("--shortcode", default="174379")  # Daraja's public test PayBill
    parser.add_argument("--till", default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    sandbox = DarajaSandbox(args.host, args.port).start()
    app = sandbox.create_app(shortcode=args.shortcode, till=args.till)
    sandbox.run_until_interrupted(asdict(app))


if __name__ == "__main__":
    main()
