// Sinks (/ui/sinks): the result forwarding destinations the operator configured in the server's
// config file (`[[sinks]]` entries: syslog, Splunk HEC, CloudWatch Logs, Sentinel, webhook,
// pusher), with each one's forwarding state, and the events of this organisation a sink gave
// up on (its dead letters).
//
// Invariants:
// - Read-only: sinks are configured in the config file (or `ARGUS_SINKS__<NAME>__<KEY>`
//   environment overrides), never through the API, and the page says so. It shows no
//   credential (the API has none to show: destinations name environment variables).
// - `GET /sinks` is admin-only; another role gets an explanation instead of an error.
// - There is no event stream for sinks: the table is re-read every 10 s while the page is
//   visible (and on "Refresh"), replacing each row's cells in place, so a focused button and
//   an open dead-letters view survive a refresh.
// - Dead letters are read newest first, one page at a time (cursor from `next_cursor`,
//   "Load more" while there is one); opening another sink's view replaces the list.
//
// Hooks (browser tests): `#sinks-table tr[data-sink="<name>"]` with `.kind`, `.sink-state
// .badge[data-state]`, `.lag`, `.sent` (delivered), `.dropped`, `.dead-lettered` (failed),
// `.last-error`, `button[data-action=dead-letters]`; `#sinks-empty`; `#dead-letters`
// (`data-sink`), `#dead-letters-table tr[data-dead-letter-id]`, `button#dead-letters-more`.

import * as api from "../api.js";
import { h, clear, num, when, ago, errorBox, idPill } from "../dom.js";

const REFRESH_MS = 10_000;
const PAGE = 50;

