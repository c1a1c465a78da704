// Connectors (/ui/connectors): the org's registered storage locations (a server folder, a
// bucket prefix, a SharePoint drive), one card each, with its last full scan followed live,
// the buttons to start, pause, resume and cancel a full scan, and (admins) the form to
// register a connector and a way to delete one.
//
// Invariants:
// - Rehydration as on the scans list: the org's event stream (`/events`) is opened first, then
//   the connectors are read (`GET /connectors`, every page) and each last full scan once
//   (`GET /scans/{id}`, for its counters); events are applied on top, so nothing between the
//   two is missed. No polling.
// - A card follows exactly one scan: its connector's newest full scan. A scan becomes it when
//   the full-scan call answers, when the connector list names it, or when a `state` event
//   shows a scan leaving `created` whose `config.labels.connector` is the card's id (a full
//   scan started elsewhere: another tab, the API, the CLI).
// - Counters and verdicts only grow within a scan, so an older snapshot or event never moves a
//   bar back. A scan snapshot (GET or action answer) requested before the last `state` event
//   of its scan is stale and dropped; every `state` event re-reads the scan once.
// - While the scan is active (created, queued, running, paused) the card shows Pause or Resume
//   and Cancel instead of Full scan; once it ends, Full scan comes back with the summary.
// - Viewers see everything but no button that changes anything; only admins see the
//   registration form and Delete (the API would refuse the others with 403 anyway).
//
// Hooks (browser tests): `.connector-card[data-connector-id]`, in it `h2` (name),
// `.location`, `.badge[data-state]`, `.scan-summary`, `[role=progressbar]`, `.processed`,
// `.verdicts [data-verdict=clean|malicious|suspicious|error|skipped]`, `a.scan-link`,
// `button[data-action=full-scan|pause|resume|cancel|delete|confirm-delete|keep]`;
// `#connectors-empty`; the form `form#connector-form` with `#connector-name`,
// `#connector-location`, `#connector-credential`, `input[type=checkbox][name=scanner]`,
// `textarea[data-scanner=<name>]` (params), `#connector-action`, `#connector-quarantine`,
// `#connector-suspicious`, `button#connector-submit`.

import * as api from "../api.js";
import { followOrg } from "../sse.js";
import { h, clear, badge, progressBar, setProgress, fraction, idPill, num, when, summary,
  TERMINAL, errorBox, toast, message, mergeProgress } from "../dom.js";

const VERDICTS = ["clean", "malicious", "suspicious", "error", "skipped"];
const ACTIVE = new Set(["created", "queued", "running", "paused"]);
const ACTIONS = [
  ["none", "Report only"],
  ["tag", "Tag the object"],
  ["move", "Move it to quarantine"],
  ["delete", "Delete it"],
];

