// Sign-in: a merchant API key (pk_...) or an operator key (opk_...), tried against the API
// before it is kept (sessionStorage only), then the view the person came for.
import { api, roleOf, session } from "./api.js";
import { h, mount } from "./dom.js";

export async function render(ctx) {
  const error = h("p", { class: "form-error", role: "alert", "data-testid": "signin-error", hidden: !ctx.message }, ctx.message || "");
  const input = h("input", {
    id: "signin-key",
    name: "key",
    type: "password",
    required: true,
    autocomplete: "off",
    spellcheck: "false",
    "data-testid": "signin-key",
    placeholder: "pk_... or opk_...",
    "aria-describedby": "signin-hint",
  });
  const button = h("button", { type: "submit", class: "button primary", "data-testid": "signin-submit" }, "Sign in");
  const form = h(
    "form",
    { class: "signin card", "data-testid": "signin-form", novalidate: true },
    h("h1", { tabindex: "-1" }, "Sign in to the payments dashboard"),
    h("p", { class: "muted" }, "Merchants sign in with their tenant's API key; the platform operator with an operator key."),
    error,
    h("div", { class: "field" },
      h("label", { for: "signin-key" }, "API key or operator key"),
      input,
      h("small", { id: "signin-hint", class: "muted" },
        "Issued by payctl keys issue (merchants) or payctl operators issue (operators). "
        + "Kept in this tab's session storage only, sent as a bearer header, forgotten when you sign out or close the tab.")),
    h("div", { class: "form-actions" }, button),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const key = input.value.trim();
    if (!key) {
      showError("Enter a key.");
      return;
    }
    button.disabled = true;
    button.textContent = "Checking…";
    const role = roleOf(key);
    try {
      let whoText;
      if (role === "operator") {
        const me = await api("v1/admin/me", { key });
        whoText = me.name || me.operator_id;
      } else {
        await api("v1/providers", { key });
        whoText = `key …${key.slice(-4)}`;
      }
      session.set(key, role, whoText);
      window.dispatchEvent(new CustomEvent("dashboard:session"));
      const next = ctx.params.get("next");
      const fallback = role === "operator" ? "/admin/tenants" : "/payments";
      const target = next && next.startsWith("/") && !next.startsWith("/signin") ? next : fallback;
      location.hash = `#${target}`;
    } catch (failure) {
      const refused = failure.status === 401 || failure.status === 403;
      showError(refused
        ? `The API refused this key (${failure.code}): check that it is a current ${role === "operator" ? "operator" : "API"} key.`
        : `${failure.code}: ${failure.message}`);
    } finally {
      button.disabled = false;
      button.textContent = "Sign in";
    }
  });
  function showError(message) {
    error.textContent = message;
    error.hidden = false;
    input.focus();
  }
  mount(ctx.root, h("div", { class: "signin-wrap" }, form));
  input.focus();
}
