// New scan (/ui/scans/new): pick scanners (with their params, from each scanner's JSON schema),
// targets and limits, or start from a template (`?template=<id>` preselects one; `?scanner=<name>`
// ticks a scanner); preview the plan, create and start the scan, or save the config as a
// template. Also exports `configForm`, the scan-config editor the template editor reuses.
//
// Invariants:
// - The request is exactly what a script would send: `POST /api/v1/scans {name, config, start}`
//   (plus `template_id` when the form was filled from a template), `POST /scans/plan {config}`,
//   `POST /templates {name, description, config}`.
// - `config.scanners` lists the ticked scanners in the page's order, and only those; the params
//   fields of scanner i carry `data-pointer="/config/scanners/i/params/<key>"`, re-numbered at
//   every tick, so a 422's `path` lands beside the field that caused it (schema_form.js).
//   Targets are numbered the same way over the non-empty rows, in order.
// - Params a ticked-then-unticked scanner had keep their values while the page lives, but are
//   sent only while it is ticked.
// - Nothing is created until `#create` (or the form's submit); `#plan` creates nothing.

import * as api from "../api.js";
import { h, clear, toast, message, num } from "../dom.js";
import { field, rich, uid, setError, errorSlot, describe, liveCheck, clearErrors, showErrors, placeApiError, schemaForm, check } from "../schema_form.js";

// TargetKind wire names (argus_core::target::TargetKind), with what a value looks like.
export const TARGET_KINDS = [
  ["domain", "example.com"],
  ["url", "https://example.com/login"],
  ["ip", "192.0.2.10 or 2001:db8::1"],
  ["cidr", "192.0.2.0/24"],
  ["service", "example.com:443 or [2001:db8::1]:22"],
  ["email", "security@example.com"],
  ["repo", "https://github.com/org/repo.git or a local path"],
  ["location", "s3://bucket/prefix, file:///srv/data, az://…, gs://…, sharepoint://…"],
  ["object", "s3://bucket/path/to/file"],
  ["upload", "the upload id of a file sent to POST /api/v1/scan/binary"],
];

const PRIORITIES = ["low", "medium", "high"];

// The config keys this form edits; others found in a loaded config are kept as they are.
const KNOWN = new Set(["scanners", "targets", "recursion_depth", "max_duration", "max_results", "max_tasks",
  "priority", "max_attempts", "scope", "rate_limit", "labels"]);

// ---- the scan-config editor ------------------------------------------------------------------

