"""Starts and stops the whole local system: embedded AWS, resources, gateway, demo data."""

from __future__ import annotations

import json
import logging
import os
import socket
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

from moto.server import ThreadedMotoServer

from devstack.gateway import FunctionUrlGateway, RestApiGateway
from devstack.http_server import LocalServer
from devstack.lambdas import FunctionRegistry
from devstack.moto_support import serialize_dynamodb, undo_only_touched_items
from devstack.pages import ReturnPages
from devstack.provision import provision, usage_plan_environment
from devstack.relays import Relays
from devstack.sandboxes.daraja import App as DarajaApp
from devstack.sandboxes.daraja import DarajaSandbox
from devstack.sandboxes.kit import Sandbox
from devstack.sandboxes.neobank import NeoBankSandbox
from devstack.sandboxes.nowpayments import Account as NowPaymentsAccount
from devstack.sandboxes.nowpayments import NowPaymentsSandbox
from devstack.sandboxes.omnisend import OmnisendSandbox
from devstack.sandboxes.registry import SANDBOXES
from devstack.sandboxes.stripe import StripeSandbox
from devstack.template import LocalStack, load_template
from examples.bookings.app import CALLBACK_EVENT_TYPES, BookingsApp
from examples.kit.server import ExampleApp
from examples.marketplace.app import CALLBACK_EVENT_TYPES as MARKETPLACE_EVENT_TYPES
from examples.marketplace.app import MarketplaceApp

REGION = "us-east-1"

App = TypeVar("App", bound=ExampleApp)


