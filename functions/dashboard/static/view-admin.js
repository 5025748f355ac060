// #/admin/<tenants|search|health|dlq|ledger|audit> : the platform operator's views (an operator
// key only; every call is audited by the API). Read-only but for a few confirmed actions.
import { api } from "./api.js";
import { h, mount } from "./dom.js";
import { money, percent, time } from "./format.js";
import {
  badge, code, confirmAction, emptyState, errorState, field, formValues, guarded, loading,
  notify, pageHeader, section, showSecretOnce, table, tableRow,
} from "./ui.js";

const VIEWS = { tenants, search, health, dlq, ledger, audit };

export async function render(ctx) {
  await VIEWS[ctx.match[1]](ctx);
}

async function tenants(ctx) {
  const box = h("div", {}, loading());
  async function load() {
    try {
      const list = (await api("v1/admin/tenants")).data;
      if (!ctx.isCurrent()) return;
      mount(box, table([
        { label: "Tenant", cell: (t) => [h("strong", {}, t.name), h("br", {}), code(t.tenant_id)] },
        { label: "Status", cell: (t) => badge(t.status, "tenant-status") },
        { label: "Created", cell: (t) => time(t.created_at) },
        { label: "API keys", cell: (t) => h("ul", { class: "plain" }, t.api_keys.map((k) =>
          h("li", {}, code(k.key_id), " ", k.revoked ? badge("revoked") : null, " ", time(k.created_at)))) },
        { label: "", cell: (t) => h("div", { class: "row-actions" },
          t.status === "active"
            ? h("button", { type: "button", class: "button small danger", "data-testid": "tenant-suspend", onclick: guarded("Suspend", async () => {
              if (!await confirmAction({ title: `Suspend ${t.name}?`, message: "Its API keys are refused until it is activated again.", confirmLabel: "Suspend", danger: true })) return;
              await api(`v1/admin/tenants/${encodeURIComponent(t.tenant_id)}/suspend`, { method: "POST" });
              notify(`${t.name} suspended.`);
              await load();
            }) }, "Suspend")
            : h("button", { type: "button", class: "button small", "data-testid": "tenant-activate", onclick: guarded("Activate", async () => {
              if (!await confirmAction({ title: `Activate ${t.name}?`, message: "Its API keys work again.", confirmLabel: "Activate" })) return;
              await api(`v1/admin/tenants/${encodeURIComponent(t.tenant_id)}/activate`, { method: "POST" });
              notify(`${t.name} activated.`);
              await load();
            }) }, "Activate"),
          h("button", { type: "button", class: "button small", "data-testid": "tenant-issue-key", onclick: guarded("Issuing a key", async () => {
            if (!await confirmAction({ title: `Issue an API key for ${t.name}?`, message: "The key is shown once; give it to the tenant over a safe channel.", confirmLabel: "Issue key" })) return;
            const issued = await api(`v1/admin/tenants/${encodeURIComponent(t.tenant_id)}/api-keys`, { method: "POST" });
            showSecretOnce(`API key ${issued.key_id} for ${t.name}`, "API key", issued.api_key);
            await load();
          }) }, "Issue key")) },
      ], list, { testid: "tenants-table", rowTestid: "tenant-row", empty: emptyState("No tenants yet.", "Create the first one below.") }));
    } catch (error) {
      mount(box, errorState(error, null, load));
    }
  }
  const form = h("form", { class: "inline-form", "data-testid": "tenant-create-form", novalidate: true },
    field({ name: "name", label: "Name", required: true, placeholder: "Demo Salon", testid: "tenant-name" }),
    h("div", { class: "form-actions" }, h("button", { type: "submit", class: "button primary", "data-testid": "tenant-create" }, "Create tenant")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const { name } = formValues(form);
    if (!name) return;
    try {
      const created = await api("v1/admin/tenants", { method: "POST", body: { name } });
      notify(`Tenant ${created.name} (${created.tenant_id}) created: issue it a key.`);
      form.reset();
      await load();
    } catch (error) {
      notify(`Creating failed (${error.code}): ${error.message}`, "bad");
    }
  });
  mount(ctx.root, pageHeader("Tenants", "Every tenant of the platform, its status and API keys."), section(null, box), section("Create a tenant", form));
  await load();
}

