// #/webhooks?provider=&status=&reason=&since=&until= : per-provider health cards, the daily
// statistics as charts, each provider's webhook URL for this tenant, and the inbox.
import { api } from "./api.js";
import { chart } from "./charts.js";
import { h, mount } from "./dom.js";
import { percent, time } from "./format.js";
import {
  autoRefresh, badge, code, copyButton, dayAfter, dayStart, emptyState, errorState, fillAsync,
  filterForm, keyValues, loading, pageHeader, section, tableRow,
} from "./ui.js";
import { rawPayloadButton } from "./view-payment.js";

function healthCard(health) {
  return h("article", { class: "card health", "data-testid": "health-card" },
    h("header", { class: "health-head" }, h("h3", {}, health.provider), badge(health.status, "health-status")),
    keyValues([
      ["Configured", badge(health.configured)],
      ["Last received", time(health.last_received_at)],
      ["Last accepted", time(health.last_accepted_at)],
      ["Last rejected", health.last_rejected_at ? [time(health.last_rejected_at), health.last_rejected_reason ? [" · ", code(health.last_rejected_reason)] : null] : "—"],
      ["Last hour", `${health.received_last_hour} received, ${percent(health.acceptance_rate_last_hour)} accepted`],
      ["Last day", `${health.received_last_day} received, ${percent(health.acceptance_rate_last_day)} accepted`],
    ]));
}

async function healthCards() {
  const health = await api("v1/webhooks/health");
  if (!health.data.length) return emptyState("No provider sends this tenant webhooks yet.", "Configure a provider under Providers.");
  return [h("div", { class: "grid" }, health.data.map(healthCard)),
    h("p", { class: "muted small" }, "Generated ", time(health.generated_at), ". Duplicates count as received in health and statistics; the inbox lists each delivery once.")];
}

async function webhookUrls() {
  const providers = await api("v1/providers");
  const rows = providers.data.filter((p) => p.webhook_url);
  if (!rows.length) return emptyState("No provider sends webhooks on this stack.");
  return h("ul", { class: "urls" }, rows.map((p) => h("li", { "data-testid": "webhook-url" },
    h("strong", {}, p.display_name), " ",
    h("code", {}, p.webhook_url), p.webhook_url_per_payment ? h("span", { class: "muted" }, " + /<token> per payment (set by us)") : null, " ",
    copyButton(p.webhook_url, `${p.display_name} webhook URL`))));
}

const OUTCOMES = ["applied", "duplicate", "ignored", "rejected"];

async function statsCharts(ctx, days) {
  const stats = await api("v1/webhooks/stats", { params: { days } });
  if (!stats.data.some((d) => d.received)) return emptyState(`No webhooks in the last ${days} days.`, "Statistics appear as soon as a provider sends this tenant a webhook.");
  const dates = [...new Set(stats.data.map((d) => d.date))].sort();
  const providers = [...new Set(stats.data.map((d) => d.provider))].sort();
  const byOutcome = OUTCOMES.map((outcome) => ({
    label: outcome,
    data: dates.map((date) => stats.data.filter((d) => d.date === date).reduce((sum, d) => sum + d[outcome], 0)),
  }));
  const byProvider = providers.map((provider) => ({
    label: provider,
    data: dates.map((date) => stats.data.filter((d) => d.date === date && d.provider === provider).reduce((sum, d) => sum + d.received, 0)),
  }));
  return h("div", { class: "chart-grid" },
    await chart(ctx, { labels: dates, datasets: byOutcome, stacked: true, title: "How deliveries ended, per day", testid: "chart-outcomes" }),
    await chart(ctx, { kind: "line", labels: dates, datasets: byProvider, title: "Received per provider, per day", testid: "chart-providers" }));
}

