// Scans: the org's scans, newest first, with live progress from the org's event stream (SSE,
// no polling), lifecycle buttons that follow the events, and a summary once a scan ends.
//
// Rehydration: the list is one GET; the stream is opened first and its events are applied on
// top, so nothing between the two is missed. A `state` event re-reads that one scan (one GET),
// which also brings in scans created elsewhere. Progress counters only grow, so an event
// older than the list's snapshot never moves a bar back.

import * as api from "../api.js";
import { followOrg } from "../sse.js";
import { h, clear, badge, progressBar, setProgress, fraction, idPill, num, ago, summary,
  TERMINAL, errorBox, emptyState, message, mergeProgress } from "../dom.js";
import { controls } from "../scanctl.js";

const PAGE = 50;

export async function render(main, ctx) {
  const stateFilter = ctx.query.get("state") || "";
  const rows = new Map(); // scan id → { scan, tr, parts }
  const tbody = h("tbody");
  const table = h("table.responsive#scans-table",
    h("caption.muted", { style: { textAlign: "left", padding: "0.5rem 0.65rem" } }, "Live: updates arrive as they happen."),
    h("thead", h("tr", h("th", { scope: "col" }, "Scan"), h("th", { scope: "col" }, "State"),
      h("th", { scope: "col" }, "Progress"), h("th", { scope: "col", class: "num" }, "Findings"),
      h("th", { scope: "col" }, "Created"), h("th", { scope: "col" }, "Actions"))),
    tbody);
  const more = h("button", { type: "button", hidden: true }, "Load more");
  const tableWrap = h("div.table-wrap", table);
  const status = h("div");
  const filter = h("select#state-filter", { "aria-label": "Filter by state" },
    ["", "created", "queued", "running", "paused", "completed", "failed", "cancelled"].map((s) =>
      h("option", { value: s, selected: s === stateFilter }, s || "All states")));
  filter.addEventListener("change", () => ctx.navigate(filter.value ? `/ui/?state=${filter.value}` : "/ui/"));

  clear(main,
    h("div.page-head", h("h1", "Scans"),
      h("div.actions", filter, h("a.button.primary", { href: "/ui/scans/new", "data-link": true }, "New scan"))),
    status,
    tableWrap,
    h("p", more));

  function row(scan) {
    const name = h("a", { href: `/ui/scans/${scan.id}`, "data-link": true }, scan.name);
    const bar = progressBar(fraction(scan.progress), `Progress of ${scan.name}`);
    const counts = h("div.muted.counts", { style: { fontSize: "0.8rem" } });
    const ctl = controls(scan, (s) => apply(s));
    const stateCell = h("td", { "data-label": "State" });
    const findings = h("td.num", { "data-label": "Findings" });
    const created = h("td", { "data-label": "Created", title: scan.created_at }, ago(scan.created_at));
    const progressCell = h("td", { "data-label": "Progress" }, bar, counts);
    const tr = h("tr", { "data-scan-id": scan.id },
      h("td", { "data-label": "Scan" }, h("div", name), h("div", idPill(scan.id)),
        scan.config?.scanners ? h("div.muted", { style: { fontSize: "0.8rem" } }, scan.config.scanners.map((s) => s.name).join(", ")) : null),
      stateCell, progressCell, findings, created,
      h("td", { "data-label": "Actions" }, ctl.el));
    const entry = { scan, tr, bar, counts, ctl, stateCell, findings, progressCell };
    rows.set(scan.id, entry);
    paint(entry);
    return tr;
  }

  function paint(entry) {
    const { scan } = entry;
    const p = scan.progress || {};
    clear(entry.stateCell, badge(scan.state));
    setProgress(entry.bar, fraction(p));
    if (TERMINAL.has(scan.state)) {
      entry.counts.textContent = summary(scan);
      entry.counts.classList.add("summary");
    } else {
      const total = Math.max(p.enqueued || 0, p.expected_total || 0);
      entry.counts.textContent = `${num((p.done || 0) + (p.failed || 0))} / ${num(total)} tasks${p.failed ? `, ${num(p.failed)} failed` : ""}`;
      entry.counts.classList.remove("summary");
    }
    entry.findings.textContent = num(p.findings || 0);
    entry.ctl.update(scan);
  }

  // A newer snapshot of a scan (from a GET or an action's answer).
  function apply(scan) {
    const entry = rows.get(scan.id);
    if (!entry) {
      if (stateFilter && scan.state !== stateFilter) return;
      tbody.prepend(row(scan));
      tableWrap.hidden = false;
      clear(status);
      return;
    }
    entry.scan = scan;
    paint(entry);
  }

  function grow(entry, p) {
    entry.scan = { ...entry.scan, progress: mergeProgress(entry.scan.progress, p) };
    paint(entry);
  }

  async function refetch(id) {
    try {
      apply(await api.get(`/scans/${id}`));
    } catch (e) {
      if (e instanceof api.ApiError && e.status === 404) {
        rows.get(id)?.tr.remove();
        rows.delete(id);
      }
    }
  }

  // Open the stream first (it starts with the next event), then read the list.
  const live = await followOrg({
    onError: (e) => clear(status, errorBox(e)),
    onEvent: (kind, ev) => {
      if (!ev || !ev.scan_id) return;
      const entry = rows.get(ev.scan_id);
      if (kind === "progress" && entry) grow(entry, ev.data);
      else if (kind === "state") refetch(ev.scan_id);
    },
  });

  let cursor = null;
  async function load() {
    more.disabled = true;
    try {
      const page = await api.get("/scans", { query: { limit: PAGE, cursor, state: stateFilter || undefined } });
      for (const scan of page.items) {
        if (rows.has(scan.id)) continue;
        tbody.append(row(scan));
      }
      cursor = page.next_cursor;
      more.hidden = !cursor;
      // The table shows only once there is a row to show.
      tableWrap.hidden = !rows.size;
      if (!rows.size) clear(status, emptyState(stateFilter ? `No ${stateFilter} scans.` : "No scans yet.",
        h("a.button.primary", { href: "/ui/scans/new", "data-link": true }, "Start your first scan")));
      else clear(status);
    } catch (e) {
      clear(status, errorBox(e));
    } finally {
      more.disabled = false;
    }
  }
  more.addEventListener("click", load);
  try {
    await load();
  } catch (e) {
    clear(status, h("div.banner.error", { role: "alert" }, message(e)));
  }
  return () => live.close();
}
