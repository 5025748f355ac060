// #/payments/<id>: one payment's amounts, state history (timeline), ledger entries, refunds,
// the provider events that moved it (raw payloads viewable), its outbox events with every
// callback delivery and attempt; actions: refund (full or partial) and refresh from provider.
import { api } from "./api.js";
import { h, mount } from "./dom.js";
import { decimalToMinor, exponentOf, minorToDecimal, money, time } from "./format.js";
import {
  badge, code, emptyState, errorState, guarded, keyValues, loading, notify, openDialog,
  pageHeader, section, table,
} from "./ui.js";

const REFUNDABLE = new Set(["succeeded", "partially_refunded", "settled"]);

// GET .../activity (everything at once); a stack without that route yet still shows the
// payment itself, its history and refunds from GET /v1/payments/{id}.
async function loadActivity(paymentId, refresh) {
  const id = encodeURIComponent(paymentId);
  if (!refresh) {
    try {
      return await api(`v1/payments/${id}/activity`);
    } catch (error) {
      if (error.code !== "route_not_found") throw error;
    }
  }
  const payment = await api(`v1/payments/${id}`, { params: { refresh: refresh ? "true" : "" } });
  if (refresh) {
    try {
      const activity = await api(`v1/payments/${id}/activity`);
      return { ...activity, payment: { ...activity.payment, refresh: payment.refresh } };
    } catch (error) {
      if (error.code !== "route_not_found") throw error;
    }
  }
  const fiat = typeof payment.amount === "number";
  return {
    payment,
    customer: null,
    amounts: {
      amount: payment.amount,
      captured: payment.amount_captured,
      refunded: payment.amount_refunded,
      refund_pending: payment.amount_refund_pending,
      refundable: fiat ? Math.max(0, payment.amount_captured - payment.amount_refunded - payment.amount_refund_pending) : null,
    },
    ledger: null,
    provider_events: null,
    events: null,
  };
}

export async function render(ctx) {
  const paymentId = decodeURIComponent(ctx.match[1]);
  await show(ctx, paymentId, false);
}

async function show(ctx, paymentId, refresh) {
  mount(ctx.root, loading());
  let activity;
  try {
    activity = await loadActivity(paymentId, refresh);
  } catch (error) {
    mount(ctx.root,
      pageHeader(paymentId, null, h("a", { href: "#/payments", class: "button" }, "All payments")),
      errorState(error, error.code === "payment_not_found"
        ? "Check the id: it is the pay_... id of one of this tenant's payments."
        : "Try again in a moment.", () => show(ctx, paymentId, false)));
    return;
  }
  if (!ctx.isCurrent()) return;
  const p = activity.payment;
  const currency = p.currency;

  const refundButton = h("button", {
    type: "button", class: "button primary", "data-testid": "refund-button",
    disabled: !(REFUNDABLE.has(p.status) && activity.amounts.refundable !== 0) || null,
    title: REFUNDABLE.has(p.status) ? null : `A ${p.status} payment cannot be refunded`,
    onclick: () => refundDialog(ctx, p, activity.amounts),
  }, "Refund…");
  const refreshButton = h("button", {
    type: "button", class: "button", "data-testid": "refresh-button",
    onclick: async () => {
      refreshButton.disabled = true;
      await show(ctx, paymentId, true);
    },
  }, "Refresh from provider");

  const refreshNote = p.refresh
    ? h("p", { class: `notice tone-${p.refresh.outcome === "unavailable" ? "warn" : "info"}`, role: "status", "data-testid": "refresh-outcome" },
      `Refresh: ${p.refresh.outcome.replace("_", " ")}`, p.refresh.code ? ` (${p.refresh.code})` : "")
    : null;

  const amounts = activity.amounts;
  mount(ctx.root,
    pageHeader(`Payment ${p.payment_id}`, null, h("a", { href: "#/payments", class: "button" }, "All payments"), refreshButton, refundButton),
    refreshNote,
    h("div", { class: "summary" },
      h("div", { class: "stat" }, h("span", { class: "stat-label" }, "Status"), badge(p.status, "payment-status")),
      stat("Amount", money(amounts.amount, currency), "amount"),
      stat("Captured", money(amounts.captured, currency), "captured"),
      stat("Refunded", money(amounts.refunded, currency), "refunded"),
      stat("Refund pending", money(amounts.refund_pending, currency), "refund-pending"),
      stat("Refundable", money(amounts.refundable, currency), "refundable")),
    h("div", { class: "columns" },
      section("Details", keyValues([
        ["Provider", p.provider],
        ["Provider reference", code(p.provider_reference)],
        ["Payable", `${p.payable_type} / ${p.payable_id}`],
        ["Description", h("span", { "data-testid": "payment-description" }, p.description)],
        p.price_amount !== null && p.price_amount !== undefined ? ["Price", money(p.price_amount, p.price_currency)] : null,
        ["Created", time(p.created_at)],
        ["Updated", time(p.updated_at)],
        ["Expires", time(p.expires_at)],
        ["Version", String(p.version)],
      ])),
      section("Customer", activity.customer
        ? keyValues([["Name", activity.customer.name], ["E-mail", activity.customer.email], ["Phone", activity.customer.phone]])
        : emptyState("No customer details.", activity.ledger === null ? "This stack has no activity route yet." : "The payment was created without a customer.")),
      section("Metadata", Object.keys(p.metadata || {}).length
        ? keyValues(Object.entries(p.metadata).map(([k, v]) => [k, v]))
        : emptyState("No metadata.", "Metadata is what your app sent with the payment."),
      Object.keys(p.provider_details || {}).length
        ? [h("h3", {}, "Provider details"), keyValues(Object.entries(p.provider_details))] : null)),
    section("State history", timeline(p.history || [])),
    section("Refunds", table([
      { label: "Refund", cell: (r) => code(r.refund_id) },
      { label: "Status", cell: (r) => badge(r.status) },
      { label: "Amount", cell: (r) => money(r.amount, r.currency), class: "num" },
      { label: "Reason", cell: (r) => r.reason || "—" },
      { label: "Source", cell: (r) => r.source },
      { label: "Provider refund", cell: (r) => code(r.provider_refund_id) },
      { label: "Created", cell: (r) => time(r.created_at) },
    ], p.refunds || [], { testid: "refunds-table", rowTestid: "refund-row", empty: emptyState("No refunds yet.", REFUNDABLE.has(p.status) ? "Refund all or part of it with Refund…." : null) })),
    section("Ledger entries", ledger(activity.ledger)),
    section("Provider events", providerEvents(activity.provider_events)),
    section("Events and callback deliveries", outboxEvents(ctx, activity.events, paymentId)),
  );
}

