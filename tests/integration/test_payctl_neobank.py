"""payctl's NEO Bank operations against a stack in moto: a tenant's KMS signing key made by
`credentials set --create-kms-key`, and an operator's balance adjustment (`ledger adjust`)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import boto3
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from devstack.template import LocalStack
from payctl.main import NEOBANK_SIGNING_FUNCTIONS
from payments.domain.profiles import Profile, ProfileStatus
from payments.services import profiles
from payments.services.credentials import provider_credentials
from payments.store import profiles as profile_store
from payments.store import repositories
from tests.integration.helpers import items_of_type, moto_stack, new_tenant, run_payctl

STACK = "payments-neoops"
WALLET = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
ROLE_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


@pytest.fixture
def deployed(aws: LocalStack) -> Iterator[str]:
    """The stack with the roles SAM gives the signing functions (``<Function>Role``)."""
    roles = {
        f"{function}Role": {
            "Type": "AWS::IAM::Role",
            "Properties": {"AssumeRolePolicyDocument": ROLE_TRUST},
        }
        for function in NEOBANK_SIGNING_FUNCTIONS
    }
    yield from moto_stack(aws, STACK, resources=roles)


@pytest.fixture
def bare(aws: LocalStack) -> Iterator[str]:
    """A stack without those roles (moto_stack's outputs only)."""
    yield from moto_stack(aws, STACK)


def _bank_public_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def _set_with_kms_key(tenant: str, *extra: str) -> tuple[int, str]:
    return run_payctl(
        STACK,
        "credentials",
        "set",
        tenant,
        "neobank",
        "--create-kms-key",
        "--value",
        "client_id=market_client_01",
        "--value",
        f"bank_public_key_pem={_bank_public_pem()}",
        "--value",
        "environment=sandbox",
        *extra,
    )


def _printed_public_key(output: str) -> RSAPublicKey:
    found = re.search(
        r"-----BEGIN PUBLIC KEY-----\n.+?-----END PUBLIC KEY-----\n", output, re.DOTALL
    )
    assert found, output
    key = serialization.load_pem_public_key(found.group(0).encode())
    assert isinstance(key, RSAPublicKey)
    return key


def _tags(kms: object, key_id: str) -> dict[str, str]:
    tags = kms.list_resource_tags(KeyId=key_id)["Tags"]  # type: ignore[attr-defined]
    return {tag["TagKey"]: tag["TagValue"] for tag in tags}


def test_create_kms_key_makes_a_tagged_signing_key_and_stores_its_arn(deployed: str) -> None:
    tenant = new_tenant("Token market")
    code, output = _set_with_kms_key(tenant)
    assert code == 0, output

    found = re.search(r"^kms_key_id: (arn:aws:kms:\S+)$", output, re.MULTILINE)
    assert found, output
    arn = found.group(1)
    kms = boto3.client("kms")
    metadata = kms.describe_key(KeyId=arn)["KeyMetadata"]
    assert (metadata["KeySpec"], metadata["KeyUsage"]) == ("RSA_2048", "SIGN_VERIFY")
    assert _tags(kms, arn) == {"payments-stack": STACK, "payments-tenant": tenant}
    [alias] = [
        a for a in kms.list_aliases()["Aliases"] if a.get("TargetKeyId") == metadata["KeyId"]
    ]
    assert alias["AliasName"] == f"alias/payments-{STACK}-neobank-{tenant}"

    # The key policy: the account root administers, only the five signing roles sign.
    policy = json.loads(kms.get_key_policy(KeyId=arn, PolicyName="default")["Policy"])
    root, signing = policy["Statement"]
    account = boto3.client("sts").get_caller_identity()["Account"]
    assert (root["Principal"], root["Action"]) == ({"AWS": f"arn:aws:iam::{account}:root"}, "kms:*")
    assert signing["Action"] == ["kms:Sign", "kms:GetPublicKey"]
    iam = boto3.client("iam")
    resources = boto3.client("cloudformation").describe_stack_resources(StackName=STACK)
    role_arns = sorted(
        iam.get_role(RoleName=r["PhysicalResourceId"])["Role"]["Arn"]
        for r in resources["StackResources"]
        if r["ResourceType"] == "AWS::IAM::Role"
    )
    assert len(role_arns) == 5
    assert sorted(signing["Principal"]["AWS"]) == role_arns
    assert "signing allowed to: " in output

    # The stored credentials sign with that key.
    assert provider_credentials(tenant, "neobank").require("kms_key_id") == arn
    code, shown = run_payctl(STACK, "credentials", "show", tenant, "neobank")
    assert code == 0, shown
    assert f"kms_key_id: {arn}" in shown

    # The printed PEM is KMS's public key, and it verifies what the key signs.
    printed = _printed_public_key(output)
    kms_public = serialization.load_der_public_key(kms.get_public_key(KeyId=arn)["PublicKey"])
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    assert printed.public_bytes(serialization.Encoding.DER, spki) == kms_public.public_bytes(
        serialization.Encoding.DER, spki
    )
    assert "Upload this public key to the bank's portal" in output
    message = b"1764720000.{}"
    signature = kms.sign(
        KeyId=arn,
        Message=message,
        MessageType="RAW",
        SigningAlgorithm="RSASSA_PKCS1_V1_5_SHA_256",
    )["Signature"]
    printed.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())