// A scan-config editor over the scanner registry (GET /scanners items).
// Returns { el, read(), set(config) → warnings, tick(name) }:
// - read() → { config, errors: [{control, message}] } (client-side checks; the pointers of every
//   field are renumbered to match `config`)
// - set(config): fills everything from a config (a template's); returns warnings for what it
//   could not show (scanners this server does not know).
export function configForm(registry) {
  // Internal scanners (git-clean, git-push) are put in scans by the platform only.
  const scanners = registry.filter((info) => info.source !== "internal").map((info) => scannerEntry(info));
  const byName = new Map(scanners.map((s) => [s.info.name, s]));
  let extraConfig = {};

  // Scanners.
  const scannersHelp = h("p#scanners-help.help", "Tick one or more. Each runs on every target whose kind it accepts; ",
    "unavailable ones cannot run on this server.");
  const scannerGroup = h("div#scanners.scanner-list", { role: "group", "aria-labelledby": "scanners-legend",
    "aria-describedby": "scanners-help scanners-error", tabindex: "-1", "data-pointer": "/config/scanners" },
  scanners.map((s) => s.choice));
  const scannersError = errorSlot(scannerGroup);
  const paramsBox = h("div#scanner-params");

  // Targets.
  const targetsHelp = h("p#targets-help.help",
    "What to scan. Each target is a kind and a value, e.g. domain ", h("code", "example.com"), ", url ",
    h("code", "https://example.com/"), ", cidr ", h("code", "192.0.2.0/24"), ", service ", h("code", "example.com:443"),
    ". Enter in a value adds a row; pasting several lines adds one row per line.");
  const targetsBox = h("div#targets", { role: "group", "aria-labelledby": "targets-legend",
    "aria-describedby": "targets-help targets-error", tabindex: "-1", "data-pointer": "/config/targets" },
  h("div.target-head", { "aria-hidden": "true" }, h("span", "Kind"), h("span", "Value"), h("span")));
  const targetsError = errorSlot(targetsBox);
  const addTarget = h("button#add-target", { type: "button" }, "Add target");
  const rows = [];

  function addRow(kind, value, { focus = false, after = null } = {}) {
    const n = uid("target");
    const select = h("select", { id: `${n}-kind`, name: "target-kind" },
      TARGET_KINDS.map(([k]) => h("option", { value: k }, k)));
    select.value = kind || guessKindFromScanners() || "domain";
    const input = h("input", { id: `${n}-value`, name: "target-value", type: "text", autocomplete: "off",
      spellcheck: "false", maxlength: 4096, "aria-describedby": "targets-help" });
    const kindLabel = h("label.sr-only", { for: select.id });
    const valueLabel = h("label.sr-only", { for: input.id });
    const remove = h("button.small.remove", { type: "button" }, "Remove");
    const kindErr = errorSlotFor(select);
    const valueErr = errorSlotFor(input);
    const row = { select, input, remove, kindLabel, valueLabel,
      el: h("div.target-row", h("div.tk", kindLabel, select), h("div.tv", valueLabel, input), remove, kindErr, valueErr) };
    const placeholder = () => { input.placeholder = TARGET_KINDS.find(([k]) => k === select.value)?.[1] || ""; };
    placeholder();
    select.addEventListener("change", () => { placeholder(); setError(select, kindProblem(select.value)); });
    input.value = value || "";
    liveCheck(input, () => valueProblem(input.value, rows.length === 1));
    // Enter in a value adds the next row (instead of submitting the form, which starts a scan).
    input.addEventListener("keydown", (e) => {
      if (e.key !== "Enter" || e.ctrlKey || e.metaKey || e.altKey || e.shiftKey || e.isComposing) return;
      e.preventDefault();
      if (!input.value.trim()) return;
      const i = rows.indexOf(row);
      if (rows[i + 1] && !rows[i + 1].input.value.trim()) rows[i + 1].input.focus();
      else addRow(select.value, "", { after: row, focus: true });
    });
    input.addEventListener("paste", (e) => {
      const text = e.clipboardData?.getData("text") || "";
      const lines = text.split(/\r?\n/).map((s) => s.trim()).filter(Boolean);
      if (lines.length < 2) return;
      e.preventDefault();
      const at = input.value.trim() ? lines : lines.slice(1);
      if (!input.value.trim()) input.value = lines[0];
      let prev = row;
      for (const line of at) prev = addRow(select.value, line, { after: prev });
      toast(`Added ${lines.length} targets from the pasted lines`);
    });
    remove.addEventListener("click", () => {
      const i = rows.indexOf(row);
      if (rows.length === 1) { input.value = ""; input.focus(); return; }
      rows.splice(i, 1);
      row.el.remove();
      renumberRows();
      (rows[Math.min(i, rows.length - 1)]).input.focus();
    });
    if (after) {
      rows.splice(rows.indexOf(after) + 1, 0, row);
      after.el.after(row.el);
    } else {
      rows.push(row);
      targetsBox.append(row.el);
    }
    renumberRows();
    if (focus) input.focus();
    return row;
  }

  function renumberRows() {
    rows.forEach((r, i) => {
      r.kindLabel.textContent = `Target ${i + 1} kind`;
      r.valueLabel.textContent = `Target ${i + 1} value`;
      r.remove.setAttribute("aria-label", `Remove target ${i + 1}`);
    });
  }
  addTarget.addEventListener("click", () => addRow(rows.at(-1)?.select.value, "", { focus: true }));

  // The kind a fresh row starts with: one every ticked scanner accepts, if any.
  function guessKindFromScanners() {
    const ticked = scanners.filter((s) => s.box.checked);
    if (!ticked.length) return null;
    const kinds = TARGET_KINDS.map(([k]) => k).filter((k) => ticked.some((s) => s.info.target_kinds.includes(k)));
    return kinds[0] || null;
  }

  function kindProblem(kind) {
    const ticked = scanners.filter((s) => s.box.checked);
    if (!ticked.length || ticked.some((s) => s.info.target_kinds.includes(kind))) return null;
    const accepted = [...new Set(ticked.flatMap((s) => s.info.target_kinds))];
    return `no ticked scanner accepts ${kind} targets (they accept ${accepted.join(", ") || "none"})`;
  }

  function valueProblem(value, only) {
    const v = value.trim();
    if (!v) return only ? "enter a target" : null;
    if (v.length > 4096) return "must be at most 4096 characters";
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u001f\u007f]/.test(v)) return "must not contain control characters";
    return null;
  }

  // Limits.
  const numInput = (id, attrs) => h("input", { id, type: "number", inputmode: "numeric", step: "1", ...attrs });
  const depth = numInput("recursion_depth", { min: 0, max: 16, placeholder: "0" });
  const priority = h("select#priority", PRIORITIES.map((p) => h("option", { value: p }, p)));
  const maxDuration = numInput("max_duration", { min: 1, placeholder: "no limit" });
  const maxResults = numInput("max_results", { min: 0, placeholder: "no limit" });
  const allow = h("textarea#scope_allow", { rows: 3, spellcheck: "false", placeholder: "example.com\n192.0.2.0/24" });
  const deny = h("textarea#scope_deny", { rows: 3, spellcheck: "false", placeholder: "admin.example.com" });
  const attempts = numInput("max_attempts", { min: 1, max: 20, placeholder: "3" });
  const maxTasks = numInput("max_tasks", { min: 1, placeholder: "the server's limit" });
  const rate = h("input#rate_limit", { type: "number", inputmode: "decimal", step: "any", min: 0.001, max: 1000000, placeholder: "no limit" });
  const labels = h("textarea#labels", { rows: 2, spellcheck: "false", placeholder: "team=red\nticket=SEC-42" });

  // Number fields and their rules (the API's schema for ScanConfig).
  const numbers = [
    [depth, "recursion_depth", { type: "integer", minimum: 0, maximum: 16 }],
    [maxDuration, "max_duration", { type: "integer", minimum: 1 }],
    [maxResults, "max_results", { type: "integer", minimum: 0 }],
    [attempts, "max_attempts", { type: "integer", minimum: 1, maximum: 20 }],
    [maxTasks, "max_tasks", { type: "integer", minimum: 1 }],
    [rate, "rate_limit", { type: "number", minimum: 0.001, maximum: 1000000 }],
  ];
  for (const [input, , rule] of numbers) {
    liveCheck(input, () => readNumber(input, rule).error || null);
  }

  let advanced;
  const el = h("div.config-form",
    h("fieldset.scanners-section", h("legend#scanners-legend", "Scanners"), scannersHelp, scannerGroup, scannersError),
    paramsBox,
    h("fieldset.targets-section", h("legend#targets-legend", "Targets"), targetsHelp, targetsBox, targetsError,
      h("div.actions", addTarget)),
    h("fieldset.limits",
      h("legend", "Limits and scope"),
      h("div.grid2",
        field(depth, { label: "Recursion depth", pointer: "/config/recursion_depth",
          help: "How many hops of discovered targets to follow: 0 runs only the targets above; at most 16." }),
        field(priority, { label: "Priority", pointer: "/config/priority",
          help: "Queue priority of the scan's tasks." }),
        field(maxDuration, { label: "Max duration (seconds)", pointer: "/config/max_duration",
          help: "Wall-clock limit; past it the scan fails with reason max_duration. Empty: no limit." }),
        field(maxResults, { label: "Max results", pointer: "/config/max_results",
          help: "Stop enqueuing once this many findings exist. Empty: no limit." }),
        field(allow, { label: "Scope: allow", pointer: "/config/scope/allow",
          help: "One pattern per line that chained targets must match: a host suffix (example.com), an address or CIDR block, * or an exact target. Empty: the targets' own domains and addresses." }),
        field(deny, { label: "Scope: deny", pointer: "/config/scope/deny",
          help: "One pattern per line; a chained target matching one is never scanned (deny wins over allow)." })),
      advanced = h("details.advanced",
        h("summary", "More limits"),
        h("div.grid2",
          field(attempts, { label: "Attempts per task", pointer: "/config/max_attempts",
            help: "Tries before a task is counted failed (1–20). Empty: 3." }),
          field(maxTasks, { label: "Max tasks", pointer: "/config/max_tasks",
            help: "Most tasks the scan may create, chained ones included. Empty: the server's scan.max_tasks." }),
          field(rate, { label: "Rate limit (requests per second)", pointer: "/config/rate_limit",
            help: "Most network requests per second of all the scan's network tasks together. Empty: no limit." }),
          field(labels, { label: "Labels", pointer: "/config/labels",
            help: "One key=value per line." })))));

  // ---- scanners ----

  function scannerEntry(info) {
    const box = h("input", { type: "checkbox", name: "scanner", value: info.name, id: uid(`scanner-${info.name}`) });
    const unavailable = !info.available;
    box.disabled = unavailable;
    const help = [
      rich(info.description || ""),
      " ",
      h("span.kinds", `Targets: ${(info.target_kinds || []).join(", ") || "none"}.`),
      unavailable ? h("span.unavailable", ` Not available on this server: ${info.detail || "no reason given"}.`) : null,
    ];
    const choice = field(box, {
      label: [h("span.scanner-name", info.name), " ", h("span.pill", info.source)],
      help, check: true, cls: unavailable ? "scanner-choice unavailable" : "scanner-choice",
    });
    const form = schemaForm(info.params_schema, { idBase: `p-${info.name}` });
    const fieldset = h("fieldset.scanner-params", { "data-scanner": info.name },
      h("legend", h("code", info.name), " parameters"), form.el);
    const entry = { info, box, choice, form, fieldset };
    box.addEventListener("change", () => {
      layoutParams();
      setError(box, null);
      scannersError.textContent = "";
      scannerGroup.removeAttribute("aria-invalid");
      for (const r of rows) {
        // An empty row follows the scanners; a row showing an error is checked again.
        if (!r.input.value.trim() && kindProblem(r.select.value)) {
          const k = guessKindFromScanners();
          if (k) { r.select.value = k; r.select.dispatchEvent(new Event("change")); }
        }
        if (r.select.getAttribute("aria-invalid") === "true") setError(r.select, kindProblem(r.select.value));
      }
    });
    return entry;
  }

  // Shows the params of the ticked scanners, in order, and numbers their pointers.
  function layoutParams() {
    const ticked = scanners.filter((s) => s.box.checked);
    ticked.forEach((s, i) => {
      s.box.dataset.pointer = `/config/scanners/${i}/name`;
      s.box.dataset.pointerAlt = `/config/scanners/${i}`;
      s.form.setPointer(`/config/scanners/${i}/params`);
    });
    for (const s of scanners) {
      if (!s.box.checked) {
        delete s.box.dataset.pointer;
        delete s.box.dataset.pointerAlt;
      }
    }
    clear(paramsBox, ticked.length ? h("h2", "Parameters") : null, ticked.map((s) => s.fieldset));
  }

  function tick(name, on = true) {
    const s = byName.get(name);
    if (!s) return false;
    if (on) s.box.disabled = false; // a configured scanner can always be unticked
    s.box.checked = on;
    if (!on && !s.info.available) s.box.disabled = true;
    layoutParams();
    return true;
  }

  // ---- read / set ----

  function readNumber(input, rule) {
    if (input.validity?.badInput) return { error: rule.type === "integer" ? "must be a whole number" : "must be a number" };
    const s = input.value.trim();
    if (!s) return { value: undefined };
    const v = Number(s);
    const err = check(rule, v);
    return err ? { error: err } : { value: v };
  }

  function read() {
    const errors = [];
    const config = { ...extraConfig };

    const ticked = scanners.filter((s) => s.box.checked);
    layoutParams();
    if (!ticked.length) errors.push({ control: scannerGroup, message: "tick at least one scanner" });
    config.scanners = ticked.map((s) => {
      const r = s.form.read();
      errors.push(...r.errors);
      return { name: s.info.name, params: r.value };
    });

    config.targets = [];
    const filled = rows.filter((r) => r.input.value.trim());
    for (const r of rows) {
      delete r.select.dataset.pointer;
      delete r.input.dataset.pointer;
      delete r.input.dataset.pointerAlt;
    }
    if (!filled.length) errors.push({ control: rows[0].input, message: "enter at least one target" });
    filled.forEach((r, i) => {
      r.select.dataset.pointer = `/config/targets/${i}/kind`;
      r.input.dataset.pointer = `/config/targets/${i}/value`;
      r.input.dataset.pointerAlt = `/config/targets/${i}`;
      const kp = kindProblem(r.select.value);
      if (kp) errors.push({ control: r.select, message: kp });
      const vp = valueProblem(r.input.value, false);
      if (vp) errors.push({ control: r.input, message: vp });
      config.targets.push({ kind: r.select.value, value: r.input.value.trim() });
    });

    for (const [input, key, rule] of numbers) {
      const r = readNumber(input, rule);
      if (r.error) errors.push({ control: input, message: r.error });
      else if (r.value !== undefined) config[key] = r.value;
      else delete config[key];
    }
    config.priority = priority.value;
    config.scope = { allow: lines(allow.value), deny: lines(deny.value) };

    const lab = {};
    for (const [i, line] of lines(labels.value).entries()) {
      const eq = line.indexOf("=");
      if (eq <= 0) {
        errors.push({ control: labels, message: `line ${i + 1} ("${line}") must be key=value` });
        break;
      }
      lab[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
    }
    config.labels = lab;
    return { config, errors };
  }

  function set(config) {
    const warnings = [];
    const c = config || {};
    extraConfig = Object.fromEntries(Object.entries(c).filter(([k]) => !KNOWN.has(k)));
    const specs = Array.isArray(c.scanners) ? c.scanners : [];
    for (const s of scanners) {
      const spec = specs.find((x) => x.name === s.info.name);
      s.box.checked = !!spec;
      s.box.disabled = !s.info.available && !spec;
      s.form.set(spec ? spec.params : undefined);
      if (spec && !s.info.available) warnings.push(`Scanner ${s.info.name} is not available on this server: ${s.info.detail || "no reason given"}.`);
    }
    for (const spec of specs) {
      if (!byName.has(spec.name)) warnings.push(`Scanner ${spec.name} is not known to this server; it was left out.`);
    }
    layoutParams();

    for (const r of rows.splice(0)) r.el.remove();
    const targets = Array.isArray(c.targets) ? c.targets : [];
    for (const t of targets) addRow(t.kind, t.value);
    if (!rows.length) addRow(null, "");

    const setNum = (input, v) => { input.value = v === undefined || v === null ? "" : String(v); };
    setNum(depth, c.recursion_depth);
    setNum(maxDuration, c.max_duration);
    setNum(maxResults, c.max_results);
    setNum(attempts, c.max_attempts === 3 ? undefined : c.max_attempts);
    setNum(maxTasks, c.max_tasks);
    setNum(rate, c.rate_limit);
    priority.value = PRIORITIES.includes(c.priority) ? c.priority : "medium";
    allow.value = (c.scope?.allow || []).join("\n");
    deny.value = (c.scope?.deny || []).join("\n");
    labels.value = Object.entries(c.labels || {}).map(([k, v]) => `${k}=${v}`).join("\n");
    advanced.open = [attempts, maxTasks, rate, labels].some((x) => x.value !== "");
    clearErrors(el);
    return warnings;
  }

  set({});
  return { el, read, set, tick };
}

