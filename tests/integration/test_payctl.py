"""payctl against a deployed stack: names come from the CloudFormation stack outputs."""

from __future__ import annotations

import re
from collections.abc import Iterator

import boto3
import pytest
from typer.testing import CliRunner

from devstack.template import LocalStack
from payctl.main import app
from payments.domain.states import PaymentStatus
from payments.services.transitions import apply_transition
from payments.store import repositories
from tests.integration.helpers import moto_stack, new_payment, run_payctl

STACK = "payments-itest"


@pytest.fixture
def deployed(aws: LocalStack) -> Iterator[str]:
    yield from moto_stack(aws, STACK)


def _run(*args: str) -> tuple[int, str]:
    return run_payctl(STACK, *args)


def test_tenant_key_and_ledger_commands_against_a_stack(deployed: str) -> None:
    code, output = _run("tenants", "create", "Hotspot Ltd")
    assert code == 0, output
    found = re.search(r"tenant_id: (\S+)", output)
    assert found
    tenant_id = found.group(1)

    code, output = _run("keys", "issue", tenant_id)
    assert code == 0, output
    key_id = re.search(r"key_id:\s+(\S+)", output)
    assert key_id
    assert re.search(r"api_key: pk_\S{20,}", output)

    payment = new_payment(tenant_id)
    apply_transition(
        tenant_id=tenant_id,
        payment_id=payment.payment_id,
        requested=PaymentStatus.SUCCEEDED,
        source="provider",
    )
    code, output = _run("ledger", "verify")
    assert code == 0, output
    assert f"{tenant_id}: ok (1 entries, 2 accounts)" in output

    code, output = _run("keys", "revoke", key_id.group(1))
    assert (code, output.strip()) == (0, f"revoked {key_id.group(1)}")
    code, _ = _run("keys", "revoke", "key_nope")
    assert code == 1


def test_payctl_needs_exactly_one_target(deployed: str) -> None:
    result = CliRunner().invoke(app, ["tenants", "list"])
    assert result.exit_code == 2
    assert "choose exactly one of --stack NAME or --local" in result.output


def test_credentials_are_stored_encrypted_and_only_shown_redacted(deployed: str) -> None:
    code, output = _run("tenants", "create", "Fitness Co")
    found = re.search(r"tenant_id: (\S+)", output)
    assert found
    tenant_id = found.group(1)
    secret_key = "sk_test_51Hsecretvalue0000abcd"
    webhook_secret = "whsec_supersecretvalue9876"
    code, output = _run(
        "credentials",
        "set",
        tenant_id,
        "stripe",
        "--value",
        f"secret_key={secret_key}",
        "--value",
        f"webhook_secret={webhook_secret}",
    )
    assert code == 0, output
    assert secret_key not in output
    assert webhook_secret not in output
    code, output = _run("credentials", "show", tenant_id, "stripe")
    assert code == 0, output
    assert "secret_key: sk_****abcd" in output
    assert "webhook_secret: whsec_****9876" in output
    assert "enabled: true" in output
    assert secret_key not in output
    described = boto3.client("secretsmanager").describe_secret(
        SecretId=f"payments/dev/{tenant_id}/stripe"
    )
    assert described["KmsKeyId"]  # encrypted with the stack's key, not the AWS default

    from payments.services.credentials import provider_credentials

    assert provider_credentials(tenant_id, "stripe").require("secret_key") == secret_key
    code, output = _run(
        "credentials",
        "set",
        tenant_id,
        "omnisend",
        "--value",
        "api_key=5f3a9c1e8b7d2a4f6e0c9b8a7d6c5678",
    )
    assert (code, "5f3a9c1e8b7d2a4f6e0c9b8a7d6c5678" in output) == (0, False)
    assert "api_key: ****5678" in _run("credentials", "show", tenant_id, "omnisend")[1]
    assert _run("credentials", "show", tenant_id, "nowhere")[0] == 1
    assert _run("credentials", "set", tenant_id, "paypal", "--value", "secret_key=x")[0] == 2
    # The provider's spec checks the values; the message names the field, never the value.
    code, output = _run(
        "credentials", "set", tenant_id, "stripe", "--value", "secret_key=pk_live_wrongkind1",
        "--value", f"webhook_secret={webhook_secret}",
    )  # fmt: skip
    assert code == 1
    assert "secret_key" in output
    assert "pk_live_wrongkind1" not in output
    code, output = _run("credentials", "fields", "stripe")
    assert code == 0
    assert "secret_key" in output
    assert "webhook_secret" in output


def test_callbacks_replay_with_an_empty_dlq(deployed: str) -> None:
    assert _run("callbacks", "replay") == (0, "replayed 0 delivery(ies)\n")


def test_operator_keys_are_issued_once_listed_without_the_key_and_revoked(deployed: str) -> None:
    code, output = _run("operators", "issue", "  Ops On Call ")
    assert code == 0, output
    key = re.search(r"operator_key: (opk_\S{40,})", output)
    key_id = re.search(r"key_id:\s+(okey_\S+)", output)
    operator_id = re.search(r"operator_id:\s+(op_\S+)", output)
    assert key
    assert key_id
    assert operator_id
    found = repositories.find_operator_key(key.group(1))
    assert found is not None
    assert (found.key_id, found.name, found.revoked) == (key_id.group(1), "Ops On Call", False)

    code, listing = _run("operators", "list")
    assert code == 0, listing
    header, row = listing.strip().splitlines()
    assert header.split() == ["key_id", "operator_id", "created_at", "revoked", "name"]
    assert row.split()[:2] == [key_id.group(1), operator_id.group(1)]
    assert row.split()[3:] == ["no", "Ops", "On", "Call"]
    assert key.group(1) not in listing

    code, output = _run("operators", "revoke", key_id.group(1))
    assert (code, output.strip()) == (0, f"revoked {key_id.group(1)}")
    assert repositories.find_operator_key(key.group(1)).revoked  # type: ignore[union-attr]
    assert _run("operators", "list")[1].strip().splitlines()[1].split()[3] == "yes"
    assert _run("operators", "revoke", "okey_nope")[0] == 1
    assert _run("operators", "issue", " ")[0] == 2
    assert _run("operators", "issue", "x" * 101)[0] == 2