def test_create_kms_key_without_the_roles_has_a_root_only_policy_and_says_so(
    bare: str,
) -> None:
    tenant = new_tenant("Token market")
    code, output = _set_with_kms_key(tenant)
    assert code == 0, output
    assert "key policy: the account root only" in output
    arn = provider_credentials(tenant, "neobank").require("kms_key_id")
    policy = json.loads(
        boto3.client("kms").get_key_policy(KeyId=arn, PolicyName="default")["Policy"]
    )
    assert [s["Sid"] for s in policy["Statement"]] == ["AccountRootAdministers"]


def test_create_kms_key_refuses_other_providers_and_a_pem_signer(deployed: str) -> None:
    tenant = new_tenant("Token market")
    keys_before = len(boto3.client("kms").list_keys()["Keys"])
    code, output = run_payctl(
        STACK, "credentials", "set", tenant, "stripe", "--create-kms-key",
        "--value", "secret_key=sk_test_51Hsecretvalue0000abcd", "--value", "webhook_secret=whsec_x",
    )  # fmt: skip
    assert (code, "--create-kms-key is only for provider neobank" in output) == (2, True)
    code, output = _set_with_kms_key(tenant, "--value", "signing_key_pem=x")
    assert code == 2
    assert "do not give signing_key_pem as well" in output
    # A bad value is refused before a key exists: no orphan key.
    code, output = run_payctl(
        STACK, "credentials", "set", tenant, "neobank", "--create-kms-key",
        "--value", "client_id=!", "--value", f"bank_public_key_pem={_bank_public_pem()}",
        "--value", "environment=sandbox",
    )  # fmt: skip
    assert code == 1
    assert "client_id" in output
    assert len(boto3.client("kms").list_keys()["Keys"]) == keys_before
    assert repositories.get_tenant(tenant) is not None


def _profile(tenant: str) -> Profile:
    now = datetime.now(UTC)
    profile = Profile(
        profile_id=profiles.new_profile_id(),
        tenant_id=tenant,
        provider="neobank",
        external_customer_id=f"user_{time.monotonic_ns()}",
        email="buyer@example.com",
        name="Ada Buyer",
        wallet_address=WALLET,
        status=ProfileStatus.VERIFIED,
        version=1,
        created_at=now,
        updated_at=now,
    )
    assert profile_store.create_profile(profile)
    return profile