@dataclass(frozen=True)
class DevStackInfo:
    """What a developer (or payctl --local, or a test) needs to talk to the running stack."""

    aws_endpoint: str
    api_base_url: str
    function_urls_base: str
    # Each provider sandbox's base URL by its name in devstack/sandboxes/registry.py.
    sandbox_urls: dict[str, str]
    bookings_app_url: str
    # The shop's "thanks" / "cancelled" pages for checkouts started by hand (devstack/pages.py).
    return_pages_url: str
    region: str
    environment: dict[str, str]
    tenant_id: str
    tenant_name: str
    api_key_id: str
    api_key: str
    demo_payment_id: str
    # The demo tenant's Daraja sandbox app (its M-PESA credentials were set through the API).
    demo_mpesa_shortcode: str
    # The demo tenant's NOWPayments sandbox account (credentials set through the API).
    demo_nowpayments_account_id: str = ""
    # The demo tenant's NEO Bank sandbox client (its public key registered there, the PEM
    # signer's private key only in the tenant's secret).
    demo_neobank_client_id: str = ""
    # The token-marketplace reference app (examples/marketplace): NEO Bank trades, its own
    # callback endpoint. Empty in a state file written before it existed.
    marketplace_app_url: str = ""
    # A second tenant (with its own API key), so an operator sees more than one, and an
    # operator key for the operator API (/v1/admin/...). Empty in older state files.
    second_tenant_id: str = ""
    second_tenant_name: str = ""
    second_api_key: str = ""
    operator_key_id: str = ""
    operator_key: str = ""

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
        bookings_port: int = 0,
        marketplace_port: int = 0,
        pages_port: int = 0,
        sandbox_ports: dict[str, int] | None = None,
        schedule_interval: float | None = None,
        parameters: dict[str, str] | None = None,
    ) -> None:
        self.host = host
        self.ports = {
            "aws": aws_port,
            "api": api_port,
            "webhooks": webhooks_port,
            "bookings": bookings_port,
            "marketplace": marketplace_port,
            "pages": pages_port,
        }
        for entry in SANDBOXES:
            self.ports[entry.name] = (sandbox_ports or {}).get(entry.name, 0)
        self.schedule_interval = schedule_interval
        self.parameters = dict(parameters or {})
        self._moto: ThreadedMotoServer | None = None
        self._servers: list[LocalServer] = []
        self.sandboxes: dict[str, Sandbox] = {}
        self.bookings: BookingsApp | None = None
        self.marketplace: MarketplaceApp | None = None
        self.relays: Relays | None = None
        self.info: DevStackInfo | None = None

    def start(self) -> DevStackInfo:
        for port in self.ports.values():
            _ensure_free(self.host, port)
        serialize_dynamodb()
        undo_only_touched_items()
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's per-request lines
        self._moto = ThreadedMotoServer(ip_address=self.host, port=self.ports["aws"], verbose=False)
        self._moto.start()
        moto_host, moto_port = self._moto.get_host_and_port()
        endpoint = f"http://{moto_host}:{moto_port}"
        os.environ.update(aws_environment(endpoint))
        for entry in SANDBOXES:
            self.sandboxes[entry.name] = entry.make(self.host, self.ports[entry.name]).start()

        # The template's own parameters point the providers' clients at the sandboxes.
        stack = provision(
            LocalStack(
                load_template(),
                region=REGION,
                parameters={
                    **{
                        entry.api_base_parameter: self.sandboxes[entry.name].base_url
                        for entry in SANDBOXES
                    },
                    "AllowLocalCallbackUrls": "true",
                    **self.parameters,
                },
            )
        )
        functions = FunctionRegistry(stack)
        webhooks = LocalServer(
            FunctionUrlGateway(stack, functions),
            self.host,
            self.ports["webhooks"],
            name="LocalFunctionUrls/1.0",
        )
        self._servers = [webhooks]
        # Listening first, so that !GetAtt <Function>Url.FunctionUrl in the environment is
        # this server's address.
        stack.function_urls_base = function_urls = webhooks.start()
        environment = {**stack.environment(), **usage_plan_environment(stack)}
        os.environ.update(environment)
        os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
        os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
        # Settings are read once per container: this process is the container.
        from payments.config import reset_settings

        reset_settings()

        gateway = RestApiGateway(stack, functions)
        api = LocalServer(gateway, self.host, self.ports["api"], name="LocalApiGateway/1.0")
        pages = LocalServer(ReturnPages(), self.host, self.ports["pages"], name="ShopPages/1.0")
        self._servers += [api, pages]
        api_url, pages_url = api.start(), pages.start()
        # Stream -> pipe -> bus -> SQS -> functions, and the schedules, as in AWS.
        self.relays = Relays(
            stack, functions, schedule_interval_override=self.schedule_interval
        ).start()
        base_url = f"{api_url}/{gateway.stage}"
        demo = _seed_demo(self.stripe, f"{function_urls}/WebhookStripeFunction", self.omnisend)
        demo["demo_mpesa_shortcode"] = connect_mpesa(base_url, demo["api_key"], self.daraja)
        demo["demo_nowpayments_account_id"] = connect_nowpayments(
            base_url,
            demo["api_key"],
            self.nowpayments,
            f"{function_urls}/WebhookNowpaymentsFunction/{demo['tenant_id']}",
        )
        demo["demo_neobank_client_id"] = connect_neobank(
            base_url,
            demo["api_key"],
            self.neobank,
            f"{function_urls}/WebhookNeobankFunction/{demo['tenant_id']}",
        )
        demo |= _seed_operator_view()
        demo_tenant = (base_url, demo["api_key"], demo["tenant_id"])
        self.bookings = _start_app(
            BookingsApp, CALLBACK_EVENT_TYPES, self.host, self.ports["bookings"], *demo_tenant
        )
        self.marketplace = _start_app(
            MarketplaceApp,
            MARKETPLACE_EVENT_TYPES,
            self.host,
            self.ports["marketplace"],
            *demo_tenant,
        )
        self.info = DevStackInfo(
            aws_endpoint=endpoint,
            api_base_url=base_url,
            function_urls_base=function_urls,
            sandbox_urls={name: sandbox.base_url for name, sandbox in self.sandboxes.items()},
            bookings_app_url=self.bookings.base_url,
            marketplace_app_url=self.marketplace.base_url,
            return_pages_url=pages_url,
            region=REGION,
            environment=environment,
            **demo,
        )
        return self.info

    def stop(self) -> None:
        if self.relays is not None:
            self.relays.stop()
        for app in (self.bookings, self.marketplace):
            if app is not None:
                app.stop()
        for server in self._servers:
            server.stop()
        for sandbox in reversed(list(self.sandboxes.values())):
            sandbox.stop()
        if self._moto is not None:
            self._moto.stop()

    # Typed access to the sandboxes the devstack itself seeds.
    @property
    def stripe(self) -> StripeSandbox:
        sandbox = self.sandboxes["stripe"]
        assert isinstance(sandbox, StripeSandbox)
        return sandbox

    @property
    def omnisend(self) -> OmnisendSandbox:
        sandbox = self.sandboxes["omnisend"]
        assert isinstance(sandbox, OmnisendSandbox)
        return sandbox

    @property
    def nowpayments(self) -> NowPaymentsSandbox:
        sandbox = self.sandboxes["nowpayments"]
        assert isinstance(sandbox, NowPaymentsSandbox)
        return sandbox

    @property
    def neobank(self) -> NeoBankSandbox:
        sandbox = self.sandboxes["neobank"]
        assert isinstance(sandbox, NeoBankSandbox)
        return sandbox

    @property
    def daraja(self) -> DarajaSandbox:
        sandbox = self.sandboxes["daraja"]
        assert isinstance(sandbox, DarajaSandbox)
        return sandbox


