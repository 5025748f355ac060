// The dashboard's entry: layout, theme, hash router (every view is a bookmarkable URL, its
// filters in the hash's query), sign-in guard. Each view is its own module, loaded on first use.
import { session } from "./api.js";
import { h, mount } from "./dom.js";
import { errorState, loading } from "./ui.js";

const MERCHANT_NAV = [
  ["#/payments", "Payments", "payments"],
  ["#/webhooks", "Webhooks", "webhooks"],
  ["#/callbacks", "Callbacks", "callbacks"],
  ["#/providers", "Providers", "providers"],
  ["#/profiles", "Profiles & trades", "profiles"],
  ["#/reports", "Reports", "reports"],
];
const OPERATOR_NAV = [
  ["#/admin/tenants", "Tenants", "admin-tenants"],
  ["#/admin/search", "Search", "admin-search"],
  ["#/admin/health", "Webhook health", "admin-health"],
  ["#/admin/dlq", "Dead letters", "admin-dlq"],
  ["#/admin/ledger", "Ledger", "admin-ledger"],
  ["#/admin/audit", "Audit log", "admin-audit"],
];

// [pattern, module, role]: the first match renders.
const ROUTES = [
  [/^\/signin$/, "./view-signin.js", null],
  [/^\/payments$/, "./view-payments.js", "merchant"],
  [/^\/payments\/([^/]+)$/, "./view-payment.js", "merchant"],
  [/^\/webhooks$/, "./view-webhooks.js", "merchant"],
  [/^\/callbacks$/, "./view-callbacks.js", "merchant"],
  [/^\/providers$/, "./view-providers.js", "merchant"],
  [/^\/profiles(?:\/([^/]+))?$/, "./view-profiles.js", "merchant"],
  [/^\/reports$/, "./view-reports.js", "merchant"],
  [/^\/admin\/(tenants|search|health|dlq|ledger|audit)$/, "./view-admin.js", "operator"],
];

// ---- theme: the system's by default; the switch's choice kept in localStorage ---------------
const THEME = "dashboard.theme";
const systemDark = window.matchMedia("(prefers-color-scheme: dark)");

function currentTheme() {
  return localStorage.getItem(THEME) || (systemDark.matches ? "dark" : "light");
}

function applyTheme() {
  const theme = currentTheme();
  document.documentElement.dataset.theme = theme;
  const button = document.querySelector("[data-testid=theme-switch]");
  if (button) {
    button.textContent = theme === "dark" ? "Light theme" : "Dark theme";
    button.setAttribute("aria-pressed", String(theme === "dark"));
  }
  window.dispatchEvent(new CustomEvent("dashboard:theme"));
}

function themeSwitch() {
  return h("button", {
    type: "button",
    class: "button small",
    "data-testid": "theme-switch",
    title: "Switch between the light and the dark theme",
    onclick: () => {
      localStorage.setItem(THEME, currentTheme() === "dark" ? "light" : "dark");
      applyTheme();
    },
  });
}

// ---- layout -------------------------------------------------------------------------------
const main = h("main", { id: "view", tabindex: "-1" });
const nav = h("nav", { id: "nav", "aria-label": "Views" });
const who = h("span", { class: "who muted", "data-testid": "who" });
const signOut = h("button", { type: "button", class: "button small", "data-testid": "sign-out", onclick: () => signOutNow("") }, "Sign out");
const menu = h("button", {
  type: "button",
  class: "button small menu-toggle",
  "aria-controls": "nav",
  "aria-expanded": "false",
  "data-testid": "nav-toggle",
  onclick: () => {
    const open = !document.body.classList.contains("nav-open");
    document.body.classList.toggle("nav-open", open);
    menu.setAttribute("aria-expanded", String(open));
  },
}, "Menu");

function layout() {
  return [
    h("a", { href: "#view", class: "skip-link" }, "Skip to content"),
    h("header", { class: "topbar" },
      h("a", { href: "#/", class: "brand", "data-testid": "brand" },
        h("img", { src: new URL("icon.svg", import.meta.url).href, alt: "", width: "24", height: "24" }),
        h("span", { class: "brand-text" }, "Payments")),
      menu, nav,
      h("div", { class: "topbar-end" }, who, themeSwitch(), signOut)),
    main,
    h("div", { id: "toasts", class: "toasts", "aria-live": "polite" }),
  ];
}

