// Lifecycle buttons of a scan, shared by the scans list and the scan detail page. Which buttons
// are enabled follows the scan's state (the engine's lifecycle table), which follows the events.

import * as api from "./api.js";
import { h, toast, message } from "./dom.js";

// The lifecycle: action → states it applies to (argus_core::scan::ScanState::apply).
const ACTIONS = [
  ["start", "Start", ["created"]],
  ["pause", "Pause", ["queued", "running"]],
  ["resume", "Resume", ["paused"]],
  ["stop", "Stop", ["queued", "running", "paused"]],
];

// One literal route per action, so tests/ui.rs can check each is an operation of the API.
const CALLS = {
  start: (id) => api.post(`/scans/${id}/start`),
  pause: (id) => api.post(`/scans/${id}/pause`),
  resume: (id) => api.post(`/scans/${id}/resume`),
  stop: (id) => api.post(`/scans/${id}/stop`),
};

// Returns { el, update(scan) }; `onChange(scan)` gets the scan the action answered with.
export function controls(scan, onChange) {
  const buttons = {};
  const el = h("div.actions.scan-controls", { role: "group", "aria-label": `Actions for ${scan.name}` });
  for (const [action, label] of ACTIONS) {
    const b = h("button.small", { type: "button", "data-action": action, class: action === "stop" ? "danger" : "" }, label);
    b.addEventListener("click", async (e) => {
      e.stopPropagation();
      for (const x of Object.values(buttons)) x.disabled = true;
      try {
        const updated = await CALLS[action](scan.id);
        onChange?.(updated);
      } catch (err) {
        toast(`${label} failed: ${message(err)}`, "error");
        update(scan);
      }
    });
    buttons[action] = b;
    el.append(b);
  }
  function update(s) {
    scan = s;
    for (const [action, , states] of ACTIONS) {
      const b = buttons[action];
      const ok = states.includes(s.state);
      b.disabled = !ok;
    }
    // Only the buttons that apply are shown (Pause and Resume take turns in one place).
    buttons.pause.hidden = s.state === "paused" || !["queued", "running"].includes(s.state);
    buttons.resume.hidden = s.state !== "paused";
    buttons.start.hidden = s.state !== "created";
    buttons.stop.hidden = !["queued", "running", "paused"].includes(s.state);
  }
  update(scan);
  return { el, update };
}