# Daraja's public test PayBill: the demo tenant's own Daraja (sandbox) app has it.
DEMO_MPESA_SHORTCODE = "174379"


def mpesa_credential_values(app: DarajaApp, **overrides: str) -> dict[str, str]:
    """The M-PESA credentials (payments.providers.mpesa_spec fields) of a Daraja sandbox app:
    a PayBill on its shortcode, unless ``overrides`` say otherwise."""
    values = {
        "consumer_key": app.consumer_key,
        "consumer_secret": app.consumer_secret,
        "shortcode": app.shortcode,
        "passkey": app.passkey,
        "transaction_type": "paybill",
        "party_b": app.shortcode,
        "environment": "sandbox",
    }
    values.update(overrides)
    return values


def connect_mpesa(api_base: str, api_key: str, sandbox: DarajaSandbox) -> str:
    """Give the demo tenant a Daraja (sandbox) app and set its credentials the way a tenant
    does, through ``PUT /v1/providers/mpesa/credentials`` with its own API key, then test them.
    Returns the shortcode."""
    import requests

    app = sandbox.create_app(shortcode=DEMO_MPESA_SHORTCODE)
    headers = {"Authorization": f"Bearer {api_key}", "Idempotency-Key": "devstack-mpesa-setup"}
    values = mpesa_credential_values(app)
    url = f"{api_base}/v1/providers/mpesa/credentials"
    stored = requests.put(url, json={"values": values}, headers=headers, timeout=30)
    stored.raise_for_status()
    tested = requests.post(f"{url}/test", headers=headers, timeout=30)
    tested.raise_for_status()
    if not tested.json().get("verified"):
        raise RuntimeError(f"the demo tenant's Daraja credentials did not verify: {tested.text}")
    return app.shortcode


def nowpayments_credential_values(account: NowPaymentsAccount) -> dict[str, str]:
    """The NOWPayments credentials (payments.providers.nowpayments_spec fields) of a sandbox
    account."""
    return {
        "api_key": account.api_key,
        "ipn_secret": account.ipn_secret,
        "environment": "sandbox",
    }


def connect_nowpayments(
    api_base: str, api_key: str, sandbox: NowPaymentsSandbox, ipn_url: str
) -> str:
    """Give the demo tenant a NOWPayments (sandbox) account whose IPNs default to our function
    URL, and set its credentials the way a tenant does (``PUT
    /v1/providers/nowpayments/credentials``), then test them. Returns the account id."""
    import requests

    account = sandbox.create_account({"ipn_callback_url": ipn_url})
    headers = {"Authorization": f"Bearer {api_key}", "Idempotency-Key": "devstack-nowpay-setup"}
    url = f"{api_base}/v1/providers/nowpayments/credentials"
    values = nowpayments_credential_values(account)
    stored = requests.put(url, json={"values": values}, headers=headers, timeout=30)
    stored.raise_for_status()
    tested = requests.post(f"{url}/test", headers=headers, timeout=30)
    tested.raise_for_status()
    if not tested.json().get("verified"):
        raise RuntimeError(
            f"the demo tenant's NOWPayments credentials did not verify: {tested.text}"
        )
    return account.account_id


