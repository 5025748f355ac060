// Shared pieces of every view: headings, tables, badges, empty and error states, dialogs,
// filter forms, copy buttons, auto-refresh. All built with dom.js's h (text only).
import { h, mount } from "./dom.js";
import { time } from "./format.js";

export function pageHeader(title, subtitle, ...actions) {
  return h(
    "header",
    { class: "page-header" },
    h("div", {}, h("h1", { tabindex: "-1", "data-testid": "page-title" }, title),
      subtitle ? h("p", { class: "muted" }, subtitle) : null),
    actions.length ? h("div", { class: "actions" }, actions) : null,
  );
}

export function section(title, ...children) {
  return h("section", { class: "card" }, title ? h("h2", {}, title) : null, children);
}

const STATUS_TONES = {
  succeeded: "good", settled: "good", delivered: "good", accepted: "good", healthy: "good",
  active: "good", verified: "good", applied: "good", ok: "good", true: "good",
  pending: "wait", created: "wait", registering: "wait", in_transit: "wait", partially_refunded: "info",
  refunded: "info", degraded: "warn", silent: "muted", ignored: "muted", expired: "muted",
  canceled: "muted", endpoint_disabled: "warn", disputed: "warn", overdue: "bad",
  failed: "bad", rejected: "bad", failing: "bad", suspended: "bad", registration_failed: "bad",
  reversed: "bad", false: "bad",
};

export function badge(value, testid) {
  const label = value === true ? "yes" : value === false ? "no" : String(value ?? "—");
  const tone = STATUS_TONES[String(value)] || "muted";
  return h("span", { class: `badge tone-${tone}`, "data-testid": testid }, label);
}

export function code(value) {
  return h("code", {}, value ?? "—");
}

// columns: [{label, cell: row => node|string, class?}]
export function table(columns, rows, { testid, rowTestid, rowClass, empty } = {}) {
  if (!rows.length && empty) return empty;
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { "data-testid": testid },
      h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col", class: c.class }, c.label)))),
      h("tbody", {}, rows.map((row) => tableRow(columns, row, rowTestid, rowClass))),
    ),
  );
}

export function tableRow(columns, row, rowTestid, rowClass) {
  return h(
    "tr",
    { "data-testid": rowTestid, class: rowClass ? rowClass(row) : null },
    columns.map((c) => h("td", { class: c.class, "data-label": c.label }, c.cell(row))),
  );
}

export function emptyState(title, hint, ...actions) {
  return h("div", { class: "state empty", "data-testid": "empty-state" },
    h("p", { class: "state-title" }, title), hint ? h("p", {}, hint) : null, actions);
}

// What failed, the API's code and message as text, and what to do.
export function errorState(error, hint, retry) {
  const codeText = error && error.code ? error.code : "error";
  return h(
    "div",
    { class: "state error", role: "alert", "data-testid": "error-state" },
    h("p", { class: "state-title" }, "Something went wrong"),
    h("p", {}, h("code", {}, codeText), " ", error && error.message ? error.message : String(error)),
    hint ? h("p", { class: "muted" }, hint) : null,
    retry ? h("button", { type: "button", class: "button", onclick: retry }, "Try again") : null,
  );
}

export function loading(label = "Loading…") {
  return h("p", { class: "loading muted", role: "status" }, label);
}

// A short message in the page's live region.
export function notify(message, tone = "good") {
  const region = document.getElementById("toasts");
  if (!region) return;
  const toast = h("div", { class: `toast tone-${tone}`, role: "status", "data-testid": "toast" }, message);
  region.appendChild(toast);
  setTimeout(() => toast.remove(), 6000);
}

// A modal <dialog>: Escape closes it (the browser's cancel), focus moves into it and back.
// A button's click handler: the button is disabled while `run` works, and a failure is told
// (its code and message, as text) instead of lost.
export function guarded(label, run) {
  return async (event) => {
    const button = event.currentTarget;
    button.disabled = true;
    try {
      await run();
    } catch (error) {
      notify(`${label} failed (${error.code}): ${error.message}`, "bad");
    } finally {
      button.disabled = false;
    }
  };
}

export function openDialog({ title, testid, body, actions, onClose }) {
  const opener = document.activeElement;
  const dialog = h(
    "dialog",
    { class: "dialog", "data-testid": testid, "aria-label": title },
    h("h2", {}, title),
    body,
    actions ? h("div", { class: "dialog-actions" }, actions) : null,
  );
  dialog.addEventListener("close", () => {
    dialog.remove();
    if (onClose) onClose(dialog.returnValue);
    if (opener && typeof opener.focus === "function") opener.focus();
  });
  document.body.appendChild(dialog);
  dialog.showModal();
  return dialog;
}

// Resolves true when the person confirms, false when they cancel (button or Escape).
export function confirmAction({ title, message, confirmLabel = "Confirm", danger = false, testid = "confirm-dialog" }) {
  return new Promise((resolve) => {
    let confirmed = false;
    const dialog = openDialog({
      title,
      testid,
      body: h("p", {}, message),
      actions: [
        h("button", { type: "button", class: "button", onclick: () => dialog.close() }, "Cancel"),
        h("button", {
          type: "button",
          class: danger ? "button danger" : "button primary",
          "data-testid": "confirm-button",
          onclick: () => { confirmed = true; dialog.close(); },
        }, confirmLabel),
      ],
      onClose: () => resolve(confirmed),
    });
    dialog.querySelector("[data-testid=confirm-button]").focus();
  });
}

