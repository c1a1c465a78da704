// Small DOM and formatting helpers shared by every page. No framework: pages build elements
// with h() and replace what changed.

// h("button.primary", {onclick, type: "button"}, "Start") → <button class="primary">Start</button>
// Attributes: `class`, `dataset`, `style` (object), on* functions as listeners, booleans toggle,
// everything else is set as an attribute. Children: nodes, strings, arrays, null/false skipped.
export function h(tag, attrs, ...children) {
  // "tag", then any of ".class" and "#id" in any order.
  const parts = tag.match(/^[a-z0-9]*|[.#][^.#]+/gi) || [];
  const el = document.createElement(parts[0] || "div");
  const classes = [];
  for (const p of parts.slice(1)) {
    if (p[0] === "#") el.id = p.slice(1);
    else classes.push(p.slice(1));
  }
  if (classes.length) el.className = classes.join(" ");
  if (attrs && (typeof attrs !== "object" || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = [el.className, v].filter(Boolean).join(" ");
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k === "style" && typeof v === "object") Object.assign(el.style, v);
    else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "value") el.value = v;
    else if (k === "checked") el.checked = !!v;
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];

const nf = new Intl.NumberFormat("en");
export const num = (n) => (n === null || n === undefined ? "—" : nf.format(n));

// "1 h 2 m", "1 m 12 s", "3.4 s", "120 ms".
export function duration(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 10) return `${s.toFixed(1)} s`;
  if (s < 60) return `${Math.round(s)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} m ${Math.round(s - m * 60)} s`;
  const hrs = Math.floor(m / 60);
  return `${hrs} h ${m - hrs * 60} m`;
}

export function when(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  return d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
}

export function ago(iso) {
  if (!iso) return "—";
  const s = (Date.now() - new Date(iso).getTime()) / 1000;
  if (s < 45) return "just now";
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

export const TERMINAL = new Set(["completed", "failed", "cancelled"]);

export function badge(state) {
  return h("span.badge", { class: `state-${state}`, "data-state": state }, state);
}

export function severityBadge(sev) {
  return h("span.badge", { class: `sev-${sev}` }, sev);
}

// A progress bar with its percentage as text (for screen readers too).
export function progressBar(fraction, label) {
  const pct = Math.max(0, Math.min(100, Math.floor((fraction || 0) * 100)));
  return h("div.progress", { role: "progressbar", "aria-valuemin": "0", "aria-valuemax": "100",
      "aria-valuenow": String(pct), "aria-label": label || "Progress" },
    h("div.track", h("div.bar", { style: { width: `${pct}%` } })),
    h("span.pct", `${pct} %`));
}

export function setProgress(el, fraction) {
  const pct = Math.max(0, Math.min(100, Math.floor((fraction || 0) * 100)));
  el.setAttribute("aria-valuenow", String(pct));
  el.querySelector(".bar").style.width = `${pct}%`;
  el.querySelector(".pct").textContent = `${pct} %`;
}

// (done + failed) / max(enqueued, expected_total), as the server computes it.
export function fraction(p) {
  if (!p) return 0;
  const denom = Math.max(p.enqueued || 0, p.expected_total || 0);
  const complete = p.enqueue_done && p.done + p.failed === p.enqueued;
  if (denom === 0) return complete ? 1 : 0;
  return Math.min(1, (p.done + p.failed) / denom);
}

// Progress counters only grow: merging an older snapshot (an event that arrived after a newer
// GET) never moves a bar back. Verdict counts merge the same way, kind by kind.
export function mergeProgress(cur = {}, p = {}) {
  const next = { ...cur, ...p };
  for (const k of ["enqueued", "done", "failed", "findings"]) next[k] = Math.max(cur[k] || 0, p[k] || 0);
  next.expected_total = p.expected_total ?? cur.expected_total ?? null;
  next.enqueue_done = !!(cur.enqueue_done || p.enqueue_done);
  const v = { ...(cur.verdicts || {}) };
  for (const [k, n] of Object.entries(p.verdicts || {})) v[k] = Math.max(v[k] || 0, n || 0);
  next.verdicts = v;
  return next;
}

// A pill with an id and a copy-to-clipboard button.
export function idPill(id, label = "Job id") {
  const btn = h("button.copy", { type: "button", "aria-label": `Copy ${label.toLowerCase()} ${id}`, title: "Copy" }, "Copy");
  btn.addEventListener("click", async (e) => {
    e.preventDefault();
    e.stopPropagation();
    try {
      await copyText(id);
      toast(`${label} copied`);
    } catch {
      toast(`Could not copy; select the id and copy it by hand`, "error");
    }
  });
  // The last 8 digits: a UUIDv7 starts with its timestamp, so scans made within a minute share
  // their first ones; the end is random and tells them apart.
  return h("span.idpill", h("code", { title: id }, `…${id.slice(-8)}`), btn);
}

export async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
  // Plain-HTTP pages have no clipboard API: fall back to a selected textarea.
  const ta = h("textarea", { style: { position: "fixed", opacity: "0" } }, text);
  document.body.append(ta);
  ta.select();
  const ok = document.execCommand("copy");
  ta.remove();
  if (!ok) throw new Error("copy refused");
}

export function toast(message, kind = "info") {
  const box = document.getElementById("toasts");
  const t = h("div.toast", { class: `toast-${kind}`, role: kind === "error" ? "alert" : "status" }, message);
  box.append(t);
  setTimeout(() => t.remove(), kind === "error" ? 8000 : 3500);
}

// The message of an error for a person: problem detail, unreachable server, or the error text.
export function message(err) {
  if (!err) return "";
  if (err.detail) return err.detail;
  return err.message || String(err);
}

// An inline error box (role=alert) for a page or a form.
export function errorBox(err) {
  return h("div.banner.error", { role: "alert" }, message(err));
}

export function emptyState(text, action) {
  return h("div.empty", h("p", text), action || null);
}

// Summary of a finished scan: "completed: 12,345 tasks in 1 m 12 s".
export function summary(scan) {
  const p = scan.progress || {};
  const tasks = (p.done || 0) + (p.failed || 0);
  const took = scan.started_at && scan.finished_at
    ? new Date(scan.finished_at) - new Date(scan.started_at) : null;
  let s = `${scan.state}: ${num(tasks)} task${tasks === 1 ? "" : "s"}`;
  if (took !== null) s += ` in ${duration(took)}`;
  if (p.failed) s += `, ${num(p.failed)} failed`;
  if (p.findings) s += `, ${num(p.findings)} finding${p.findings === 1 ? "" : "s"}`;
  if (scan.reason) s += ` (${scan.reason})`;
  return s;
}
