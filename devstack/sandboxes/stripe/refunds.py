"""The Refunds API, and what a refund does to its charge (at once, or later under chaos)."""

from __future__ import annotations

import copy
from typing import cast

from devstack.sandboxes.kit import Json
from devstack.sandboxes.stripe.errors import StripeApiError, invalid, missing
from devstack.sandboxes.stripe.objects import (
    REFUND_REASONS,
    AccountState,
    ApiCall,
    RequestContext,
    format_amount,
    random_id,
)
from devstack.sandboxes.stripe.webhooks import Webhooks


class Refunds(Webhooks):
    """``/v1/refunds``; a Dashboard refund (admin) takes the same path."""

    def _api_create_refund(self, call: ApiCall) -> Json:
        params = call.params
        params.reject_unknown(
            {"payment_intent", "charge", "amount", "reason", "metadata", "expand"},
            {"refund_application_fee", "reverse_transfer", "instructions_email", "origin"},
        )
        intent_id = params.string("payment_intent")
        charge_id = params.string("charge")
        amount = params.integer("amount", minimum=1)
        reason = params.choice("reason", REFUND_REASONS)
        metadata = params.metadata()
        if intent_id is None and charge_id is None:
            raise missing("charge")
        with self._lock:
            state = call.state
            if intent_id is not None:
                intent = state.get("payment_intent", intent_id, param="payment_intent", status=400)
                if intent["status"] != "succeeded" or not intent["latest_charge"]:
                    raise invalid(
                        "payment_intent",
                        f"This PaymentIntent ({intent_id}) does not have a successful charge to "
                        "refund.",
                        "charge_not_refundable",
                    )
                if charge_id is not None and charge_id != intent["latest_charge"]:
                    raise invalid("charge", "charge does not belong to the payment_intent.")
                charge_id = str(intent["latest_charge"])
            charge = state.get("charge", cast(str, charge_id), param="charge", status=400)
            batch: list[Json] = []
            refund = self._refund_charge(
                state, charge, amount, reason, metadata, call.context, batch
            )
            self._dispatch(state, batch)
            return self._render(state, refund, call.expand)

    def _refund_charge(
        self,
        state: AccountState,
        charge: Json,
        amount: int | None,
        reason: str | None,
        metadata: dict[str, str],
        context: RequestContext,
        batch: list[Json],
    ) -> Json:
        if charge["disputed"]:
            raise invalid(
                "charge",
                f"Charge {charge['id']} has been disputed and cannot be refunded.",
                "charge_disputed",
            )
        refunds = [state.objects["refund"][rid] for rid in state.charge_refunds[charge["id"]]]
        committed = sum(
            int(refund["amount"])
            for refund in refunds
            if refund["status"] in ("pending", "succeeded")
        )
        remaining = int(charge["amount"]) - committed
        if remaining <= 0:
            raise StripeApiError(
                400,
                f"Charge {charge['id']} has already been refunded.",
                code="charge_already_refunded",
            )
        if amount is None:
            amount = remaining
        if amount is not None and amount > remaining:
            currency = str(charge["currency"])
            raise invalid(
                "amount",
                f"Refund amount ({format_amount(amount, currency)}) is greater than unrefunded "
                f"amount on charge ({format_amount(remaining, currency)})",
                "amount_too_large",
            )
        delay = float(self.chaos.refund_delay_seconds)
        refund: Json = {
            "id": random_id("re_3"),
            "object": "refund",
            "amount": amount,
            "balance_transaction": None,
            "charge": charge["id"],
            "created": self._now(),
            "currency": charge["currency"],
            "destination_details": None,
            "metadata": metadata,
            "payment_intent": charge["payment_intent"],
            "reason": reason,
            "receipt_number": None,
            "source_transfer_reversal": None,
            "status": "pending" if delay > 0 else "succeeded",
            "transfer_reversal": None,
        }
        state.objects["refund"][refund["id"]] = refund
        state.charge_refunds[charge["id"]].append(refund["id"])
        self._owners[refund["id"]] = state
        self._emit(state, batch, "refund.created", refund, context)
        if delay > 0:
            self._settle_later(state, refund["id"], delay)
        else:
            self._refund_succeeded(state, refund, batch, context)
        return refund

    def _refund_succeeded(
        self,
        state: AccountState,
        refund: Json,
        batch: list[Json],
        context: RequestContext | None,
    ) -> None:
        refund["status"] = "succeeded"
        refund["balance_transaction"] = random_id("txn_3")
        charge = state.objects["charge"][refund["charge"]]
        refunds = [state.objects["refund"][rid] for rid in state.charge_refunds[charge["id"]]]
        previous = {"amount_refunded": charge["amount_refunded"], "refunded": charge["refunded"]}
        charge["amount_refunded"] = sum(
            int(item["amount"]) for item in refunds if item["status"] == "succeeded"
        )
        charge["refunded"] = charge["amount_refunded"] >= charge["amount"]
        charge["refunds"]["data"] = copy.deepcopy(list(reversed(refunds)))
        charge["refunds"]["total_count"] = len(refunds)
        self._emit(state, batch, "charge.refunded", charge, context, previous)

    def _settle_later(self, state: AccountState, refund_id: str, delay: float) -> None:
        def settle() -> None:
            with self._lock:
                refund = state.objects["refund"][refund_id]
                if refund["status"] != "pending":
                    return
                batch: list[Json] = []
                self._refund_succeeded(state, refund, batch, None)
                self._emit(state, batch, "refund.updated", refund, None, {"status": "pending"})
                self._dispatch(state, batch)

        self._outbox.later(delay, settle)

    def _api_list_refunds(self, call: ApiCall) -> Json:
        params = call.params
        params.reject_unknown(
            {
                "charge",
                "payment_intent",
                "limit",
                "starting_after",
                "ending_before",
                "created",
                "expand",
            }
        )
        charge = params.string("charge")
        intent = params.string("payment_intent")
        created = self._created_filter(params)
        with self._lock:
            refunds = [
                refund
                for refund in call.state.objects["refund"].values()
                if (charge is None or refund["charge"] == charge)
                and (intent is None or refund["payment_intent"] == intent)
                and created(refund)
            ]
            return self._page(call, refunds, "/v1/refunds")