function stat(label, value, testid) {
  return h("div", { class: "stat" }, h("span", { class: "stat-label" }, label), h("span", { class: "stat-value", "data-testid": `amount-${testid}` }, value));
}

function needsActivity() {
  return emptyState("Not available on this stack.", "It comes from GET /v1/payments/{id}/activity, which this API does not serve yet.");
}

function timeline(history) {
  if (!history.length) return emptyState("No state changes yet.");
  return h("ol", { class: "timeline", "data-testid": "timeline" }, history.map((entry) =>
    h("li", { class: `timeline-item ${entry.applied ? "" : "not-applied"}`, "data-testid": "timeline-item" },
      h("div", { class: "timeline-head" },
        badge(entry.to_status), " ",
        h("span", { class: "muted" }, `from ${entry.from_status}`),
        entry.applied ? null : h("span", { class: "badge tone-warn" }, `not applied (asked ${entry.requested_status})`)),
      h("div", {}, entry.reason, h("span", { class: "muted" }, ` · ${entry.source} · `), time(entry.occurred_at)))));
}

function ledger(entries) {
  if (entries === null || entries === undefined) return needsActivity();
  if (!entries.length) return emptyState("No ledger entries.", "Entries are written when money moves: a capture, a refund, a settlement.");
  return table([
    { label: "Entry", cell: (e) => code(e.entry_id) },
    { label: "Description", cell: (e) => e.description, class: "wrap" },
    { label: "When", cell: (e) => time(e.created_at) },
    { label: "Lines", cell: (e) => h("table", { class: "lines" }, h("tbody", {}, e.lines.map((line) =>
      h("tr", {}, h("td", {}, code(line.account)),
        h("td", { class: "num" }, line.debit ? `Dr ${money(line.debit, line.currency)}` : ""),
        h("td", { class: "num" }, line.credit ? `Cr ${money(line.credit, line.currency)}` : ""))))) },
  ], entries, { testid: "ledger-table", rowTestid: "ledger-row" });
}

