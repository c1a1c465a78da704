// The web UI's shell: routing between pages, sign-in, the header (version, identity, theme),
// and the banners for an unreachable server and a server that restarted under the page.
//
// Every page is a module under pages/ exporting `render(main, ctx)`, which fills `main` and
// returns a cleanup function (closing its live streams) called before the next page renders.
// Pages reach the server only through api.js and sse.js: the public API.

import * as api from "./api.js";
import { h, clear, $, $$, toast, message } from "./dom.js";

const routes = [
  [/^\/(?:ui\/?)?$/, "scans", () => import("./pages/scans.js")],
  [/^\/ui\/scans\/new$/, "new", () => import("./pages/new_scan.js")],
  [/^\/ui\/scans\/([0-9a-f-]{36})$/, "scans", () => import("./pages/scan.js")],
  [/^\/ui\/connectors$/, "connectors", () => import("./pages/connectors.js")],
  [/^\/ui\/templates$/, "templates", () => import("./pages/templates.js")],
  [/^\/ui\/templates\/(new|[0-9a-f-]{36})$/, "templates", () => import("./pages/template.js")],
  [/^\/ui\/schedules$/, "schedules", () => import("./pages/schedules.js")],
  [/^\/ui\/schedules\/(new|[0-9a-f-]{36})$/, "schedules", () => import("./pages/schedule.js")],
  [/^\/ui\/sinks$/, "sinks", () => import("./pages/sinks.js")],
  [/^\/ui\/scanners$/, "scanners", () => import("./pages/scanners.js")],
];

const ctx = {
  me: null,
  meta: null,
  navigate,
  // Set when the server answered with another instance id than at page load.
  restarted: false,
};

let cleanup = null;
let renderSeq = 0;

export function navigate(path, { replace = false } = {}) {
  if (replace) history.replaceState(null, "", path);
  else history.pushState(null, "", path);
  render();
}

