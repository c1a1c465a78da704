// Forms from JSON schemas (a scanner's `params_schema`), and the field plumbing every form of the
// UI shares: labelled controls with help and an error slot, client-side checks worded like the
// schema ("must be at least 1"), and placing an API 422 next to the field its JSON pointer names.
//
// Invariants:
// - Every control has an id, a `<label for>` and `aria-describedby` naming its help text and its
//   error slot, a `.field-error` placed right after it (`#<id>-error`). A parameter's control
//   carries `data-param="<key>"` (a group of checkboxes: the group element).
// - A control that names a value of a request carries `data-pointer`, the JSON pointer the API
//   uses in a 422 for that value (and optionally `data-pointer-alt`, space-separated pointers of
//   containers whose errors it takes, e.g. a target's value takes `/config/targets/1`).
//   `placeApiError` shows a 422 beside the field whose pointer is the longest prefix of the
//   error's `path`, or in the form's alert box (`[role=alert]`) when no field matches.
// - A parameter left empty is left out of the params, so the server applies the schema's
//   default; defaults show as placeholders, pre-selected options and pre-checked boxes. A
//   required parameter is always sent. Keys of loaded params that the schema does not describe
//   are kept (in an "Other parameters (JSON)" box) so nothing is lost by a round trip.
// - Checks here are a courtesy: the server validates everything again and has the last word.

import { h, clear, errorBox, message } from "./dom.js";

let seq = 0;
// A fresh id for a control: `<prefix>-<n>` (prefix reduced to [a-z0-9-]).
export function uid(prefix) {
  return `${String(prefix).toLowerCase().replace(/[^a-z0-9-]+/g, "-")}-${++seq}`;
}

