// Schedules (/ui/schedules): the org's cron schedules, by name — when each fires (the expression
// in words when it is a simple one, and its time zone), its next run, what its last run did
// (with a link to the scan it started), a switch to enable or disable it, edit and delete.
// Also exports the helpers the schedule editor (schedule.js) shares: `cronWords`, `requestOf`,
// `outcomeBadge`, `until`.
//
// Invariants:
// - One row per schedule: `#schedules-table tr[data-schedule-id="<id>"]` with `.next-run`,
//   `.last-run` (an `.badge[data-outcome]` and `a.last-scan` when the last slot has a scan),
//   `input[type=checkbox][data-action=toggle]`, and `[data-action=edit|delete]`; the list
//   follows the API's cursor ("Load more").
// - The switch sends the schedule back unchanged but for `enabled` (`PUT /schedules/<id>`
//   takes the whole definition) and shows what the server answered (a disabled schedule has no
//   next run); on failure the box goes back to the stored value.
// - Next runs come from the server (`next_fire_at`): the page never computes a cron slot.
// - Delete asks first (window.confirm) and removes the row once the API said 204 (or 404).
// - A viewer sees the list; the switch is read-only and edit/delete are not offered.

import * as api from "../api.js";
import { h, clear, when, ago, errorBox, emptyState, toast, message } from "../dom.js";

const PAGE = 50;

// ---- shared with schedule.js ------------------------------------------------------------------

const DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
const DAY_NAMES = { SUN: 0, MON: 1, TUE: 2, WED: 3, THU: 4, FRI: 5, SAT: 6 };
const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
  "October", "November", "December"];

const isNum = (s) => /^\d{1,2}$/.test(s);
const pad = (n) => String(n).padStart(2, "0");

function day(s) {
  const n = isNum(s) ? Number(s) : DAY_NAMES[String(s).toUpperCase()];
  return n === 7 ? 0 : n;
}

function ordinal(n) {
  const r10 = n % 10;
  const r100 = n % 100;
  if (r10 === 1 && r100 !== 11) return `${n}st`;
  if (r10 === 2 && r100 !== 12) return `${n}nd`;
  if (r10 === 3 && r100 !== 13) return `${n}rd`;
  return `${n}th`;
}

// A cron expression in words when it is one of the common shapes ("every day at 02:00",
// "every Monday at 06:00", "every 15 minutes"…), else null (the expression speaks for itself).
// Only describes; the server parses and plans the slots.
export function cronWords(expr) {
  let f = String(expr || "").trim().split(/\s+/);
  if (f.length === 6) {
    if (f[0] !== "0") return null;
    f = f.slice(1);
  }
  if (f.length !== 5) return null;
  const [min, hour, dom, mon, dow] = f;
  const any = (s) => s === "*" || s === "?";
  const step = (s) => /^\*\/(\d{1,2})$/.exec(s)?.[1];
  if (!any(mon) && !(isNum(mon) && Number(mon) >= 1 && Number(mon) <= 12)) return null;
  const monthPart = any(mon) ? "" : ` in ${MONTHS[Number(mon) - 1]}`;

  // Minute-level shapes: every minute, every N minutes, every hour at :MM, every N hours.
  if (any(dom) && any(dow)) {
    if (min === "*" && any(hour)) return `every minute${monthPart}`;
    if (step(min) && any(hour)) return `every ${step(min)} minutes${monthPart}`;
    if (isNum(min) && Number(min) < 60 && any(hour)) {
      return Number(min) === 0 ? `every hour, on the hour${monthPart}` : `every hour at minute ${Number(min)}${monthPart}`;
    }
    if (isNum(min) && Number(min) < 60 && step(hour)) {
      return `every ${step(hour)} hours, ${Number(min) === 0 ? "on the hour" : `at minute ${Number(min)}`}${monthPart}`;
    }
  }
  if (!(isNum(min) && Number(min) < 60 && isNum(hour) && Number(hour) < 24)) return null;
  const at = `at ${pad(hour)}:${pad(min)}`;
  if (any(dom) && any(dow)) return `every day ${at}${monthPart}`;
  if (any(dom)) {
    const range = /^(\w+)-(\w+)$/.exec(dow);
    if (range && day(range[1]) === 1 && day(range[2]) === 5) return `every weekday (Monday to Friday) ${at}${monthPart}`;
    const days = dow.split(",").map(day);
    if (days.some((d) => d === undefined || d < 0 || d > 6)) return null;
    const names = days.map((d) => DAYS[d]);
    const list = names.length === 1 ? names[0] : `${names.slice(0, -1).join(", ")} and ${names.at(-1)}`;
    return `every ${list} ${at}${monthPart}`;
  }
  if (any(dow) && isNum(dom) && Number(dom) >= 1 && Number(dom) <= 31) {
    return `on the ${ordinal(Number(dom))} of ${any(mon) ? "every month" : MONTHS[Number(mon) - 1]} ${at}`;
  }
  return null;
}