export async function render(main, ctx) {
  const tbody = h("tbody");
  const rows = new Map(); // sink name → { tr, cells }
  const status = h("div");
  const updated = h("span#sinks-updated.muted", { "aria-live": "off" });
  const refresh = h("button#sinks-refresh", { type: "button" }, "Refresh");
  const table = h("table#sinks-table.responsive",
    h("caption.visually-hidden", "Configured sinks and their forwarding state"),
    h("thead", h("tr",
      h("th", { scope: "col" }, "Sink"), h("th", { scope: "col" }, "Type"), h("th", { scope: "col" }, "Forwards"),
      h("th", { scope: "col" }, "State"),
      h("th", { scope: "col", class: "num", title: "Events committed after the sink's cursor" }, "Lag"),
      h("th", { scope: "col", class: "num" }, "Delivered"),
      h("th", { scope: "col", class: "num", title: "Dropped from a full buffer while the destination failed" }, "Dropped"),
      h("th", { scope: "col", class: "num", title: "Given up on after the last retry (dead letters)" }, "Failed"),
      h("th", { scope: "col" }, "Last error"), h("th", { scope: "col" }, h("span.visually-hidden", "Actions")))),
    tbody);
  const wrap = h("div.table-wrap", { hidden: true }, table);
  const empty = h("div#sinks-empty.empty.card", { hidden: true },
    h("h2", "No sinks configured"),
    h("p", "A sink forwards findings, scan lifecycle events and (when asked) the audit log to a SIEM, a log service or a webhook. ",
      "This server has none. Add a ", h("code", "[[sinks]]"), " entry to its config file and restart it."));
  const letters = h("section#dead-letters", { hidden: true, "aria-labelledby": "dead-letters-title" });

  clear(main,
    h("div.page-head", h("h1", "Sinks"), h("div.actions", updated, refresh)),
    h("div.banner.info.config-note", { role: "note" },
      h("span", "Sinks are configured in the server's config file, one ", h("code", "[[sinks]]"), " entry each (or ",
        h("code", "ARGUS_SINKS__<NAME>__<KEY>"), " environment variables), and take effect when the server restarts. ",
        "There is no API to change them; this page shows what they are doing. Every key is described under “Sinks” in ",
        h("code", "docs/config.md"), ".")),
    status, empty, wrap, letters);

  const cell = (label, cls) => h(`td${cls ? `.${cls}` : ""}`, { "data-label": label });

  function row(sink) {
    const c = {
      name: cell("Sink", "name"), kind: cell("Type", "kind"), filter: cell("Forwards", "filter"),
      state: cell("State", "sink-state"), lag: cell("Lag", "num.lag"), sent: cell("Delivered", "num.sent"),
      dropped: cell("Dropped", "num.dropped"), dead: cell("Failed", "num.dead-lettered"),
      error: cell("Last error", "last-error"), actions: cell("Dead letters", "row-actions"),
    };
    const btn = h("button.small", { type: "button", "data-action": "dead-letters", "aria-controls": "dead-letters",
      "aria-expanded": "false", "aria-label": `Dead letters of ${sink.name}` }, "Dead letters");
    btn.addEventListener("click", () => openLetters(sink.name, btn));
    c.actions.append(btn);
    const tr = h("tr", { "data-sink": sink.name }, Object.values(c));
    const entry = { tr, c, btn };
    rows.set(sink.name, entry);
    return entry;
  }

  function paint(entry, s) {
    const { c } = entry;
    const st = s.state || {};
    // One child per cell: on a phone a cell is a flex row of its label and this.
    clear(c.name, h("div", h("strong", s.name),
      h("div.muted.endpoint", h("code", { title: "Destination (without credentials)" }, s.endpoint || ""))));
    clear(c.kind, h("code", s.type));
    const filter = h("div", filterText(s.filter));
    clear(c.filter, filter);
    clear(c.state, h("div", stateBadge(s), holderText(s)));
    c.lag.textContent = num(s.lag);
    c.sent.textContent = num(st.sent);
    c.sent.title = st.last_sent_at ? `Last delivery ${when(st.last_sent_at)}` : "Nothing delivered yet";
    c.dropped.textContent = num(st.dropped);
    c.dead.textContent = num(st.dead_lettered);
    if (st.last_error) {
      clear(c.error, h("div", h("span.error-text", st.last_error),
        st.last_error_at ? h("div.muted", { title: when(st.last_error_at) }, ago(st.last_error_at)) : null));
    } else {
      clear(c.error, h("span.muted", "none"));
    }
    if (s.audit) {
      const a = s.audit;
      filter.append(h("div.muted.audit-feed", `audit feed: lag ${num(a.lag)}, ${num(a.state?.sent)} delivered, `
        + `${num(a.state?.dead_lettered)} failed${a.live?.failing ? ", failing" : ""}`));
    }
  }

  async function load() {
    refresh.disabled = true;
    try {
      const sinks = await api.get("/sinks");
      clear(status);
      const seen = new Set();
      for (const s of sinks) {
        seen.add(s.name);
        const entry = rows.get(s.name) || row(s);
        if (!entry.tr.isConnected) tbody.append(entry.tr);
        paint(entry, s);
      }
      for (const [name, entry] of rows) if (!seen.has(name)) { entry.tr.remove(); rows.delete(name); }
      wrap.hidden = sinks.length === 0;
      empty.hidden = sinks.length !== 0;
      updated.textContent = `Updated ${new Date().toLocaleTimeString()}`;
    } catch (e) {
      if (e instanceof api.ApiError && e.status === 403) {
        stop();
        wrap.hidden = true;
        clear(status, h("div.banner.info", { role: "status" },
          `Sinks are server-wide settings: only admins see them (you are ${ctx.me?.role || "not an admin"}).`));
      } else {
        clear(status, errorBox(e));
      }
    } finally {
      refresh.disabled = false;
    }
  }

  // ---- dead letters -----------------------------------------------------------------------

  let lettersSeq = 0;
  function openLetters(name, btn) {
    for (const e of rows.values()) e.btn.setAttribute("aria-expanded", "false");
    if (letters.dataset.sink === name && !letters.hidden) { letters.hidden = true; delete letters.dataset.sink; return; }
    btn.setAttribute("aria-expanded", "true");
    const seqNow = ++lettersSeq;
    letters.hidden = false;
    letters.dataset.sink = name;
    const lbody = h("tbody");
    const more = h("button#dead-letters-more", { type: "button", hidden: true }, "Load more");
    const lstatus = h("div", h("p.muted", "Loading…"));
    const close = h("button.small", { type: "button", "aria-label": "Close the dead letters" }, "Close");
    close.addEventListener("click", () => { letters.hidden = true; delete letters.dataset.sink; btn.setAttribute("aria-expanded", "false"); btn.focus(); });
    const ltable = h("table#dead-letters-table.responsive",
      h("thead", h("tr", h("th", { scope: "col" }, "When"), h("th", { scope: "col" }, "Scan"),
        h("th", { scope: "col", class: "num" }, "Event"), h("th", { scope: "col", class: "num" }, "Tries"),
        h("th", { scope: "col" }, "Error"), h("th", { scope: "col" }, "Event as it would have been sent"))),
      lbody);
    const lwrap = h("div.table-wrap", { hidden: true }, ltable);
    const title = h("h2#dead-letters-title", { tabindex: "-1" }, "Dead letters of ", h("code", name));
    clear(letters, h("div.page-head", title, close),
      h("p.help", "Events of your organisation this sink gave up on: refused by the destination, or still failing after the last retry. Newest first."),
      lstatus, lwrap, h("p", more));
    let cursor = null;
    async function page() {
      more.disabled = true;
      try {
        const p = await api.get(`/sinks/${encodeURIComponent(name)}/dead-letters`, { query: { limit: PAGE, cursor } });
        if (seqNow !== lettersSeq) return;
        for (const d of p.items || []) lbody.append(letterRow(d));
        cursor = p.next_cursor || null;
        more.hidden = !cursor;
        lwrap.hidden = lbody.children.length === 0;
        clear(lstatus, lbody.children.length ? null : h("p.empty", "No dead letters: everything this sink took was delivered (or is still on its way)."));
      } catch (e) {
        if (seqNow === lettersSeq) clear(lstatus, errorBox(e));
      } finally {
        more.disabled = false;
      }
    }
    more.addEventListener("click", page);
    page();
    title.focus();
  }

  function letterRow(d) {
    const kind = d.event?.kind;
    return h("tr", { "data-dead-letter-id": String(d.id) },
      h("td", { "data-label": "When", title: d.at }, when(d.at)),
      h("td", { "data-label": "Scan" }, h("div", h("a", { href: `/ui/scans/${d.scan_id}`, "data-link": true }, "Open scan"), " ", idPill(d.scan_id, "Scan id"))),
      h("td.num", { "data-label": "Event" }, h("div", kind ? h("span.pill", kind) : null, " ", num(d.event_id))),
      h("td.num", { "data-label": "Tries" }, num(d.attempts)),
      h("td.error-text", { "data-label": "Error" }, d.error),
      h("td", { "data-label": "Event" }, h("details", h("summary", "Show JSON"), h("pre", JSON.stringify(d.event, null, 2)))));
  }

  // ---- refresh ----------------------------------------------------------------------------

  refresh.addEventListener("click", load);
  let timer = setInterval(() => { if (!document.hidden) load(); }, REFRESH_MS);
  function stop() { if (timer) clearInterval(timer); timer = null; }
  await load();
  return stop;
}