def test_ledger_adjust_writes_a_balanced_entry_and_moves_the_balance(
    deployed: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = new_tenant("Token market")
    profile = _profile(tenant)
    monkeypatch.setenv("PAYCTL_OPERATOR", "ops-ann")
    adjust = (
        "ledger", "adjust", "--tenant", tenant, "--profile", profile.profile_id,
        "--currency", "USD",
    )  # fmt: skip
    code, output = run_payctl(STACK, *adjust, "--amount", "20.00", "--reason", "goodwill credit")
    assert code == 0, output
    found = re.search(r"^entry_id: (je_[0-9a-f]{32})$", output, re.MULTILINE)
    assert found, output
    assert "operator: ops-ann" in output
    assert re.search(r"^USD\s+0\.00\s+20\.00\s+20\.00$", output, re.MULTILINE), output

    code, output = run_payctl(
        STACK, *adjust, "--amount", "-12.50", "--reason", "fee refund reversed",
        "--operator", "bob",
    )  # fmt: skip
    assert code == 0, output
    assert "operator: bob" in output
    assert re.search(r"^USD\s+0\.00\s+7\.50\s+7\.50$", output, re.MULTILINE), output
    assert [b.view()["settled"] for b in profiles.profile_balance(tenant, profile.profile_id)] == [
        750
    ]

    # The entry balances, against ledger_adjustments, with who and why in its description.
    [entry] = [e for e in items_of_type("journal_entry") if e["entry_id"] == found.group(1)]
    lines = entry["lines"]
    assert sum(int(line["debit"]) for line in lines) == sum(int(line["credit"]) for line in lines)
    assert {line["account"] for line in lines} >= {"ledger_adjustments"}, lines
    assert "goodwill credit (by ops-ann)" in entry["description"]

    code, output = run_payctl(STACK, "ledger", "verify", "--tenant", tenant)
    assert code == 0, output
    assert f"{tenant}: ok (2 entries" in output


@pytest.mark.parametrize(
    ("profile", "amount", "reason", "message"),
    [
        ("prf_" + "0" * 32, "5.00", "x", "no profile prf_"),
        (None, "5.0.0", "x", "amount"),
        (None, "5.001", "x", "amount"),
        (None, "5.00", "  ", "an adjustment needs a reason"),
    ],
)
def test_ledger_adjust_refuses_bad_input_with_a_message(
    deployed: str, profile: str | None, amount: str, reason: str, message: str
) -> None:
    tenant = new_tenant("Token market")
    profile_id = profile or _profile(tenant).profile_id
    code, output = run_payctl(
        STACK, "ledger", "adjust", "--tenant", tenant, "--profile", profile_id,
        "--amount", amount, "--currency", "USD", "--reason", reason, "--operator", "ann",
    )  # fmt: skip
    assert code == 1, output
    assert message in output
    assert "Traceback" not in output
    if profile is None:
        assert profiles.profile_balance(tenant, profile_id) == []  # nothing was written


def test_create_kms_key_under_local_tags_the_devstack_and_says_the_policy_is_root_only(
    aws: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from payctl.main import app

    # What `payctl --local` reads from the devstack's state file (no state file here: the
    # devstack's stack name is the default one).
    state = aws.environment()
    monkeypatch.setattr("payctl.main.target_environment", lambda *_: state)
    for name, value in state.items():
        monkeypatch.setenv(name, value)
    tenant = new_tenant("Token market")
    result = CliRunner().invoke(
        app,
        [
            "--local", "--state-file", "/nonexistent/state.json",
            "credentials", "set", tenant, "neobank", "--create-kms-key",
            "--value", "client_id=market_client_01",
            "--value", f"bank_public_key_pem={_bank_public_pem()}",
            "--value", "environment=sandbox",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "key policy: the account root only (--local)" in result.output
    arn = provider_credentials(tenant, "neobank").require("kms_key_id")
    kms = boto3.client("kms")
    assert _tags(kms, arn) == {"payments-stack": "payments-local", "payments-tenant": tenant}
    assert _printed_public_key(result.output).key_size == 2048
