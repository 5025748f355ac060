"""`payctl ledger verify` against the running devstack: passes clean, fails when corrupted."""

from __future__ import annotations

import boto3

from payments.domain.states import PaymentStatus
from payments.store.models import AccountBalanceItem, ledger_shard
from tests.e2e.conftest import RunningDevStack


def test_ledger_verify_passes_clean_and_fails_on_a_corrupted_balance(
    devstack: RunningDevStack, devstack_aws: None
) -> None:
    from payments.services.transitions import apply_transition, create_payment

    tenant_id = devstack.info["tenant_id"]
    payment = create_payment(
        tenant_id=tenant_id,
        payable_type="booking",
        payable_id="bk_ledger",
        amount=150_000,
        currency="KES",
        provider="stripe",
    )
    apply_transition(
        tenant_id=tenant_id,
        payment_id=payment.payment_id,
        requested=PaymentStatus.SUCCEEDED,
        source="provider",
    )
    clean = devstack.payctl("ledger", "verify", "--tenant", tenant_id)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert f"{tenant_id}: ok (" in clean.stdout

    table = boto3.resource("dynamodb").Table(devstack.info["environment"]["PAYMENTS_TABLE_NAME"])
    # The balance item of this payment's ledger shard.
    pk, sk = AccountBalanceItem.key(
        tenant_id, ledger_shard(payment.payment_id), "merchant_sales", "KES"
    )
    key = {"pk": pk, "sk": sk}
    # Other tests take KES payments for the demo tenant too: the corruption is one more than
    # whatever the balance is now.
    credits = int(table.get_item(Key=key, ConsistentRead=True)["Item"]["credits"])
    table.update_item(
        Key=key, UpdateExpression="ADD credits :one", ExpressionAttributeValues={":one": 1}
    )
    try:
        corrupted = devstack.payctl("ledger", "verify")
        assert corrupted.returncode == 1
        assert "merchant_sales [KES]" in corrupted.stderr
        assert str(credits + 1) in corrupted.stderr
    finally:
        table.update_item(
            Key=key, UpdateExpression="ADD credits :one", ExpressionAttributeValues={":one": -1}
        )
    assert devstack.payctl("ledger", "verify").returncode == 0
