// Schedule editor (/ui/schedules/new, /ui/schedules/<id>): a schedule's name, cron expression
// (with presets) and time zone, what it starts (a template, optionally with other targets, or a
// scan config as JSON), its overlap and missed-run policies, and whether it is enabled.
// `?template=<id>` on the new page preselects a template (the template page links here).
//
// Invariants:
// - `form#schedule-form` saves with `POST /api/v1/schedules` (new) or `PUT /schedules/<id>`,
//   body `{name, cron, timezone, template_id + targets? | config, concurrency, missed_runs,
//   enabled}` — exactly one of a template and a config, by the source picked. A 422 shows beside
//   the field its `path` names (`/name`, `/cron`, `/timezone`, `/template_id`, `/targets`,
//   `/config/...`), or in the form's `[role=alert]` box.
// - The page computes no cron slot (that needs the server's parser and zone database): the
//   expression is described in words when it is a simple one, and the next run shown
//   (`#schedule-next`) is the server's `next_fire_at`, after a save.
// - After the first save of a new schedule the page becomes that schedule's page (the address
//   is replaced), so saving again updates it rather than creating another.

import * as api from "../api.js";
import { h, clear, toast, when, errorBox } from "../dom.js";
import { field, errorSlot, describe, liveCheck, clearErrors, showErrors, placeApiError, uid } from "../schema_form.js";
import { allTemplates, TARGET_KINDS } from "./new_scan.js";
import { cronWords, nextRun, lastRun } from "./schedules.js";

const PRESETS = [
  ["hourly", "0 * * * *", "Hourly"],
  ["nightly", "0 2 * * *", "Nightly at 02:00"],
  ["weekly", "0 6 * * 1", "Weekly, Monday 06:00"],
];

const CONCURRENCY = [
  ["forbid", "Skip the slot", "If the previous scan of this schedule is still running, this slot starts nothing."],
  ["replace", "Replace", "Stop the previous scan if it still runs, then start the new one."],
  ["allow", "Allow overlap", "Start the new scan beside the previous one."],
];

const MISSED = [
  ["skip", "Skip them", "Slots that passed while no Argus server was running are dropped; the schedule resumes at its next slot."],
  ["run_once", "Run once", "After downtime, one scan is started for the newest missed slot, then the schedule resumes."],
];

// The schedule just saved by this page (shown once, after the page re-renders on its address).
let savedNotice = null;

