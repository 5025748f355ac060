"""`payctl ledger verify`: proves the stored ledger agrees with itself.

A tenant's ledger lives in shards (store.models.LEDGER_SHARDS, chosen by the payment) plus the
partition it had before sharding; each is proved against its own journal entries, so a wrong
shard cannot hide behind another that is wrong the other way. The report counts the tenant's
entries and its distinct accounts.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from payments.domain.ledger import JournalLine, LedgerDiscrepancy, StoredBalance, reconcile
from payments.store import repositories
from payments.store.mapping import stored_amount


@dataclass(frozen=True, slots=True)
class LedgerReport:
    tenant_id: str
    entries: int
    accounts: int
    discrepancies: list[LedgerDiscrepancy]

    @property
    def ok(self) -> bool:
        return not self.discrepancies


def verify_tenant_ledger(tenant_id: str) -> LedgerReport:
    entries: dict[str, list[tuple[str, list[JournalLine]]]] = defaultdict(list)
    for item in repositories.journal_entries(tenant_id):
        entries[item.pk].append(
            (
                item.entry_id,
                [
                    JournalLine(
                        line.account,
                        line.currency,
                        debit=stored_amount(line.currency, line.debit),
                        credit=stored_amount(line.currency, line.credit),
                    )
                    for line in item.lines
                ],
            )
        )
    balances: dict[str, list[StoredBalance]] = defaultdict(list)
    for balance in repositories.account_balances(tenant_id):
        balances[balance.pk].append(
            StoredBalance(
                balance.account,
                balance.currency,
                stored_amount(balance.currency, balance.debits),
                stored_amount(balance.currency, balance.credits),
            )
        )
    problems = [
        LedgerDiscrepancy(problem.account, problem.currency, f"{problem.problem} (in {partition})")
        for partition in sorted(set(entries) | set(balances))
        for problem in reconcile(entries.get(partition, []), balances.get(partition, []))
    ]
    accounts = {(b.account, b.currency) for shard in balances.values() for b in shard}
    return LedgerReport(
        tenant_id, sum(len(shard) for shard in entries.values()), len(accounts), problems
    )


def verify_ledger(tenant_ids: list[str] | None = None) -> list[LedgerReport]:
    ids = tenant_ids or [tenant.tenant_id for tenant in repositories.list_tenants()]
    return [verify_tenant_ledger(tenant_id) for tenant_id in ids]
