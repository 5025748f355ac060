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

  API base URL   {info.api_base_url}
  Embedded AWS   {info.aws_endpoint}
  Demo tenant    {info.tenant_name} ({info.tenant_id})
  API key        {info.api_key}   (id {info.api_key_id}; shown once)
  Demo payment   {info.demo_payment_id}

Try it:
  curl -s {info.api_base_url}/v1/health
  curl -s -H "Authorization: Bearer {info.api_key}" \\
       {info.api_base_url}/v1/payments/{info.demo_payment_id}
  curl -s -H "Authorization: Bearer {info.api_key}" \\
       "{info.api_base_url}/v1/payments?payable_type=booking&payable_id=bk_demo_1"
  .venv/bin/payctl --local ledger verify

Press Ctrl-C to stop.
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="devstack", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--api-port", type=int, default=3000)
    parser.add_argument("--aws-port", type=int, default=5000)
    parser.add_argument("--state-file", type=Path, default=DEFAULT_STATE_FILE)
    args = parser.parse_args(argv)

    stack = DevStack(host=args.host, aws_port=args.aws_port, api_port=args.api_port)
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
