// #/payments?status=&provider=&payable_type=&currency=&from=&to=&q= : the tenant's payments,
// newest first, with filters, search, "Load more" (cursor), CSV export and auto-refresh.
import { api } from "./api.js";
import { h, mount } from "./dom.js";
import { money, time } from "./format.js";
import {
  autoRefresh, badge, dayAfter, dayStart, emptyState, errorState, filterForm, loading,
  notify, pageHeader, tableRow,
} from "./ui.js";

export const PAYMENT_STATUSES = [
  "created", "pending", "succeeded", "failed", "canceled", "expired",
  "partially_refunded", "refunded", "disputed", "settled",
];

// The amount beside the status: when the long ids and texts make the table scroll sideways,
// what a payment is worth and where it stands are still in view.
export const COLUMNS = [
  { label: "Created", cell: (p) => time(p.created_at) },
  { label: "Payment", cell: (p) => h("a", { href: `#/payments/${encodeURIComponent(p.payment_id)}`, "data-testid": "payment-link" }, p.payment_id) },
  { label: "Status", cell: (p) => badge(p.status) },
  { label: "Amount", cell: (p) => money(p.amount, p.currency), class: "num" },
  { label: "Provider", cell: (p) => p.provider },
  { label: "Payable", cell: (p) => `${p.payable_type} / ${p.payable_id}`, class: "wrap" },
  { label: "Description", cell: (p) => p.description, class: "wrap" },
];

function filtersOf(params) {
  return {
    status: params.get("status") || "",
    provider: params.get("provider") || "",
    payable_type: params.get("payable_type") || "",
    currency: params.get("currency") || "",
    from: params.get("from") || "",
    to: params.get("to") || "",
    q: params.get("q") || "",
  };
}

function apiQuery(filters) {
  return {
    status: filters.status,
    provider: filters.provider,
    payable_type: filters.payable_type,
    currency: filters.currency ? filters.currency.toUpperCase() : "",
    created_from: dayStart(filters.from),
    created_to: dayAfter(filters.to),
    q: filters.q,
  };
}

async function providerOptions() {
  try {
    const providers = await api("v1/providers");
    return providers.data.filter((p) => p.kind === "payments").map((p) => [p.name, p.display_name]);
  } catch {
    return [];
  }
}

export async function render(ctx) {
  const filters = filtersOf(ctx.params);
  const query = apiQuery(filters);
  const providers = await providerOptions();
  const apply = (values) => ctx.navigate("/payments", values);

  const search = h("form", { class: "search", role: "search", "data-testid": "payments-search-form" },
    h("label", { for: "payments-q", class: "visually-hidden" }, "Search payments"),
    h("input", {
      id: "payments-q", type: "search", name: "q", value: filters.q, "data-testid": "payments-search",
      placeholder: "Payment id, provider reference, payable id or customer e-mail",
    }),
    h("button", { type: "submit", class: "button primary" }, "Search"));
  search.addEventListener("submit", (event) => {
    event.preventDefault();
    apply({ ...filters, q: search.elements.q.value.trim() });
  });

  const filterBar = filterForm([
    { name: "status", label: "Status", kind: "select", value: filters.status, options: [["", "Any"], ...PAYMENT_STATUSES.map((s) => [s, s])] },
    { name: "provider", label: "Provider", kind: "select", value: filters.provider, options: [["", "Any"], ...providers] },
    { name: "payable_type", label: "Payable type", value: filters.payable_type, placeholder: "booking" },
    { name: "currency", label: "Currency", value: filters.currency, placeholder: "USD" },
    { name: "from", label: "Created from", kind: "date", value: filters.from },
    { name: "to", label: "Created to (inclusive)", kind: "date", value: filters.to },
  ], (values) => apply({ ...values, q: filters.q }));

  const body = h("tbody", {});
  const tableEl = h("div", { class: "table-wrap" }, h("table", { "data-testid": "payments-table" },
    h("thead", {}, h("tr", {}, COLUMNS.map((c) => h("th", { scope: "col", class: c.class }, c.label)))), body));
  const results = h("div", {});
  const more = h("button", { type: "button", class: "button", "data-testid": "load-more", hidden: true }, "Load more");
  let cursor = null;

  async function load(append) {
    if (!append) mount(results, loading());
    more.disabled = true;
    try {
      const page = await api("v1/payments", { params: { ...query, limit: 25, cursor: append ? cursor : null } });
      if (!ctx.isCurrent()) return;
      if (!append) body.replaceChildren();
      for (const payment of page.data) body.appendChild(tableRow(COLUMNS, payment, "payment-row"));
      cursor = page.next_cursor;
      more.hidden = !cursor;
      if (!body.children.length) {
        mount(results, emptyState(
          filters.q ? `No payment matches “${filters.q}”.` : "No payments match these filters.",
          filters.q
            ? "Search takes a whole payment id (pay_...), provider reference, payable id or customer e-mail."
            : "Clear the filters, or take a payment (POST /v1/checkout) and it shows here.",
        ));
      } else {
        mount(results, tableEl);
      }
    } catch (error) {
      if (!ctx.isCurrent()) return;
      mount(results, errorState(error, "Check the filters (dates, currency code) and try again.", () => load(false)));
      more.hidden = true;
    } finally {
      more.disabled = false;
    }
  }
  more.addEventListener("click", () => load(true));

  const exportButton = h("button", { type: "button", class: "button", "data-testid": "export-csv" }, "Export CSV");
  exportButton.addEventListener("click", async () => {
    exportButton.disabled = true;
    try {
      const response = await api("v1/payments/export", { params: query, raw: true, headers: { Accept: "text/csv" } });
      const blob = await response.blob();
      const disposition = response.headers.get("Content-Disposition") || "";
      const name = /filename="([^"]+)"/.exec(disposition);
      const link = h("a", { href: "#", download: name ? name[1] : "payments.csv" });
      link.href = URL.createObjectURL(blob);
      document.body.appendChild(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 10000);
      notify(response.headers.get("X-Truncated") === "true"
        ? "Exported the first 10 000 payments: narrow the filters for the rest."
        : "Exported the matching payments.");
    } catch (error) {
      notify(`Export failed (${error.code}): ${error.message}`, "bad");
    } finally {
      exportButton.disabled = false;
    }
  });

  mount(ctx.root,
    pageHeader("Payments", "Newest first. Open one for its history, ledger, events and refunds.",
      exportButton, autoRefresh(ctx, () => { if (!cursor || body.children.length <= 25) load(false); })),
    search,
    h("details", { class: "card filters-card", open: Object.values(filters).some((v, i) => v && i < 6) || null },
      h("summary", {}, "Filters"), filterBar),
    results,
    h("div", { class: "more" }, more));
  await load(false);
}