const lines = (text) => String(text).split(/\r?\n/).map((s) => s.trim()).filter(Boolean);

// The error slot of a target row's control, named in its aria-describedby.
function errorSlotFor(control) {
  const slot = errorSlot(control);
  describe(control, slot.id);
  return slot;
}

// ---- plan preview ------------------------------------------------------------------------------

const MAX_ROWS = 200;

// The plan (argus_core::chain::ScanPlan) for people: first wave, chaining graph, scope, limit.
export function renderPlan(plan) {
  const tasks = plan.tasks || [];
  const chain = plan.chain || [];
  const scope = plan.scope || { mode: "seeds", allow: [], deny: [] };
  const params = (p) => {
    const keys = p && typeof p === "object" ? Object.keys(p) : [];
    return keys.length ? h("code.params", JSON.stringify(p)) : h("span.muted", "defaults");
  };
  const byScanner = new Map();
  for (const t of tasks) byScanner.set(t.scanner, (byScanner.get(t.scanner) || 0) + 1);
  return [
    h("h2", "Plan"),
    h("div.stats",
      stat(tasks.length, tasks.length === 1 ? "task in the first wave" : "tasks in the first wave"),
      stat(plan.recursion_depth ?? 0, "hops of chaining"),
      stat(chain.length, chain.length === 1 ? "chaining rule" : "chaining rules"),
      stat(plan.max_tasks ?? "—", "tasks at most")),
    h("h3", "First wave"),
    tasks.length
      ? h("div.table-wrap", h("table.responsive.plan-tasks",
        h("thead", h("tr", h("th", { scope: "col" }, "Scanner"), h("th", { scope: "col" }, "Target"), h("th", { scope: "col" }, "Params"))),
        h("tbody", tasks.slice(0, MAX_ROWS).map((t) => h("tr",
          h("td", { "data-label": "Scanner" }, h("code", t.scanner)),
          h("td", { "data-label": "Target" }, h("span", h("span.pill", t.target?.kind), " ", h("span.mono", t.target?.value))),
          h("td", { "data-label": "Params" }, params(t.params)))))))
      : h("p.muted", "No task: no ticked scanner accepts these targets."),
    tasks.length > MAX_ROWS ? h("p.muted", `… and ${tasks.length - MAX_ROWS} more (${[...byScanner].map(([s, n]) => `${s}: ${n}`).join(", ")}).`) : null,
    h("h3", "Chaining"),
    chain.length
      ? h("ul.chain", chain.map((e) => h("li", h("code", e.from), " finds ", h("span.pill", e.on), " → runs ", h("code", e.to))))
      : h("p.muted", (plan.recursion_depth ?? 0) === 0
        ? "None: recursion depth is 0, so only the targets above are scanned."
        : "None: no ticked scanner's discoveries start another ticked scanner."),
    h("h3", "Scope of chained targets"),
    h("p", scope.mode === "explicit" ? "The allow list given: " : "The targets' own domains and addresses: ",
      scope.allow?.length ? scope.allow.map((a, i) => [i ? ", " : "", h("code", a)]) : h("span.muted", "none")),
    scope.deny?.length ? h("p", "Never: ", scope.deny.map((d, i) => [i ? ", " : "", h("code", d)])) : null,
  ];
}