function renderNav(path) {
  const role = session.role;
  const items = role === "operator" ? OPERATOR_NAV : role === "merchant" ? MERCHANT_NAV : [];
  mount(nav, h("ul", {}, items.map(([href, label, id]) => {
    const current = path === href.slice(1) || path.startsWith(`${href.slice(1)}/`);
    return h("li", {}, h("a", {
      href,
      "data-testid": `nav-${id}`,
      "aria-current": current ? "page" : null,
      onclick: () => document.body.classList.remove("nav-open"),
    }, label));
  })));
  who.textContent = session.key ? `${role === "operator" ? "Operator" : "Merchant"} ${session.who}` : "";
  signOut.hidden = !session.key;
  menu.hidden = !session.key;
}

// ---- router -------------------------------------------------------------------------------
export function parseHash() {
  const raw = location.hash.replace(/^#/, "") || "/";
  const [path, search = ""] = raw.split("?");
  return { path: path || "/", params: new URLSearchParams(search) };
}

export function navigate(path, params) {
  const search = params ? new URLSearchParams(
    Object.entries(params).filter(([, value]) => value !== "" && value !== null && value !== undefined && value !== false),
  ).toString() : "";
  const target = `#${path}${search ? `?${search}` : ""}`;
  if (location.hash === target) route();
  else location.hash = target;
}

let cleanups = [];
let generation = 0;
let signInMessage = "";

function signOutNow(message) {
  session.clear();
  signInMessage = message;
  navigate("/signin", { next: message ? parseHash().path : "" });
}

function defaultPath() {
  return session.role === "operator" ? "/admin/tenants" : "/payments";
}

async function route() {
  for (const cleanup of cleanups) cleanup();
  cleanups = [];
  document.querySelectorAll("dialog").forEach((dialog) => dialog.remove());
  const mine = ++generation;
  let { path, params } = parseHash();
  if (path === "/" || path === "") {
    navigate(session.key ? defaultPath() : "/signin");
    return;
  }
  if (!session.key && path !== "/signin") {
    navigate("/signin", { next: `${path}${params.toString() ? `?${params}` : ""}` });
    return;
  }
  const found = ROUTES.map(([pattern, module, role]) => [pattern.exec(path), module, role]).find(([m]) => m);
  renderNav(path);
  if (!found) {
    mount(main, errorState({ code: "not_found", message: `There is no view at ${path}.` }, "Choose a view in the menu."));
    return;
  }
  const [match, module, role] = found;
  if (role && role !== session.role) {
    mount(main, errorState(
      { code: "wrong_key", message: `This view needs ${role === "operator" ? "an operator key (opk_...)" : "a merchant API key"}.` },
      "Sign out and sign in with the right key, or choose a view in the menu.",
    ));
    return;
  }
  mount(main, loading());
  try {
    const view = await import(module);
    if (mine !== generation) return;
    const container = h("div", { class: "view" });
    mount(main, container);
    const ctx = {
      root: container,
      match,
      params,
      path,
      navigate,
      message: signInMessage,
      // A view that registers a timer after the person moved on stops it at once: a stale
      // view never keeps polling (nor calls the API after a sign-out).
      onCleanup: (fn) => (mine === generation ? cleanups.push(fn) : fn()),
      isCurrent: () => mine === generation,
    };
    signInMessage = "";
    await view.render(ctx);
    if (mine === generation) {
      const heading = main.querySelector("h1");
      if (heading && !main.contains(document.activeElement)) heading.focus({ preventScroll: true });
    }
  } catch (error) {
    if (mine === generation) mount(main, errorState(error, "Reload the page; if it persists, check the API's logs.", () => route()));
  }
}

window.addEventListener("hashchange", route);
window.addEventListener("dashboard:signed-out", (event) => {
  // Already on the sign-in page: leave the form (and what is being typed in it) alone.
  if (parseHash().path === "/signin") return;
  signInMessage = event.detail;
  navigate("/signin", { next: parseHash().path });
});
window.addEventListener("dashboard:session", () => renderNav(parseHash().path));
systemDark.addEventListener("change", applyTheme);
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && document.body.classList.contains("nav-open")) {
    document.body.classList.remove("nav-open");
    menu.setAttribute("aria-expanded", "false");
  }
});

mount(document.getElementById("app"), layout());
applyTheme();
route();