function browserZone() {
  try { return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC"; } catch { return "UTC"; }
}

function zoneList() {
  let zones = [];
  try { zones = Intl.supportedValuesOf("timeZone"); } catch { /* an older browser: free text only */ }
  return ["UTC", ...zones.filter((z) => z !== "UTC")];
}

// A radio group: `div#<id>[role=radiogroup]` carrying the pointer, one radio per option with
// its one-line explanation.
function radios(id, name, options, { label, pointer }) {
  const legendId = `${id}-legend`;
  const group = h("div.radio-group", { id, role: "radiogroup", "aria-labelledby": legendId, tabindex: "-1", "data-pointer": pointer },
    options.map(([value, text, help]) => {
      const rid = `${id}-${value}`;
      return h("div.radio-opt",
        h("div.check-row", h("input", { type: "radio", id: rid, name, value, "aria-describedby": `${rid}-help` }),
          h("label.check-label", { for: rid }, text)),
        h("p.help", { id: `${rid}-help` }, help));
    }));
  const error = errorSlot(group);
  describe(group, error.id);
  return {
    el: h("fieldset.radios", h("legend", { id: legendId }, label), group, error),
    group,
    get value() { return group.querySelector("input:checked")?.value; },
    set value(v) {
      for (const r of group.querySelectorAll("input")) r.checked = r.value === v;
    },
  };
}

// "kind value" lines → targets; errors name the line.
function parseTargets(text) {
  const kinds = new Set(TARGET_KINDS.map(([k]) => k));
  const targets = [];
  const lines = text.split("\n").map((l) => l.trim()).filter(Boolean);
  for (const [i, line] of lines.entries()) {
    const m = /^(\S+)\s+(.+)$/.exec(line);
    if (!m) return { error: `line ${i + 1}: write the kind, a space, then the value (e.g. "domain example.com")` };
    if (!kinds.has(m[1])) return { error: `line ${i + 1}: unknown kind "${m[1]}" (one of ${[...kinds].join(", ")})` };
    targets.push({ kind: m[1], value: m[2].trim() });
  }
  return { targets };
}

export async function render(main, ctx) {
  const abort = new AbortController();
  const { signal } = abort;
  const id = ctx.params[0] === "new" ? null : ctx.params[0];

  let schedule = null;
  const templatesP = allTemplates({ signal });
  if (id) {
    try {
      schedule = await api.get(`/schedules/${id}`, { signal });
    } catch (e) {
      if (e instanceof api.ApiError && e.status === 404) {
        clear(main, h("h1", "Schedule not found"), errorBox(e),
          h("p", h("a", { href: "/ui/schedules", "data-link": true }, "Back to the schedules")));
        return () => abort.abort();
      }
      throw e;
    }
  }
  const templates = await templatesP;

  const alertBox = h("div.form-alert");
  const info = h("section#schedule-info", { "aria-live": "polite" });

  // Name, expression, zone.
  const name = h("input#schedule-name", { type: "text", maxlength: 200, autocomplete: "off", required: true });
  const cron = h("input#schedule-cron.mono", { type: "text", autocomplete: "off", spellcheck: "false", required: true,
    placeholder: "0 2 * * *" });
  const words = h("p#cron-words.help", { "aria-live": "polite" });
  const presets = h("div.actions.presets", { role: "group", "aria-label": "Common schedules" },
    PRESETS.map(([key, expr, text]) => h("button.small", { type: "button", "data-preset": key, title: expr,
      onclick: () => { cron.value = expr; cron.dispatchEvent(new Event("input")); cron.focus(); } }, text)));
  const zonesId = uid("zones");
  const zone = h("input#schedule-timezone", { type: "text", autocomplete: "off", spellcheck: "false", list: zonesId });
  const zones = h("datalist", { id: zonesId }, zoneList().map((z) => h("option", { value: z })));

  // What it starts.
  const sourceTemplate = h("input#source-template", { type: "radio", name: "source", value: "template" });
  const sourceConfig = h("input#source-config", { type: "radio", name: "source", value: "config" });
  const template = h("select#schedule-template",
    h("option", { value: "" }, templates.length ? "— pick a template —" : "— no template yet —"),
    templates.map((t) => h("option", { value: t.id }, t.name)));
  const targets = h("textarea#schedule-targets", { rows: 3, spellcheck: "false",
    placeholder: "domain example.com\nurl https://example.com/login" });
  const config = h("textarea#schedule-config.json", { rows: 10, spellcheck: "false",
    placeholder: '{\n  "scanners": [{"name": "noop"}],\n  "targets": [{"kind": "domain", "value": "example.com"}]\n}' });
  const templateBox = h("div#source-template-box",
    h("div.grid2",
      field(template, { label: "Template", pointer: "/template_id", required: true,
        help: h("span", "Each slot starts a scan of the template as it is then. ",
          h("a", { href: "/ui/templates", "data-link": true }, "Manage templates"), ".") }),
      field(targets, { label: "Targets (optional)", pointer: "/targets",
        help: "Instead of the template's targets: one per line, the kind, a space, the value. Empty: the template's own." })));
  const configBox = h("div#source-config-box",
    field(config, { label: "Scan config (JSON)", pointer: "/config", required: true,
      help: h("span", "A scan config as ", h("code", "POST /api/v1/scans"), " takes it: scanners, targets, limits.") }));

  const concurrency = radios("schedule-concurrency", "concurrency", CONCURRENCY,
    { label: "When the previous scan still runs", pointer: "/concurrency" });
  const missed = radios("schedule-missed", "missed_runs", MISSED,
    { label: "Slots missed while the server was down", pointer: "/missed_runs" });
  const enabled = h("input#schedule-enabled", { type: "checkbox", checked: true });

  const save = h("button#save.primary", { type: "submit" }, id ? "Save changes" : "Create schedule");
  const form = h("form#schedule-form", { novalidate: true },
    alertBox,
    h("div.grid2",
      field(name, { label: "Name", pointer: "/name", required: true,
        help: "1–200 characters. Its scans are named after it: “<name> @ <time of the slot>”." }),
      h("div")),
    h("fieldset", h("legend", "When"),
      h("div.grid2",
        h("div", field(cron, { label: "Cron expression", pointer: "/cron", required: true,
          help: h("span", "Minute, hour, day of month, month, day of week (or six fields with seconds first). ",
            h("code", "*/15 * * * *"), " is every quarter hour; ", h("code", "0 6 * * 1-5"), " weekdays at 06:00.") }),
        presets, words),
        h("div", field(zone, { label: "Time zone", pointer: "/timezone",
          help: "The IANA zone the expression is read in (Europe/Paris, America/New_York, UTC). Daylight saving moves the slots with the zone's clock." }),
        zones))),
    h("fieldset", h("legend", "What it starts"),
      h("div.actions.source-pick", { role: "radiogroup", "aria-label": "Source" },
        h("label.check", sourceTemplate, " A template"),
        h("label.check", sourceConfig, " A scan config (JSON)")),
      templateBox, configBox),
    h("div.grid2", concurrency.el, missed.el),
    field(enabled, { label: "Enabled", check: true, pointer: "/enabled",
      help: "A disabled schedule keeps its definition and starts nothing." }),
    h("div.actions.form-actions", save,
      h("a.button", { href: "/ui/schedules", "data-link": true }, id ? "Back to the schedules" : "Cancel")));

  clear(main,
    h("div.page-head", h("h1", schedule ? `Schedule: ${schedule.name}` : "New schedule")),
    info, form);

  function showInfo(s) {
    if (!s) { clear(info); return; }
    const notice = savedNotice === s.id;
    savedNotice = null;
    clear(info, h("dl.kv.card",
      h("dt", "Next run"), h("dd#schedule-next", nextRun(s), s.enabled && s.next_fire_at ? h("span.muted.small", ` — ${s.timezone}`) : null),
      h("dt", "Last run"), h("dd#schedule-last", lastRun(s)),
      h("dt", "Updated"), h("dd", when(s.updated_at))),
    notice ? h("p.banner.info#schedule-saved", { role: "status" }, "Saved. The next run above is the server's plan for this expression and zone.") : null);
  }

  function sourceChanged() {
    const t = sourceTemplate.checked;
    templateBox.hidden = !t;
    configBox.hidden = t;
  }
  sourceTemplate.addEventListener("change", sourceChanged);
  sourceConfig.addEventListener("change", sourceChanged);

  const describeCron = () => {
    const w = cronWords(cron.value);
    words.textContent = w ? `Reads: ${w}.` : "";
  };
  cron.addEventListener("input", describeCron);

  // Fill from the schedule, or the defaults of a new one.
  if (schedule) {
    name.value = schedule.name;
    cron.value = schedule.cron;
    zone.value = schedule.timezone;
    concurrency.value = schedule.concurrency;
    missed.value = schedule.missed_runs;
    enabled.checked = schedule.enabled;
    if (schedule.template_id) {
      if (!templates.some((t) => t.id === schedule.template_id)) {
        template.append(h("option", { value: schedule.template_id }, `Template …${schedule.template_id.slice(-8)} (not found)`));
      }
      template.value = schedule.template_id;
      targets.value = (schedule.targets || []).map((t) => `${t.kind} ${t.value}`).join("\n");
      sourceTemplate.checked = true;
    } else {
      config.value = JSON.stringify(schedule.config || {}, null, 2);
      sourceConfig.checked = true;
    }
  } else {
    zone.value = browserZone();
    concurrency.value = "forbid";
    missed.value = "skip";
    const pre = ctx.query.get("template");
    if (pre && templates.some((t) => t.id === pre)) {
      template.value = pre;
      const t = templates.find((x) => x.id === pre);
      name.value = t.name;
    }
    if (templates.length) sourceTemplate.checked = true;
    else sourceConfig.checked = true;
  }
  sourceChanged();
  describeCron();
  showInfo(schedule);

  liveCheck(name, () => (name.value.trim() ? null : "enter a name"));
  liveCheck(cron, () => (cron.value.trim() ? null : "enter a cron expression"));

  function collect() {
    clearErrors(form, alertBox);
    const errors = [];
    const n = name.value.trim();
    if (!n) errors.push({ control: name, message: "enter a name" });
    else if ([...n].length > 200) errors.push({ control: name, message: "must be at most 200 characters" });
    const c = cron.value.trim();
    const fields = c.split(/\s+/).filter(Boolean).length;
    if (!c) errors.push({ control: cron, message: "enter a cron expression, or pick one of the common schedules" });
    else if (fields < 5 || fields > 6) errors.push({ control: cron, message: `a cron expression has 5 fields (or 6 with seconds first); this one has ${fields}` });
    const body = { name: n, cron: c };
    const z = zone.value.trim();
    if (z) body.timezone = z;
    if (sourceTemplate.checked) {
      if (!template.value) errors.push({ control: template, message: "pick a template" });
      body.template_id = template.value;
      const parsed = parseTargets(targets.value);
      if (parsed.error) errors.push({ control: targets, message: parsed.error });
      else if (parsed.targets.length) body.targets = parsed.targets;
    } else {
      let cfg = null;
      try { cfg = JSON.parse(config.value); } catch (e) {
        errors.push({ control: config, message: config.value.trim() ? `not valid JSON: ${e.message}` : "enter a scan config" });
      }
      if (cfg !== null && (typeof cfg !== "object" || Array.isArray(cfg))) {
        errors.push({ control: config, message: "must be a JSON object (scanners, targets, …)" });
      }
      body.config = cfg;
    }
    body.concurrency = concurrency.value || "forbid";
    body.missed_runs = missed.value || "skip";
    body.enabled = enabled.checked;
    if (showErrors(errors)) return null;
    return body;
  }

  let saving = false;
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (saving) return;
    const body = collect();
    if (!body) return;
    saving = true;
    save.disabled = true;
    form.setAttribute("aria-busy", "true");
    try {
      const s = id
        ? await api.put(`/schedules/${id}`, body, { signal })
        : await api.post("/schedules", body, { signal });
      toast(`Schedule "${s.name}" saved`, "success");
      savedNotice = s.id;
      if (!id) {
        // This page becomes the schedule's own: a second save updates it.
        ctx.navigate(`/ui/schedules/${s.id}`, { replace: true });
        return;
      }
      schedule = s;
      clear(main.querySelector("h1"), `Schedule: ${s.name}`);
      showInfo(s);
      info.scrollIntoView?.({ block: "nearest" });
    } catch (err) {
      if (err.name === "AbortError") return;
      placeApiError(form, err, alertBox);
    } finally {
      saving = false;
      save.disabled = false;
      form.removeAttribute("aria-busy");
    }
  });

  return () => abort.abort();
}
