// The UI's only way to the server: the public HTTP API under /api/v1, exactly as a script calls it.
//
// - Every error answer of the API is an RFC 9457 problem; it becomes an ApiError carrying its
//   status, stable `code`, `detail` and, for 422, the JSON pointer `path` of the failing field.
// - A request that gets no answer at all becomes Unreachable, and the connection state flips
//   to "down" (the app shows a banner) until a later request or stream gets through.
// - The bearer token (an API key or a JWT) lives in sessionStorage, or in localStorage when the
//   person asks to be remembered; it is sent only to this origin.

const TOKEN = "argus.token";

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.code = problem.code || "";
    this.detail = problem.detail || "";
    this.path = problem.path || null;
    this.state = problem.state || null;
    this.retryAfter = problem.retry_after || null;
  }
}

export class Unreachable extends Error {
  constructor(cause) {
    super("The Argus server cannot be reached. Check that it is running; this page retries on its own.");
    this.cause = cause;
  }
}

function storage(kind) {
  try { return kind === "local" ? window.localStorage : window.sessionStorage; } catch { return null; }
}

export function token() {
  return storage("session")?.getItem(TOKEN) || storage("local")?.getItem(TOKEN) || "";
}

export function setToken(value, remember) {
  storage("session")?.removeItem(TOKEN);
  storage("local")?.removeItem(TOKEN);
  if (value) storage(remember ? "local" : "session")?.setItem(TOKEN, value);
}

// Listeners of connection changes ("up" | "down") and of 401 answers.
const listeners = { connection: new Set(), unauthorized: new Set() };
let connected = true;

export function on(kind, fn) { listeners[kind].add(fn); return () => listeners[kind].delete(fn); }

export function markConnection(up) {
  if (up === connected) return;
  connected = up;
  for (const fn of listeners.connection) fn(up ? "up" : "down");
}

// A live stream reconnected: the server may have restarted between the drop and the
// reconnection without any request failing, so listeners re-check as on a recovery.
export function markReconnected() {
  connected = true;
  for (const fn of listeners.connection) fn("up");
}

export function authHeaders(extra = {}) {
  const t = token();
  return t ? { ...extra, Authorization: `Bearer ${t}` } : { ...extra };
}

// Calls the API. `path` is relative to /api/v1 unless it starts with "/api/" or "/runs".
// Returns the parsed JSON (null for 204), or the Response when `raw` is set.
export async function api(method, path, body, { signal, raw = false, query } = {}) {
  let url = path.startsWith("/api/") ? path : `/api/v1${path}`;
  if (query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== "") q.set(k, v);
    const s = q.toString();
    if (s) url += (url.includes("?") ? "&" : "?") + s;
  }
  const headers = authHeaders({ Accept: "application/json" });
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let res;
  try {
    res = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
      credentials: "same-origin",
    });
  } catch (e) {
    if (e.name === "AbortError") throw e;
    markConnection(false);
    throw new Unreachable(e);
  }
  markConnection(true);
  if (!res.ok) {
    let problem = {};
    try { problem = await res.json(); } catch { /* not JSON: keep the status */ }
    const err = new ApiError(res.status, problem);
    if (res.status === 401) for (const fn of listeners.unauthorized) fn(err);
    throw err;
  }
  if (raw) return res;
  if (res.status === 204) return null;
  const text = await res.text();
  return text ? JSON.parse(text) : null;
}

export const get = (path, opts) => api("GET", path, undefined, opts);
export const post = (path, body, opts) => api("POST", path, body === undefined ? {} : body, opts);
export const put = (path, body, opts) => api("PUT", path, body, opts);
export const patch = (path, body, opts) => api("PATCH", path, body, opts);
export const del = (path, opts) => api("DELETE", path, undefined, opts);

// Downloads a file from the API with the bearer token (a plain link could not send it).
export async function download(path, fallbackName) {
  const res = await api("GET", path, undefined, { raw: true });
  const blob = await res.blob();
  const cd = res.headers.get("Content-Disposition") || "";
  const m = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(cd);
  const name = m ? decodeURIComponent(m[1]) : fallbackName;
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 60_000);
  return name;
}
