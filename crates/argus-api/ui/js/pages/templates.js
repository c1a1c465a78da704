// Templates (/ui/templates): the org's saved scan configs, by name, with a way to start a scan
// from one (the New scan page, preselected), edit it, or delete it (after a confirmation).
//
// Invariants:
// - One row per template: `#templates-table tr[data-template-id="<id>"]`, with its name,
//   description, scanners and last update; the list follows the API's cursor ("Load more").
// - Delete asks first (window.confirm) and removes the row only once the API said 204 (a 404
//   means someone else deleted it: the row goes too).
// - A viewer sees the list and "New scan" links (the server refuses the rest with 403).

import * as api from "../api.js";
import { h, clear, ago, errorBox, emptyState, toast, message } from "../dom.js";

const PAGE = 50;

export async function render(main, ctx) {
  const abort = new AbortController();
  const canWrite = !ctx.me || ctx.me.role !== "viewer";
  const tbody = h("tbody");
  const table = h("table#templates-table.responsive",
    h("thead", h("tr",
      h("th", { scope: "col" }, "Name"),
      h("th", { scope: "col" }, "Description"),
      h("th", { scope: "col" }, "Scanners"),
      h("th", { scope: "col" }, "Updated"),
      h("th", { scope: "col" }, "Actions"))),
    tbody);
  const status = h("div");
  const more = h("button", { type: "button", hidden: true }, "Load more");
  const wrap = h("div.table-wrap", table);

  clear(main,
    h("div.page-head", h("h1", "Templates"),
      h("div.actions", canWrite ? h("a#new-template.button.primary", { href: "/ui/templates/new", "data-link": true }, "New template") : null)),
    h("p.muted", "Saved scan configurations: scanners with their params, targets and limits. Start a scan from one and change what you need first."),
    status, wrap, h("p", more));

  let count = 0;
  function row(t) {
    const scanners = (t.config?.scanners || []).map((s) => s.name);
    const targets = t.config?.targets?.length || 0;
    const del = h("button.small.danger", { type: "button", "data-action": "delete", "aria-label": `Delete template ${t.name}` }, "Delete");
    const tr = h("tr", { "data-template-id": t.id },
      h("td", { "data-label": "Name" },
        h("a.template-name", { href: `/ui/templates/${t.id}`, "data-link": true }, t.name)),
      h("td", { "data-label": "Description" }, t.description ? h("span.desc", t.description) : h("span.muted", "—")),
      h("td", { "data-label": "Scanners" }, h("div",
        h("span.scanners", scanners.length ? scanners.map((s, i) => [i ? ", " : "", h("code", s)]) : "—"),
        h("div.muted.small", `${targets} target${targets === 1 ? "" : "s"}`))),
      h("td", { "data-label": "Updated", title: t.updated_at }, h("time", { datetime: t.updated_at }, ago(t.updated_at))),
      h("td", { "data-label": "Actions" }, h("div.actions", { role: "group", "aria-label": `Actions for ${t.name}` },
        h("a.button.small.primary", { href: `/ui/scans/new?template=${t.id}`, "data-link": true, "data-action": "scan",
          "aria-label": `New scan from ${t.name}` }, "New scan"),
        canWrite ? h("a.button.small", { href: `/ui/templates/${t.id}`, "data-link": true, "data-action": "edit",
          "aria-label": `Edit ${t.name}` }, "Edit") : null,
        canWrite ? del : null)));
    del.addEventListener("click", async () => {
      if (!window.confirm(`Delete the template "${t.name}"? Scans made from it are kept.`)) return;
      del.disabled = true;
      try {
        await api.del(`/templates/${t.id}`, { signal: abort.signal });
        toast(`Template "${t.name}" deleted`, "success");
        gone(tr);
      } catch (e) {
        if (e.name === "AbortError") return;
        if (e instanceof api.ApiError && e.status === 404) { gone(tr); return; }
        del.disabled = false;
        toast(`Delete failed: ${message(e)}`, "error");
      }
    });
    return tr;
  }

  function gone(tr) {
    // Keep the keyboard focus on the table: the next row's first link, or the heading.
    const next = tr.nextElementSibling || tr.previousElementSibling;
    tr.remove();
    count -= 1;
    if (next) next.querySelector("a")?.focus();
    empty();
  }

  function empty() {
    wrap.hidden = count === 0;
    if (count === 0) {
      clear(status, emptyState("No templates yet. Save one from the New scan page, or write one here.",
        canWrite ? h("a.button.primary", { href: "/ui/templates/new", "data-link": true }, "New template") : null));
    } else clear(status);
  }

  let cursor = null;
  async function load() {
    more.disabled = true;
    try {
      const page = await api.get("/templates", { query: { limit: PAGE, cursor }, signal: abort.signal });
      for (const t of page.items) { tbody.append(row(t)); count += 1; }
      cursor = page.next_cursor;
      more.hidden = !cursor;
      empty();
    } catch (e) {
      if (e.name === "AbortError") return;
      clear(status, errorBox(e));
    } finally {
      more.disabled = false;
    }
  }
  more.addEventListener("click", load);
  await load();
  return () => abort.abort();
}
