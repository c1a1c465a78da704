// Scan detail: state and lifecycle buttons, progress and counters, the event timeline, the
// findings table with triage, verdicts of storage scans, remediation of secrets scans (clean,
// download, push, with the derived scans' progress) and artifacts.
//
// Live: the scan's own event stream (SSE) replays its history into the timeline, then follows;
// a `state` event re-reads the scan (one GET), so the buttons follow the lifecycle. Derived
// clean/push scans get their own streams while they run. Finding events do not reorder the
// table under the person's cursor: they raise a "new findings" notice that reloads it.

import * as api from "../api.js";
import { stream } from "../sse.js";
import { h, clear, badge, severityBadge, progressBar, setProgress, fraction, idPill, num, duration,
  when, summary, TERMINAL, errorBox, emptyState, toast, message, mergeProgress } from "../dom.js";
import { controls } from "../scanctl.js";

const TRIAGE = ["open", "selected", "false_positive", "accepted", "fixed"];
const SEVERITIES = ["info", "low", "medium", "high", "critical"];
const FINDINGS_PAGE = 50;
const TIMELINE_MAX = 500;

export async function render(main, ctx) {
  const id = ctx.params[0];
  let view;
  try {
    view = await api.get(`/scans/${id}`);
  } catch (e) {
    if (e instanceof api.ApiError && e.status === 404) {
      clear(main, h("h1", "Scan not found"), h("p", "No scan ", h("code", id), " exists in your organisation (it may have been deleted). ",
        h("a", { href: "/ui/", "data-link": true }, "Back to the scans")));
      return null;
    }
    throw e;
  }
  // GET /scans/{id} answers the scan with `awaiting_selection` beside its fields.
  let scan = view;
  const closers = [];

  // ---- header, state, progress --------------------------------------------------------------
  const stateEl = h("span#scan-state");
  const ctl = controls(scan, (s) => update(s));
  const bar = progressBar(fraction(scan.progress), "Scan progress");
  bar.id = "scan-progress";
  const stats = h("div.stats");
  const summaryEl = h("p#scan-summary", { role: "status" });
  const deleteBtn = h("button.small.danger", { type: "button", id: "delete-scan" }, "Delete");
  deleteBtn.addEventListener("click", async () => {
    if (!confirm(`Delete scan "${scan.name}" with its findings and artifacts?`)) return;
    try { await api.del(`/scans/${id}`); toast("Scan deleted", "success"); ctx.navigate("/ui/"); }
    catch (e) { toast(message(e), "error"); }
  });

  const header = h("div.page-head",
    h("div", h("h1", scan.name), h("div.actions", idPill(scan.id, "Scan id"), stateEl,
      scan.source_scan_id ? h("span.muted", "acts on ", h("a", { href: `/ui/scans/${scan.source_scan_id}`, "data-link": true }, "scan …", scan.source_scan_id.slice(-8))) : null)),
    h("div.actions", ctl.el, deleteBtn));

  function stat(k, v) { return h("div.stat", h("div.v", v), h("div.k", k)); }
  function paint() {
    const p = scan.progress || {};
    clear(stateEl, badge(scan.state));
    setProgress(bar, fraction(p));
    const took = scan.started_at ? (scan.finished_at ? new Date(scan.finished_at) : new Date()) - new Date(scan.started_at) : null;
    clear(stats,
      stat("Tasks done", num(p.done)), stat("Failed", num(p.failed)), stat("Enqueued", num(p.enqueued)),
      stat("Expected", p.expected_total == null ? "—" : num(p.expected_total)), stat("Findings", num(p.findings)),
      stat(TERMINAL.has(scan.state) ? "Took" : "Running for", took == null ? "—" : duration(took)));
    if (p.verdicts && Object.keys(p.verdicts).length) {
      for (const [k, v] of Object.entries(p.verdicts)) stats.append(stat(`Verdicts: ${k}`, num(v)));
    }
    summaryEl.textContent = TERMINAL.has(scan.state) ? summary(scan)
      : scan.reason ? `${scan.state} (${scan.reason})` : "";
    ctl.update(scan);
    deleteBtn.hidden = !(scan.state === "created" || TERMINAL.has(scan.state));
    remediation.paint();
  }
  function update(s) { scan = s; paint(); }

  // ---- config ---------------------------------------------------------------------------------
  const cfg = scan.config || {};
  const configEl = h("details",
    h("summary", "Configuration"),
    h("dl.kv",
      h("dt", "Scanners"), h("dd", (cfg.scanners || []).map((s) => h("div", h("code", s.name),
        s.params && Object.keys(s.params).length ? h("span.muted", " ", JSON.stringify(s.params)) : null))),
      h("dt", "Targets"), h("dd", (cfg.targets || []).slice(0, 50).map((t) => h("div", h("span.pill", t.kind), " ", h("code", t.value))),
        (cfg.targets || []).length > 50 ? h("div.muted", `and ${num(cfg.targets.length - 50)} more`) : null),
      h("dt", "Depth"), h("dd", String(cfg.recursion_depth ?? 0)),
      h("dt", "Priority"), h("dd", cfg.priority || "medium"),
      cfg.max_duration ? [h("dt", "Max duration"), h("dd", duration(cfg.max_duration * 1000))] : null,
      cfg.max_results ? [h("dt", "Max results"), h("dd", num(cfg.max_results))] : null,
      cfg.scope && (cfg.scope.allow?.length || cfg.scope.deny?.length)
        ? [h("dt", "Scope"), h("dd", cfg.scope.allow?.length ? `allow ${cfg.scope.allow.join(", ")} ` : "", cfg.scope.deny?.length ? `deny ${cfg.scope.deny.join(", ")}` : "")] : null,
      h("dt", "Created"), h("dd", when(scan.created_at)),
      scan.started_at ? [h("dt", "Started"), h("dd", when(scan.started_at))] : null,
      scan.finished_at ? [h("dt", "Finished"), h("dd", when(scan.finished_at))] : null));

  // ---- timeline -------------------------------------------------------------------------------
  const timeline = h("ol.timeline#timeline", { "aria-label": "Event timeline" });
  let progressShown = 0;
  function addTimeline(kind, ev) {
    let text;
    const d = ev.data || {};
    if (kind === "state") text = [h("strong", d.from === d.to ? d.to : `${d.from} → ${d.to}`), d.reason ? ` (${d.reason})` : ""];
    else if (kind === "finding") text = ["finding: ", severityBadge(d.severity), " ", d.title];
    else if (kind === "task_failed") text = [h("strong", "task failed"), ` ${d.scanner}`, d.target?.value ? ` on ${d.target.value}` : "", d.error ? `: ${d.error}` : ""];
    else if (kind === "stuck") text = [h("strong", "stuck"), `: no task progress since ${new Date(d.since).toLocaleTimeString()}`];
    else if (kind === "unstuck") text = [h("strong", "moving again"), ` (stuck since ${new Date(d.since).toLocaleTimeString()})`];
    else if (kind === "progress") {
      // Keep the timeline readable: one progress line per 10 % step.
      const step = Math.floor(fraction(d) * 10);
      if (step <= progressShown && !(d.enqueue_done && d.done + d.failed === d.enqueued)) return;
      progressShown = step;
      text = `progress: ${num(d.done + d.failed)} / ${num(Math.max(d.enqueued, d.expected_total || 0))} tasks, ${num(d.findings)} findings`;
    } else return;
    timeline.append(h("li", { "data-kind": kind }, h("time", { datetime: ev.at }, new Date(ev.at).toLocaleTimeString()), h("span", text)));
    while (timeline.children.length > TIMELINE_MAX) timeline.firstElementChild.remove();
    timeline.scrollTop = timeline.scrollHeight;
  }

  // ---- findings -------------------------------------------------------------------------------
  const findings = findingsSection(scan, ctx, () => remediation.paint());

  // ---- verdicts (storage scans) ---------------------------------------------------------------
  const verdicts = verdictsSection(id);

  // ---- remediation (secrets scans) ------------------------------------------------------------
  const remediation = remediationSection(() => scan, closers);

  // ---- artifacts ------------------------------------------------------------------------------
  const artifactsEl = h("ul#artifacts");
  async function loadArtifacts() {
    try {
      const page = await api.get(`/scans/${id}/artifacts`, { query: { limit: 100 } });
      clear(artifactsEl, page.items.length ? page.items.map((a) => h("li",
        h("a", { href: `/api/v1/scans/${id}/artifacts/${encodeURIComponent(a.name)}`, onclick: (e) => {
          e.preventDefault();
          api.download(`/scans/${id}/artifacts/${encodeURIComponent(a.name)}`, a.name).catch((err) => toast(message(err), "error"));
        } }, a.name), h("span.muted", ` ${num(a.size)} bytes, ${a.content_type}`))) : h("li.muted", "No artifacts."));
    } catch (e) { clear(artifactsEl, h("li", errorBox(e))); }
  }

  clear(main, header, bar, summaryEl, stats, configEl,
    remediation.el,
    h("h2", "Findings"), findings.el,
    verdicts.el,
    h("h2", "Timeline"), timeline,
    h("h2", "Artifacts"), artifactsEl);
  paint();
  findings.load(true);
  verdicts.load();
  loadArtifacts();
  remediation.loadDerived();

  // The scan's stream: from its first event (timeline), then live.
  const live = stream(`/scans/${id}/events`, {
    lastEventId: 0,
    onEvent: async (kind, ev) => {
      addTimeline(kind, ev);
      if (kind === "progress") {
        scan = { ...scan, progress: mergeProgress(scan.progress, ev.data) };
        paint();
      } else if (kind === "state" || kind === "stuck" || kind === "unstuck") {
        // The scan's state, or its stuck reason, changed: read it again.
        try { update(await api.get(`/scans/${id}`)); } catch { /* the next event retries */ }
        if (TERMINAL.has(ev.data?.to)) { loadArtifacts(); findings.load(true); verdicts.load(); }
      } else if (kind === "finding") {
        findings.notice();
      }
    },
    onError: (e) => timeline.append(h("li", errorBox(e))),
  });
  closers.push(() => live.close());
  return () => closers.forEach((c) => c());
}