// Text with `backtick` spans (as scanner descriptions write code) as nodes: code for those.
export function rich(text) {
  return String(text ?? "").split(/(`[^`]+`)/).filter(Boolean)
    .map((part) => (part.length > 2 && part.startsWith("`") && part.endsWith("`") ? h("code", part.slice(1, -1)) : part));
}

// ---- fields ---------------------------------------------------------------------------------

const slots = new WeakMap(); // control → its .field-error element

// A labelled field: label, control, help, error slot. `control` must have an id (set when not).
// Options: label (text or nodes), help (text or nodes), pointer, alt (pointers), check (a
// checkbox: the label follows the box), required (adds a marker to the label), labelHidden.
export function field(control, { label, help, pointer, alt, check = false, required = false, labelHidden = false, cls } = {}) {
  if (!control.id) control.id = uid("f");
  const id = control.id;
  const helpEl = help ? h("p.help", { id: `${id}-help` }, help) : null;
  const error = errorSlot(control);
  describe(control, helpEl ? helpEl.id : null, error.id);
  if (pointer) control.dataset.pointer = pointer;
  if (alt) control.dataset.pointerAlt = alt;
  if (required && !check) control.setAttribute("aria-required", "true");
  const lab = h("label", { for: id, class: labelHidden ? "sr-only" : null }, label,
    required ? h("span.req", { "aria-hidden": "true", title: "required" }, " *") : null);
  if (check) {
    lab.className = "check-label";
    return h("div.field.check", { class: cls }, h("div.check-row", control, lab), helpEl, error);
  }
  return h("div.field", { class: cls }, lab, control, helpEl, error);
}

// The error slot of a control (created on first use; the caller places it).
export function errorSlot(control) {
  let s = slots.get(control);
  if (!s) {
    if (!control.id) control.id = uid("f");
    s = h("p.field-error", { id: `${control.id}-error` });
    slots.set(control, s);
  }
  return s;
}

// Adds ids to a control's aria-describedby.
export function describe(control, ...ids) {
  const cur = (control.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
  for (const i of ids) if (i && !cur.includes(i)) cur.push(i);
  if (cur.length) control.setAttribute("aria-describedby", cur.join(" "));
}

export function setError(control, text) {
  const s = errorSlot(control);
  s.textContent = text || "";
  if (text) control.setAttribute("aria-invalid", "true");
  else control.removeAttribute("aria-invalid");
}

// Re-checks a field showing an error as it is edited, so a fix clears the message at once.
// A field without an error gets none until the form is submitted: a message appearing on blur
// would move the button being clicked from under the pointer.
export function liveCheck(control, validate) {
  const typed = control.matches("input:not([type=checkbox]):not([type=radio]), textarea");
  control.addEventListener(typed ? "input" : "change", () => {
    if (control.getAttribute("aria-invalid") === "true") setError(control, validate());
  });
}

// Focuses a control, or the first focusable control inside a group.
export function focusControl(control) {
  // A field inside a closed <details> cannot take the focus: open it first.
  for (let d = control.closest("details"); d; d = d.parentElement?.closest("details")) d.open = true;
  const target = control.matches("input, select, textarea, button")
    ? control : control.querySelector("input:not(:disabled), select:not(:disabled), textarea:not(:disabled), button:not(:disabled)");
  (target || control).focus();
  (target || control).scrollIntoView?.({ block: "center", behavior: "instant" });
}

// Clears every field error and aria-invalid under `root`, and the alert box.
export function clearErrors(root, alertBox) {
  for (const el of root.querySelectorAll("[aria-invalid=true]")) el.removeAttribute("aria-invalid");
  for (const el of root.querySelectorAll(".field-error")) el.textContent = "";
  if (alertBox) clear(alertBox);
}

// Shows client-side errors ([{control, message}]) and focuses the first. Returns true if any.
export function showErrors(errors) {
  for (const e of errors) setError(e.control, e.message);
  if (errors.length) focusControl(errors[0].control);
  return errors.length > 0;
}

// The control under `root` whose data-pointer (or data-pointer-alt) is the longest prefix of
// `path` (segment-wise: `/config/targets/1` is a prefix of `/config/targets/1/value`, not of
// `/config/targets/10`). Controls that are disabled or not rendered are skipped.
export function controlFor(root, path) {
  if (typeof path !== "string") return null;
  let best = null;
  let bestLen = -1;
  for (const el of root.querySelectorAll("[data-pointer]")) {
    if (el.disabled || !el.isConnected || el.closest("[hidden]")) continue;
    const pointers = [el.dataset.pointer, ...(el.dataset.pointerAlt || "").split(" ")].filter(Boolean);
    for (const p of pointers) {
      if ((path === p || path.startsWith(`${p}/`)) && p.length > bestLen) {
        best = el;
        bestLen = p.length;
      }
    }
  }
  return best;
}

// Places an API error: a 422 beside the field its path names (aria-invalid, focused), anything
// else (or a 422 no field matches) in `alertBox` as a [role=alert]. Returns the control or null.
export function placeApiError(root, err, alertBox) {
  if (err && err.status === 422 && err.path !== null && err.path !== undefined) {
    const control = controlFor(root, err.path);
    if (control) {
      // Serde's position in the body ("… at line 1 column 103") means nothing beside a field.
      setError(control, (err.detail || message(err)).replace(/ at line \d+ column \d+$/, ""));
      focusControl(control);
      return control;
    }
  }
  if (alertBox) {
    clear(alertBox, errorBox(err));
    alertBox.scrollIntoView?.({ block: "nearest" });
  }
  return null;
}

// RFC 6901 escaping of one pointer segment.
export const escapePointer = (s) => String(s).replace(/~/g, "~0").replace(/\//g, "~1");

// ---- checks ---------------------------------------------------------------------------------

const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;
const show = (v) => (typeof v === "string" ? v : JSON.stringify(v));

// The main type of a property schema: string, integer, number, boolean, array, object, or
// null when it cannot be told (oneOf without type…). `nullable` when "null" is allowed too.
export function typeOf(prop) {
  if (!prop || typeof prop !== "object") return { type: null, nullable: false };
  let t = prop.type;
  let nullable = false;
  if (Array.isArray(t)) {
    nullable = t.includes("null");
    const rest = t.filter((x) => x !== "null");
    t = rest.length === 1 ? rest[0] : null;
  }
  if (!t && Array.isArray(prop.enum) && prop.enum.length) {
    const kinds = new Set(prop.enum.filter((v) => v !== null).map((v) => typeof v));
    if (kinds.size === 1) {
      const k = [...kinds][0];
      t = k === "number" ? (prop.enum.every((v) => v === null || Number.isInteger(v)) ? "integer" : "number")
        : k === "boolean" ? "boolean" : k === "string" ? "string" : null;
    }
  }
  if (!t && prop.properties) t = "object";
  if (!t && prop.items) t = "array";
  return { type: t || null, nullable };
}

// Checks a value against a (sub)schema; returns the first problem as a message, or null.
// Covers type, enum, const, numeric bounds, multipleOf, string length and pattern, array
// length, uniqueness and items, object required; oneOf/anyOf pass when a branch passes.
export function check(prop, value) {
  if (!prop || typeof prop !== "object") return null;
  const branches = prop.oneOf || prop.anyOf;
  if (Array.isArray(branches) && branches.length) {
    const msgs = branches.map((b) => check(b, value));
    if (!msgs.some((m) => m === null)) return msgs[0];
  }
  const { type, nullable } = typeOf(prop);
  if (value === null) return nullable || type === null ? null : "must not be empty";
  if (Array.isArray(prop.enum) && !prop.enum.some((e) => JSON.stringify(e) === JSON.stringify(value))) {
    return `must be one of ${prop.enum.map(show).join(", ")}`;
  }
  if ("const" in prop && JSON.stringify(prop.const) !== JSON.stringify(value)) return `must be ${show(prop.const)}`;
  switch (type) {
    case "integer":
      if (typeof value !== "number" || !Number.isInteger(value)) return "must be a whole number";
      return checkNumber(prop, value);
    case "number":
      if (typeof value !== "number" || !Number.isFinite(value)) return "must be a number";
      return checkNumber(prop, value);
    case "boolean":
      return typeof value === "boolean" ? null : "must be true or false";
    case "string":
      if (typeof value !== "string") return "must be text";
      return checkString(prop, value);
    case "array": {
      if (!Array.isArray(value)) return "must be a list";
      if (typeof prop.minItems === "number" && value.length < prop.minItems) {
        return prop.minItems === 1 ? "must have at least one item" : `must have at least ${plural(prop.minItems, "item")}`;
      }
      if (typeof prop.maxItems === "number" && value.length > prop.maxItems) return `must have at most ${plural(prop.maxItems, "item")}`;
      if (prop.uniqueItems) {
        const seen = new Set();
        for (const v of value) {
          const k = JSON.stringify(v);
          if (seen.has(k)) return `must not repeat ${show(v)}`;
          seen.add(k);
        }
      }
      if (prop.items && typeof prop.items === "object" && !Array.isArray(prop.items)) {
        for (let i = 0; i < value.length; i++) {
          const m = check(prop.items, value[i]);
          if (m) return `item ${i + 1} (${show(value[i])}): ${m}`;
        }
      }
      return null;
    }
    case "object": {
      if (typeof value !== "object" || Array.isArray(value)) return "must be a JSON object";
      for (const r of prop.required || []) if (!(r in value)) return `needs "${r}"`;
      if (prop.properties) {
        for (const [k, p] of Object.entries(prop.properties)) {
          if (k in value) {
            const m = check(p, value[k]);
            if (m) return `${k}: ${m}`;
          }
        }
      }
      if (prop.additionalProperties === false && prop.properties) {
        const extra = Object.keys(value).find((k) => !(k in prop.properties));
        if (extra) return `has an unknown key "${extra}"`;
      }
      return null;
    }
    default:
      return null;
  }
}

function checkNumber(prop, v) {
  if (typeof prop.minimum === "number" && v < prop.minimum) return `must be at least ${prop.minimum}`;
  if (typeof prop.maximum === "number" && v > prop.maximum) return `must be at most ${prop.maximum}`;
  if (typeof prop.exclusiveMinimum === "number" && v <= prop.exclusiveMinimum) return `must be more than ${prop.exclusiveMinimum}`;
  if (typeof prop.exclusiveMaximum === "number" && v >= prop.exclusiveMaximum) return `must be less than ${prop.exclusiveMaximum}`;
  if (typeof prop.multipleOf === "number" && prop.multipleOf > 0) {
    const q = v / prop.multipleOf;
    if (Math.abs(q - Math.round(q)) > 1e-9) return `must be a multiple of ${prop.multipleOf}`;
  }
  return null;
}

function checkString(prop, s) {
  const len = [...s].length;
  if (typeof prop.minLength === "number" && len < prop.minLength) {
    return prop.minLength === 1 ? "must not be empty" : `must be at least ${plural(prop.minLength, "character")}`;
  }
  if (typeof prop.maxLength === "number" && len > prop.maxLength) return `must be at most ${plural(prop.maxLength, "character")}`;
  if (typeof prop.pattern === "string") {
    let re = null;
    try { re = new RegExp(prop.pattern, "u"); } catch { /* a pattern JS cannot read: the server checks it */ }
    if (re && !re.test(s)) return `must match the pattern ${prop.pattern}`;
  }
  return null;
}

// What a schema allows, in words: "required · 1–65535 · one of a, b · at most 10 items".
// With `options: false`, enum values are left out (a select or checkboxes show them).
export function constraints(prop, required = false, { options = true } = {}) {
  const out = [];
  if (required) out.push("required");
  if (!prop || typeof prop !== "object") return out;
  const { type } = typeOf(prop);
  const lo = prop.minimum ?? null;
  const hi = prop.maximum ?? null;
  if (lo !== null && hi !== null) out.push(`${lo}–${hi}`);
  else if (lo !== null) out.push(`≥ ${lo}`);
  else if (hi !== null) out.push(`≤ ${hi}`);
  if (typeof prop.exclusiveMinimum === "number") out.push(`> ${prop.exclusiveMinimum}`);
  if (typeof prop.exclusiveMaximum === "number") out.push(`< ${prop.exclusiveMaximum}`);
  if (typeof prop.multipleOf === "number") out.push(`multiple of ${prop.multipleOf}`);
  if (typeof prop.minLength === "number" && prop.minLength > 0) out.push(prop.minLength === 1 ? "not empty" : `at least ${plural(prop.minLength, "character")}`);
  if (typeof prop.maxLength === "number") out.push(`at most ${plural(prop.maxLength, "character")}`);
  if (typeof prop.pattern === "string") out.push(`pattern ${prop.pattern}`);
  if (typeof prop.format === "string") out.push(`format ${prop.format}`);
  if (options && Array.isArray(prop.enum)) out.push(`one of ${prop.enum.map(show).join(", ")}`);
  if (type === "array") {
    if (typeof prop.minItems === "number" && prop.minItems > 0) out.push(`at least ${plural(prop.minItems, "item")}`);
    if (typeof prop.maxItems === "number") out.push(`at most ${plural(prop.maxItems, "item")}`);
    if (prop.uniqueItems) out.push("no repeats");
    if (prop.items && typeof prop.items === "object" && !Array.isArray(prop.items)) {
      const inner = constraints(prop.items, false, { options });
      if (inner.length) out.push(`each: ${inner.join(", ")}`);
    }
  }
  for (const key of ["oneOf", "anyOf"]) {
    if (Array.isArray(prop[key])) {
      out.push(`${key === "oneOf" ? "one of" : "any of"}: ${prop[key].map((b) => {
        const c = constraints(b);
        return `${typeLabel(b)}${c.length ? ` (${c.join(", ")})` : ""}`;
      }).join(" | ")}`);
    }
  }
  return out;
}

// A type for people: "integer", "list of string", "string or list of string", "JSON".
export function typeLabel(prop) {
  if (!prop || typeof prop !== "object") return "any";
  const branches = prop.oneOf || prop.anyOf;
  if (!prop.type && Array.isArray(branches)) return branches.map(typeLabel).join(" or ");
  const { type, nullable } = typeOf(prop);
  let t = type || "any";
  if (type === "array") t = `list of ${prop.items && !Array.isArray(prop.items) ? typeLabel(prop.items) : "any"}`;
  return nullable ? `${t} or null` : t;
}

// ---- the schema form --------------------------------------------------------------------------

// Lists in a textarea: one item per line; a single line with commas is split on the commas.
export function splitList(text) {
  const lines = String(text).split(/\r?\n/).map((s) => s.trim()).filter(Boolean);
  if (lines.length === 1 && lines[0].includes(",")) return lines[0].split(",").map((s) => s.trim()).filter(Boolean);
  return lines;
}

const SCALARS = new Set(["string", "integer", "number"]);

// How a property is edited: select | checkbox | number | text | checks (array of enum) |
// list (array of scalars, or string-or-list) | json.
function widgetOf(prop) {
  const { type } = typeOf(prop);
  const branches = prop.oneOf || prop.anyOf;
  if (!prop.type && Array.isArray(branches) && branches.length) {
    // A string or a list of strings (e.g. one rule file or several): one list box.
    const kinds = branches.map((b) => {
      const t = typeOf(b).type;
      if (t === "string" && !b.enum) return "string";
      if (t === "array" && b.items && typeOf(b.items).type === "string" && !b.items.enum) return "strings";
      return "other";
    });
    if (kinds.every((k) => k !== "other") && kinds.includes("strings")) return { kind: "list", itemType: "string", single: kinds.includes("string") };
    return { kind: "json" };
  }
  if (Array.isArray(prop.enum) && type !== "array" && type !== "object") return { kind: "select" };
  switch (type) {
    case "boolean": return { kind: "checkbox" };
    case "integer":
    case "number": return { kind: "number", type };
    case "string": return { kind: "text" };
    case "array": {
      const items = prop.items && !Array.isArray(prop.items) ? prop.items : {};
      const it = typeOf(items).type;
      if (Array.isArray(items.enum) && items.enum.length && items.enum.length <= 40 && SCALARS.has(it)) return { kind: "checks" };
      if (SCALARS.has(it) || (!it && !items.properties)) return { kind: "list", itemType: it || "string" };
      return { kind: "json" };
    }
    default: return { kind: "json" };
  }
}

// One parameter: builds its control and knows how to read and set it.
// read() → { present, value, error }; set(value) (undefined: back to the default).
function paramField(key, prop, { idBase, required }) {
  const w = widgetOf(prop);
  const id = uid(`${idBase}-${key}`);
  const def = prop.default;
  const hasDef = def !== undefined && def !== null;
  const label = prop.title && prop.title !== key ? [h("code", key), ` — ${prop.title}`] : h("code", key);
  const cons = constraints(prop, false, { options: w.kind !== "select" && w.kind !== "checks" });
  const helpParts = [];
  if (hasDef) helpParts.push(`Default: ${show(def)}.`);
  else if (!required) helpParts.push("Optional.");
  const desc = prop.description ? [...rich(String(prop.description).replace(/\.?$/, ".")), " "] : [];
  const help = () => [...desc, helpParts.join(" "), cons.length ? h("span.constraints", ` Allowed: ${cons.join(" · ")}.`) : null];
  let control;
  let el;
  let read;
  let set;

  switch (w.kind) {
    case "select": {
      control = h("select", { id });
      const empty = hasDef ? `Default (${show(def)})` : required ? "Choose…" : "Not set";
      if (!(required && hasDef)) control.append(h("option", { value: "" }, empty));
      for (const v of prop.enum) control.append(h("option", { value: JSON.stringify(v) }, show(v)));
      set = (v) => {
        const target = v === undefined ? (required && hasDef ? JSON.stringify(def) : "") : JSON.stringify(v);
        control.value = [...control.options].some((o) => o.value === target) ? target : "";
      };
      read = () => {
        if (control.value === "") return required ? { present: false, error: "is required" } : { present: false };
        return { present: true, value: JSON.parse(control.value) };
      };
      el = field(control, { label, help: help(), required });
      break;
    }
    case "checkbox": {
      control = h("input", { id, type: "checkbox" });
      const base = hasDef ? def === true : false;
      set = (v) => { control.checked = v === undefined ? base : v === true; };
      read = () => {
        if (required || control.checked !== base) return { present: true, value: control.checked };
        return { present: false };
      };
      el = field(control, { label, help: help(), check: true });
      break;
    }
    case "number": {
      const attrs = { id, type: "number", inputmode: w.type === "integer" ? "numeric" : "decimal", step: w.type === "integer" ? "1" : "any" };
      if (typeof prop.minimum === "number") attrs.min = prop.minimum;
      if (typeof prop.maximum === "number") attrs.max = prop.maximum;
      if (hasDef) attrs.placeholder = String(def);
      control = h("input", attrs);
      set = (v) => { control.value = v === undefined || v === null ? (required && hasDef ? String(def) : "") : String(v); };
      read = () => {
        if (control.validity?.badInput) return { present: false, error: w.type === "integer" ? "must be a whole number" : "must be a number" };
        const s = control.value.trim();
        if (!s) return required ? { present: false, error: "is required" } : { present: false };
        const n = Number(s);
        return { present: true, value: n };
      };
      el = field(control, { label, help: help(), required });
      break;
    }
    case "text": {
      const attrs = { id, type: "text", autocomplete: "off", spellcheck: "false" };
      if (typeof def === "string") attrs.placeholder = def;
      if (typeof prop.maxLength === "number") attrs.maxlength = prop.maxLength;
      control = h("input", attrs);
      set = (v) => { control.value = v === undefined || v === null ? (required && typeof def === "string" ? def : "") : String(v); };
      read = () => {
        const s = control.value;
        if (s === "") return required ? { present: false, error: "is required" } : { present: false };
        return { present: true, value: s };
      };
      el = field(control, { label, help: help(), required });
      break;
    }
    case "checks": {
      // An array of enum values: a group of checkboxes. None checked: the default.
      const items = prop.items;
      const groupId = id;
      const legendId = `${groupId}-label`;
      const boxes = items.enum.map((v) => h("input", { type: "checkbox", id: uid(`${groupId}-opt`), value: JSON.stringify(v) }));
      control = h("div.check-group", { id: groupId, role: "group", "aria-labelledby": legendId, tabindex: "-1" },
        boxes.map((b, i) => h("span.check-opt", b, h("label", { for: b.id }, show(items.enum[i])))));
      const helpEl = h("p.help", { id: `${groupId}-help` }, help(),
        !hasDef && !required ? " None checked: the scanner's default." : null);
      const error = errorSlot(control);
      describe(control, helpEl.id, error.id);
      for (const b of boxes) describe(b, helpEl.id, error.id);
      el = h("div.field", h("p.group-label", { id: legendId }, label,
        required ? h("span.req", { "aria-hidden": "true" }, " *") : null), control, helpEl, error);
      const defSet = Array.isArray(def) ? def.map((v) => JSON.stringify(v)) : [];
      set = (v) => {
        const want = Array.isArray(v) ? v.map((x) => JSON.stringify(x)) : defSet;
        for (const b of boxes) b.checked = want.includes(b.value);
      };
      read = () => {
        const picked = boxes.filter((b) => b.checked).map((b) => JSON.parse(b.value));
        const same = picked.length === defSet.length && picked.every((p) => defSet.includes(JSON.stringify(p)));
        if (!required && (picked.length === 0 || (hasDef && same))) return { present: false };
        return { present: true, value: picked };
      };
      break;
    }
    case "list": {
      const itemType = w.itemType;
      const attrs = { id, rows: 3, spellcheck: "false", autocomplete: "off" };
      if (Array.isArray(def)) attrs.placeholder = def.map(show).join("\n");
      else if (typeof def === "string") attrs.placeholder = def;
      control = h("textarea", attrs);
      set = (v) => {
        if (v === undefined || v === null) control.value = "";
        else control.value = (Array.isArray(v) ? v : [v]).map((x) => (typeof x === "string" ? x : JSON.stringify(x))).join("\n");
      };
      read = () => {
        const parts = splitList(control.value);
        if (!parts.length) return required ? { present: false, error: "is required" } : { present: false };
        let value = parts;
        if (itemType === "integer" || itemType === "number") {
          value = parts.map((p) => (p.trim() !== "" && Number.isFinite(Number(p)) ? Number(p) : p));
        }
        if (w.single && value.length === 1) value = value[0];
        return { present: true, value };
      };
      el = field(control, { label, help: [help(), " One per line (or separated by commas)."], required });
      break;
    }
    default: {
      const attrs = { id, rows: 4, spellcheck: "false", autocomplete: "off", class: "json" };
      if (hasDef) attrs.placeholder = JSON.stringify(def, null, 2);
      control = h("textarea", attrs);
      set = (v) => { control.value = v === undefined ? "" : JSON.stringify(v, null, 2); };
      read = () => {
        const s = control.value.trim();
        if (!s) return required ? { present: false, error: "is required" } : { present: false };
        try {
          return { present: true, value: JSON.parse(s) };
        } catch (e) {
          return { present: false, error: `must be valid JSON (${e.message})` };
        }
      };
      el = field(control, { label, help: [help(), " As JSON."], required });
    }
  }
  set(undefined);
  control.dataset.param = key;

  const validate = () => {
    const r = read();
    if (r.error) return r.error;
    if (!r.present) return null;
    return check(prop, r.value);
  };
  liveCheck(control, validate);

  return { key, prop, control, el, read, set, validate };
}

// A form for an object schema (`{"type":"object","properties":{…}}`).
// Returns { el, read(), set(values), setPointer(prefix), fields }:
// - read() → { value: params object, errors: [{control, message}] }
// - set(values): fills the fields (missing keys go back to their defaults); unknown keys are kept
// - setPointer(prefix): the JSON pointer of the params object (`/config/scanners/0/params`);
//   every field gets prefix + "/" + its key.
export function schemaForm(schema, { idBase = "p", values } = {}) {
  const props = schema && typeof schema === "object" && schema.properties && typeof schema.properties === "object"
    ? schema.properties : {};
  const required = new Set(Array.isArray(schema?.required) ? schema.required : []);
  const fields = Object.entries(props).map(([key, prop]) => paramField(key, prop || {}, { idBase, required: required.has(key) }));
  const known = new Set(Object.keys(props));

  // Keys the schema does not describe (a template saved against another version).
  const extraId = uid(`${idBase}-other`);
  const extraBox = h("textarea.json", { id: extraId, rows: 3, spellcheck: "false" });
  const extraField = field(extraBox, {
    label: "Other parameters (JSON)",
    help: "Parameters this server's schema does not describe, kept as they were loaded. Empty them to drop them.",
  });
  extraField.hidden = true;

  const el = h("div.schema-form",
    fields.length ? h("div.grid2", fields.map((f) => f.el)) : h("p.muted", "This scanner takes no parameters."),
    extraField);

  function set(values) {
    const v = values && typeof values === "object" && !Array.isArray(values) ? values : {};
    for (const f of fields) f.set(v[f.key]);
    const extra = Object.fromEntries(Object.entries(v).filter(([k]) => !known.has(k)));
    const any = Object.keys(extra).length > 0;
    extraBox.value = any ? JSON.stringify(extra, null, 2) : "";
    extraField.hidden = !any;
  }

  function read() {
    const value = {};
    const errors = [];
    for (const f of fields) {
      const r = f.read();
      const msg = r.error || (r.present ? check(f.prop, r.value) : null);
      if (msg) errors.push({ control: f.control, message: msg });
      else if (r.present) value[f.key] = r.value;
    }
    if (!extraField.hidden && extraBox.value.trim()) {
      try {
        const extra = JSON.parse(extraBox.value);
        if (!extra || typeof extra !== "object" || Array.isArray(extra)) throw new Error("not an object");
        for (const [k, x] of Object.entries(extra)) if (!known.has(k)) value[k] = x;
      } catch (e) {
        errors.push({ control: extraBox, message: `must be a JSON object (${e.message})` });
      }
    }
    return { value, errors };
  }

  function setPointer(prefix) {
    for (const f of fields) f.control.dataset.pointer = `${prefix}/${escapePointer(f.key)}`;
    extraBox.dataset.pointer = prefix;
  }

  set(values);
  return { el, read, set, setPointer, fields };
}