export async function render(ctx) {
  const params = ctx.params;
  const filters = {
    provider: params.get("provider") || "",
    status: params.get("status") || "",
    reason: params.get("reason") || "",
    since: params.get("since") || "",
    until: params.get("until") || "",
    days: params.get("days") || "7",
  };
  let providerNames = [];
  try {
    providerNames = (await api("v1/providers")).data.filter((p) => p.webhook_url).map((p) => [p.name, p.display_name]);
  } catch {
    providerNames = [];
  }
  const health = h("div", {}, loading());
  const urls = h("div", {}, loading());
  const stats = h("div", {}, loading());
  const inbox = h("div", {}, loading());
  const body = h("tbody", {});
  const more = h("button", { type: "button", class: "button", "data-testid": "load-more", hidden: true }, "Load more");
  let cursor = null;
  const columns = [
    { label: "Received", cell: (e) => time(e.received_at) },
    { label: "Provider", cell: (e) => e.provider },
    { label: "Event", cell: (e) => [e.event_type, h("br", {}), code(e.event_id)] },
    { label: "Status", cell: (e) => badge(e.status) },
    { label: "Reason", cell: (e) => (e.reason ? code(e.reason) : "—") },
    { label: "", cell: (e) => rawPayloadButton(e.id) },
  ];
  const query = {
    provider: filters.provider,
    status: filters.status,
    reason: filters.reason,
    since: dayStart(filters.since),
    until: dayAfter(filters.until),
  };
  async function loadInbox(append) {
    if (!append) mount(inbox, loading());
    try {
      const page = await api("v1/webhooks/inbox", { params: { ...query, limit: 25, cursor: append ? cursor : null } });
      if (!ctx.isCurrent()) return;
      if (!append) body.replaceChildren();
      for (const entry of page.data) body.appendChild(tableRow(columns, entry, "inbox-row", (e) => (e.status === "rejected" ? "row-bad" : null)));
      cursor = page.next_cursor;
      more.hidden = !cursor;
      mount(inbox, body.children.length
        ? h("div", { class: "table-wrap" }, h("table", { "data-testid": "inbox-table" },
          h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, c.label)))), body))
        : emptyState("Nothing in the inbox matches.", "Clear the filters, or check the provider's webhook URL below is registered at the provider."));
    } catch (error) {
      mount(inbox, errorState(error, "Check the filters and try again.", () => loadInbox(false)));
    }
  }
  more.addEventListener("click", () => loadInbox(true));
  const daysSelect = h("select", { id: "stats-days", "data-testid": "stats-days" },
    ["7", "14", "35"].map((d) => h("option", { value: d, selected: d === filters.days }, `${d} days`)));
  daysSelect.addEventListener("change", () => ctx.navigate("/webhooks", { ...filters, days: daysSelect.value }));

  mount(ctx.root,
    pageHeader("Webhooks", "What the providers send this tenant: health, daily statistics and the inbox.",
      autoRefresh(ctx, () => { fillAsync(health, healthCards); if (!cursor) loadInbox(false); })),
    section("Health per provider", health),
    section("Daily statistics", h("div", { class: "inline-field" }, h("label", { for: "stats-days" }, "Range"), daysSelect), stats),
    section("Your webhook URLs", h("p", { class: "muted" }, "Register each at its provider; they are this tenant's own."), urls),
    section("Inbox",
      h("details", { class: "filters-card", open: Object.entries(filters).some(([k, v]) => v && k !== "days") || null },
        h("summary", {}, "Filters"),
        filterForm([
          { name: "provider", label: "Provider", kind: "select", value: filters.provider, options: [["", "Any"], ...providerNames] },
          { name: "status", label: "Status", kind: "select", value: filters.status, options: [["", "Any"], ["accepted", "accepted"], ["ignored", "ignored"], ["rejected", "rejected"]] },
          { name: "reason", label: "Reason", value: filters.reason, placeholder: "bad_signature" },
          { name: "since", label: "From", kind: "date", value: filters.since },
          { name: "until", label: "To (inclusive)", kind: "date", value: filters.until },
        ], (values) => ctx.navigate("/webhooks", { ...values, days: filters.days }), { testid: "inbox-filters" })),
      inbox, h("div", { class: "more" }, more)));
  await Promise.all([
    fillAsync(health, healthCards),
    fillAsync(urls, webhookUrls),
    fillAsync(stats, () => statsCharts(ctx, filters.days)),
    loadInbox(false),
  ]);
}