// The request body (`PUT /schedules/<id>`) that keeps a stored schedule as it is: the API's
// request takes exactly these fields (it refuses unknown ones).
export function requestOf(s) {
  const body = {
    name: s.name,
    cron: s.cron,
    timezone: s.timezone,
    concurrency: s.concurrency,
    missed_runs: s.missed_runs,
    enabled: s.enabled,
  };
  if (s.template_id) body.template_id = s.template_id;
  if (s.targets) body.targets = s.targets;
  if (s.config) body.config = s.config;
  return body;
}

const OUTCOMES = {
  started: ["started", "state-completed", "A scan was started"],
  skipped_overlap: ["skipped", "state-paused", "Skipped: the previous scan was still running"],
  failed: ["failed", "state-failed", "The scan could not be started"],
};

// The badge of a last run's outcome (`{outcome, detail?}`), its detail as the title.
export function outcomeBadge(last) {
  const [text, cls, help] = OUTCOMES[last.outcome] || [last.outcome, "state-created", ""];
  const title = last.detail ? `${help}: ${last.detail}` : help;
  return h("span.badge", { class: cls, "data-outcome": last.outcome, title }, text);
}

// "in 5 min", "in 3 h", "in 2 d" (a time to come; "now" when it is due).
export function until(iso) {
  if (!iso) return "";
  const s = (new Date(iso).getTime() - Date.now()) / 1000;
  if (s < 45) return "now";
  if (s < 3600) return `in ${Math.round(s / 60)} min`;
  if (s < 86400) return `in ${Math.round(s / 3600)} h`;
  return `in ${Math.round(s / 86400)} d`;
}

// What a schedule's next run cell says.
export function nextRun(s) {
  if (!s.enabled) return h("span.muted", "— (disabled)");
  if (!s.next_fire_at) return h("span.muted", { title: "The expression matches no time to come" }, "never");
  return h("span", h("time", { datetime: s.next_fire_at, title: s.next_fire_at }, when(s.next_fire_at)),
    h("span.muted.small", ` (${until(s.next_fire_at)})`));
}

// What a schedule's last run cell says: the slot, the outcome and the scan.
export function lastRun(s) {
  if (!s.last_slot && !s.last_outcome) return [h("span.muted", "not yet")];
  const out = [];
  if (s.last_slot) out.push(h("time", { datetime: s.last_slot, title: when(s.last_slot) }, ago(s.last_slot)), " ");
  if (s.last_outcome) out.push(outcomeBadge(s.last_outcome));
  if (s.last_scan_id) {
    out.push(" ", h("a.last-scan", { href: `/ui/scans/${s.last_scan_id}`, "data-link": true,
      "aria-label": `The last scan of ${s.name}` }, "scan"));
  }
  if (s.last_outcome?.outcome === "failed" && s.last_outcome.detail) {
    out.push(h("div.error-text.small", s.last_outcome.detail));
  }
  return out;
}

// "0 2 * * *" with its words and zone.
export function whenCell(s) {
  const words = cronWords(s.cron);
  return h("div", h("code.cron", s.cron),
    h("div.muted.small", words ? `${words} (${s.timezone})` : s.timezone));
}

// ---- the page -------------------------------------------------------------------------------