def connect_neobank(api_base: str, api_key: str, sandbox: NeoBankSandbox, webhook_url: str) -> str:
    """Give the demo tenant a NEO Bank (sandbox) client: a new RSA-2048 key whose public half
    is registered with the bank and whose private half is stored as the tenant's
    ``signing_key_pem`` (the PEM signer) through ``PUT /v1/providers/neobank/credentials``,
    with the bank's public key; then test them (a signed ``GET /v1/account``). Returns the
    client id. Registrations are verified a second after they are made."""
    import requests
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    client = sandbox.create_client(
        public_pem, webhook_url, "Demo token market", settings={"verify_after_seconds": 1.0}
    )
    headers = {"Authorization": f"Bearer {api_key}", "Idempotency-Key": "devstack-neobank-setup"}
    url = f"{api_base}/v1/providers/neobank/credentials"
    values = {
        "client_id": client.client_id,
        "signing_key_pem": private_pem,
        "bank_public_key_pem": client.bank_public_key_pem,
        "environment": "sandbox",
    }
    stored = requests.put(url, json={"values": values}, headers=headers, timeout=30)
    stored.raise_for_status()
    tested = requests.post(f"{url}/test", headers=headers, timeout=30)
    tested.raise_for_status()
    if not tested.json().get("verified"):
        raise RuntimeError(f"the demo tenant's NEO Bank credentials did not verify: {tested.text}")
    return client.client_id


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
                f"{host}:{port} is in use; pick other ports (see --help) or let the "
                'system choose: make dev DEVSTACK_ARGS="--free-ports"'
            ) from error


def _start_app(
    app_class: type[App],
    event_types: tuple[str, ...],
    host: str,
    port: int,
    api_base: str,
    api_key: str,
    tenant_id: str,
) -> App:
    """A reference app (bookings, marketplace), registered as one of the demo tenant's
    callback endpoints for ``event_types``."""
    from payments.services.callbacks import register_endpoint

    # The merchant registers its endpoint first and configures its app with the secret.
    port = port or _any_free_port(host)
    endpoint = register_endpoint(
        tenant_id,
        f"http://{host}:{port}/webhooks/payments",
        sorted(event_types),
        enabled=True,
    )
    return app_class(api_base, api_key, [endpoint["secret"]], host=host, port=port).start()


def _any_free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def _seed_operator_view() -> dict[str, str]:
    """A second tenant with its API key, and an operator key (as `payctl operators issue`
    makes it), so that the operator API shows two tenants."""
    from payments.services.tenants import create_tenant
    from payments.store import repositories

    tenant = create_tenant("Demo Hotspot")
    key = repositories.issue_api_key(tenant.tenant_id)
    operator = repositories.issue_operator_key("devstack operator")
    return {
        "second_tenant_id": tenant.tenant_id,
        "second_tenant_name": tenant.name,
        "second_api_key": key.plaintext,
        "operator_key_id": operator.key.key_id,
        "operator_key": operator.plaintext,
    }


def _seed_demo(
    sandbox: StripeSandbox, webhook_base: str, omnisend: OmnisendSandbox
) -> dict[str, Any]:
    """A demo tenant with its API key, a Stripe sandbox account and an Omnisend brand, through
    the same code payctl uses, and one demo payment."""
    from payments.aws.secrets import write_provider_secret
    from payments.domain.payment import Customer
    from payments.services.tenants import create_tenant
    from payments.services.transitions import create_payment
    from payments.store import repositories

    tenant = create_tenant("Demo Salon")  # with its usage key in the default usage plan
    key = repositories.issue_api_key(tenant.tenant_id)
    connect_stripe(tenant.tenant_id, sandbox, webhook_base)
    write_provider_secret(
        tenant.tenant_id, "omnisend", {"api_key": omnisend.register_brand(), "enabled": True}
    )
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
