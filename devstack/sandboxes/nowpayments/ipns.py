"""How a payment moves, and the IPN NOWPayments sends on every change of its status.

An IPN is a POST of the payment's fields (``PROVIDERS.md``: payment_id ... fee{...}, updated_at)
to its ``ipn_callback_url`` (the account's when the payment names none; loopback only), with
``x-nowpayments-sig`` as :mod:`~devstack.sandboxes.nowpayments.wire` describes. Ids and
amounts are JSON numbers, ``updated_at`` milliseconds since the epoch (NOWPayments' own form),
``purchase_id`` a string. A receiver that does not answer 2xx gets the IPN again after each
pause of ``IPN_RETRY_BACKOFF``. The account's ``ChaosSettings`` duplicate, shuffle, reverse,
delay, drop, unsign or mis-sign them, pick the signed text's form, or forge a "finished".

Amounts of a payment: ``actually_paid`` is what the customer sent; the outcome is computed on it
(on ``pay_amount`` while nothing has been paid): converted to the outcome currency (rounded
down), less NOWPayments' service fee (``service_fee_percent``, rounded up) and the payout
network fee (``withdrawalFee``), never below zero; ``depositFee`` is 0.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_UP, Decimal
from urllib.parse import urlsplit

from devstack.sandboxes.kit import Delivery, Json, Outbox
from devstack.sandboxes.nowpayments.core import NowPaymentsCore
from devstack.sandboxes.nowpayments.errors import conflict, invalid
from devstack.sandboxes.nowpayments.market import convert
from devstack.sandboxes.nowpayments.objects import (
    CONFIRMING,
    EXPIRED,
    FAILED,
    FINAL,
    FINISHED,
    PAID_IN_FULL,
    PARTIALLY_PAID,
    REFUNDED,
    STATUSES,
    WAITING,
    Account,
    Ipn,
    Payment,
    iso_time,
)
from devstack.sandboxes.nowpayments.wire import SIGNATURE_FORMS, ipn_signature, wire_text

logger = logging.getLogger(__name__)

IPN_RETRY_BACKOFF = (0.2, 0.5)  # seconds before each retry; then the IPN is given up
IPN_TIMEOUT_SECONDS = 10.0
_IPN_HEADERS = {"Content-Type": "application/json", "User-Agent": "NOWPayments IPN"}


def _step(precision: int) -> Decimal:
    return Decimal(1).scaleb(-precision)


def payment_fields(
    payment: Payment, *, status: str | None = None, paid: Decimal | None = None
) -> Json:
    """The payment as NOWPayments tells it (IPN and ``GET /v1/payment``), optionally as if it
    were in ``status`` with ``paid`` received (a forged IPN)."""
    actually_paid = payment.actually_paid if paid is None else paid
    pay, outcome = payment.pay_currency, payment.outcome_currency
    basis = actually_paid or payment.pay_amount
    gross = basis if outcome == pay else convert(basis, pay, outcome, up=False)
    service_fee = (gross * payment.fee_percent / 100).quantize(_step(outcome.precision), ROUND_UP)
    outcome_amount = max(gross - service_fee - outcome.withdrawal_fee, Decimal(0))
    at_fiat = (
        convert(actually_paid, pay, payment.price_currency, up=False)
        if actually_paid
        else Decimal(0)
    )
    return {
        "payment_id": payment.payment_id,
        "parent_payment_id": None,
        "invoice_id": payment.invoice_id,
        "payment_status": status or payment.status,
        "pay_address": payment.pay_address,
        "payin_extra_id": payment.payin_extra_id,
        "price_amount": payment.price_amount,
        "price_currency": payment.price_currency.code,
        "pay_amount": payment.pay_amount,
        "actually_paid": actually_paid,
        "actually_paid_at_fiat": at_fiat,
        "pay_currency": pay.code,
        "order_id": payment.order_id,
        "order_description": payment.order_description,
        "purchase_id": payment.purchase_id,
        "outcome_amount": outcome_amount,
        "outcome_currency": outcome.code,
        "payment_extra_ids": None,
        "fee": {
            "currency": outcome.code,
            "depositFee": Decimal(0),
            "withdrawalFee": outcome.withdrawal_fee,
            "serviceFee": service_fee,
        },
    }


def ipn_body(payment: Payment, *, status: str | None = None, paid: Decimal | None = None) -> Json:
    return {
        **payment_fields(payment, status=status, paid=paid),
        "updated_at": payment.updated_at_ms,
    }


def payment_status_view(payment: Payment) -> Json:
    """``GET /v1/payment/{id}``: the fields of an IPN, with ISO times."""
    return {
        **payment_fields(payment),
        "created_at": iso_time(payment.created_at_ms),
        "updated_at": iso_time(payment.updated_at_ms),
        "type": "crypto2crypto",
    }


@dataclass(frozen=True)
class _Sent:
    """What a queued IPN copy was: its payment, the status it tells and how it is signed."""

    payment_id: int
    payment_status: str
    signature: str | None
    signature_form: str
    forged: bool


class Ipns(NowPaymentsCore):
    """Moving payments and sending their IPNs through the kit's outbox."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port)
        self._outbox: Outbox[_Sent] = Outbox(
            "nowpayments-sandbox-ipns",
            self._ipn_finished,
            retry_backoff=IPN_RETRY_BACKOFF,
            timeout=IPN_TIMEOUT_SECONDS,
        )

    def on_stop(self) -> None:
        self._outbox.stop()

    def wait_for_ipns(self, timeout: float = 10) -> bool:
        """True once no IPN is queued, late, in flight or waiting to be retried."""
        return self._outbox.wait_idle(timeout)

    # ----------------------------------------------------------------- moving a payment

    def advance(
        self, payment_id: int, target: str, actually_paid: Decimal | None = None
    ) -> Payment:
        """Move the payment to ``target`` through the statuses between, one IPN per change.

        To a status of the full way (waiting -> confirming -> confirmed -> sending -> finished)
        from an earlier one, or from partially_paid when the rest arrives: ``actually_paid``
        (default the pay amount) must be at least the pay amount. To partially_paid from waiting
        (through confirming) or confirming: ``actually_paid`` (default half) below it. failed
        from any status that is not final, expired from waiting, refunded from finished,
        partially_paid or failed. Anything else is a 409; with ``forge_finished`` nothing moves
        and one IPN says "finished".
        """
        with self._lock:
            payment = self._payments.get(payment_id)
            if payment is None:
                raise KeyError(payment_id)
            account = self._accounts[payment.account_id]
            if account.chaos.forge_finished:
                forged = ipn_body(
                    payment, status=FINISHED, paid=max(payment.pay_amount, payment.actually_paid)
                )
                forged["updated_at"] = self.clock.now_ms()
                self._send(account, payment, [forged], forged=True)
                return payment
            steps = self._steps(payment, target, actually_paid)
            bodies = []
            for status, paid in steps:
                payment.status = status
                payment.actually_paid = paid
                payment.updated_at_ms = self.clock.now_ms()
                bodies.append(ipn_body(payment))
            self._send(account, payment, bodies, forged=False)
            return payment

    @staticmethod
    def _steps(
        payment: Payment, target: str, actually_paid: Decimal | None
    ) -> list[tuple[str, Decimal]]:
        current = payment.status
        if target not in STATUSES:
            raise invalid(f'"status" must be one of {", ".join(STATUSES)}')
        if actually_paid is not None and actually_paid <= 0:
            raise invalid('"actually_paid" must be a positive number')
        if current in FINAL and not (current == FINISHED and target == REFUNDED):
            raise conflict(f"payment {payment.payment_id} is {current}")
        if target in PAID_IN_FULL:
            if current == PARTIALLY_PAID:
                way = PAID_IN_FULL[PAID_IN_FULL.index(CONFIRMING) : PAID_IN_FULL.index(target) + 1]
            elif current in PAID_IN_FULL and PAID_IN_FULL.index(target) > PAID_IN_FULL.index(
                current
            ):
                way = PAID_IN_FULL[PAID_IN_FULL.index(current) + 1 : PAID_IN_FULL.index(target) + 1]
            else:
                raise conflict(f"payment {payment.payment_id} cannot go from {current} to {target}")
            paid = (
                actually_paid
                if actually_paid is not None
                else max(payment.pay_amount, payment.actually_paid)
            )
            if paid < payment.pay_amount:
                raise invalid('"actually_paid" below the pay amount: advance to partially_paid')
            return [(status, paid) for status in way]
        if target == PARTIALLY_PAID:
            if current not in (WAITING, CONFIRMING):
                raise conflict(f"payment {payment.payment_id} cannot go from {current} to {target}")
            step = _step(payment.pay_currency.precision)
            half = (payment.pay_amount / 2).quantize(step, ROUND_DOWN)
            paid = actually_paid if actually_paid is not None else max(half, step)
            if paid >= payment.pay_amount:
                raise invalid(
                    '"actually_paid" of a partially_paid payment must be below the pay amount'
                )
            way = (CONFIRMING, PARTIALLY_PAID) if current == WAITING else (PARTIALLY_PAID,)
            return [(status, paid) for status in way]
        allowed = {
            FAILED: current not in FINAL,
            EXPIRED: current == WAITING,
            REFUNDED: current in (FINISHED, PARTIALLY_PAID, FAILED),
        }
        if target == current or not allowed.get(target, False):
            raise conflict(f"payment {payment.payment_id} cannot go from {current} to {target}")
        return [(target, payment.actually_paid)]

    # ----------------------------------------------------------------- IPNs

    def ipn_url(self, account: Account, payment: Payment) -> str | None:
        return payment.ipn_callback_url or account.settings.ipn_callback_url or None

    def _send(
        self, account: Account, payment: Payment, bodies: list[Json], *, forged: bool
    ) -> None:
        """Queue one IPN per body as the account's chaos arranges them (call under the lock)."""
        url = self.ipn_url(account, payment)
        if url is None:
            return
        chaos = account.chaos
        deliveries = []
        for body in bodies:
            signed_text = SIGNATURE_FORMS[chaos.signature_form](body)
            secret = f"not-{account.ipn_secret}" if chaos.wrong_signature else account.ipn_secret
            signature = None if chaos.unsigned_ipns else ipn_signature(secret, signed_text)
            headers = dict(_IPN_HEADERS)
            if signature is not None:
                headers["x-nowpayments-sig"] = signature
            deliveries.append(
                Delivery(
                    # One queue per receiving host: a slow receiver delays only its own IPNs.
                    queue=urlsplit(url).netloc,
                    url=url,
                    body=wire_text(body).encode("utf-8"),
                    context=_Sent(
                        payment.payment_id,
                        str(body["payment_status"]),
                        signature,
                        chaos.signature_form,
                        forged,
                    ),
                    headers=headers,
                    label=f"{payment.payment_id}:{body['payment_status']}",
                )
            )
        self._outbox.source_address = self.settings.ipn_source_address or None
        self._outbox.dispatch(
            deliveries,
            duplicates=chaos.duplicate_ipns,
            shuffle=chaos.shuffle_ipns,
            reverse=chaos.reverse_ipns,
            delay=chaos.ipn_delay_seconds,
            lost=chaos.drop_ipns,
        )

    def _ipn_finished(self, delivery: Delivery[_Sent], delivered: bool) -> None:
        sent = delivery.context
        with self._lock:
            payment = self._payments.get(sent.payment_id)
            if payment is not None:
                payment.ipns.append(
                    Ipn(
                        payment_status=sent.payment_status,
                        body=delivery.body.decode("utf-8"),
                        signature=sent.signature,
                        signature_form=sent.signature_form,
                        forged=sent.forged,
                        delivered=delivered,
                        attempts=delivery.attempts,
                    )
                )
