// #/profiles[?external_customer_id=&status=&settlement=] and #/profiles/<prf_...> : NEO Bank
// buyer profiles (CPRN, verified, balances) and the trades with their settlement state, overdue
// ones highlighted.
import { api } from "./api.js";
import { h, mount } from "./dom.js";
import { money, time } from "./format.js";
import {
  autoRefresh, badge, code, emptyState, errorState, filterForm, keyValues, loading, pageHeader,
  section, tableRow,
} from "./ui.js";
import { PAYMENT_STATUSES } from "./view-payments.js";

const SETTLEMENTS = ["pending", "in_transit", "overdue", "settled", "failed", "reversed"];

async function profileCard(profileId) {
  const id = encodeURIComponent(profileId);
  const [profile, balance] = await Promise.all([api(`v1/profiles/${id}`), api(`v1/profiles/${id}/balance`)]);
  return h("div", { class: "columns", "data-testid": "profile" },
    h("div", {}, keyValues([
      ["Profile", code(profile.profile_id)],
      ["Name", profile.name],
      ["E-mail", profile.email],
      ["Your customer id", profile.external_customer_id],
      ["CPRN", code(profile.cprn)],
      ["Status", badge(profile.status)],
      ["Verified", badge(profile.verified, "profile-verified")],
      ["Wallet", code(profile.wallet_address)],
      profile.failure ? ["Refused because", profile.failure] : null,
      ["Created", time(profile.created_at)],
    ])),
    h("div", {}, h("h3", {}, "Balance"), balance.balances.length
      ? h("table", { "data-testid": "balance-table" },
        h("thead", {}, h("tr", {}, h("th", {}, "Currency"), h("th", { class: "num" }, "Cleared (in transit)"), h("th", { class: "num" }, "Settled"), h("th", { class: "num" }, "Total"))),
        h("tbody", {}, balance.balances.map((b) => h("tr", {},
          h("td", {}, b.currency), h("td", { class: "num" }, money(b.cleared, b.currency)),
          h("td", { class: "num" }, money(b.settled, b.currency)), h("td", { class: "num" }, money(b.total, b.currency))))))
      : emptyState("No balance yet.", "A buyer's balance appears when one of their trades clears.")));
}

export async function render(ctx) {
  const profileId = ctx.match[1] ? decodeURIComponent(ctx.match[1]) : null;
  const filters = {
    external_customer_id: ctx.params.get("external_customer_id") || "",
    status: ctx.params.get("status") || "",
    settlement: ctx.params.get("settlement") || "",
  };
  const profileBox = h("div", {});
  const tradesBox = h("div", {}, loading());
  const body = h("tbody", {});
  const more = h("button", { type: "button", class: "button", "data-testid": "load-more", hidden: true }, "Load more");
  let cursor = null;
  const columns = [
    { label: "Created", cell: (t) => time(t.created_at) },
    { label: "Trade", cell: (t) => h("a", { href: `#/payments/${encodeURIComponent(t.payment_id)}` }, t.trade_id) },
    { label: "Buyer", cell: (t) => (t.profile_id ? h("a", { href: `#/profiles/${encodeURIComponent(t.profile_id)}` }, t.profile_id) : "—") },
    { label: "Status", cell: (t) => badge(t.status) },
    { label: "Settlement", cell: (t) => badge(t.settlement, "trade-settlement") },
    { label: "Due", cell: (t) => time(t.settlement_due_at) },
    { label: "Token", cell: (t) => (t.token.symbol ? `${t.token.quantity ?? "?"} ${t.token.symbol}` : "—") },
    { label: "Amount", cell: (t) => money(t.amount, t.currency), class: "num" },
    { label: "Bank tx", cell: (t) => code(t.tx_id) },
  ];

  async function loadTrades(append) {
    if (!append) mount(tradesBox, loading());
    try {
      const page = await api("v1/trades", { params: {
        profile_id: profileId, status: filters.status, settlement: filters.settlement, limit: 25, cursor: append ? cursor : null,
      } });
      if (!ctx.isCurrent()) return;
      if (!append) body.replaceChildren();
      for (const trade of page.data) {
        body.appendChild(tableRow(columns, trade, "trade-row", (t) => (t.settlement === "overdue" ? "row-bad overdue" : null)));
      }
      cursor = page.next_cursor;
      more.hidden = !cursor;
      mount(tradesBox, body.children.length
        ? h("div", { class: "table-wrap" }, h("table", { "data-testid": "trades-table" },
          h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col", class: c.class }, c.label)))), body))
        : emptyState("No trades match.", "Trades are started with POST /v1/trades for a verified profile."));
    } catch (error) {
      mount(tradesBox, errorState(error, null, () => loadTrades(false)));
    }
  }
  more.addEventListener("click", () => loadTrades(true));

  const lookup = h("form", { class: "search", role: "search", "data-testid": "profile-lookup" },
    h("label", { for: "profile-external", class: "visually-hidden" }, "Your customer id"),
    h("input", { id: "profile-external", name: "external_customer_id", type: "search", value: filters.external_customer_id, placeholder: "Find a buyer by your customer id (user_1)" }),
    h("button", { type: "submit", class: "button primary" }, "Find"));
  lookup.addEventListener("submit", (event) => {
    event.preventDefault();
    ctx.navigate("/profiles", { ...filters, external_customer_id: lookup.elements.external_customer_id.value.trim() });
  });

  mount(ctx.root,
    pageHeader(profileId ? `Buyer ${profileId}` : "Profiles & trades", "NEO Bank buyers and their security-token trades (settled T+2).",
      profileId ? h("a", { href: "#/profiles", class: "button" }, "All trades") : null,
      autoRefresh(ctx, () => { if (!cursor) loadTrades(false); })),
    profileId ? null : lookup,
    profileId || filters.external_customer_id ? section("Buyer", profileBox) : null,
    section(profileId ? "Their trades" : "Trades",
      filterForm([
        { name: "status", label: "Status", kind: "select", value: filters.status, options: [["", "Any"], ...PAYMENT_STATUSES.map((s) => [s, s])] },
        { name: "settlement", label: "Settlement", kind: "select", value: filters.settlement, options: [["", "Any"], ...SETTLEMENTS.map((s) => [s, s])] },
      ], (values) => ctx.navigate(profileId ? `/profiles/${encodeURIComponent(profileId)}` : "/profiles", { ...values, external_customer_id: filters.external_customer_id }), { testid: "trades-filters" }),
      tradesBox, h("div", { class: "more" }, more)));

  const loads = [loadTrades(false)];
  if (profileId) {
    loads.push(fill(profileBox, () => profileCard(profileId)));
  } else if (filters.external_customer_id) {
    loads.push(fill(profileBox, async () => {
      const found = await api("v1/profiles", { params: { external_customer_id: filters.external_customer_id } });
      if (!found.data.length) return emptyState(`No buyer with customer id “${filters.external_customer_id}”.`, "It is the external_customer_id your app registered the buyer with.");
      return profileCard(found.data[0].profile_id);
    }));
  }
  await Promise.all(loads);
}

async function fill(box, build) {
  mount(box, loading());
  try {
    mount(box, await build());
  } catch (error) {
    mount(box, errorState(error));
  }
}
