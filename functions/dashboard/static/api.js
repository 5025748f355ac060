// Talks to this same API (…/<stage>/v1/…, relative to the dashboard's own address) with the
// signed-in key as a bearer header. The key lives in sessionStorage only: never in a URL, in
// localStorage or a cookie; signing out (or a 401 from any call) forgets it.

const API_BASE = new URL("../../", import.meta.url);
const KEY = "dashboard.key";
const ROLE = "dashboard.role";
const WHO = "dashboard.who";

export const session = {
  get key() {
    return sessionStorage.getItem(KEY);
  },
  get role() {
    return sessionStorage.getItem(ROLE);
  },
  get who() {
    return sessionStorage.getItem(WHO) || "";
  },
  set(key, role, who) {
    sessionStorage.setItem(KEY, key);
    sessionStorage.setItem(ROLE, role);
    sessionStorage.setItem(WHO, who || "");
  },
  clear() {
    sessionStorage.removeItem(KEY);
    sessionStorage.removeItem(ROLE);
    sessionStorage.removeItem(WHO);
  },
};

export function roleOf(key) {
  return key.startsWith("opk_") ? "operator" : "merchant";
}

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export function apiUrl(path, params) {
  const url = new URL(path.replace(/^\/+/, ""), API_BASE);
  if (params) url.search = queryString(params);
  return url;
}

// Only the filters that have a value.
export function queryString(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params || {})) {
    if (value !== null && value !== undefined && value !== "") search.set(name, String(value));
  }
  return search.toString();
}

async function errorOf(response) {
  let code = `http_${response.status}`;
  let message = response.statusText || "The request failed";
  try {
    const body = await response.json();
    if (body && body.error && typeof body.error === "object") {
      code = String(body.error.code || code);
      message = String(body.error.message || message);
      if (body.error.correlation_id) message += ` (correlation id ${body.error.correlation_id})`;
    } else if (body && typeof body.message === "string") {
      message = body.message; // API Gateway's own answers: {"message": "..."}
    }
  } catch {
    // not JSON: keep the status line
  }
  return new ApiError(response.status, code, message);
}

// One call. Answers the parsed JSON (null for 204), or the Response itself with raw: true.
// `key` overrides the session's (sign-in tries a key before keeping it).
export async function api(path, options = {}) {
  const { method = "GET", body, params, headers = {}, raw = false, key = session.key } = options;
  const request = {
    method,
    headers: { Accept: raw ? "*/*" : "application/json", ...headers },
    credentials: "omit",
    cache: "no-store",
    referrerPolicy: "no-referrer",
  };
  if (!key) {
    // Signed out (a view left over from before, say): nothing to ask without a key.
    throw new ApiError(401, "signed_out", "Sign in to use the dashboard.");
  }
  request.headers.Authorization = `Bearer ${key}`;
  if (body !== undefined) {
    request.headers["Content-Type"] = "application/json";
    request.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(apiUrl(path, params), request);
  } catch {
    throw new ApiError(0, "network_error", "The API could not be reached: check the connection and try again.");
  }
  if (response.status === 401 && options.key === undefined) {
    session.clear();
    const error = await errorOf(response);
    window.dispatchEvent(
      new CustomEvent("dashboard:signed-out", {
        detail: `The API refused the key (${error.code}: ${error.message}). Sign in again.`,
      }),
    );
    throw error;
  }
  if (!response.ok) throw await errorOf(response);
  if (raw) return response;
  if (response.status === 204) return null;
  return response.json();
}
