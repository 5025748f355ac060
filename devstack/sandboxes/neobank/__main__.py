"""``python -m devstack.sandboxes.neobank``: run a NEO Bank sandbox until Ctrl-C.

Prints one JSON line: ``base_url`` and ``bank_public_key_pem`` (the key webhooks are signed
with); with ``--public-key-file`` (a client's RSA public key, PEM) also the ``client_id`` created
for it. No private key is ever printed.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from devstack.sandboxes.kit import Json
from devstack.sandboxes.neobank.sandbox import NeoBankSandbox


def main(argv: list[str] | None = None) -> None:
    """``python -m devstack.sandboxes.neobank``: run a NEO Bank sandbox until Ctrl-C."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=12115)
    parser.add_argument("--public-key-file", type=Path, help="register a client with this key")
    parser.add_argument("--webhook-url", default="", help="the client's webhook URL (loopback)")
    parser.add_argument("--name", default="", help="the client's name")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    sandbox = NeoBankSandbox(args.host, args.port)
    announce: Json = {"bank_public_key_pem": sandbox.bank_public_key_pem}
    if args.public_key_file is not None:
        try:
            client = sandbox.create_client(
                args.public_key_file.read_text(encoding="utf-8"), args.webhook_url, args.name
            )
        except (OSError, ValueError) as exc:
            parser.error(str(exc))
        announce["client_id"] = client.client_id
        announce["webhook_url"] = client.webhook_url
    sandbox.start()
    sandbox.run_until_interrupted(announce)


if __name__ == "__main__":
    main()