function stateBadge(s) {
  const live = s.live || {};
  let state;
  let text;
  if (!s.enabled) { state = "disabled"; text = "disabled"; }
  else if (live.leading && live.failing) { state = "failing"; text = `failing (try ${live.attempts})`; }
  else if (live.leading) { state = "forwarding"; text = "forwarding"; }
  else if (s.state?.holder) { state = "elsewhere"; text = "forwarded elsewhere"; }
  else { state = "waiting"; text = "waiting"; }
  return h("span.badge", { class: `sink-${state}`, "data-state": state }, text);
}

function holderText(s) {
  const live = s.live || {};
  const bits = [];
  if (live.leading && live.buffered) bits.push(`${num(live.buffered)} buffered`);
  if (!live.leading && s.state?.holder) bits.push(`by ${s.state.holder}`);
  return bits.length ? h("div.muted", bits.join(", ")) : null;
}

function filterText(f) {
  if (!f) return "scan events";
  const kinds = f.events?.length ? f.events.join(", ") : "scan_result, scan_lifecycle";
  const bits = [kinds];
  if (f.min_severity) bits.push(`severity ≥ ${f.min_severity}`);
  if (f.scanners?.length) bits.push(`scanners ${f.scanners.join(", ")}`);
  if (f.orgs?.length) bits.push(`orgs ${f.orgs.join(", ")}`);
  return bits.join("; ");
}