function findingsSection(scan, ctx, onTriage) {
  const id = scan.id;
  const canWrite = ctx.me && ctx.me.role !== "viewer";
  let cursor = null;
  const sel = new Set();
  const tbody = h("tbody");
  const status = h("div");
  const fresh = h("button.small", { type: "button", hidden: true, id: "findings-refresh" }, "New findings: refresh");
  const more = h("button", { type: "button", hidden: true }, "Load more");
  const minSev = h("select#f-min-severity", h("option", { value: "" }, "Any"), SEVERITIES.map((s) => h("option", { value: s }, `${s} or worse`)));
  const triage = h("select#f-triage", h("option", { value: "" }, "Any"), TRIAGE.map((t) => h("option", { value: t }, t.replace("_", " "))));
  const kind = h("input#f-kind", { type: "search", placeholder: "e.g. aws-access-key", size: 18 });
  const sort = h("select#f-sort", h("option", { value: "severity" }, "Most severe first"),
    h("option", { value: "created" }, "Oldest first"), h("option", { value: "created_desc" }, "Newest first"));
  const bulkSelect = h("button.small", { type: "button", id: "bulk-select", disabled: true }, "Select for cleaning");
  const bulkFp = h("button.small", { type: "button", id: "bulk-false-positive", disabled: true }, "Mark false positive");
  const checkAll = h("input", { type: "checkbox", "aria-label": "Check every finding shown" });
  for (const el of [minSev, triage, sort]) el.addEventListener("change", () => load(true));
  let kindTimer = null;
  kind.addEventListener("input", () => { clearTimeout(kindTimer); kindTimer = setTimeout(() => load(true), 300); });
  more.addEventListener("click", () => load(false));
  fresh.addEventListener("click", () => load(true));
  checkAll.addEventListener("change", () => {
    for (const cb of tbody.querySelectorAll("input[type=checkbox]")) { cb.checked = checkAll.checked; cb.dispatchEvent(new Event("change")); }
  });
  bulkSelect.addEventListener("click", () => bulk({ select: [...sel], false_positives: [] }));
  bulkFp.addEventListener("click", () => bulk({ select: [], false_positives: [...sel] }));

  async function bulk(body) {
    try {
      const counts = await api.post(`/scans/${id}/findings/select`, body);
      toast(`Triage saved: ${Object.entries(counts).map(([k, v]) => `${num(v)} ${k.replace("_", " ")}`).join(", ")}`, "success");
      sel.clear();
      await load(true);
      onTriage();
    } catch (e) { toast(message(e), "error"); }
  }

  function syncBulk() {
    bulkSelect.disabled = bulkFp.disabled = sel.size === 0;
    bulkSelect.textContent = sel.size ? `Select ${sel.size} for cleaning` : "Select for cleaning";
  }

  function row(f) {
    const triageCell = h("td", { "data-label": "Triage", "data-triage-state": f.triage }, f.triage.replace("_", " "));
    const cb = h("input", { type: "checkbox", "aria-label": `Check finding ${f.title}` });
    cb.addEventListener("change", () => { if (cb.checked) sel.add(f.id); else sel.delete(f.id); tr.classList.toggle("selected", cb.checked); syncBulk(); });
    const loc = f.location || {};
    const where = [loc.path ? `${loc.path}${loc.line ? `:${loc.line}` : ""}` : loc.url || f.target?.value || "",
      loc.commit ? ` @${loc.commit.slice(0, 10)}` : ""].join("");
    const actions = canWrite ? h("div.actions",
      ["selected", "false_positive", "open"].map((t) => {
        const b = h("button.small", { type: "button", "data-triage": t, hidden: f.triage === t },
          t === "selected" ? "Select" : t === "false_positive" ? "False positive" : "Reopen");
        b.addEventListener("click", async () => {
          b.disabled = true;
          try {
            const updated = await api.patch(`/findings/${f.id}`, { triage: t });
            const next = row(updated);
            tr.replaceWith(next);
            onTriage();
          } catch (e) { toast(message(e), "error"); b.disabled = false; }
        });
        return b;
      })) : null;
    const title = h("a", { href: "#", onclick: (e) => { e.preventDefault(); detail(f); } }, f.title);
    const tr = h("tr", { "data-finding-id": f.id },
      h("td", canWrite ? cb : null),
      h("td", { "data-label": "Severity" }, severityBadge(f.severity)),
      h("td", { "data-label": "Finding" }, title, h("div.muted", { style: { fontSize: "0.8rem" } }, f.kind, f.secret ? [" · ", h("code", f.secret.preview)] : null)),
      h("td.mono", { "data-label": "Where", style: { fontSize: "0.85rem", overflowWrap: "anywhere" } }, where),
      triageCell,
      h("td", { "data-label": "Actions" }, actions));
    return tr;
  }

  async function load(reset) {
    if (reset) { cursor = null; sel.clear(); syncBulk(); checkAll.checked = false; }
    fresh.hidden = true;
    more.disabled = true;
    try {
      const page = await api.get(`/scans/${id}/findings`, { query: {
        limit: FINDINGS_PAGE, cursor: reset ? null : cursor, sort: sort.value,
        min_severity: minSev.value, triage: triage.value, kind: kind.value.trim() } });
      if (reset) clear(tbody);
      for (const f of page.items) tbody.append(row(f));
      cursor = page.next_cursor;
      more.hidden = !cursor;
      clear(status, tbody.children.length ? null : emptyState(minSev.value || triage.value || kind.value ? "No findings match these filters." : "No findings."));
    } catch (e) { clear(status, errorBox(e)); }
    finally { more.disabled = false; }
  }

  function detail(f) {
    const loc = f.location || {};
    const data = f.data && typeof f.data === "object" ? f.data : null;
    const lineage = data?.lineage;
    const dlg = h("dialog#finding-detail", { "aria-labelledby": "finding-title" },
      h("h2#finding-title", f.title),
      h("dl.kv",
        h("dt", "Severity"), h("dd", severityBadge(f.severity)),
        h("dt", "Kind"), h("dd", h("code", f.kind)),
        h("dt", "Scanner"), h("dd", f.scanner),
        h("dt", "Target"), h("dd", h("span.pill", f.target.kind), " ", h("code", f.target.value)),
        loc.commit ? [h("dt", "Commit"), h("dd", h("code", loc.commit))] : null,
        loc.path ? [h("dt", "Path"), h("dd", h("code", loc.path), loc.line ? ` line ${loc.line}` : "")] : null,
        loc.url ? [h("dt", "URL"), h("dd", h("code", loc.url))] : null,
        data?.author ? [h("dt", "Author"), h("dd", String(data.author))] : null,
        data?.date ? [h("dt", "Date"), h("dd", String(data.date))] : null,
        f.secret ? [h("dt", "Secret"), h("dd", h("code", f.secret.preview), h("div.muted", "SHA-256 ", h("code", f.secret.sha256)))] : null,
        h("dt", "Triage"), h("dd", f.triage.replace("_", " "), f.previous_triage ? h("span.muted", ` (earlier: ${f.previous_triage.replace("_", " ")})`) : null),
        h("dt", "Fingerprint"), h("dd", h("code", f.fingerprint)),
        h("dt", "Found"), h("dd", when(f.created_at))),
      f.description ? h("p", f.description) : null,
      Array.isArray(lineage) && lineage.length ? [h("h3", "Lineage"), h("ol", lineage.map((l) => h("li", typeof l === "object" ? `${l.scanner || ""} ${l.target?.value || JSON.stringify(l)}` : String(l))))] : null,
      data ? [h("h3", "Details"), h("pre", JSON.stringify(data, null, 2))] : null,
      h("form", { method: "dialog" }, h("button.primary", "Close")));
    dlg.addEventListener("close", () => dlg.remove());
    document.body.append(dlg);
    dlg.showModal();
  }

  const el = h("section#findings",
    h("div.toolbar",
      h("div", h("label", { for: "f-min-severity" }, "Severity"), minSev),
      h("div", h("label", { for: "f-triage" }, "Triage"), triage),
      h("div", h("label", { for: "f-kind" }, "Kind"), kind),
      h("div", h("label", { for: "f-sort" }, "Sort"), sort),
      canWrite ? h("div.actions", bulkSelect, bulkFp) : null, fresh),
    h("div.table-wrap", h("table.responsive#findings-table",
      h("thead", h("tr", h("th", canWrite ? checkAll : null), h("th", "Severity"), h("th", "Finding"), h("th", "Where"), h("th", "Triage"), h("th", "Actions"))),
      tbody)),
    status, h("p", more));
  return { el, load, notice: () => { if (tbody.children.length < FINDINGS_PAGE || !cursor) fresh.hidden = false; } };
}