async function search(ctx) {
  const q = ctx.params.get("q") || "";
  const results = h("div", {});
  const form = h("form", { class: "search", role: "search", "data-testid": "admin-search-form" },
    h("label", { for: "admin-q", class: "visually-hidden" }, "Search every tenant's payments"),
    h("input", { id: "admin-q", name: "q", type: "search", value: q, "data-testid": "admin-search", placeholder: "Payment id, provider reference, payable id or customer e-mail" }),
    h("button", { type: "submit", class: "button primary" }, "Search"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    ctx.navigate("/admin/search", { q: form.elements.q.value.trim() });
  });
  mount(ctx.root, pageHeader("Search", "Across every tenant (the search is audited)."), form, results);
  if (!q) {
    mount(results, emptyState("Search for a payment.", "Type a whole payment id, provider reference, payable id or customer e-mail."));
    return;
  }
  mount(results, loading());
  try {
    const found = (await api("v1/admin/search", { params: { q } })).data;
    mount(results, table([
      { label: "Tenant", cell: (r) => [r.tenant_name, h("br", {}), code(r.tenant_id)] },
      { label: "Payment", cell: (r) => code(r.payment.payment_id) },
      { label: "Status", cell: (r) => badge(r.payment.status) },
      { label: "Provider", cell: (r) => r.payment.provider },
      { label: "Payable", cell: (r) => `${r.payment.payable_type} / ${r.payment.payable_id}` },
      { label: "Amount", cell: (r) => money(r.payment.amount, r.payment.currency), class: "num" },
      { label: "Created", cell: (r) => time(r.payment.created_at) },
    ], found, { testid: "admin-search-results", rowTestid: "admin-search-row", empty: emptyState(`Nothing matches “${q}”.`, "The search matches whole values only.") }));
  } catch (error) {
    mount(results, errorState(error));
  }
}

async function health(ctx) {
  const box = h("div", {}, loading());
  mount(ctx.root, pageHeader("Webhook health", "Every tenant's providers."), box);
  try {
    const report = await api("v1/admin/webhooks/health");
    const rows = report.data.flatMap((t) => t.providers.map((p) => ({ tenant: t, provider: p })));
    mount(box, table([
      { label: "Tenant", cell: (r) => [r.tenant.tenant_name, h("br", {}), code(r.tenant.tenant_id)] },
      { label: "Provider", cell: (r) => r.provider.provider },
      { label: "Status", cell: (r) => badge(r.provider.status) },
      { label: "Last received", cell: (r) => time(r.provider.last_received_at) },
      { label: "Last rejected", cell: (r) => (r.provider.last_rejected_at ? [time(r.provider.last_rejected_at), " ", code(r.provider.last_rejected_reason)] : "—") },
      { label: "Last hour", cell: (r) => `${r.provider.received_last_hour} · ${percent(r.provider.acceptance_rate_last_hour)}` },
      { label: "Last day", cell: (r) => `${r.provider.received_last_day} · ${percent(r.provider.acceptance_rate_last_day)}` },
    ], rows, { testid: "admin-health-table", rowTestid: "admin-health-row", rowClass: (r) => (r.provider.status === "failing" ? "row-bad" : null), empty: emptyState("No tenant receives webhooks yet.") }),
    h("p", { class: "muted small" }, "Generated ", time(report.generated_at)));
  } catch (error) {
    mount(box, errorState(error));
  }
}

