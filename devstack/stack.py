"""Starts and stops the whole local system: embedded AWS, resources, gateway, demo data."""

from __future__ import annotations

import json
import logging
import os
import socket
from dataclasses import asdict, dataclass
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

from moto.server import ThreadedMotoServer

from devstack.gateway import FunctionUrlGateway, RestApiGateway, serve
from devstack.lambdas import FunctionRegistry
from devstack.moto_support import serialize_dynamodb
from devstack.provision import provision
from devstack.sandboxes.stripe import StripeSandbox
from devstack.template import LocalStack, load_template

REGION = "us-east-1"


@dataclass(frozen=True)
class DevStackInfo:
    """What a developer (or payctl --local, or a test) needs to talk to the running stack."""

    aws_endpoint: str
    api_base_url: str
    function_urls_base: str
    stripe_sandbox_url: str
    region: str
    environment: dict[str, str]
    tenant_id: str
    tenant_name: str
    api_key_id: str
    api_key: str
    demo_payment_id: str

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_file(cls, path: Path) -> DevStackInfo:
        return cls(**json.loads(path.read_text(encoding="utf-8")))


def aws_environment(endpoint: str) -> dict[str, str]:
    """Environment that points every boto3/pynamodb client at the embedded AWS."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "devstack",
        "AWS_SECRET_ACCESS_KEY": "devstack",
    }


class DevStack:
    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        aws_port: int = 0,
        api_port: int = 0,
        webhooks_port: int = 0,
        stripe_port: int = 0,
    ) -> None:
        self.host = host
        self.ports = {
            "aws": aws_port,
            "api": api_port,
            "webhooks": webhooks_port,
            "stripe": stripe_port,
        }
        self._moto: ThreadedMotoServer | None = None
        self._servers: list[ThreadingHTTPServer] = []
        self.stripe: StripeSandbox | None = None
        self.info: DevStackInfo | None = None

    def start(self) -> DevStackInfo:
        for port in self.ports.values():
            _ensure_free(self.host, port)
        serialize_dynamodb()
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's per-request lines
        self._moto = ThreadedMotoServer(ip_address=self.host, port=self.ports["aws"], verbose=False)
        self._moto.start()
        moto_host, moto_port = self._moto.get_host_and_port()
        endpoint = f"http://{moto_host}:{moto_port}"
        os.environ.update(aws_environment(endpoint))
        self.stripe = StripeSandbox(self.host, self.ports["stripe"]).start()

        # The template's own parameter points the Stripe SDK at the sandbox.
        stack = provision(
            LocalStack(
                load_template(),
                region=REGION,
                parameters={"StripeApiBase": self.stripe.base_url},
            )
        )
        environment = stack.environment()
        os.environ.update(environment)
        os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
        os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
        # Settings are read once per container: this process is the container.
        from payments.config import reset_settings

        reset_settings()

        functions = FunctionRegistry(stack)
        gateway = RestApiGateway(stack, functions)
        api = serve(gateway, self.host, self.ports["api"])
        webhooks = serve(FunctionUrlGateway(stack, functions), self.host, self.ports["webhooks"])
        self._servers = [api, webhooks]
        base_url = f"http://{self.host}:{api.server_address[1]}/{gateway.stage}"
        function_urls = f"http://{self.host}:{webhooks.server_address[1]}"
        self.info = DevStackInfo(
            aws_endpoint=endpoint,
            api_base_url=base_url,
            function_urls_base=function_urls,
            stripe_sandbox_url=self.stripe.base_url,
            region=REGION,
            environment=environment,
            **_seed_demo(self.stripe, f"{function_urls}/WebhookStripeFunction"),
        )
        return self.info

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        if self.stripe is not None:
            self.stripe.stop()
        if self._moto is not None:
            self._moto.stop()


def connect_stripe(tenant_id: str, sandbox: StripeSandbox, webhook_base: str) -> str:
    """Give a tenant a Stripe (sandbox) account whose webhooks reach our function URL, and
    store its credentials the way `payctl credentials set` does. Returns the secret key."""
    from payments.services.credentials import set_provider_credentials

    account = sandbox.create_account()
    endpoint = sandbox.add_webhook_endpoint(account.secret_key, f"{webhook_base}/{tenant_id}")
    set_provider_credentials(
        tenant_id,
        "stripe",
        {"secret_key": account.secret_key, "webhook_secret": str(endpoint["secret"])},
    )
    return account.secret_key


class PortInUseError(RuntimeError):
    pass


def _ensure_free(host: str, port: int) -> None:
    """Fail fast: moto's server thread would otherwise wait forever on a port in use."""
    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise PortInUseError(
                f"{host}:{port} is in use; pick other ports, e.g. make dev "
                'DEVSTACK_ARGS="--api-port 0 --aws-port 0 --webhooks-port 0 --stripe-port 0"'
            ) from error


def _seed_demo(sandbox: StripeSandbox, webhook_base: str) -> dict[str, Any]:
    """A demo tenant with its API key and a Stripe sandbox account, through the same code
    payctl uses, and one demo payment."""
    from payments.domain.payment import Customer
    from payments.services.transitions import create_payment
    from payments.store import repositories

    tenant = repositories.create_tenant("Demo Salon")
    key = repositories.issue_api_key(tenant.tenant_id)
    connect_stripe(tenant.tenant_id, sandbox, webhook_base)
    payment = create_payment(
        tenant_id=tenant.tenant_id,
        payable_type="booking",
        payable_id="bk_demo_1",
        amount=2500,
        currency="KES",
        provider="stripe",
        description="Haircut (demo)",
        customer=Customer(email="customer@example.com", name="Demo Customer"),
        source="devstack",
    )
    return {
        "tenant_id": tenant.tenant_id,
        "tenant_name": tenant.name,
        "api_key_id": key.key_id,
        "api_key": key.plaintext,
        "demo_payment_id": payment.payment_id,
    }