function stat(v, k) {
  return h("div.stat", h("div.v", typeof v === "number" ? num(v) : String(v)), h("div.k", k));
}

// ---- helpers shared with the template pages ---------------------------------------------------

// Every template of the org (follows the cursor; at most `cap`).
export async function allTemplates({ signal, cap = 1000 } = {}) {
  const out = [];
  let cursor;
  do {
    const page = await api.get("/templates", { query: { limit: 200, cursor }, signal });
    out.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor && out.length < cap);
  return out;
}

export async function scannerRegistry({ signal } = {}) {
  const page = await api.get("/scanners", { signal });
  return page.items || [];
}

// ---- the page -------------------------------------------------------------------------------

export async function render(main, ctx) {
  const abort = new AbortController();
  const { signal } = abort;
  const canWrite = !ctx.me || ctx.me.role !== "viewer";

  const [registry, templates] = await Promise.all([
    scannerRegistry({ signal }),
    allTemplates({ signal }).catch((e) => { if (e.name === "AbortError") throw e; return null; }),
  ]);

  const alertBox = h("div.form-alert");
  const notes = h("div.form-notes");
  const cfg = configForm(registry);

  const name = h("input#scan-name", { type: "text", autocomplete: "off", maxlength: 200, placeholder: "derived from the scanners and the first target" });
  const templateSelect = h("select#template",
    h("option", { value: "" }, templates === null ? "Templates could not be loaded" : "None: start from scratch"),
    (templates || []).map((t) => h("option", { value: t.id }, t.name)));
  let templateId = null;

  const plan = h("button#plan", { type: "button" }, "Preview plan");
  const create = h("button#create.primary", { type: "submit", disabled: !canWrite }, "Create and start");
  const saveTpl = h("button#save-template", { type: "button", disabled: !canWrite }, "Save as template…");
  const preview = h("section#plan-preview", { "aria-live": "polite", "aria-label": "Plan preview" });

  const form = h("form#new-scan", { novalidate: true },
    alertBox,
    notes,
    h("div.grid2",
      field(name, { label: "Name", pointer: "/name", help: "Optional; at most 200 characters." }),
      field(templateSelect, { label: "Template", help: [
        "Fills the form from a saved config; change anything before creating. ",
        h("a", { href: "/ui/templates", "data-link": true }, "Manage templates"), "."] })),
    cfg.el,
    h("div.actions.form-actions", create, plan, saveTpl,
      canWrite ? null : h("span.muted", "Your role (viewer) can preview plans but not create scans or templates.")),
    preview);

  const dialog = saveDialog();

  clear(main,
    h("div.page-head", h("h1", "New scan"),
      h("div.actions", h("a.button", { href: "/ui/scanners", "data-link": true }, "Scanner reference"))),
    form, dialog.el);

  function note(kind, text) {
    notes.append(h("div.banner", { class: kind, role: "status" }, text));
  }

  function applyTemplate(t) {
    clear(notes);
    const warnings = cfg.set(t.config);
    templateId = t.id;
    for (const w of warnings) note("warning", w);
    note("info", `Filled from template "${t.name}".`);
  }

  templateSelect.addEventListener("change", async () => {
    const id = templateSelect.value;
    const url = new URL(location.href);
    if (!id) {
      templateId = null;
      clear(notes);
      url.searchParams.delete("template");
      history.replaceState(null, "", url.pathname + url.search);
      return;
    }
    const t = (templates || []).find((x) => x.id === id);
    if (t) applyTemplate(t);
    url.searchParams.set("template", id);
    history.replaceState(null, "", url.pathname + url.search);
  });

  // Preselections from the address.
  const wanted = ctx.query.get("template");
  if (wanted) {
    let t = (templates || []).find((x) => x.id === wanted);
    if (!t) {
      try {
        t = await api.get(`/templates/${encodeURIComponent(wanted)}`, { signal });
        templateSelect.append(h("option", { value: t.id }, t.name));
      } catch (e) {
        if (e.name === "AbortError") return () => {};
        note("warning", `The template in the address could not be loaded: ${message(e)}`);
      }
    }
    if (t) {
      templateSelect.value = t.id;
      applyTemplate(t);
    }
  }
  for (const s of ctx.query.getAll("scanner")) {
    const info = registry.find((x) => x.name === s);
    if (!info) note("warning", `Scanner ${s} is not known to this server.`);
    else if (!info.available) note("warning", `Scanner ${s} is not available on this server: ${info.detail || "no reason given"}.`);
    else cfg.tick(s);
  }

  // Reads the whole form; shows client-side errors. Returns the body parts or null.
  function collect() {
    clearErrors(form, alertBox);
    const { config, errors } = cfg.read();
    const n = name.value;
    if (n && !n.trim()) errors.unshift({ control: name, message: "must contain a character that is not whitespace" });
    if ([...n].length > 200) errors.unshift({ control: name, message: "must be at most 200 characters" });
    if (showErrors(errors)) return null;
    return { config, name: n.trim() || undefined };
  }

  async function busy(fn) {
    const focused = document.activeElement;
    form.setAttribute("aria-busy", "true");
    for (const b of [plan, create, saveTpl]) b.dataset.wasDisabled = b.disabled ? "1" : "";
    for (const b of [plan, create, saveTpl]) b.disabled = true;
    try {
      await fn();
    } finally {
      form.removeAttribute("aria-busy");
      for (const b of [plan, create, saveTpl]) b.disabled = b.dataset.wasDisabled === "1";
      // A button disabled while focused loses the focus: give it back unless a field took it.
      if ((document.activeElement === document.body || !document.activeElement) && focused?.isConnected) focused.focus();
    }
  }

  plan.addEventListener("click", () => busy(async () => {
    const body = collect();
    if (!body) return;
    clear(preview, h("p.muted", "Planning…"));
    try {
      const p = await api.post("/scans/plan", { config: body.config }, { signal });
      clear(preview, renderPlan(p));
      preview.scrollIntoView?.({ block: "start", behavior: "smooth" });
    } catch (e) {
      if (e.name === "AbortError") return;
      clear(preview);
      placeApiError(form, e, alertBox);
    }
  }));

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    if (create.disabled) return;
    busy(async () => {
      const body = collect();
      if (!body) return;
      try {
        const req = { config: body.config, start: true };
        if (body.name) req.name = body.name;
        if (templateId) req.template_id = templateId;
        const scan = await api.post("/scans", req, { signal });
        toast(`Scan "${scan.name}" created and started`, "success");
        ctx.navigate(`/ui/scans/${scan.id}`);
      } catch (err) {
        if (err.name === "AbortError") return;
        placeApiError(form, err, alertBox);
      }
    });
  });

  saveTpl.addEventListener("click", () => {
    const body = collect();
    if (!body) return;
    dialog.open(body.config, body.name);
  });

  // "Save as template": a modal dialog asking for name and description.
  function saveDialog() {
    const tName = h("input#tpl-name", { type: "text", maxlength: 200, autocomplete: "off", required: true });
    const tDesc = h("textarea#tpl-description", { rows: 3 });
    const dAlert = h("div.form-alert");
    const cancel = h("button", { type: "button" }, "Cancel");
    const save = h("button.primary", { type: "submit" }, "Save template");
    const dForm = h("form#save-template-form", { novalidate: true, method: "dialog" },
      h("h2#save-template-title", "Save as template"),
      h("p.help", "Saves the scanners, params, targets and limits above under a name, to start scans from later."),
      dAlert,
      field(tName, { label: "Template name", pointer: "/name", required: true, help: "1–200 characters." }),
      field(tDesc, { label: "Description", pointer: "/description", help: "Optional." }),
      h("div.actions", save, cancel));
    const el = h("dialog#save-template-dialog", { "aria-labelledby": "save-template-title" }, dForm);
    let config = null;
    cancel.addEventListener("click", () => el.close());
    dForm.addEventListener("submit", async (e) => {
      e.preventDefault();
      clearErrors(dForm, dAlert);
      const n = tName.value.trim();
      if (!n) { showErrors([{ control: tName, message: "enter a name" }]); return; }
      save.disabled = true;
      try {
        const t = await api.post("/templates", { name: n, description: tDesc.value.trim() || null, config }, { signal });
        el.close();
        templateSelect.append(h("option", { value: t.id }, t.name));
        templateSelect.value = t.id;
        templateId = t.id;
        (templates || []).push(t);
        toast(`Template "${t.name}" saved`, "success");
      } catch (err) {
        if (err.name === "AbortError") return;
        if (err.status === 422 && typeof err.path === "string" && err.path.startsWith("/config")) {
          el.close();
          placeApiError(form, err, alertBox);
        } else {
          placeApiError(dForm, err, dAlert);
        }
      } finally {
        save.disabled = false;
      }
    });
    return {
      el,
      open(cfgValue, suggested) {
        config = cfgValue;
        clearErrors(dForm, dAlert);
        if (!tName.value && suggested) tName.value = suggested;
        el.showModal();
        tName.focus();
      },
    };
  }

  return () => {
    abort.abort();
    if (dialog.el.open) dialog.el.close();
  };
}