function verdictsSection(id) {
  const tbody = h("tbody");
  const more = h("button", { type: "button", hidden: true }, "Load more");
  const el = h("section#verdicts", { hidden: true }, h("h2", "Verdicts"),
    h("div.table-wrap", h("table.responsive", h("thead", h("tr", h("th", "Object"), h("th", "Verdict"), h("th", "Engine"), h("th", "Signature"), h("th", "Size"), h("th", "Action"))), tbody)),
    h("p", more));
  let cursor = null;
  async function load(next = false) {
    try {
      const page = await api.get(`/scans/${id}/verdicts`, { query: { limit: 100, cursor: next ? cursor : null } });
      if (!next) clear(tbody);
      for (const v of page.items) {
        tbody.append(h("tr", { "data-verdict": v.verdict },
          h("td.mono", { "data-label": "Object", style: { overflowWrap: "anywhere", fontSize: "0.85rem" } }, v.key),
          h("td", { "data-label": "Verdict" }, h("span.badge", { class: v.verdict === "malicious" ? "sev-critical" : v.verdict === "suspicious" ? "sev-medium" : v.verdict === "error" ? "sev-high" : "state-completed" }, v.verdict)),
          h("td", { "data-label": "Engine" }, v.engine),
          h("td", { "data-label": "Signature" }, v.signature || "—"),
          h("td.num", { "data-label": "Size" }, num(v.size)),
          h("td", { "data-label": "Action" }, v.action ? (typeof v.action === "object" ? JSON.stringify(v.action) : String(v.action)) : "—")));
      }
      cursor = page.next_cursor;
      more.hidden = !cursor;
      el.hidden = tbody.children.length === 0;
    } catch { el.hidden = true; }
  }
  more.addEventListener("click", () => load(true));
  return { el, load };
}

