// The one way the dashboard builds its DOM: elements, attributes and text nodes. Nothing here
// (nor anywhere in the app) parses a string as HTML: every value from the API is untrusted and
// lands in the page as text (docs/dashboard.md; tests/unit/test_dashboard_js.py enforces it).

const URL_ATTRIBUTES = new Set(["href", "src", "action", "formaction", "xlink:href"]);

// Links and images only to this site, http(s) pages, or inline images (provider icons).
export function safeUrl(value, attribute = "href") {
  const text = String(value);
  if (text.startsWith("#") || text.startsWith("./") || text.startsWith("?")) return text;
  if (attribute === "src" && /^data:image\/(svg\+xml|png|jpeg|gif|webp)[;,]/i.test(text)) {
    return text;
  }
  try {
    const url = new URL(text, document.baseURI);
    if (url.protocol === "https:" || url.protocol === "http:") return url.href;
  } catch {
    // not a URL: dropped below
  }
  return "#";
}

function append(parent, child) {
  if (child === null || child === undefined || child === false || child === true) return;
  if (Array.isArray(child)) {
    for (const item of child) append(parent, item);
  } else if (child instanceof Node) {
    parent.appendChild(child);
  } else {
    parent.appendChild(document.createTextNode(String(child)));
  }
}

// h("a", {href: "#/x", class: "link", onclick: fn, "data-testid": "t"}, "text", child...)
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (name === "value" && "value" in element) {
      element.value = String(value);
    } else if (name === "checked" || name === "selected") {
      element[name] = Boolean(value);
    } else if (value === true) {
      element.setAttribute(name, "");
    } else if (URL_ATTRIBUTES.has(name)) {
      element.setAttribute(name, safeUrl(value, name));
    } else {
      element.setAttribute(name, String(value));
    }
  }
  append(element, children);
  return element;
}

export function mount(parent, ...children) {
  parent.replaceChildren();
  append(parent, children);
  return parent;
}

export function text(value) {
  return document.createTextNode(value === null || value === undefined ? "" : String(value));
}
