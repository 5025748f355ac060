// #/providers: each provider as this tenant has it set up (configured, enabled, verified, its
// redacted credentials and last test), the form to set them (built from the provider's own
// credential fields), a test button, its capabilities and how its webhooks are authenticated.
import { api } from "./api.js";
import { h, mount } from "./dom.js";
import { time } from "./format.js";
import {
  badge, code, emptyState, errorState, field, formValues, keyValues, loading, notify, openDialog,
  pageHeader,
} from "./ui.js";

export async function render(ctx) {
  const list = h("div", { class: "grid providers" }, loading());
  async function load() {
    try {
      const providers = (await api("v1/providers")).data;
      if (!ctx.isCurrent()) return;
      if (!providers.length) {
        mount(list, emptyState("No providers on this deployment."));
        return;
      }
      mount(list, providers.map((p) => providerCard(p, load)));
    } catch (error) {
      mount(list, errorState(error, null, load));
    }
  }
  mount(ctx.root, pageHeader("Providers", "Credentials are write-only: they are shown redacted, with what their last test found."), list);
  await load();
}

function providerCard(provider, reload) {
  const credentials = h("div", { class: "credentials" });
  const card = h("article", { class: "card provider", "data-testid": "provider-card", "data-provider": provider.name },
    h("header", { class: "provider-head" },
      h("img", { src: provider.icon, alt: "", width: "32", height: "32", class: "provider-icon" }),
      h("div", {}, h("h2", {}, provider.display_name), h("span", { class: "muted small" }, `${provider.name} · ${provider.kind}`)),
      h("div", { class: "badges" },
        h("span", { class: `badge tone-${provider.configured ? "good" : "muted"}`, "data-testid": "provider-configured" }, provider.configured ? "configured" : "not configured"),
        provider.configured ? h("span", { class: `badge tone-${provider.enabled ? "good" : "warn"}` }, provider.enabled ? "enabled" : "disabled") : null,
        provider.configured ? h("span", { class: `badge tone-${provider.verified ? "good" : "warn"}`, "data-testid": "provider-verified" }, provider.verified ? "verified" : "not verified") : null)),
    h("div", { class: "chips" }, provider.capabilities.map((c) => h("span", { class: "chip" }, c))),
    keyValues([
      provider.webhook_url ? ["Webhook URL", [code(provider.webhook_url), provider.webhook_url_per_payment ? " + /<token>" : null]] : null,
      provider.webhook_security ? ["Webhooks", [
        provider.webhook_security.signed
          ? `${provider.webhook_security.algorithm} in ${provider.webhook_security.signature_header}`
          : "unsigned",
        provider.webhook_security.checks.length
          ? h("details", {}, h("summary", {}, `${provider.webhook_security.checks.length} further check(s)`),
            h("ul", {}, provider.webhook_security.checks.map((c) => h("li", {}, c))))
          : null]] : null,
      provider.source_networks.length ? ["Source networks", provider.source_networks.join(", ")] : null,
      provider.webhook_url ? ["Last webhook accepted", time(provider.last_webhook_accepted_at)] : null,
    ]),
    credentials);
  fillCredentials(provider, credentials, reload);
  return card;
}

