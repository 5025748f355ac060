"""payctl: operate a deployed stack (``--stack NAME``) or the devstack (``--local``)."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from payctl.limits import limits_app

if TYPE_CHECKING:
    from collections.abc import Sequence

    from payments.providers.spec import ProviderSpec
    from payments.services.credentials import StoredCredentials

# Answering fast is the point of a command line: only typer is imported here. The payments
# package, pynamodb and boto3 load inside the commands that use them (tests/integration/
# test_payctl_speed.py holds this); output is plain text, so rich's help renderer and
# tracebacks (which would print local variables, secrets included) are off.
app = typer.Typer(
    help=__doc__,
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)
tenants_app = typer.Typer(help="Create and list tenants (merchants).", no_args_is_help=True)
keys_app = typer.Typer(help="Issue and revoke API keys.", no_args_is_help=True)
operators_app = typer.Typer(
    help="Issue, list and revoke operator keys (the /v1/admin/... API).", no_args_is_help=True
)
ledger_app = typer.Typer(
    help="Check the double-entry ledger and correct a customer's balance.", no_args_is_help=True
)
callbacks_app = typer.Typer(help="Operate merchant callbacks.", no_args_is_help=True)
inbox_app = typer.Typer(help="Maintain the webhook inbox.", no_args_is_help=True)
payments_app = typer.Typer(help="Maintain the payments' indexes.", no_args_is_help=True)
credentials_app = typer.Typer(
    help="Set and inspect a tenant's provider credentials (Secrets Manager).",
    no_args_is_help=True,
)
app.add_typer(tenants_app, name="tenants")
app.add_typer(keys_app, name="keys")
app.add_typer(operators_app, name="operators")
app.add_typer(ledger_app, name="ledger")
app.add_typer(credentials_app, name="credentials")
app.add_typer(callbacks_app, name="callbacks")
app.add_typer(inbox_app, name="inbox")
app.add_typer(payments_app, name="payments")
app.add_typer(limits_app, name="limits")

# Stack output -> the setting the payments package reads.
OUTPUT_TO_ENV = {
    "PaymentsTableName": "PAYMENTS_TABLE_NAME",
    "IdempotencyTableName": "IDEMPOTENCY_TABLE_NAME",
    "EventBusName": "EVENT_BUS_NAME",
    "KmsKeyArn": "KMS_KEY_ID",
    "SecretsPrefix": "SECRETS_PREFIX",
    "CallbackQueueUrl": "CALLBACK_QUEUE_URL",
    "CallbackDLQUrl": "CALLBACK_DLQ_URL",
}
# Outputs only some commands need (`limits`, and `tenants create` for the tenant's usage key);
# stacks deployed before them lack these.
OPTIONAL_OUTPUT_TO_ENV = {
    "DefaultUsagePlanId": "DEFAULT_USAGE_PLAN_ID",
    # `credentials show/test` print the tenant's webhook URL from it.
    "StripeWebhookUrl": "PROVIDER_WEBHOOK_URL_STRIPE",
}
DEFAULT_STATE_FILE = Path(".devstack/state.json")
# The devstack's AWS::StackName (devstack/template.py, LocalStack.stack_name).
LOCAL_STACK_NAME = "payments-local"
# The functions that sign NEO Bank requests (those with NeobankSigningPolicy in template.yaml;
# tests/unit/test_template.py holds the two together): a key made by `credentials set
# --create-kms-key` lets only their roles use it.
NEOBANK_SIGNING_FUNCTIONS = (
    "ProfilesFunction",
    "TradesFunction",
    "SweeperFunction",
    "StatusFunction",
    "ProvidersApiFunction",
)


def target_environment(
    stack: str | None, local: bool, state_file: Path, region: str | None
) -> dict[str, str]:
    """The environment that points the payments package at the chosen deployment."""
    if local == (stack is not None):
        raise typer.BadParameter("choose exactly one of --stack NAME or --local")
    if local:
        if not state_file.exists():
            raise typer.BadParameter(f"{state_file} not found: is `make dev` running?")
        # The devstack writes its embedded AWS endpoint and the template's resolved
        # environment to this file (devstack/stack.py, DevStackInfo).
        info = json.loads(state_file.read_text(encoding="utf-8"))
        return {
            "AWS_ENDPOINT_URL": info["aws_endpoint"],
            "AWS_DEFAULT_REGION": info["region"],
            "AWS_ACCESS_KEY_ID": "devstack",
            "AWS_SECRET_ACCESS_KEY": "devstack",
            **info["environment"],
        }
    import boto3

    client = boto3.client("cloudformation", region_name=region)
    described = client.describe_stacks(StackName=stack)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
    missing = [name for name in OUTPUT_TO_ENV if name not in outputs]
    if missing:
        raise typer.BadParameter(f"stack {stack} lacks outputs: {', '.join(missing)}")
    environment = {env: outputs[name] for name, env in OUTPUT_TO_ENV.items()}
    environment |= {env: outputs[n] for n, env in OPTIONAL_OUTPUT_TO_ENV.items() if n in outputs}
    if region:
        environment["AWS_DEFAULT_REGION"] = region
    return environment


@dataclass(frozen=True)
class Target:
    """The deployment the command operates (for the commands that create AWS resources)."""

    stack: str | None
    local: bool
    region: str | None
    state_file: Path

    @property
    def stack_name(self) -> str:
        """The stack's name (AWS::StackName): --stack's, or the devstack's."""
        if self.stack is not None:
            return self.stack
        try:
            info = json.loads(self.state_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return LOCAL_STACK_NAME
        return str(info.get("stack_name") or LOCAL_STACK_NAME)


@app.callback()
def select_target(
    ctx: typer.Context,
    stack: Annotated[str | None, typer.Option(help="CloudFormation stack to operate.")] = None,
    local: Annotated[bool, typer.Option("--local", help="Operate the running devstack.")] = False,
    state_file: Annotated[Path, typer.Option(help="The devstack's state file.")] = (
        DEFAULT_STATE_FILE
    ),
    region: Annotated[str | None, typer.Option(help="AWS region of --stack.")] = None,
) -> None:
    # `payctl tenants --help` asks for help, not for a stack: no target is needed to read it.
    # (click has already handed the arguments to the subcommand here: sys.argv still has them.)
    if any(argument in {"--help", "-h"} for argument in sys.argv[1:]):
        return
    os.environ.update(target_environment(stack, local, state_file, region))
    ctx.obj = Target(stack=stack, local=local, region=region, state_file=state_file)
    # Settings are read once per process: if this one already read them (a test invoking the
    # app twice), read them again for this target. Otherwise the command imports them itself.
    config = sys.modules.get("payments.config")
    if config is not None:
        config.reset_settings()


@tenants_app.command("create")
def tenants_create(name: Annotated[str, typer.Argument(help="The merchant's name.")]) -> None:
    """Create a tenant (with its usage key in the default usage plan) and print its id."""
    from payments.services.tenants import create_tenant

    tenant = create_tenant(name)
    typer.echo(f"tenant_id: {tenant.tenant_id}")
    if tenant.usage_key is None:
        typer.secho(
            "no DefaultUsagePlanId output: the tenant has no usage key, and API Gateway answers "
            "403 until `payctl limits backfill` gives it one",
            fg="yellow",
            err=True,
        )


@tenants_app.command("list")
def tenants_list() -> None:
    """List tenants, one a line, every value whole (ids are for copying)."""
    from payments.store import repositories

    rows = [("tenant_id", "name", "status", "created_at")]
    rows += [
        (tenant.tenant_id, tenant.name, tenant.status, tenant.created_at.isoformat())
        for tenant in repositories.list_tenants()
    ]
    typer.echo(_columns(rows))


def _columns(rows: Sequence[tuple[str, ...]]) -> str:
    """Aligned plain-text columns that never truncate (the last column is not padded)."""
    widths = [max(len(row[index]) for row in rows) for index in range(len(rows[0]) - 1)]
    return "\n".join(
        "  ".join(
            [*(cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True)), row[-1]]
        )
        for row in rows
    )