async function render() {
  const seq = ++renderSeq;
  const main = $("#main");
  if (cleanup) { try { cleanup(); } catch { /* a page's cleanup must not stop navigation */ } cleanup = null; }
  const path = location.pathname;
  const route = routes.find(([re]) => re.test(path));
  for (const a of $$("nav a[data-nav]")) {
    if (route && a.dataset.nav === route[1]) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  closeMenu();
  if (!route) {
    clear(main, h("h1", "Not found"), h("p", "No page lives at this address. ", h("a", { href: "/ui/", "data-link": true }, "Back to the scans")));
    return;
  }
  const [re, , load] = route;
  const params = re.exec(path).slice(1);
  clear(main, h("p.muted", "Loading…"));
  try {
    const page = await load();
    if (seq !== renderSeq) return;
    clear(main);
    const done = await page.render(main, { ...ctx, params, query: new URLSearchParams(location.search) });
    if (seq !== renderSeq) { if (typeof done === "function") done(); return; }
    cleanup = typeof done === "function" ? done : null;
    main.focus({ preventScroll: true });
  } catch (e) {
    if (seq !== renderSeq) return;
    if (e instanceof api.ApiError && e.status === 401) return;
    clear(main, h("h1", "Something went wrong"), h("div.banner.error", { role: "alert" }, message(e)),
      h("button", { type: "button", onclick: () => render() }, "Try again"));
  }
}

// ---- banners -------------------------------------------------------------------------------

function banner(id, kind, text, action) {
  let el = document.getElementById(id);
  if (!el) {
    el = h("div.banner", { id, role: kind === "error" ? "alert" : "status" });
    $("#banners").append(el);
  }
  el.className = `banner ${kind}`;
  clear(el, h("span", text), action || null);
  return el;
}

function removeBanner(id) { document.getElementById(id)?.remove(); }

api.on("connection", async (state) => {
  if (state === "down") {
    banner("banner-unreachable", "error",
      "The Argus server cannot be reached. Live updates are paused; this page reconnects on its own when the server is back.");
    return;
  }
  removeBanner("banner-unreachable");
  // Back online: did the server restart meanwhile? Then this page's data may be stale.
  try {
    const meta = await api.get("/meta");
    if (ctx.meta && meta.instance && meta.instance !== ctx.meta.instance) {
      ctx.restarted = true;
      banner("banner-expired", "warning",
        `The server restarted (now ${meta.version}) since this page was loaded, so it may show an outdated state. `,
        h("button", { type: "button", onclick: () => location.reload() }, "Reload the page"));
    }
  } catch { /* the next request will tell */ }
});

api.on("unauthorized", () => {
  if (ctx.me) signIn("Your session is no longer valid (the key was revoked or expired). Sign in again.");
});

// ---- sign-in --------------------------------------------------------------------------------

function signIn(reason) {
  if (cleanup) { try { cleanup(); } catch { /* ignore */ } cleanup = null; }
  ctx.me = null;
  $("#identity").textContent = "";
  $("#signout").hidden = true;
  const main = $("#main");
  const input = h("input#token", { type: "password", name: "token", autocomplete: "off", required: true,
    spellcheck: "false", "aria-describedby": "token-help" });
  const remember = h("input#remember", { type: "checkbox" });
  const error = h("p.field-error#token-error", { role: "alert" });
  const form = h("form.card.signin", { novalidate: true },
    h("h1", "Sign in to Argus"),
    reason ? h("p.banner.warning", reason) : null,
    h("label", { for: "token" }, "API key or token"),
    input,
    h("p.help#token-help", "Paste an Argus API key (", h("code", "argus_…"), ") or a token of your identity provider. ",
      "An admin creates keys with ", h("code", "argus admin apikey create --org ORG --role analyst"), "."),
    error,
    h("label.check", remember, " Remember on this device"),
    h("button.primary", { type: "submit" }, "Sign in"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    error.textContent = "";
    const value = input.value.trim();
    if (!value) { error.textContent = "Enter a key or token."; input.focus(); return; }
    api.setToken(value, remember.checked);
    try {
      await start();
    } catch (err) {
      api.setToken("");
      input.setAttribute("aria-invalid", "true");
      error.textContent = err instanceof api.ApiError && err.status === 401
        ? `Refused: ${message(err)}` : message(err);
      input.focus();
    }
  });
  clear(main, form);
  input.focus();
}

// ---- header ---------------------------------------------------------------------------------

function showIdentity(me) {
  const id = $("#identity");
  clear(id, h("span.user", { title: "User" }, me.user), " · ", h("span.org", { title: "Organisation" }, me.org),
    " ", h("span.pill.role", { title: "Role" }, me.role));
  $("#signout").hidden = me.auth_mode === "local" || me.auth_mode === "trusted-headers";
}

function setupTheme() {
  const btn = $("#theme");
  const current = () => document.documentElement.dataset.theme
    || (matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light");
  const label = () => { btn.textContent = current() === "dark" ? "Light theme" : "Dark theme"; };
  btn.addEventListener("click", () => {
    const next = current() === "dark" ? "light" : "dark";
    document.documentElement.dataset.theme = next;
    try { localStorage.setItem("argus.theme", next); } catch { /* not kept */ }
    label();
  });
  label();
}

function closeMenu() {
  const t = $(".menu-toggle");
  t.setAttribute("aria-expanded", "false");
  $("#nav").classList.remove("open");
}

function setupChrome() {
  setupTheme();
  $(".menu-toggle").addEventListener("click", (e) => {
    const open = e.currentTarget.getAttribute("aria-expanded") !== "true";
    e.currentTarget.setAttribute("aria-expanded", String(open));
    $("#nav").classList.toggle("open", open);
  });
  $("#signout").addEventListener("click", () => { api.setToken(""); signIn("Signed out."); });
  // Client-side navigation for internal links (ctrl/middle click still opens a new tab).
  document.addEventListener("click", (e) => {
    const a = e.target.closest("a[data-link]");
    if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    if (a.getAttribute("href") !== location.pathname + location.search) navigate(a.getAttribute("href"));
  });
  window.addEventListener("popstate", render);
}

async function start() {
  const [me, meta] = await Promise.all([api.get("/whoami"), api.get("/meta")]);
  ctx.me = me;
  ctx.meta = meta;
  const v = $("#version");
  v.textContent = `v${meta.version}`;
  v.hidden = false;
  v.title = `Argus ${meta.version} (build ${meta.build}); ${Object.entries(meta.backends || {}).map(([k, b]) => `${k}: ${b}`).join(", ")}`;
  showIdentity(me);
  await render();
}

async function boot() {
  setupChrome();
  try {
    await start();
  } catch (e) {
    if (e instanceof api.ApiError && e.status === 401) {
      signIn(api.token() ? "The saved key was refused; sign in again." : null);
    } else {
      clear($("#main"), h("h1", "Argus is not answering"), h("div.banner.error", { role: "alert" }, message(e)),
        h("button.primary", { type: "button", onclick: () => location.reload() }, "Retry"));
    }
  }
}

export { toast };
boot();
