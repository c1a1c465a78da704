// Template editor (/ui/templates/new, /ui/templates/<id>): a template's name, description and
// scan config, with the same config editor as the New scan page (new_scan.js `configForm`).
//
// Invariants:
// - `form#template-form` saves with `POST /api/v1/templates` (new) or `PUT /templates/<id>`
//   (existing), body `{name, description, config}`; the server validates the config as it would
//   a scan's, and a 422 shows beside the field its `path` names (`/name`, `/description`,
//   `/config/...`), or in the form's `[role=alert]` box.
// - Nothing is saved until the form is submitted; after a save the page shows the template list.
// - A template naming scanners this server does not know shows a warning; those scanners are
//   dropped from what is saved (the server would refuse them anyway).

import * as api from "../api.js";
import { h, clear, toast, errorBox, when } from "../dom.js";
import { field, clearErrors, showErrors, placeApiError } from "../schema_form.js";
import { configForm, renderPlan, scannerRegistry } from "./new_scan.js";

export async function render(main, ctx) {
  const abort = new AbortController();
  const { signal } = abort;
  const id = ctx.params[0] === "new" ? null : ctx.params[0];

  let template = null;
  const registryP = scannerRegistry({ signal });
  if (id) {
    try {
      template = await api.get(`/templates/${id}`, { signal });
    } catch (e) {
      if (e instanceof api.ApiError && e.status === 404) {
        clear(main, h("h1", "Template not found"), errorBox(e),
          h("p", h("a", { href: "/ui/templates", "data-link": true }, "Back to the templates")));
        return () => abort.abort();
      }
      throw e;
    }
  }
  const registry = await registryP;

  const alertBox = h("div.form-alert");
  const notes = h("div.form-notes");
  const name = h("input#template-name", { type: "text", maxlength: 200, autocomplete: "off", required: true });
  const description = h("textarea#template-description", { rows: 2 });
  const cfg = configForm(registry);
  const save = h("button#save.primary", { type: "submit" }, id ? "Save changes" : "Create template");
  const planBtn = h("button#plan", { type: "button" }, "Preview plan");
  const preview = h("section#plan-preview", { "aria-live": "polite", "aria-label": "Plan preview" });

  const form = h("form#template-form", { novalidate: true },
    alertBox, notes,
    h("div.grid2",
      field(name, { label: "Name", pointer: "/name", required: true, help: "1–200 characters; shown in the template list and the New scan page." }),
      field(description, { label: "Description", pointer: "/description", help: "Optional: what this template is for." })),
    cfg.el,
    h("div.actions.form-actions", save, planBtn,
      id ? h("a.button", { href: `/ui/scans/new?template=${id}`, "data-link": true }, "New scan from it") : null,
      id ? h("a.button#schedule-it", { href: `/ui/schedules/new?template=${id}`, "data-link": true }, "Schedule this template") : null,
      h("a.button", { href: "/ui/templates", "data-link": true }, "Cancel")),
    preview);

  clear(main,
    h("div.page-head", h("h1", id ? `Template: ${template.name}` : "New template")),
    template ? h("p.muted", `Last updated ${when(template.updated_at)}.`) : null,
    form);

  if (template) {
    name.value = template.name;
    description.value = template.description || "";
    for (const w of cfg.set(template.config)) notes.append(h("div.banner.warning", { role: "status" }, w));
  }

  function collect() {
    clearErrors(form, alertBox);
    const { config, errors } = cfg.read();
    const n = name.value.trim();
    if (!n) errors.unshift({ control: name, message: "enter a name" });
    else if ([...name.value].length > 200) errors.unshift({ control: name, message: "must be at most 200 characters" });
    if (showErrors(errors)) return null;
    return { name: n, description: description.value.trim() || null, config };
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
      const t = id
        ? await api.put(`/templates/${id}`, body, { signal })
        : await api.post("/templates", body, { signal });
      toast(`Template "${t.name}" saved`, "success");
      ctx.navigate("/ui/templates");
    } catch (err) {
      if (err.name === "AbortError") return;
      placeApiError(form, err, alertBox);
    } finally {
      saving = false;
      save.disabled = false;
      form.removeAttribute("aria-busy");
    }
  });

  planBtn.addEventListener("click", async () => {
    const body = collect();
    if (!body) return;
    planBtn.disabled = true;
    clear(preview, h("p.muted", "Planning…"));
    try {
      clear(preview, renderPlan(await api.post("/scans/plan", { config: body.config }, { signal })));
      preview.scrollIntoView?.({ block: "start", behavior: "smooth" });
    } catch (err) {
      if (err.name === "AbortError") return;
      clear(preview);
      placeApiError(form, err, alertBox);
    } finally {
      planBtn.disabled = false;
    }
  });

  return () => abort.abort();
}