async function dlq(ctx) {
  const box = h("div", {}, loading());
  async function load() {
    try {
      const queues = (await api("v1/admin/dlq")).data;
      mount(box, table([
        { label: "Queue", cell: (q) => q.name },
        { label: "Messages", cell: (q) => h("span", { class: q.depth ? "depth-bad" : "" }, String(q.depth)), class: "num" },
        { label: "", cell: (q) => (q.replayable
          ? h("button", { type: "button", class: "button small", "data-testid": "dlq-replay", disabled: !q.depth || null, onclick: guarded("Replay", async () => {
            if (!await confirmAction({ title: `Replay the ${q.name} dead letters?`, message: `${q.depth} message(s) go back to their queue and are processed again.`, confirmLabel: "Replay" })) return;
            const done = await api(`v1/admin/dlq/${encodeURIComponent(q.name)}/replay`, { method: "POST" });
            notify(`${done.replayed} message(s) replayed from ${done.name}.`);
            await load();
          }) }, "Replay")
          : h("span", { class: "muted" }, "no replay: see docs/operations.md")) },
      ], queues, { testid: "dlq-table", rowTestid: "dlq-row" }));
    } catch (error) {
      mount(box, errorState(error, null, load));
    }
  }
  mount(ctx.root, pageHeader("Dead-letter queues", "What failed for good, per queue."), box);
  await load();
}

async function ledger(ctx) {
  const result = h("div", { "data-testid": "ledger-result" });
  const form = h("form", { class: "inline-form", "data-testid": "ledger-verify-form", novalidate: true },
    field({ name: "tenant_id", label: "Tenant id", placeholder: "every tenant when empty" }),
    h("div", { class: "form-actions" }, h("button", { type: "submit", class: "button primary", "data-testid": "ledger-verify" }, "Verify the ledger")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const { tenant_id: tenantId } = formValues(form);
    mount(result, loading("Verifying…"));
    try {
      const verdict = await api("v1/admin/ledger/verify", { method: "POST", body: { tenant_id: tenantId || null } });
      mount(result,
        h("p", { class: `notice tone-${verdict.ok ? "good" : "bad"}`, role: "status" }, verdict.ok ? "The ledger balances." : "The ledger has problems."),
        table([
          { label: "Tenant", cell: (t) => code(t.tenant_id) },
          { label: "Result", cell: (t) => badge(t.ok ? "ok" : "failed") },
          { label: "Entries", cell: (t) => String(t.entries), class: "num" },
          { label: "Problems", cell: (t) => (t.problems.length ? h("ul", { class: "plain" }, t.problems.map((p) => h("li", {}, p))) : "none"), class: "wrap" },
        ], verdict.tenants, { testid: "ledger-tenants" }));
    } catch (error) {
      mount(result, errorState(error));
    }
  });
  mount(ctx.root, pageHeader("Ledger", "Every journal entry balanced, every account's balance the sum of its lines."), section(null, form, result));
}

async function audit(ctx) {
  const body = h("tbody", {});
  const box = h("div", {}, loading());
  const more = h("button", { type: "button", class: "button", "data-testid": "load-more", hidden: true }, "Load more");
  let cursor = null;
  const columns = [
    { label: "When", cell: (a) => time(a.at) },
    { label: "Operator", cell: (a) => [a.operator_name, h("br", {}), code(a.operator_id)] },
    { label: "Request", cell: (a) => [code(a.method), " ", h("span", { class: "wrap" }, a.path)] },
    { label: "Action", cell: (a) => a.action },
    { label: "Target", cell: (a) => code(a.target) },
    { label: "Outcome", cell: (a) => String(a.status) },
  ];
  async function load(append) {
    try {
      const page = await api("v1/admin/audit", { params: { limit: 50, cursor: append ? cursor : null } });
      if (!append) body.replaceChildren();
      for (const row of page.data) body.appendChild(tableRow(columns, row, "audit-row"));
      cursor = page.next_cursor;
      more.hidden = !cursor;
      mount(box, body.children.length
        ? h("div", { class: "table-wrap" }, h("table", { "data-testid": "audit-table" }, h("thead", {}, h("tr", {}, columns.map((c) => h("th", {}, c.label)))), body))
        : emptyState("The audit log is empty."));
    } catch (error) {
      mount(box, errorState(error, null, () => load(false)));
    }
  }
  more.addEventListener("click", () => load(true));
  mount(ctx.root, pageHeader("Audit log", "Every operator request, newest first: who, what, when, outcome."), box, h("div", { class: "more" }, more));
  await load(false);
}