export async function render(main, ctx) {
  const abort = new AbortController();
  const canWrite = !ctx.me || ctx.me.role !== "viewer";
  const tbody = h("tbody");
  const table = h("table#schedules-table.responsive",
    h("thead", h("tr",
      h("th", { scope: "col" }, "Name"),
      h("th", { scope: "col" }, "When"),
      h("th", { scope: "col" }, "Next run"),
      h("th", { scope: "col" }, "Last run"),
      h("th", { scope: "col" }, "Enabled"),
      h("th", { scope: "col" }, "Actions"))),
    tbody);
  const status = h("div");
  const more = h("button", { type: "button", hidden: true }, "Load more");
  const wrap = h("div.table-wrap", table);

  clear(main,
    h("div.page-head", h("h1", "Schedules"),
      h("div.actions", canWrite ? h("a#new-schedule.button.primary", { href: "/ui/schedules/new", "data-link": true }, "New schedule") : null)),
    h("p.muted", "Scans started again and again: a template or a scan config, on a cron expression read in a time zone. ",
      "The scans a schedule starts are named after it and carry the label ", h("code", "argus.schedule"), "."),
    status, wrap, h("p", more));

  let count = 0;
  function row(s) {
    const tr = h("tr", { "data-schedule-id": s.id });
    fill(tr, s);
    return tr;
  }

  // (Re)fills a row from a schedule as the server has it.
  function fill(tr, s) {
    const toggle = h("input", { type: "checkbox", "data-action": "toggle", checked: s.enabled, disabled: !canWrite,
      "aria-label": `Enabled: ${s.name}` });
    const del = h("button.small.danger", { type: "button", "data-action": "delete", "aria-label": `Delete schedule ${s.name}` }, "Delete");
    clear(tr,
      h("td", { "data-label": "Name" },
        canWrite ? h("a.schedule-name", { href: `/ui/schedules/${s.id}`, "data-link": true }, s.name) : h("span.schedule-name", s.name)),
      h("td", { "data-label": "When" }, whenCell(s)),
      h("td.next-run", { "data-label": "Next run" }, nextRun(s)),
      h("td.last-run", { "data-label": "Last run" }, h("div", lastRun(s))),
      h("td", { "data-label": "Enabled" }, h("label.check.switch", toggle, h("span", s.enabled ? "on" : "off"))),
      h("td", { "data-label": "Actions" }, canWrite ? h("div.actions", { role: "group", "aria-label": `Actions for ${s.name}` },
        h("a.button.small", { href: `/ui/schedules/${s.id}`, "data-link": true, "data-action": "edit",
          "aria-label": `Edit ${s.name}` }, "Edit"),
        del) : h("span.muted", "—")));
    tr.dataset.enabled = String(s.enabled);

    toggle.addEventListener("change", async () => {
      const want = toggle.checked;
      toggle.disabled = true;
      try {
        const saved = await api.put(`/schedules/${s.id}`, { ...requestOf(s), enabled: want }, { signal: abort.signal });
        fill(tr, saved);
        tr.querySelector("[data-action=toggle]")?.focus();
        toast(`Schedule "${saved.name}" ${saved.enabled ? "enabled" : "disabled"}`, "success");
      } catch (e) {
        if (e.name === "AbortError") return;
        toggle.checked = s.enabled;
        toggle.disabled = false;
        if (e instanceof api.ApiError && e.status === 404) { gone(tr); return; }
        toast(`Could not ${want ? "enable" : "disable"} "${s.name}": ${message(e)}`, "error");
      }
    });

    del.addEventListener("click", async () => {
      if (!window.confirm(`Delete the schedule "${s.name}"? The scans it started are kept.`)) return;
      del.disabled = true;
      try {
        await api.del(`/schedules/${s.id}`, { signal: abort.signal });
        toast(`Schedule "${s.name}" deleted`, "success");
        gone(tr);
      } catch (e) {
        if (e.name === "AbortError") return;
        if (e instanceof api.ApiError && e.status === 404) { gone(tr); return; }
        del.disabled = false;
        toast(`Delete failed: ${message(e)}`, "error");
      }
    });
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
      clear(status, emptyState("No schedules yet. A schedule starts a scan of a template or a config at the times a cron expression names.",
        canWrite ? h("a.button.primary", { href: "/ui/schedules/new", "data-link": true }, "New schedule") : null));
    } else clear(status);
  }

  let cursor = null;
  async function load() {
    more.disabled = true;
    try {
      const page = await api.get("/schedules", { query: { limit: PAGE, cursor }, signal: abort.signal });
      for (const s of page.items) { tbody.append(row(s)); count += 1; }
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
