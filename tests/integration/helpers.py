"""Small builders shared by the integration tests (through the real services)."""

from __future__ import annotations

from typing import Any

import boto3

from payments.config import get_settings
from payments.domain.payment import Customer, Payment
from payments.services.transitions import create_payment
from payments.store import repositories


def new_tenant(name: str = "Salon") -> str:
    return repositories.create_tenant(name).tenant_id


def new_payment(tenant_id: str, *, payable_id: str = "bk_1001", amount: int = 2500) -> Payment:
    return create_payment(
        tenant_id=tenant_id,
        payable_type="booking",
        payable_id=payable_id,
        amount=amount,
        currency="KES",
        provider="stripe",
        description="Haircut",
        customer=Customer(email="c@example.com"),
    )


def all_items() -> list[dict[str, Any]]:
    """Every item of the payments table, as stored (to prove what a change wrote)."""
    table = boto3.resource("dynamodb").Table(get_settings().payments_table_name)
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"ConsistentRead": True}
    while True:
        page = table.scan(**kwargs)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def items_of_type(item_type: str) -> list[dict[str, Any]]:
    return [item for item in all_items() if item.get("item_type") == item_type]
