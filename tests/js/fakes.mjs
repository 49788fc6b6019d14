/**
 * Test doubles for watch() and submit(): a WebSocket, an EventSource and a fetch that the
 * test drives by hand, plus small helpers to wait for asynchronous effects.
 */

/** A WebSocket the test opens, feeds and drops. `FakeWebSocket.instances` lists them all. */
export class FakeWebSocket extends EventTarget {
  static CONNECTING = 0;
  static OPEN = 1;
  static CLOSING = 2;
  static CLOSED = 3;
  /** @type {FakeWebSocket[]} */
  static instances = [];

  constructor(url) {
    super();
    this.url = url;
    this.readyState = 0;
    this.sent = [];
    this.closedWith = null;
    new.target.instances.push(this);
  }

  /** A fresh subclass with its own `instances`, so tests do not share state. */
  static make() {
    return class extends FakeWebSocket {
      static instances = [];
    };
  }

  send(data) {
    if (this.readyState !== 1) throw new Error("InvalidStateError: not open");
    this.sent.push(JSON.parse(data));
  }

  close(code = 1000) {
    if (this.readyState === 3) return;
    this.closedWith = code;
    this.readyState = 3;
    queueMicrotask(() => this.dispatchEvent(Object.assign(new Event("close"), { code, reason: "" })));
  }

  // -- the server's side --
  open() {
    this.readyState = 1;
    this.dispatchEvent(new Event("open"));
  }

  receive(message) {
    const data = typeof message === "string" ? message : JSON.stringify(message);
    this.dispatchEvent(Object.assign(new Event("message"), { data }));
  }

  /** The connection ends (1006: abnormal, e.g. network; 4404: job not found; …). */
  drop(code = 1006, reason = "") {
    this.readyState = 3;
    this.dispatchEvent(Object.assign(new Event("close"), { code, reason }));
  }
}

/** An EventSource the test opens, feeds named events to and fails. */
export class FakeEventSource extends EventTarget {
  /** @type {FakeEventSource[]} */
  static instances = [];

  constructor(url) {
    super();
    this.url = url;
    this.readyState = 0;
    this.closed = false;
    new.target.instances.push(this);
  }

  static make() {
    return class extends FakeEventSource {
      static instances = [];
    };
  }

  close() {
    this.closed = true;
    this.readyState = 2;
  }

  open() {
    this.readyState = 1;
    this.dispatchEvent(new Event("open"));
  }

  /** Send `message` as an SSE event named after its type, as the server does. */
  emit(message, type = message.type) {
    const event = Object.assign(new Event(type), { data: JSON.stringify(message), lastEventId: String(message.seq) });
    this.dispatchEvent(event);
  }

  /** The connection fails (a browser then tries to reconnect by itself: readyState 0). */
  fail() {
    this.readyState = 0;
    this.dispatchEvent(new Event("error"));
  }
}

/**
 * A fetch answered by `handler(url, init, call)`, which returns a Response (or a promise
 * of one) or throws. Every call is recorded in `fetch.calls` as `{url, init}`.
 */
export function fakeFetch(handler) {
  const calls = [];
  const fetch = async (url, init = {}) => {
    const call = { url: String(url), init };
    calls.push(call);
    return handler(call.url, init, calls.length);
  };
  fetch.calls = calls;
  return fetch;
}

/** A JSON Response. */
export function json(body, status = 200, headers = {}) {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json", ...headers },
  });
}

/** An error Response with jobwire's error shape. */
export function errorResponse(status, code, message = code, headers = {}, details = {}) {
  return json({ error: { code, message, details } }, status, headers);
}

/** A job snapshot with sensible defaults. */
export function snap(seq, fields = {}) {
  return {
    id: "j1",
    task: "demo.analyse",
    status: "running",
    step: "processing",
    current: seq * 10,
    total: 500,
    percent: Math.round(((seq * 10) / 500) * 1000) / 10,
    message: null,
    eta_seconds: 20,
    cancel_requested: false,
    seq,
    error: null,
    result_url: null,
    ...fields,
  };
}

/** A stream message `{type, seq, job}`. */
export function msg(type, seq, fields = {}) {
  const status = { completed: "succeeded", failed: "failed", cancelled: "cancelled" }[type];
  return { type, seq, job: snap(seq, status ? { status, ...fields } : fields) };
}

// The helpers below keep the real timer even while a test replaces globalThis.setTimeout.
const realSetTimeout = globalThis.setTimeout;

/** Let pending promises and zero-delay timers run. */
export function settle(ms = 5) {
  return new Promise((resolve) => realSetTimeout(resolve, ms));
}

/** Wait until `predicate()` is true (checked every millisecond), or fail after `timeout` ms. */
export async function until(predicate, timeout = 2000, what = "condition") {
  const deadline = Date.now() + timeout;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => realSetTimeout(resolve, 1));
  }
}

/** Callbacks that record what watch() reports. */
export function recorder() {
  const r = { updates: [], messages: [], done: [], errors: [] };
  r.onUpdate = (snapshot, message) => {
    r.updates.push(snapshot);
    r.messages.push(message);
  };
  r.onDone = (snapshot) => r.done.push(snapshot);
  r.onError = (error) => r.errors.push(error);
  r.seqs = () => r.messages.map((m) => m.seq);
  return r;
}