export async function render(main, ctx) {
  const role = ctx.me?.role || "viewer";
  const isAdmin = role === "admin";
  const canScan = role === "admin" || role === "analyst";

  const cards = new Map(); // connector id → entry
  const byScan = new Map(); // scan id → entry (the scan each card follows)
  let seq = 0; // orders snapshot requests against state events

  const grid = h("div#connectors.cards");
  // State changes are announced once here; the counters, which change all the time, are not.
  const announcer = h("div#connectors-live.visually-hidden", { "aria-live": "polite" });
  const status = h("div");
  const empty = h("div#connectors-empty.empty.card", { hidden: true },
    h("h2", "No connectors yet"),
    h("p", "A connector is a storage location that your organisation scans again and again: a folder on the server (",
      h("code", "file://"), "), an S3, Azure Blob or Google Cloud Storage bucket prefix (", h("code", "s3://"), ", ",
      h("code", "az://"), ", ", h("code", "gs://"), ") or a SharePoint drive (", h("code", "sharepoint://"), "). ",
      "It is registered once with the scanners to run on it, the name of the server credential that reaches it and what to do with what they find."),
    h("p", "A full scan reads every object of the location; it is an ordinary scan, followed live here and on its own page."),
    h("p", isAdmin ? "Register the first one with the form below." : "An admin of your organisation registers connectors."));

  clear(main,
    h("div.page-head", h("h1", "Connectors"),
      isAdmin ? h("div.actions", h("button#goto-register", { type: "button", onclick: () => {
        const t = document.getElementById("register");
        t?.scrollIntoView({ behavior: "smooth", block: "start" });
        t?.focus({ preventScroll: true });
      } }, "Register a connector")) : null),
    h("p.muted.intro", "Storage locations registered for full scans. Progress and verdicts update live."),
    status,
    empty,
    grid,
    announcer);

  // ---- one card ---------------------------------------------------------------------------

  function card(c) {
    const title = h("h2", { id: `connector-${c.id}-name` }, c.name);
    const stateBox = h("div.scan-state");
    const link = h("a.scan-link", { "data-link": true, hidden: true }, "Open the scan");
    const bar = progressBar(0, `Full scan of ${c.name}`);
    const processed = h("div.processed");
    const sum = h("p.scan-summary", { hidden: true });
    const verdicts = h("ul.verdicts", { "aria-label": "Verdicts of the last full scan" });
    const alert = h("div.card-error");
    const btn = (action, label, cls = "") => h(`button.small${cls}`, { type: "button", "data-action": action,
      "aria-describedby": title.id, hidden: true }, label);
    const buttons = {
      "full-scan": btn("full-scan", "Full scan", ".primary"),
      pause: btn("pause", "Pause"),
      resume: btn("resume", "Resume"),
      cancel: btn("cancel", "Cancel", ".danger"),
    };
    const actions = h("div.actions", { role: "group", "aria-label": `Actions for ${c.name}` },
      canScan ? Object.values(buttons) : null);
    const del = isAdmin ? deleteControl(c, title.id) : null;
    const scanBox = h("section.last-scan", { "aria-label": "Last full scan" },
      h("div.last-scan-head", h("h3", "Last full scan"), stateBox, link),
      bar, processed, sum, verdicts);
    const el = h("article.card.connector-card", { "data-connector-id": c.id, "aria-labelledby": title.id },
      h("div.connector-head", title, del ? del.el : null),
      h("dl.kv.connector-facts",
        h("dt", "Location"), h("dd.location", h("code", c.location?.value ?? "")),
        h("dt", "Credential"), h("dd.credential", c.credential ? h("code", c.credential) : h("span.muted", "none")),
        h("dt", "Scanners"), h("dd.scanners", (c.scanners || []).map((s, i) => [i ? ", " : "",
          h("code", { title: Object.keys(s.params || {}).length ? JSON.stringify(s.params) : null }, s.name)])),
        h("dt", "On detection"), h("dd.policy", policyText(c.action))),
      scanBox, alert, actions);
    const entry = { c, el, title, stateBox, link, bar, processed, sum, verdicts, buttons, alert, scanBox,
      scanId: null, scan: null, floor: 0, applied: 0 };
    for (const [action, b] of Object.entries(buttons)) b.addEventListener("click", () => act(entry, action));
    cards.set(c.id, entry);
    paint(entry);
    return el;
  }

  function paint(entry) {
    const { scan, c } = entry;
    const last = c.last_full_scan;
    const state = scan?.state || last?.state || null;
    const active = state !== null && ACTIVE.has(state);
    if (!state) {
      clear(entry.stateBox, h("span.muted", "never run"));
      entry.link.hidden = true;
      entry.bar.hidden = true;
      entry.processed.textContent = "";
      entry.sum.hidden = false;
      entry.sum.textContent = "No full scan yet.";
      clear(entry.verdicts);
    } else {
      const id = scan?.id || last.id;
      clear(entry.stateBox, badge(state), " ", idPill(id, "Scan id"));
      entry.link.hidden = false;
      entry.link.href = `/ui/scans/${id}`;
      const p = scan?.progress || null;
      entry.bar.hidden = false;
      setProgress(entry.bar, p ? fraction(p) : (TERMINAL.has(state) ? 1 : 0));
      entry.processed.textContent = p ? processedText(p) : "";
      if (TERMINAL.has(state)) {
        entry.sum.hidden = false;
        const finished = scan?.finished_at || last?.finished_at;
        entry.sum.textContent = scan ? summary(scan) : state;
        if (finished) entry.sum.append(h("span.muted", ` · finished ${when(finished)}`));
      } else {
        entry.sum.hidden = true;
      }
      paintVerdicts(entry.verdicts, p?.verdicts || last?.verdicts || {});
    }
    const b = entry.buttons;
    b["full-scan"].hidden = active;
    b.pause.hidden = !(state === "queued" || state === "running");
    b.resume.hidden = state !== "paused";
    b.cancel.hidden = !active;
    for (const x of Object.values(b)) if (!entry.busy) x.disabled = false;
  }

  function paintVerdicts(ul, v) {
    clear(ul, VERDICTS.map((k) => h("li", { "data-verdict": k, class: `verdict-${k}` },
      h("span.k", k), " ", h("span.v", num(v[k] || 0)))));
  }

  // ---- scans the cards follow -------------------------------------------------------------

  // Makes `scan` the one `entry` follows, or refreshes it (a snapshot requested at `s`).
  function adopt(entry, scan, s) {
    if (entry.scanId === scan.id) {
      if (s < entry.floor || s < entry.applied) return;
      entry.applied = s;
      entry.scan = { ...scan, progress: mergeProgress(entry.scan?.progress, scan.progress) };
    } else {
      // Another scan: the newer one wins (a late answer about an older scan changes nothing).
      if (entry.scan && scan.created_at < entry.scan.created_at) return;
      if (entry.scanId) byScan.delete(entry.scanId);
      entry.scanId = scan.id;
      entry.scan = scan;
      entry.floor = 0;
      entry.applied = s;
      byScan.set(scan.id, entry);
    }
    entry.c = { ...entry.c, last_full_scan: { id: scan.id, state: entry.scan.state,
      verdicts: entry.scan.progress?.verdicts || {}, started_at: scan.started_at, finished_at: scan.finished_at } };
    paint(entry);
  }

  async function readScan(entry, id) {
    const s = ++seq;
    try {
      const view = await api.get(`/scans/${id}`);
      adopt(entry, view.scan || view, s);
    } catch (e) {
      // Deleted since: the card simply has no last full scan any more.
      if (e instanceof api.ApiError && e.status === 404 && entry.scanId === id) {
        byScan.delete(id);
        entry.scanId = null;
        entry.scan = null;
        entry.c = { ...entry.c, last_full_scan: null };
        paint(entry);
      }
    }
  }

  // A scan this page does not follow left `created`: is it a full scan of one of the cards?
  async function maybeFullScan(scanId) {
    const s = ++seq;
    let scan;
    try {
      const view = await api.get(`/scans/${scanId}`);
      scan = view.scan || view;
    } catch { return; }
    const entry = cards.get(scan.config?.labels?.connector);
    if (entry) adopt(entry, scan, s);
  }

  async function act(entry, action) {
    const b = entry.buttons;
    entry.busy = true;
    for (const x of Object.values(b)) x.disabled = true;
    clear(entry.alert);
    const s = ++seq;
    try {
      if (action === "full-scan") {
        const scan = await api.post(`/connectors/${entry.c.id}/full-scan`);
        adopt(entry, scan, s);
        toast(`Full scan of ${entry.c.name} started`, "success");
      } else {
        // One literal route per action (tests/ui.rs checks each is an API operation).
        const scan = action === "pause" ? await api.post(`/scans/${entry.scanId}/pause`)
          : action === "resume" ? await api.post(`/scans/${entry.scanId}/resume`)
          : await api.post(`/scans/${entry.scanId}/stop`);
        adopt(entry, scan.scan || scan, s);
      }
    } catch (e) {
      clear(entry.alert, errorBox(e));
      // A 409 names the scan's current state: show it rather than a stale one.
      if (e instanceof api.ApiError && e.status === 409 && entry.scanId) readScan(entry, entry.scanId);
    } finally {
      entry.busy = false;
      paint(entry);
      // The clicked button may have just been hidden (Full scan ↔ Pause): keep the focus in the card.
      const was = document.activeElement;
      if (!was || was === document.body || was.hidden) Object.values(b).find((x) => !x.hidden)?.focus();
    }
  }

  // Delete takes two clicks: Delete, then Confirm (or Keep), in place of a modal.
  function deleteControl(c, labelledBy) {
    const del = h("button.small.danger", { type: "button", "data-action": "delete", "aria-describedby": labelledBy }, "Delete");
    const confirm = h("button.small.danger", { type: "button", "data-action": "confirm-delete", hidden: true }, "Confirm delete");
    const keep = h("button.small", { type: "button", "data-action": "keep", hidden: true }, "Keep");
    const note = h("span.muted.small-note", { hidden: true }, "Its scans are kept.");
    const el = h("div.actions.delete-control", del, note, confirm, keep);
    const ask = (on) => { del.hidden = on; confirm.hidden = !on; keep.hidden = !on; note.hidden = !on; (on ? confirm : del).focus(); };
    del.addEventListener("click", () => ask(true));
    keep.addEventListener("click", () => ask(false));
    confirm.addEventListener("click", async () => {
      confirm.disabled = true;
      try {
        await api.del(`/connectors/${c.id}`);
        remove(c.id);
        toast(`Connector ${c.name} deleted`, "success");
      } catch (e) {
        if (e instanceof api.ApiError && e.status === 404) { remove(c.id); return; }
        const entry = cards.get(c.id);
        if (entry) clear(entry.alert, errorBox(e));
        confirm.disabled = false;
      }
    });
    return { el };
  }

  function remove(id) {
    const entry = cards.get(id);
    if (!entry) return;
    entry.el.remove();
    cards.delete(id);
    if (entry.scanId) byScan.delete(entry.scanId);
    empty.hidden = cards.size > 0;
  }

  function place(c) {
    if (cards.has(c.id)) return;
    const el = card(c);
    // Sorted by name, as the API lists them.
    const after = [...cards.values()].find((e) => e.el.isConnected && e.c.name.localeCompare(c.name) > 0);
    if (after) grid.insertBefore(el, after.el);
    else grid.append(el);
    empty.hidden = true;
    if (c.last_full_scan) {
      const entry = cards.get(c.id);
      entry.scanId = c.last_full_scan.id;
      byScan.set(entry.scanId, entry);
      readScan(entry, entry.scanId);
    }
  }

  // ---- live events ------------------------------------------------------------------------

  const live = await followOrg({
    onError: (e) => clear(status, errorBox(e)),
    onEvent: (kind, ev) => {
      if (!ev || !ev.scan_id) return;
      const entry = byScan.get(ev.scan_id);
      if (kind === "progress" && entry && entry.scan) {
        entry.scan = { ...entry.scan, progress: mergeProgress(entry.scan.progress, ev.data) };
        paint(entry);
      } else if (kind === "state") {
        if (entry) {
          entry.floor = ++seq;
          if (ev.data?.to) announcer.textContent = `Full scan of ${entry.c.name}: ${ev.data.to}`;
          if (entry.scan) entry.scan = { ...entry.scan, state: ev.data?.to || entry.scan.state };
          else if (entry.c.last_full_scan) entry.c.last_full_scan.state = ev.data?.to || entry.c.last_full_scan.state;
          paint(entry);
          readScan(entry, ev.scan_id);
        } else if (ev.data?.from === "created" && cards.size) {
          maybeFullScan(ev.scan_id);
        }
      }
    },
  });

  try {
    let cursor = null;
    do {
      const page = await api.get("/connectors", { query: { limit: 100, cursor } });
      for (const c of page.items) place(c);
      cursor = page.next_cursor;
    } while (cursor);
    empty.hidden = cards.size > 0;
  } catch (e) {
    clear(status, errorBox(e));
  }

  if (isAdmin) {
    const form = await registerForm();
    // Not if the person navigated away meanwhile (`main` is then another page's).
    if (grid.isConnected) main.append(form);
  }

  return () => live.close();

  // ---- registration (admins) --------------------------------------------------------------

  async function registerForm() {
    let scanners = [];
    let scannersError = null;
    try {
      scanners = (await api.get("/scanners")).items || [];
    } catch (e) { scannersError = e; }
    const forLocations = scanners.filter((s) => (s.target_kinds || []).includes("location"));
    const listed = forLocations.length ? forLocations : scanners;

    const errors = new Map(); // data-pointer → { field, error }
    const formError = h("div.form-error");
    function field(id, pointer, label, input, help) {
      const err = h("p.field-error", { id: `${id}-error` });
      input.id = id;
      input.dataset.pointer = pointer;
      input.setAttribute("aria-describedby", [help ? `${id}-help` : null, err.id].filter(Boolean).join(" "));
      errors.set(pointer, { field: input, error: err });
      return h("div.field", h("label", { for: id }, label), input,
        help ? h("p.help", { id: `${id}-help` }, help) : null, err);
    }

    const name = h("input", { type: "text", name: "name", required: true, maxlength: "200", autocomplete: "off" });
    const loc = h("input", { type: "text", name: "location", required: true, spellcheck: "false", autocomplete: "off",
      placeholder: "file:///srv/share/" });
    const cred = h("input", { type: "text", name: "credential", spellcheck: "false", autocomplete: "off",
      pattern: "[A-Za-z0-9._-]+", maxlength: "128" });
    const action = h("select", { name: "action" }, ACTIONS.map(([v, l]) => h("option", { value: v }, l)));
    const quarantine = h("input", { type: "text", name: "quarantine_prefix", value: "quarantine/", spellcheck: "false" });
    const suspicious = h("input#connector-suspicious", { type: "checkbox", name: "act_on_suspicious",
      "data-pointer": "/action/act_on_suspicious" });
    const quarantineField = field("connector-quarantine", "/action/quarantine_prefix", "Quarantine prefix", quarantine,
      "Where “move” puts objects, inside the location.");
    quarantineField.hidden = true;
    const suspiciousErr = h("p#connector-suspicious-error.field-error");
    errors.set("/action/act_on_suspicious", { field: suspicious, error: suspiciousErr });
    suspicious.setAttribute("aria-describedby", suspiciousErr.id);
    action.addEventListener("change", () => { quarantineField.hidden = action.value !== "move"; });

    // Scanners: a checkbox each, with its params (JSON) shown once it is picked.
    const scannerRows = listed.map((s) => {
      const cb = h("input", { type: "checkbox", name: "scanner", value: s.name, id: `scanner-${s.name}`,
        "aria-describedby": `scanner-${s.name}-desc` });
      const params = h("textarea", { "data-scanner": s.name, rows: "3", spellcheck: "false", placeholder: "{}",
        id: `scanner-${s.name}-params`, "aria-describedby": `scanner-${s.name}-params-error` });
      const err = h("p.field-error", { id: `scanner-${s.name}-params-error` });
      const paramsBox = h("div.scanner-params", { hidden: true },
        h("label", { for: params.id }, `Params of ${s.name} (JSON object, optional)`), params, err);
      cb.addEventListener("change", () => { paramsBox.hidden = !cb.checked; });
      const row = h("div.scanner-choice",
        h("label.check", { for: cb.id }, cb, h("code", s.name),
          s.available === false ? h("span.badge.state-failed", "not available here") : null),
        h("p.help", { id: `scanner-${s.name}-desc` }, s.description || ""),
        paramsBox);
      return { s, cb, params, err, row };
    });
    const scannersErr = h("p#connector-scanners-error.field-error");
    const scannersSet = h("fieldset#connector-scanners", { "data-pointer": "/scanners", "aria-describedby": scannersErr.id },
      h("legend", "Scanners"),
      h("p.help", forLocations.length
        ? "The scanners a full scan runs on every object of the location. Pick at least one."
        : "No scanner of this server says it reads storage locations; the registration will tell whether one fits."),
      scannersError ? errorBox(scannersError) : null,
      scannerRows.map((r) => r.row),
      scannersErr);
    errors.set("/scanners", { field: scannersSet, error: scannersErr });

    const submit = h("button#connector-submit.primary", { type: "submit" }, "Register");
    const form = h("form#connector-form.card", { novalidate: true, "aria-labelledby": "register" },
      h("h2#register", { tabindex: "-1" }, "Register a connector"),
      formError,
      h("div.grid2",
        field("connector-name", "/name", "Name", name, "Unique in your organisation, e.g. “finance share”."),
        field("connector-location", "/location", "Location", loc,
          h("span", "A folder on the server (", h("code", "file:///srv/share/"), ", inside its ", h("code", "scan.local_roots"),
            "), ", h("code", "s3://bucket/prefix"), ", ", h("code", "az://account/container/prefix"), ", ",
            h("code", "gs://bucket/prefix"), " or ", h("code", "sharepoint://site/drive/path"), ".")),
        field("connector-credential", "/credential", "Credential (optional)", cred,
          h("span", "The name of a server credential (", h("code", "[connectors.credentials.<name>]"),
            " in the server's config), never the secret itself. Cloud and SharePoint locations need one."))),
      scannersSet,
      h("fieldset", h("legend", "On detection"),
        field("connector-action", "/action/action", "What a full scan does with a malicious object", action),
        quarantineField,
        h("label.check", { for: suspicious.id }, suspicious, "Also act on suspicious objects"),
        suspiciousErr),
      h("div.actions", submit));

    function resetErrors() {
      clear(formError);
      for (const { field: f, error } of errors.values()) { f.removeAttribute("aria-invalid"); error.textContent = ""; }
      for (const r of scannerRows) { r.params.removeAttribute("aria-invalid"); r.err.textContent = ""; }
    }
    // A fieldset takes no focus: its first box does.
    function focusField(f) {
      (f.tagName === "FIELDSET" ? f.querySelector("input, textarea, select") || f : f).focus();
    }
    function fieldError(f, error, text) {
      f.setAttribute("aria-invalid", "true");
      error.textContent = text;
    }

    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      resetErrors();
      const picked = scannerRows.filter((r) => r.cb.checked);
      // Pointers of the picked scanners, by their index in this request.
      const perScanner = new Map(picked.map((r, i) => [`/scanners/${i}`, r]));
      let firstBad = null;
      const bad = (f, error, text) => { fieldError(f, error, text); firstBad ||= f; };
      if (!name.value.trim()) bad(name, errors.get("/name").error, "Give the connector a name.");
      if (!loc.value.trim()) bad(loc, errors.get("/location").error, "Give the location to scan.");
      if (!picked.length) bad(scannersSet, scannersErr, "Pick at least one scanner.");
      const specs = [];
      for (const r of picked) {
        const text = r.params.value.trim();
        let params = {};
        if (text) {
          try { params = JSON.parse(text); } catch (err) { bad(r.params, r.err, `Not JSON: ${err.message}`); continue; }
          if (!params || typeof params !== "object" || Array.isArray(params)) { bad(r.params, r.err, "Params are a JSON object, e.g. {\"max_size\": 1000000}."); continue; }
        }
        specs.push({ name: r.s.name, params });
      }
      if (firstBad) { focusField(firstBad); return; }
      const body = {
        name: name.value.trim(),
        location: { kind: "location", value: loc.value.trim() },
        scanners: specs,
        action: { action: action.value, quarantine_prefix: quarantine.value || "quarantine/", act_on_suspicious: suspicious.checked },
      };
      if (cred.value.trim()) body.credential = cred.value.trim();
      submit.disabled = true;
      try {
        const c = await api.post("/connectors", body);
        place(c);
        form.reset();
        quarantine.value = "quarantine/";
        quarantineField.hidden = true;
        for (const r of scannerRows) r.row.querySelector(".scanner-params").hidden = true;
        toast(`Connector ${c.name} registered`, "success");
        cards.get(c.id)?.title.setAttribute("tabindex", "-1");
        cards.get(c.id)?.title.focus();
      } catch (err) {
        if (err instanceof api.ApiError && err.status === 422 && err.path) {
          const target = locate(err.path, perScanner);
          if (target) { fieldError(target.field, target.error, err.detail || message(err)); focusField(target.field); return; }
        }
        if (err instanceof api.ApiError && err.status === 409) {
          const t = errors.get("/name");
          fieldError(t.field, t.error, err.detail || message(err));
          name.focus();
          return;
        }
        clear(formError, errorBox(err));
      } finally {
        submit.disabled = false;
      }
    });

    // The field a 422's JSON pointer names: the longest known prefix of it.
    function locate(path, perScanner) {
      const m = /^\/scanners\/(\d+)(\/.*)?$/.exec(path);
      if (m) {
        const r = perScanner.get(`/scanners/${m[1]}`);
        if (r) {
          r.params.closest(".scanner-params").hidden = false;
          return { field: r.params, error: r.err };
        }
      }
      let best = null;
      for (const [p, t] of errors) {
        if ((path === p || path.startsWith(`${p}/`)) && (!best || p.length > best[0].length)) best = [p, t];
      }
      return best ? best[1] : null;
    }

    return form;
  }
}

function policyText(a) {
  if (!a || a.action === "none") return "report only";
  const what = { tag: "tag", move: `move to ${a.quarantine_prefix || "quarantine/"}`, delete: "delete" }[a.action] || a.action;
  return `${what} malicious${a.act_on_suspicious ? " and suspicious" : ""} objects`;
}

// "12 / 40 tasks processed": finished tasks over the expected total (the enumeration says how
// many tasks it will add; the verdicts count the objects).
function processedText(p) {
  const processed = (p.done || 0) + (p.failed || 0);
  const total = Math.max(p.enqueued || 0, p.expected_total || 0);
  const counting = !p.enqueue_done && (p.expected_total === null || p.expected_total === undefined);
  let s = `${num(processed)} / ${num(total)} tasks processed`;
  if (counting) s += " (still listing)";
  if (p.failed) s += `, ${num(p.failed)} failed`;
  return s;
}