// A secret the API shows once (an endpoint's signing secret, a tenant's API key).
export function showSecretOnce(title, label, secret) {
  const dialog = openDialog({
    title,
    testid: "secret-dialog",
    body: [
      h("p", {}, "Copy it now: it is shown this once and cannot be read again."),
      h("div", { class: "secret" }, h("code", { "data-testid": "secret-value" }, secret), copyButton(secret, label)),
    ],
    actions: [h("button", { type: "button", class: "button primary", onclick: () => dialog.close() }, "Done")],
  });
}

export function copyButton(value, label = "Copy") {
  const button = h("button", {
    type: "button",
    class: "button small",
    "data-testid": "copy-button",
    "aria-label": `Copy ${label}`,
    onclick: async () => {
      try {
        await navigator.clipboard.writeText(value);
        button.textContent = "Copied";
      } catch {
        button.textContent = "Select and copy";
      }
      setTimeout(() => { button.textContent = "Copy"; }, 2000);
    },
  }, "Copy");
  return button;
}

// A labelled control. kind: text|date|select|checkbox|password|number|search
export function field({ name, label, kind = "text", value = "", options = [], hint, required, placeholder, testid, autocomplete }) {
  const id = `f-${name}-${Math.random().toString(36).slice(2, 8)}`;
  let control;
  if (kind === "select") {
    control = h("select", { id, name, "data-testid": testid, required },
      options.map(([optionValue, optionLabel]) =>
        h("option", { value: optionValue, selected: String(optionValue) === String(value ?? "") }, optionLabel)));
  } else if (kind === "checkbox") {
    control = h("input", { id, name, type: "checkbox", checked: Boolean(value), "data-testid": testid });
    return h("div", { class: "field checkbox" }, control, h("label", { for: id }, label), hint ? h("small", { class: "muted" }, hint) : null);
  } else {
    control = h("input", {
      id, name, type: kind, value: value ?? "", required, placeholder, "data-testid": testid,
      autocomplete: autocomplete || (kind === "password" ? "off" : null), spellcheck: "false",
    });
  }
  return h("div", { class: "field" }, h("label", { for: id }, label), control, hint ? h("small", { class: "muted" }, hint) : null);
}

export function formValues(form) {
  const values = {};
  for (const element of form.elements) {
    if (!element.name) continue;
    values[element.name] = element.type === "checkbox" ? element.checked : element.value.trim();
  }
  return values;
}

// A filter bar: Enter or "Apply" puts the values in the hash (a bookmarkable URL).
export function filterForm(fields, onApply, { testid = "filters", submitLabel = "Apply" } = {}) {
  const form = h("form", { class: "filters", "data-testid": testid, novalidate: true },
    fields.map(field),
    h("div", { class: "filter-actions" },
      h("button", { type: "submit", class: "button primary" }, submitLabel),
      h("button", { type: "reset", class: "button" }, "Clear")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    onApply(formValues(form));
  });
  form.addEventListener("reset", (event) => {
    event.preventDefault();
    onApply({});
  });
  return form;
}

// Calls refresh() every `seconds` until paused or the view closes; the toggle says which.
export function autoRefresh(ctx, refresh, seconds = 30) {
  let paused = sessionStorage.getItem("dashboard.autorefresh") === "paused";
  let timer = null;
  const status = h("span", { class: "muted small" });
  const button = h("button", { type: "button", class: "button small", "data-testid": "autorefresh-toggle", "aria-pressed": "false" });
  const render = () => {
    button.textContent = paused ? "Resume auto-refresh" : "Pause auto-refresh";
    button.setAttribute("aria-pressed", String(paused));
    status.textContent = paused ? "Auto-refresh paused" : `Refreshes every ${seconds} s`;
  };
  const schedule = () => {
    clearInterval(timer);
    if (!paused) timer = setInterval(() => { if (!document.hidden) refresh(); }, seconds * 1000);
  };
  button.addEventListener("click", () => {
    paused = !paused;
    sessionStorage.setItem("dashboard.autorefresh", paused ? "paused" : "on");
    render();
    schedule();
  });
  render();
  schedule();
  ctx.onCleanup(() => clearInterval(timer));
  return h("div", { class: "autorefresh" }, status, button);
}

export function keyValues(pairs) {
  return h("dl", { class: "kv" }, pairs.filter(Boolean).map(([label, value]) =>
    [h("dt", {}, label), h("dd", {}, value ?? "—")]));
}

export function when(iso) {
  return time(iso);
}

// Replace a node's content with a loading note, then with what fill() builds (or its error).
export async function fillAsync(container, fill, hint) {
  mount(container, loading());
  try {
    mount(container, await fill());
  } catch (error) {
    mount(container, errorState(error, hint, () => fillAsync(container, fill, hint)));
  }
}

export function dayStart(day) {
  return day ? `${day}T00:00:00Z` : "";
}

// The day after (an exclusive upper bound from an inclusive date picker).
export function dayAfter(day) {
  if (!day) return "";
  const date = new Date(`${day}T00:00:00Z`);
  date.setUTCDate(date.getUTCDate() + 1);
  return date.toISOString().replace(/\.\d+Z$/, "Z");
}