@keys_app.command("issue")
def keys_issue(tenant: Annotated[str, typer.Argument(help="Tenant id.")]) -> None:
    """Issue an API key; the key is printed once and only its hash is stored."""
    from pynamodb.exceptions import TransactWriteError

    from payments.store import repositories

    try:
        issued = repositories.issue_api_key(tenant)
    except TransactWriteError:
        typer.echo(f"no active tenant {tenant}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"key_id:  {issued.key_id}")
    typer.echo(f"api_key: {issued.plaintext}")
    typer.secho("Store the key now: it cannot be shown again.", fg="yellow")


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="The key's id (key_...).")]) -> None:
    """Revoke an API key (API Gateway may keep a cached allow for up to 300 s)."""
    from payments.store import repositories

    if not repositories.revoke_api_key(key_id):
        typer.echo(f"no key {key_id}", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked {key_id}")


# The operator API's own rules for a name (functions/admin: 1-100 printable characters).
MAX_OPERATOR_NAME = 100


@operators_app.command("issue")
def operators_issue(
    name: Annotated[str, typer.Argument(help="Who the key is for, e.g. alice@example.com.")],
) -> None:
    """Issue an operator key (opk_...): printed once, only its hash is stored. Every key issued
    under one name is the same operator (one operator_id) in the audit log."""
    cleaned = name.strip()
    if not cleaned or len(cleaned) > MAX_OPERATOR_NAME or not cleaned.isprintable():
        typer.echo(f"the name must be 1-{MAX_OPERATOR_NAME} printable characters", err=True)
        raise typer.Exit(2)
    from payments.store import repositories

    issued = repositories.issue_operator_key(cleaned)
    typer.echo(f"key_id:       {issued.key.key_id}")
    typer.echo(f"operator_id:  {issued.key.operator_id}")
    typer.echo(f"operator_key: {issued.plaintext}")
    typer.secho("Store the key now: it cannot be shown again.", fg="yellow")


@operators_app.command("list")
def operators_list() -> None:
    """List operator keys (never the keys), revoked ones included."""
    from payments.store import repositories

    rows = [("key_id", "operator_id", "created_at", "revoked", "name")]
    rows += [
        (
            key.key_id,
            key.operator_id,
            key.created_at.isoformat(),
            "yes" if key.revoked else "no",
            key.name,
        )
        for key in repositories.list_operator_keys()
    ]
    typer.echo(_columns(rows))


@operators_app.command("revoke")
def operators_revoke(
    key_id: Annotated[str, typer.Argument(help="The operator key's id (okey_...).")],
) -> None:
    """Revoke an operator key (API Gateway may keep a cached allow for up to 300 s)."""
    from payments.store import repositories

    if not repositories.revoke_operator_key(key_id):
        typer.echo(f"no operator key {key_id}", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked {key_id}")


def _provider_spec(provider: str) -> ProviderSpec:
    """The provider's spec; an unknown provider exits 2, naming the known ones."""
    from payments.errors import PaymentsError
    from payments.providers import get_spec

    try:
        return get_spec(provider)
    except PaymentsError as error:
        typer.echo(error.message, err=True)
        raise typer.Exit(2) from None


@credentials_app.command("set")
def credentials_set(
    ctx: typer.Context,
    tenant: Annotated[str, typer.Argument(help="Tenant id.")],
    provider: Annotated[str, typer.Argument(help="Provider name, e.g. stripe.")],
    value: Annotated[
        list[str] | None,
        typer.Option(
            "--value",
            help="NAME=VALUE for one credential field (repeatable); fields not given are "
            "prompted for, secret ones without echo. The fields are the provider's: "
            "`payctl credentials fields PROVIDER`.",
        ),
    ] = None,
    disabled: Annotated[bool, typer.Option("--disabled", help="Store but disable.")] = False,
    create_kms_key: Annotated[
        bool,
        typer.Option(
            "--create-kms-key",
            help="neobank only: create an RSA_2048 SIGN_VERIFY KMS key for this tenant (tagged "
            "for this stack, usable only by the functions that sign), store its ARN as "
            "kms_key_id and print its public key (PEM) for the bank's portal.",
        ),
    ] = False,
) -> None:
    """Store a tenant's provider credentials, checked by the provider's spec and encrypted
    with the stack's KMS key."""
    from payments.errors import PaymentsError
    from payments.services.credentials import set_provider_credentials, validated_credentials
    from payments.store import repositories

    spec = _provider_spec(provider)
    given: dict[str, str] = {}
    for item in value or []:
        name, equals, text = item.partition("=")
        if not equals:
            typer.echo(f"--value takes NAME=VALUE, got {name!r}", err=True)
            raise typer.Exit(2)
        given[name.strip()] = text
    if create_kms_key:
        if provider != "neobank":
            typer.echo("--create-kms-key is only for provider neobank", err=True)
            raise typer.Exit(2)
        for signer in ("signing_key_pem", "kms_key_id"):
            if signer in given:
                typer.echo(
                    f"--create-kms-key makes the signing key: do not give {signer} as well",
                    err=True,
                )
                raise typer.Exit(2)
    if repositories.get_tenant(tenant) is None:
        typer.echo(f"no tenant {tenant}", err=True)
        raise typer.Exit(1)
    for spec_field in spec.credential_fields:
        if spec_field.name not in given and spec_field.required:
            given[spec_field.name] = typer.prompt(
                f"{spec_field.name} ({spec_field.description})", hide_input=spec_field.secret
            )
    public_pem = None
    try:
        if create_kms_key:
            # The other values are checked before a key exists: a typo costs no orphan key.
            validated_credentials(spec, {**given, "kms_key_id": "alias/payments-placeholder"})
            key_arn, public_pem = _create_neobank_kms_key(ctx.obj, tenant)
            given["kms_key_id"] = key_arn
        name = set_provider_credentials(tenant, provider, given, enabled=not disabled)
    except PaymentsError as error:
        typer.echo(error.message, err=True)
        raise typer.Exit(1) from None
    typer.echo(f"stored {provider} credentials for {tenant} in {name}")
    if public_pem is not None:
        typer.echo("Upload this public key to the bank's portal (the private key stays in KMS):")
        typer.echo(public_pem, nl=False)


def _create_neobank_kms_key(target: Target, tenant: str) -> tuple[str, str]:
    """A tenant's NEO Bank signing key in KMS: (its ARN, its public key as PEM)."""
    import boto3
    from cryptography.hazmat.primitives import serialization

    stack = target.stack_name
    identity = boto3.client("sts", region_name=target.region).get_caller_identity()
    partition = identity["Arn"].split(":")[1]
    root = f"arn:{partition}:iam::{identity['Account']}:root"
    signers = [] if target.local else _signing_role_arns(target)
    policy = _neobank_key_policy(root, signers)
    kms = boto3.client("kms", region_name=target.region)
    key = kms.create_key(
        Description=f"{stack}: NEO Bank request signing for tenant {tenant}",
        KeySpec="RSA_2048",
        KeyUsage="SIGN_VERIFY",
        Policy=json.dumps(policy),
        Tags=[
            {"TagKey": "payments-stack", "TagValue": stack},
            {"TagKey": "payments-tenant", "TagValue": tenant},
        ],
    )["KeyMetadata"]
    alias = f"alias/payments-{stack}-neobank-{tenant}"
    try:
        kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    except kms.exceptions.AlreadyExistsException:
        # A new key for the tenant (rotation): the alias follows it; the old key stays.
        kms.update_alias(AliasName=alias, TargetKeyId=key["KeyId"])
        typer.echo(f"{alias} pointed at another key: it now names the new one")
    der = kms.get_public_key(KeyId=key["KeyId"])["PublicKey"]
    pem = (
        serialization.load_der_public_key(der)
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    typer.echo(f"kms_key_id: {key['Arn']}")
    typer.echo(f"alias: {alias}")
    if signers:
        typer.echo("signing allowed to: " + ", ".join(signers))
    else:
        why = "--local" if target.local else f"no roles of the signing functions found in {stack}"
        typer.echo(
            f"key policy: the account root only ({why}); the functions may sign through their "
            "IAM policy (NeobankSigningPolicy: keys tagged payments-stack)"
        )
    return str(key["Arn"]), pem


def _signing_role_arns(target: Target) -> list[str]:
    """The role ARNs of the stack's functions that sign; empty when any cannot be found."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    wanted = {f"{function}Role" for function in NEOBANK_SIGNING_FUNCTIONS}
    try:
        resources = boto3.client(
            "cloudformation", region_name=target.region
        ).describe_stack_resources(StackName=target.stack_name)["StackResources"]
        names = {
            r["LogicalResourceId"]: r["PhysicalResourceId"]
            for r in resources
            if r["LogicalResourceId"] in wanted and r.get("PhysicalResourceId")
        }
        if set(names) != wanted:
            return []
        iam = boto3.client("iam", region_name=target.region)
        return [iam.get_role(RoleName=names[w])["Role"]["Arn"] for w in sorted(wanted)]
    except (BotoCoreError, ClientError):
        return []


def _neobank_key_policy(root: str, signers: list[str]) -> dict[str, Any]:
    statements: list[dict[str, Any]] = [
        {
            "Sid": "AccountRootAdministers",
            "Effect": "Allow",
            "Principal": {"AWS": root},
            "Action": "kms:*",
            "Resource": "*",
        }
    ]
    if signers:
        statements.append(
            {
                "Sid": "SigningFunctionsSign",
                "Effect": "Allow",
                "Principal": {"AWS": signers},
                "Action": ["kms:Sign", "kms:GetPublicKey"],
                "Resource": "*",
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


@credentials_app.command("fields")
def credentials_fields(
    provider: Annotated[str, typer.Argument(help="Provider name, e.g. stripe.")],
) -> None:
    """The credential fields a provider takes (from its spec)."""

    spec = _provider_spec(provider)
    for spec_field in spec.credential_fields:
        kind = "secret" if spec_field.secret else "shown"
        need = "required" if spec_field.required else "optional"
        typer.echo(f"{spec_field.name}  ({need}, {kind}): {spec_field.description}")


@credentials_app.command("show")
def credentials_show(
    tenant: Annotated[str, typer.Argument(help="Tenant id.")],
    provider: Annotated[str, typer.Argument(help="Provider name, e.g. stripe.")],
) -> None:
    """Show which credentials are set, redacted (never the secret values), and their last
    test."""
    from payments.errors import PaymentsError
    from payments.services.credentials import show_credentials

    try:
        stored = show_credentials(tenant, provider)
    except PaymentsError as error:  # an unknown provider, or none stored for it
        typer.echo(error.message, err=True)
        raise typer.Exit(1) from None
    _echo_credentials(stored)


@credentials_app.command("test")
def credentials_test(
    tenant: Annotated[str, typer.Argument(help="Tenant id.")],
    provider: Annotated[str, typer.Argument(help="Provider name, e.g. stripe.")],
) -> None:
    """Try the stored credentials on the provider and record the result (as the API's
    POST /v1/providers/{provider}/credentials/test does, within the same rate limit).
    Exits 1 when the provider refused them."""
    from payments.errors import PaymentsError
    from payments.providers import UnknownProviderError
    from payments.services.credentials import run_credential_test

    try:
        stored = run_credential_test(tenant, provider)
    except UnknownProviderError as error:
        typer.echo(error.message, err=True)
        raise typer.Exit(2) from None
    except PaymentsError as error:
        typer.echo(f"{error.code}: {error.message}", err=True)
        raise typer.Exit(1) from None
    _echo_credentials(stored)
    if not stored.verified:
        raise typer.Exit(1)


def _echo_credentials(stored: StoredCredentials) -> None:
    for name, shown in sorted(stored.values.items()):
        typer.echo(f"{name}: {shown}")
    typer.echo(f"enabled: {str(stored.enabled).lower()}")
    typer.echo(f"verified: {str(stored.verified).lower()}")
    tested = stored.last_tested_at.isoformat() if stored.last_tested_at else "never"
    typer.echo(f"last_tested_at: {tested}")
    result = stored.last_test_result
    if result is not None:
        typer.echo(f"last_test_result: {result.code} ({result.message})")
    if stored.webhook_url:
        typer.echo(f"webhook_url: {stored.webhook_url}")


@callbacks_app.command("replay")
def callbacks_replay(
    limit: Annotated[int, typer.Option(help="Re-drive at most this many.", min=1)] = 1000,
) -> None:
    """Re-drive failed deliveries from the callback DLQ, each with a fresh retry schedule."""
    from payments.services.callbacks import replay_dead_letters

    typer.echo(f"replayed {replay_dead_letters(limit)} delivery(ies)")


@inbox_app.command("backfill-index")
def inbox_backfill_index() -> None:
    """Add the inbox index's keys to webhook records stored before it existed, so that
    GET /v1/webhooks/inbox lists them (idempotent; safe while webhooks arrive)."""
    from payments.services.webhook_stats import backfill_inbox_index

    typer.echo(f"indexed {backfill_inbox_index()} inbox record(s)")


@payments_app.command("backfill-index")
def payments_backfill_index() -> None:
    """Add the log index's keys to payments (and their lower-case e-mail), callback deliveries
    and payment events stored before it existed, so that GET /v1/payments lists and searches
    them, GET /v1/callbacks/deliveries lists them and a payment's activity shows its events
    (idempotent; safe while the system runs)."""
    from payments.store.activity_log import backfill_index

    counts = backfill_index()
    typer.echo(
        f"indexed {counts['payments']} payment(s), {counts['deliveries']} delivery(ies), "
        f"{counts['events']} event(s)"
    )


@ledger_app.command("verify")
def ledger_verify(
    tenant: Annotated[
        list[str] | None, typer.Option(help="Only these tenants (repeatable).")
    ] = None,
) -> None:
    """Prove every balance equals the sum of its journal lines and every entry balances."""
    from payments.services.ledger_check import verify_ledger

    reports = verify_ledger(tenant or None)
    failed = False
    for report in reports:
        status = "ok" if report.ok else "FAILED"
        typer.echo(
            f"{report.tenant_id}: {status} ({report.entries} entries, {report.accounts} accounts)"
        )
        for problem in report.discrepancies:
            failed = True
            typer.echo(f"  {problem.account} [{problem.currency}]: {problem.problem}", err=True)
    if failed:
        raise typer.Exit(1)
    typer.echo(f"ledger verified for {len(reports)} tenant(s)")


@ledger_app.command("adjust")
def ledger_adjust(
    tenant: Annotated[str, typer.Option(help="Tenant id.")],
    profile: Annotated[str, typer.Option(help="The customer's profile id (prf_...).")],
    amount: Annotated[
        str,
        typer.Option(
            help="Major units as a decimal string, negative to reduce: 12.50, -12.50.",
        ),
    ],
    currency: Annotated[str, typer.Option(help="Currency code, e.g. USD.")],
    reason: Annotated[str, typer.Option(help="Why (kept in the journal entry).")],
    operator: Annotated[
        str | None,
        typer.Option(help="Who (kept in the entry); default $PAYCTL_OPERATOR, else the OS user."),
    ] = None,
) -> None:
    """Correct a customer's settled balance with a balanced journal entry against
    ledger_adjustments (never an edited number); prints the entry and the new balances."""
    from payments.errors import PaymentsError
    from payments.services.profiles import adjust_profile_balance, profile_balance

    who = operator or os.environ.get("PAYCTL_OPERATOR") or _os_user()
    try:
        entry_id = adjust_profile_balance(
            tenant_id=tenant,
            profile_id=profile,
            amount=amount,
            currency=currency,
            reason=reason,
            operator=who,
        )
        balances = profile_balance(tenant, profile)
    except PaymentsError as error:
        typer.echo(error.message, err=True)
        raise typer.Exit(1) from None
    typer.echo(f"entry_id: {entry_id}")
    typer.echo(f"operator: {who}")
    rows: list[tuple[str, ...]] = [("currency", "cleared", "settled", "total")]
    for balance in balances:
        view = balance.view()
        rows.append(
            (
                balance.currency,
                *(_major(view[k], balance.currency) for k in ("cleared", "settled", "total")),
            )
        )
    typer.echo(_columns(rows))


def _os_user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name (a container without a passwd entry)
        return "unknown"


def _major(amount: int | str, currency: str) -> str:
    """A balance as major units: fiat minor units "1250" -> "12.50"; crypto as it is."""
    from payments.money import FIAT_EXPONENTS, Money

    if isinstance(amount, int) and currency in FIAT_EXPONENTS:
        return Money(amount, currency).to_decimal_string()
    return str(amount)


def main() -> None:
    app()