export async function showRawPayload(entryId) {
  const pre = h("pre", { class: "payload", "data-testid": "raw-payload" }, "Loading…");
  // What the entry is, once loaded (its inbox id is an opaque cursor-like token, not a title).
  const about = h("p", { class: "muted", "data-testid": "raw-payload-about" });
  const dialog = openDialog({
    title: "Raw payload",
    testid: "raw-payload-dialog",
    body: [about, h("p", { class: "muted" }, "As the provider sent it (shown as text, never run)."), pre],
    actions: [h("button", { type: "button", class: "button", onclick: () => dialog.close() }, "Close")],
  });
  try {
    const entry = await api(`v1/webhooks/inbox/${encodeURIComponent(entryId)}`);
    mount(about, `${entry.provider} · ${entry.event_type} · `, badge(entry.status), " · ", time(entry.received_at), h("br", {}), code(entry.event_id));
    let payload = entry.payload;
    try {
      payload = JSON.stringify(JSON.parse(payload), null, 2);
    } catch {
      // not JSON (a form post, a truncated body): as it arrived
    }
    pre.textContent = payload;
  } catch (error) {
    pre.textContent = `${error.code}: ${error.message}`;
  }
}

export function rawPayloadButton(entryId) {
  return h("button", { type: "button", class: "button small", "data-testid": "raw-payload-button", onclick: () => showRawPayload(entryId) }, "View raw payload");
}

function providerEvents(events) {
  if (events === null || events === undefined) return needsActivity();
  return table([
    { label: "Received", cell: (e) => time(e.received_at) },
    { label: "Provider", cell: (e) => e.provider },
    { label: "Event", cell: (e) => [e.event_type, h("br", {}), code(e.event_id)] },
    { label: "Status", cell: (e) => badge(e.status) },
    { label: "Reason", cell: (e) => e.reason || "—" },
    { label: "", cell: (e) => rawPayloadButton(e.id) },
  ], events, { testid: "provider-events-table", rowTestid: "provider-event-row", empty: emptyState("No provider events.", "A payment's provider events appear once its provider notifies us.") });
}

export function deliveriesTable(ctx, deliveries, onRetried) {
  return table([
    { label: "Delivery", cell: (d) => [code(d.delivery_id), d.created_at ? [h("br", {}), time(d.created_at)] : null] },
    { label: "Event", cell: (d) => [d.event_type, h("br", {}), code(d.event_id)] },
    { label: "Endpoint", cell: (d) => code(d.endpoint_id) },
    { label: "Status", cell: (d) => badge(d.status) },
    { label: "Attempts", cell: (d) => attempts(d.attempts) },
    { label: "Next attempt", cell: (d) => time(d.next_attempt_at) },
    { label: "", cell: (d) => retryButton(d, onRetried) },
  ], deliveries, { testid: "deliveries-table", rowTestid: "delivery-row", empty: emptyState("No deliveries.", "Register a callback endpoint (Callbacks) and the events are delivered to it.") });
}

function attempts(list) {
  if (!list.length) return h("span", { class: "muted" }, "none yet");
  return h("details", { class: "attempts" },
    h("summary", {}, `${list.length} attempt${list.length === 1 ? "" : "s"} · last ${list[list.length - 1].outcome}`),
    h("ol", {}, list.map((a) => h("li", { "data-testid": "delivery-attempt" },
      `#${a.attempt} `, time(a.at), ` · ${a.status_code ?? "no answer"} · ${a.latency_ms} ms · ${a.outcome}`,
      a.error ? [h("br", {}), h("span", { class: "muted" }, a.error)] : null))));
}

function retryButton(delivery, onRetried) {
  return h("button", {
    type: "button", class: "button small", "data-testid": "delivery-retry",
    onclick: guarded("Retry", async () => {
      await api(`v1/callbacks/deliveries/${encodeURIComponent(delivery.delivery_id)}/retry`, { method: "POST" });
      notify(`Delivery ${delivery.delivery_id} queued again.`);
      if (onRetried) onRetried();
    }),
  }, "Retry");
}

function outboxEvents(ctx, events, paymentId) {
  if (events === null || events === undefined) return needsActivity();
  if (!events.length) return emptyState("No events kept.", "Outbox events are kept for a week after they happen.");
  return h("div", { class: "events" }, events.map((event) => h("div", { class: "event", "data-testid": "outbox-event" },
    h("h3", {}, event.type, " ", h("span", { class: "muted small" }, event.event_id, " · "), time(event.occurred_at)),
    deliveriesTable(ctx, event.deliveries, () => show(ctx, paymentId, false)))));
}