async function fillCredentials(provider, box, reload) {
  const setButton = h("button", { type: "button", class: "button", "data-testid": "credentials-set", onclick: () => credentialsDialog(provider, stored, reload) }, provider.configured ? "Replace credentials…" : "Set credentials…");
  let stored = null;
  if (!provider.configured) {
    mount(box, h("p", { class: "muted" }, "No credentials stored: payments through it are refused until you set them."), h("div", { class: "row-actions" }, setButton));
    return;
  }
  mount(box, loading());
  try {
    stored = await api(`v1/providers/${encodeURIComponent(provider.name)}/credentials`);
  } catch (error) {
    mount(box, errorState(error), h("div", { class: "row-actions" }, setButton));
    return;
  }
  const result = stored.last_test_result;
  const testButton = h("button", {
    type: "button", class: "button primary", "data-testid": "credentials-test",
    onclick: async () => {
      testButton.disabled = true;
      testButton.textContent = "Testing…";
      try {
        const tested = await api(`v1/providers/${encodeURIComponent(provider.name)}/credentials/test`, { method: "POST" });
        const outcome = tested.last_test_result;
        notify(`${provider.display_name}: ${outcome ? `${outcome.code}: ${outcome.message}` : "tested"}`, tested.verified ? "good" : "bad");
        await reload();
      } catch (error) {
        notify(`Test failed (${error.code}): ${error.message}`, "bad");
        testButton.disabled = false;
        testButton.textContent = "Test credentials";
      }
    },
  }, "Test credentials");
  mount(box,
    h("h3", {}, "Stored credentials"),
    keyValues(Object.entries(stored.values).map(([name, value]) => [name, longValue(value)])),
    h("p", { class: "test-result", "data-testid": "credentials-result" },
      result ? [badge(result.ok ? "ok" : "failed"), " ", code(result.code), " ", result.message, " · tested "] : "Never tested since they were stored.",
      result ? time(stored.last_tested_at) : null),
    h("div", { class: "row-actions" }, testButton, setButton));
}

// A long value (a PEM public key) folded behind its first characters.
function longValue(value) {
  const text = String(value);
  if (text.length <= 64) return code(text);
  return h("details", { class: "long-value" }, h("summary", {}, code(`${text.slice(0, 32)}…`)), h("pre", { class: "payload" }, text));
}

// The form is the provider's own credential fields (GET /v1/providers: credential_fields);
// secret ones are password inputs and are never filled in from what is stored.
function credentialsDialog(provider, stored, reload) {
  const fields = provider.credential_fields && provider.credential_fields.length
    ? provider.credential_fields
    : Object.keys(stored ? stored.values : {}).map((name) => ({ name, description: "", secret: true, required: true, choices: [] }));
  const error = h("p", { class: "form-error", role: "alert", hidden: true, "data-testid": "credentials-error" });
  const form = h("form", { class: "credentials-form", novalidate: true, "data-testid": "credentials-form" },
    fields.length ? null : h("p", { class: "muted" }, "This stack does not list the provider's fields."),
    fields.map((f) => field({
      name: f.name,
      label: `${f.name}${f.required ? "" : " (optional)"}`,
      kind: f.choices && f.choices.length ? "select" : f.secret ? "password" : "text",
      options: f.choices ? f.choices.map((c) => [c, c]) : [],
      value: !f.secret && stored ? stored.values[f.name] || "" : "",
      hint: f.description,
      required: f.required,
      testid: `credential-${f.name}`,
    })),
    field({ name: "__enabled", label: "Enabled (payments may use them)", kind: "checkbox", value: stored ? stored.enabled : true }),
    error,
    h("div", { class: "dialog-actions" },
      h("button", { type: "button", class: "button", onclick: () => dialog.close() }, "Cancel"),
      h("button", { type: "submit", class: "button primary", "data-testid": "credentials-save" }, "Save")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = formValues(form);
    const enabled = values.__enabled;
    delete values.__enabled;
    for (const [name, value] of Object.entries(values)) if (value === "") delete values[name];
    try {
      await api(`v1/providers/${encodeURIComponent(provider.name)}/credentials`, { method: "PUT", body: { values, enabled } });
      dialog.close();
      notify(`${provider.display_name} credentials stored. Test them to verify.`);
      await reload();
    } catch (failure) {
      error.textContent = `${failure.code}: ${failure.message}`;
      error.hidden = false;
    }
  });
  const dialog = openDialog({ title: `${provider.display_name} credentials`, testid: "credentials-dialog", body: [
    h("p", { class: "muted" }, "Stored encrypted; what was stored before is replaced. Secret fields are never shown again."), form] });
  const first = form.querySelector("input, select");
  if (first) first.focus();
}
