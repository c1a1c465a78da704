// Server-Sent Events over fetch, so the stream carries the same Authorization header as every
// other request (EventSource cannot send one).
//
// Invariants:
// - Each event is handed on once, in order: the last seen id is sent as Last-Event-ID when the
//   stream reconnects, and the server resumes exactly after it.
// - A dropped stream is retried with backoff (1 s doubling to 10 s) until closed; the connection
//   state (api.markConnection) follows, so the app shows the server as unreachable meanwhile.
// - A 4xx answer ends the stream for good (retrying cannot help) and is reported to onError.

import { authHeaders, markConnection, markReconnected, ApiError } from "./api.js";

// `untilEnd`: the server ends this stream on purpose (`?until_terminal=true`), so a clean end
// is final; otherwise a clean end (the server shutting down) is a drop, and it reconnects.
export function stream(path, { lastEventId = null, untilEnd = false, onEvent, onOpen, onError, onEnd } = {}) {
  const url = path.startsWith("/api/") ? path : `/api/v1${path}`;
  let last = lastEventId;
  let closed = false;
  let controller = null;
  let delay = 1000;
  let opened = false;

  async function connect() {
    while (!closed) {
      controller = new AbortController();
      const headers = authHeaders({ Accept: "text/event-stream" });
      if (last !== null && last !== undefined) headers["Last-Event-ID"] = String(last);
      try {
        const res = await fetch(url, { headers, signal: controller.signal, cache: "no-store" });
        markConnection(true);
        if (!res.ok) {
          let problem = {};
          try { problem = await res.json(); } catch { /* keep the status */ }
          const err = new ApiError(res.status, problem);
          if (res.status < 500) { closed = true; onError?.(err); return; }
          throw err;
        }
        delay = 1000;
        if (opened) markReconnected();
        opened = true;
        onOpen?.();
        await read(res.body);
        if (untilEnd && !closed) { closed = true; onEnd?.(); return; }
      } catch (e) {
        if (closed) return;
        if (!(e instanceof ApiError)) markConnection(false);
      }
      if (closed) return;
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 10000);
    }
  }

  // Reads frames until the body ends (it throws when the connection drops).
  async function read(body) {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    let buf = "";
    let frame = { id: null, event: "message", data: [] };
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buf += decoder.decode(value, { stream: true });
      let nl;
      while ((nl = buf.search(/\r?\n/)) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + (buf[nl] === "\r" ? 2 : 1));
        if (line === "") {
          if (frame.data.length) {
            if (frame.id !== null) last = frame.id;
            let data = frame.data.join("\n");
            try { data = JSON.parse(data); } catch { /* leave as text */ }
            onEvent?.(frame.event, data, frame.id);
          }
          frame = { id: null, event: "message", data: [] };
          continue;
        }
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        let value = colon < 0 ? "" : line.slice(colon + 1);
        if (value.startsWith(" ")) value = value.slice(1);
        if (field === "id") frame.id = value;
        else if (field === "event") frame.event = value;
        else if (field === "data") frame.data.push(value);
      }
    }
  }

  connect();
  return {
    close() { closed = true; controller?.abort(); },
    get lastEventId() { return last; },
  };
}

// Follows the org's stream (`/events`, which starts with the next event) and resolves once it
// is open (or after 3 s, so a page never hangs on it): read a list after this, then apply the
// events on top, and nothing between the two is missed.
export async function followOrg({ onEvent, onError }) {
  let resolveOpen;
  const opened = new Promise((r) => { resolveOpen = r; });
  const live = stream("/events", {
    onOpen: () => resolveOpen(),
    onError: (e) => { resolveOpen(); onError?.(e); },
    onEvent,
  });
  await Promise.race([opened, new Promise((r) => setTimeout(r, 3000))]);
  return live;
}