// Full or partial refund: the amount in the currency's major units, a summary of what will
// happen, and one Idempotency-Key per confirmed refund (the same key if the very same request
// is sent again after a network failure).
function refundDialog(ctx, payment, amounts) {
  const fiat = typeof payment.amount === "number";
  const exponent = fiat ? (exponentOf(payment.currency) ?? 0) : 0;
  const refundable = amounts.refundable;
  const error = h("p", { class: "form-error", role: "alert", hidden: true, "data-testid": "refund-error" });
  const summary = h("p", { class: "refund-summary", "data-testid": "refund-summary" });
  const full = h("input", { type: "radio", name: "kind", value: "full", id: "refund-full", checked: true });
  const partial = h("input", { type: "radio", name: "kind", value: "partial", id: "refund-partial", disabled: !fiat || null });
  const amountInput = h("input", {
    id: "refund-amount", name: "amount", type: "text", inputmode: "decimal", autocomplete: "off",
    "data-testid": "refund-amount", disabled: true,
    placeholder: fiat ? minorToDecimal(refundable || 0, exponent) : "",
  });
  const reason = h("input", { id: "refund-reason", name: "reason", type: "text", autocomplete: "off", maxlength: "64", placeholder: "optional, e.g. requested_by_customer" });
  const confirm = h("button", { type: "submit", class: "button danger", "data-testid": "refund-confirm" }, "Refund");
  let sent = null; // {body, key}: the last request sent, its key reused for the same body

  function amountMinor() {
    if (full.checked) return null;
    return decimalToMinor(amountInput.value, exponent);
  }
  function update() {
    amountInput.disabled = full.checked;
    const minor = amountMinor();
    if (full.checked) summary.textContent = `Refund all that remains: ${money(refundable, payment.currency)}.`;
    else if (minor === null || minor <= 0) summary.textContent = `Enter an amount up to ${money(refundable, payment.currency)}.`;
    else summary.textContent = `Refund ${money(minor, payment.currency)} of ${money(refundable, payment.currency)} refundable.`;
  }
  const form = h("form", { class: "refund-form", novalidate: true },
    h("fieldset", {}, h("legend", {}, "How much"),
      h("div", { class: "field checkbox" }, full, h("label", { for: "refund-full" }, "All that remains")),
      h("div", { class: "field checkbox" }, partial, h("label", { for: "refund-partial" }, "Part of it"))),
    h("div", { class: "field" }, h("label", { for: "refund-amount" }, `Amount (${payment.currency})`), amountInput),
    h("div", { class: "field" }, h("label", { for: "refund-reason" }, "Reason"), reason),
    summary, error,
    h("p", { class: "muted small" }, "The provider is asked at once; a refund cannot be undone."),
    h("div", { class: "dialog-actions" },
      h("button", { type: "button", class: "button", onclick: () => dialog.close() }, "Cancel"), confirm));
  for (const element of [full, partial, amountInput]) element.addEventListener("input", update);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const minor = amountMinor();
    if (!full.checked && (minor === null || minor <= 0)) {
      error.textContent = `Enter an amount like ${minorToDecimal(Math.min(refundable || 100, 100), exponent)} (at most ${exponent} decimals).`;
      error.hidden = false;
      amountInput.focus();
      return;
    }
    const body = {};
    if (minor !== null) body.amount = minor;
    if (reason.value.trim()) body.reason = reason.value.trim();
    const text = JSON.stringify(body);
    if (!sent || sent.text !== text) sent = { text, key: crypto.randomUUID() };
    confirm.disabled = true;
    confirm.textContent = "Refunding…";
    try {
      const refund = await api(`v1/payments/${encodeURIComponent(payment.payment_id)}/refunds`, {
        method: "POST", body, headers: { "Idempotency-Key": sent.key },
      });
      dialog.close();
      notify(`Refund ${refund.refund_id}: ${money(refund.amount, refund.currency)}, ${refund.status}.`);
      await show(ctx, payment.payment_id, false);
    } catch (failure) {
      error.textContent = `${failure.code}: ${failure.message}`;
      error.hidden = false;
      if (failure.status && failure.status < 500 && failure.code !== "network_error") sent = null;
    } finally {
      confirm.disabled = false;
      confirm.textContent = "Refund";
    }
  });
  const dialog = openDialog({ title: `Refund ${payment.payment_id}`, testid: "refund-dialog", body: form });
  update();
  full.focus();
}

