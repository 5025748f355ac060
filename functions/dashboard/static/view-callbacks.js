// #/callbacks?status=&endpoint_id=&event_id= : the tenant's callback endpoints (create, rotate
// the secret, disable/enable, send a test event, delete) and the deliveries with their attempts.
import { api } from "./api.js";
import { h, mount } from "./dom.js";
import { time } from "./format.js";
import {
  autoRefresh, badge, code, confirmAction, emptyState, errorState, field, filterForm,
  formValues, guarded, loading, notify, pageHeader, section, showSecretOnce, table,
} from "./ui.js";
import { deliveriesTable } from "./view-payment.js";

const DELIVERY_STATUSES = ["pending", "delivered", "failed", "endpoint_disabled"];

export async function render(ctx) {
  const filters = {
    status: ctx.params.get("status") || "",
    endpoint_id: ctx.params.get("endpoint_id") || "",
    event_id: ctx.params.get("event_id") || "",
  };
  const endpointsBox = h("div", {}, loading());
  const deliveriesBox = h("div", {}, loading());
  const more = h("button", { type: "button", class: "button", "data-testid": "load-more", hidden: true }, "Load more");
  let endpoints = [];
  let cursor = null;
  let shown = [];

  async function loadEndpoints() {
    try {
      endpoints = (await api("v1/callbacks/endpoints")).data;
      if (!ctx.isCurrent()) return;
      mount(endpointsBox, endpointsTable());
    } catch (error) {
      mount(endpointsBox, errorState(error, null, loadEndpoints));
    }
  }

  function action(label, testid, run, { danger = false } = {}) {
    return h("button", {
      type: "button", class: `button small${danger ? " danger" : ""}`, "data-testid": testid,
      onclick: guarded(label, run),
    }, label);
  }

  function endpointActions(endpoint) {
    const id = encodeURIComponent(endpoint.endpoint_id);
    return h("div", { class: "row-actions" },
      action("Send test event", "endpoint-test", async () => {
        const sent = await api(`v1/callbacks/endpoints/${id}/test`, { method: "POST" });
        notify(`Test event ${sent.event_id} queued as delivery ${sent.delivery_id}.`);
        ctx.navigate("/callbacks", { event_id: sent.event_id });
      }),
      action("Rotate secret", "endpoint-rotate", async () => {
        if (!await confirmAction({ title: "Rotate the signing secret?", message: `For 24 hours ${endpoint.url} gets callbacks signed with both the old and the new secret; switch your app to the new one in that time.`, confirmLabel: "Rotate" })) return;
        const rotated = await api(`v1/callbacks/endpoints/${id}/rotate-secret`, { method: "POST" });
        showSecretOnce("The new signing secret", "signing secret", rotated.secret);
        await loadEndpoints();
      }),
      action(endpoint.enabled ? "Disable" : "Enable", "endpoint-toggle", async () => {
        await api(`v1/callbacks/endpoints/${id}`, { method: "PATCH", body: { enabled: !endpoint.enabled } });
        notify(`${endpoint.url} ${endpoint.enabled ? "disabled" : "enabled"}.`);
        await loadEndpoints();
      }),
      action("Delete", "endpoint-delete", async () => {
        if (!await confirmAction({ title: "Delete this endpoint?", message: `${endpoint.url} gets no more callbacks; deliveries still pending for it end as endpoint_disabled.`, confirmLabel: "Delete", danger: true })) return;
        await api(`v1/callbacks/endpoints/${id}`, { method: "DELETE" });
        notify(`${endpoint.url} deleted.`);
        await loadEndpoints();
      }, { danger: true }));
  }

  function endpointsTable() {
    return table([
      { label: "Endpoint", cell: (e) => [h("span", { class: "wrap" }, e.url), h("br", {}), code(e.endpoint_id)] },
      { label: "Events", cell: (e) => (e.event_types.length ? e.event_types.join(", ") : "all"), class: "wrap" },
      { label: "State", cell: (e) => [badge(e.enabled ? "active" : "disabled"), e.disabled_reason ? [h("br", {}), h("span", { class: "muted" }, e.disabled_reason)] : null] },
      { label: "Created", cell: (e) => time(e.created_at) },
      { label: "Old secret valid until", cell: (e) => time(e.previous_secret_expires_at) },
      { label: "", cell: endpointActions },
    ], endpoints, { testid: "endpoints-table", rowTestid: "endpoint-row", empty: emptyState("No callback endpoints.", "Register your app's URL below to get signed callbacks for every payment event.") });
  }

  const createForm = h("form", { class: "inline-form", "data-testid": "endpoint-create-form", novalidate: true },
    field({ name: "url", label: "URL", kind: "url", required: true, placeholder: "https://shop.example/callbacks", testid: "endpoint-url" }),
    field({ name: "event_types", label: "Event types", placeholder: "all (or payment.succeeded, payment.refunded)", hint: "Comma-separated; empty means every event." }),
    field({ name: "enabled", label: "Enabled", kind: "checkbox", value: true }),
    h("div", { class: "form-actions" }, h("button", { type: "submit", class: "button primary", "data-testid": "endpoint-create" }, "Register endpoint")));
  createForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = formValues(createForm);
    const submit = createForm.querySelector("button[type=submit]");
    submit.disabled = true;
    try {
      const created = await api("v1/callbacks/endpoints", {
        method: "POST",
        body: {
          url: values.url,
          event_types: values.event_types ? values.event_types.split(",").map((t) => t.trim()).filter(Boolean) : [],
          enabled: values.enabled,
        },
      });
      createForm.reset();
      showSecretOnce("Endpoint registered: its signing secret", "signing secret", created.secret);
      await loadEndpoints();
    } catch (error) {
      notify(`Registering failed (${error.code}): ${error.message}`, "bad");
    } finally {
      submit.disabled = false;
    }
  });
  createForm.addEventListener("reset", (event) => event.stopPropagation());

  async function loadDeliveries(append) {
    if (!append) mount(deliveriesBox, loading());
    try {
      const params = filters.event_id
        ? { event_id: filters.event_id, endpoint_id: filters.endpoint_id }
        : { status: filters.status, endpoint_id: filters.endpoint_id, limit: 25, cursor: append ? cursor : null };
      const page = await api("v1/callbacks/deliveries", { params });
      if (!ctx.isCurrent()) return;
      let rows = page.data;
      if (filters.event_id && filters.status) rows = rows.filter((d) => d.status === filters.status);
      shown = append ? shown.concat(rows) : rows;
      cursor = page.next_cursor || null;
      more.hidden = !cursor;
      mount(deliveriesBox, deliveriesTable(ctx, shown, () => loadDeliveries(false)));
    } catch (error) {
      mount(deliveriesBox, errorState(error, "Filter by an event id (evt_...) to see one event's deliveries.", () => loadDeliveries(false)));
      more.hidden = true;
    }
  }
  more.addEventListener("click", () => loadDeliveries(true));

  mount(ctx.root,
    pageHeader("Callbacks", "Signed callbacks to your app (Standard Webhooks), retried for about three days.",
      autoRefresh(ctx, () => { if (!cursor) loadDeliveries(false); })),
    section("Endpoints", endpointsBox, h("h3", {}, "Register an endpoint"), createForm),
    section("Deliveries",
      filterForm([
        { name: "status", label: "Status", kind: "select", value: filters.status, options: [["", "Any"], ...DELIVERY_STATUSES.map((s) => [s, s])], testid: "deliveries-status" },
        { name: "endpoint_id", label: "Endpoint id", value: filters.endpoint_id, placeholder: "we_..." },
        { name: "event_id", label: "Event id", value: filters.event_id, placeholder: "evt_..." },
      ], (values) => ctx.navigate("/callbacks", values), { testid: "deliveries-filters" }),
      deliveriesBox, h("div", { class: "more" }, more)));
  await Promise.all([loadEndpoints(), loadDeliveries(false)]);
}
