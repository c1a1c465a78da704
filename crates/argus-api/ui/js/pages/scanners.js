// Scanners (/ui/scanners): the scanner registry as a reference: what each scanner does, where it
// comes from, which target kinds it accepts, whether it can run here (and why not), and its
// params as a table read from its JSON schema (name, type, default, description, constraints).
//
// Invariants:
// - One card per scanner of `GET /api/v1/scanners`, in the registry's order:
//   `.scanner[data-scanner="<name>"]`, with `[data-available="true|false"]`.
// - The filter only hides cards (`hidden`); it never re-reads the registry.
// - "Use in a new scan" opens /ui/scans/new?scanner=<name>, which ticks it.

import * as api from "../api.js";
import { h, clear, emptyState } from "../dom.js";
import { typeOf, typeLabel, constraints, rich } from "../schema_form.js";

export async function render(main, ctx) {
  const abort = new AbortController();
  const page = await api.get("/scanners", { signal: abort.signal });
  const scanners = page.items || [];
  const canWrite = !ctx.me || ctx.me.role !== "viewer";

  const filter = h("input#scanner-filter", { type: "search", autocomplete: "off", placeholder: "name, kind or word",
    "aria-describedby": "scanner-count" });
  const onlyAvailable = h("input#only-available", { type: "checkbox" });
  const count = h("p#scanner-count.muted", { role: "status" });
  const cards = scanners.map(card);
  const list = h("div.scanner-cards", cards.map((c) => c.el));

  clear(main,
    h("div.page-head", h("h1", "Scanners"),
      canWrite ? h("div.actions", h("a.button.primary", { href: "/ui/scans/new", "data-link": true }, "New scan")) : null),
    h("p.muted", "Every scanner this server knows. A scan runs each of its scanners on the targets whose kind the scanner accepts; params are checked against the scanner's schema when the scan is created."),
    h("div.toolbar",
      h("div", h("label", { for: filter.id }, "Filter"), filter),
      h("div.check-row", onlyAvailable, h("label.check-label", { for: onlyAvailable.id }, "Available only"))),
    count,
    scanners.length > 1 ? h("div.scanner-index", { role: "navigation", "aria-label": "Scanners on this page" },
      cards.map((c) => { c.link = h("a", { href: `#${c.headingId}` }, c.info.name); return c.link; })) : null,
    scanners.length ? list : emptyState("This server has no scanners."));

  function apply() {
    const q = filter.value.trim().toLowerCase();
    let shown = 0;
    for (const c of cards) {
      const ok = (!q || c.text.includes(q)) && (!onlyAvailable.checked || c.info.available);
      c.el.hidden = !ok;
      c.link.hidden = !ok;
      if (ok) shown += 1;
    }
    const avail = scanners.filter((s) => s.available).length;
    count.textContent = shown === scanners.length
      ? `${scanners.length} scanners, ${avail} available on this server.`
      : `Showing ${shown} of ${scanners.length} scanners.`;
  }
  filter.addEventListener("input", apply);
  onlyAvailable.addEventListener("change", apply);
  apply();
  return () => abort.abort();
}

function card(info) {
  const schema = info.params_schema || {};
  const props = schema.properties && typeof schema.properties === "object" ? schema.properties : {};
  const required = new Set(Array.isArray(schema.required) ? schema.required : []);
  const headingId = `scanner-${info.name.replace(/[^A-Za-z0-9_-]/g, "-")}`;
  const entries = Object.entries(props);
  const params = entries.length
    ? h("div.table-wrap", h("table.responsive.params-table", { "aria-labelledby": headingId },
      h("caption.sr-only", `Parameters of ${info.name}`),
      h("thead", h("tr",
        h("th", { scope: "col" }, "Param"), h("th", { scope: "col" }, "Type"), h("th", { scope: "col" }, "Default"),
        h("th", { scope: "col" }, "Description"), h("th", { scope: "col" }, "Constraints"))),
      h("tbody", entries.map(([key, p]) => {
        const prop = p || {};
        const cons = constraints(prop, required.has(key));
        return h("tr", { "data-param": key },
          h("td", { "data-label": "Param" }, h("code", key)),
          h("td", { "data-label": "Type" }, typeLabel(prop)),
          h("td", { "data-label": "Default" }, prop.default === undefined ? h("span.muted", "—") : h("code", JSON.stringify(prop.default))),
          h("td", { "data-label": "Description" }, prop.description || prop.title ? rich(prop.description || prop.title) : h("span.muted", "—")),
          h("td", { "data-label": "Constraints" }, cons.length ? cons.join(" · ") : h("span.muted", "—")));
      }))))
    : h("p.muted", typeOf(schema).type === "object" && schema.additionalProperties !== false && !entries.length
      ? "No declared parameters." : "No parameters.");
  const extra = schema.additionalProperties === false ? null
    : entries.length ? h("p.help", "Other keys are accepted too.") : null;

  const el = h("article.card.scanner", { "data-scanner": info.name, "data-available": String(!!info.available), "aria-labelledby": headingId },
    h("div.scanner-head",
      h("h2", { id: headingId }, h("code", info.name)),
      h("span.pill", { title: "Source" }, info.source),
      info.available
        ? h("span.badge.state-completed", "available")
        : h("span.badge.state-failed", "unavailable")),
    h("p", info.description ? rich(info.description) : h("span.muted", "No description.")),
    info.available ? null : h("p.unavailable", h("strong", "Why not: "), info.detail || "no reason given"),
    info.source === "internal" ? h("p.muted", "Run by the platform only, for remediation (Clean and Push on a scan's page); a scan config cannot name it.") : null,
    h("dl.kv",
      h("dt", "Target kinds"),
      h("dd", (info.target_kinds || []).length ? info.target_kinds.map((k) => h("span.pill.kind", k)) : h("span.muted", "none"))),
    h("h3", "Parameters"),
    params,
    extra,
    info.available && info.source !== "internal" ? h("p", h("a", { href: `/ui/scans/new?scanner=${encodeURIComponent(info.name)}`, "data-link": true }, `Use ${info.name} in a new scan`)) : null);
  const text = [info.name, info.description, info.source, ...(info.target_kinds || []), ...Object.keys(props)].join(" ").toLowerCase();
  return { el, info, text, headingId };
}