// Clean, download and push for a completed secrets scan; derived scans with live progress.
function remediationSection(getScan, closers) {
  const cleanBtn = h("button.primary", { type: "button", id: "clean" }, "Clean history");
  const format = h("select#download-format", { "aria-label": "Download format" },
    h("option", { value: "bundle" }, "git bundle"), h("option", { value: "zip" }, ".zip"), h("option", { value: "tar.gz" }, ".tar.gz"));
  const downloadBtn = h("button", { type: "button", id: "download" }, "Download");
  const pushUrl = h("input#push-url", { type: "url", placeholder: "https://git.example.com/org/repo.git", size: 40, "aria-describedby": "push-help" });
  const pushCred = h("input#push-credential", { type: "text", placeholder: "credential name", size: 16 });
  const pushForce = h("input#push-force", { type: "checkbox" });
  const pushBtn = h("button", { type: "button", id: "push" }, "Push");
  const pushErr = h("p.field-error", { role: "alert" });
  const derived = h("div#derived");
  const status = h("p.muted#remediation-status");
  const el = h("section#remediation", { hidden: true },
    h("h2", "Remediation"),
    h("p.muted", "Select findings below, then clean the repository's history of them; download the result or push it."),
    h("div.actions", cleanBtn, format, downloadBtn),
    h("div.toolbar",
      h("div", h("label", { for: "push-url" }, "Push to"), pushUrl),
      h("div", h("label", { for: "push-credential" }, "Credential (optional)"), pushCred),
      h("label.check", pushForce, " Force"), pushBtn),
    h("p.help#push-help", "Credentials are names configured on the server; they are never sent from this page."),
    pushErr, status, derived);

  const isSecrets = () => (getScan().config?.scanners || []).some((s) => s.name === "secrets");
  const streams = new Map();

  function paint() {
    const scan = getScan();
    el.hidden = !isSecrets();
    const done = scan.state === "completed";
    cleanBtn.disabled = !done;
    status.textContent = done ? "" : "Available once the scan has completed.";
  }

  async function run(btn, fn) {
    btn.disabled = true;
    pushErr.textContent = "";
    try { await fn(); } catch (e) { toast(message(e), "error"); return e; } finally { btn.disabled = false; paint(); }
    return null;
  }

  cleanBtn.addEventListener("click", () => run(cleanBtn, async () => {
    const clean = await api.post(`/scans/${getScan().id}/clean`, {});
    toast("Cleaning started", "success");
    addDerived(clean);
  }));
  downloadBtn.addEventListener("click", () => run(downloadBtn, async () => {
    const name = await api.download(`/scans/${getScan().id}/download?format=${encodeURIComponent(format.value)}`, `repository.${format.value}`);
    toast(`Downloaded ${name}`, "success");
  }));
  pushBtn.addEventListener("click", async () => {
    pushUrl.removeAttribute("aria-invalid");
    const body = { target_url: pushUrl.value.trim(), force: pushForce.checked };
    if (pushCred.value.trim()) body.credential = pushCred.value.trim();
    pushBtn.disabled = true;
    pushErr.textContent = "";
    try {
      const push = await api.post(`/scans/${getScan().id}/push`, body);
      toast("Push started", "success");
      addDerived(push);
    } catch (e) {
      pushErr.textContent = message(e);
      if (e.path === "/target_url") { pushUrl.setAttribute("aria-invalid", "true"); pushUrl.focus(); }
    } finally { pushBtn.disabled = false; }
  });

  const derivedScans = new Map(); // id → the latest snapshot shown
  function addDerived(s) {
    derivedScans.set(s.id, s);
    const existing = derived.querySelector(`[data-scan-id="${s.id}"]`);
    const bar = progressBar(fraction(s.progress), `Progress of ${s.name}`);
    const line = h("div.card.derived", { "data-scan-id": s.id, style: { marginTop: "0.5rem" } },
      h("div.actions", h("a", { href: `/ui/scans/${s.id}`, "data-link": true }, s.name), badge(s.state), idPill(s.id, "Scan id")),
      bar, h("div.muted", TERMINAL.has(s.state) ? summary(s) : s.reason || ""));
    if (existing) existing.replaceWith(line); else derived.append(line);
    if (!TERMINAL.has(s.state) && !streams.has(s.id)) {
      const st = stream(`/scans/${s.id}/events?until_terminal=true`, {
        untilEnd: true,
        onEvent: async (kind, ev) => {
          // Progress events carry the counters; only a state change needs the scan re-read.
          if (kind === "progress") {
            const cur = derivedScans.get(s.id);
            addDerived({ ...cur, progress: mergeProgress(cur.progress, ev.data) });
          } else if (kind === "state") {
            try { addDerived(await api.get(`/scans/${s.id}`)); } catch { /* next event */ }
          }
        },
      });
      streams.set(s.id, st);
      closers.push(() => st.close());
    }
  }

  async function loadDerived() {
    if (!isSecrets()) return;
    try {
      const page = await api.get("/scans", { query: { source_scan_id: getScan().id, limit: 20 } });
      for (const s of page.items.reverse()) {
        addDerived(s);
        const pushes = await api.get("/scans", { query: { source_scan_id: s.id, limit: 20 } });
        for (const p of pushes.items.reverse()) addDerived(p);
      }
    } catch { /* derived scans are a convenience */ }
  }
  return { el, paint, loadDerived };
}
