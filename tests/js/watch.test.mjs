import { afterEach, describe, test } from "node:test";
import assert from "node:assert/strict";

import { JobwireError, watch } from "../../src/jobwire/static/jobwire.js";
import {
  FakeEventSource,
  FakeWebSocket,
  errorResponse,
  fakeFetch,
  json,
  msg,
  recorder,
  settle,
  snap,
  until,
} from "./fakes.mjs";

const BASE = "http://test";
const FAST = { initial: 1, max: 4 };
const noFetch = fakeFetch(() => {
  throw new Error("fetch should not be called");
});

/** watch() with fakes for everything, fast backoff, and a recorder for its callbacks. */
function start(jobId = "j1", options = {}) {
  const WebSocket = options.WebSocket === undefined ? FakeWebSocket.make() : options.WebSocket;
  const EventSource = options.EventSource === undefined ? FakeEventSource.make() : options.EventSource;
  const r = recorder();
  const handle = watch(jobId, {
    baseUrl: BASE,
    backoff: FAST,
    fetch: noFetch,
    ...options,
    WebSocket,
    EventSource,
    onUpdate: r.onUpdate,
    onDone: r.onDone,
    onError: r.onError,
  });
  handles.push(handle);
  return { handle, r, WebSocket, EventSource };
}

const handles = [];
afterEach(() => {
  while (handles.length) handles.pop().close();
});

const query = (url) => Object.fromEntries(new URL(url).searchParams);

describe("watch over WebSocket", () => {
  test("draws every message, then calls onDone once and closes", async () => {
    const { handle, r, WebSocket } = start("j1", { token: "st" });
    const [ws] = WebSocket.instances;
    assert.equal(ws.url, "ws://test/ws/jobs/j1?token=st");
    assert.equal(handle.transport, "ws");
    ws.open();
    ws.receive(msg("connected", 1));
    ws.receive(msg("progress", 2));
    ws.receive({ type: "ping" });
    ws.receive({ ...msg("log", 3), log: "halfway" });
    ws.receive(msg("completed", 4));
    assert.deepEqual(r.seqs(), [1, 2, 3, 4]);
    assert.equal(r.messages[2].log, "halfway");
    assert.equal(r.done.length, 1);
    assert.equal(r.done[0].status, "succeeded");
    assert.equal(ws.closedWith, 1000);
    assert.equal(handle.lastSeq, 4);
    assert.equal(handle.snapshot.status, "succeeded");
    await settle();
    assert.equal(WebSocket.instances.length, 1, "no reconnect after the final message");
    assert.deepEqual(r.errors, []);
  });

  test("https and a path prefix give a wss URL under that prefix", () => {
    const { WebSocket } = start("a b", { baseUrl: "https://x.test/jobs/", token: "t k" });
    assert.equal(WebSocket.instances[0].url, "wss://x.test/jobs/ws/jobs/a%20b?token=t+k");
  });

  test("a relative baseUrl resolves against the page's location", () => {
    globalThis.location = new URL("https://app.test/page/index.html");
    try {
      const { WebSocket } = start("j1", { baseUrl: "/jobwire" });
      assert.equal(WebSocket.instances[0].url, "wss://app.test/jobwire/ws/jobs/j1");
    } finally {
      delete globalThis.location;
    }
  });

  test("out-of-order and repeated seqs are dropped", () => {
    const { r, WebSocket } = start();
    const [ws] = WebSocket.instances;
    ws.open();
    for (const seq of [1, 3, 2, 3, 1, 4]) ws.receive(msg("progress", seq));
    assert.deepEqual(r.seqs(), [1, 3, 4]);
  });

  test("malformed frames are ignored", () => {
    const { r, WebSocket } = start();
    const [ws] = WebSocket.instances;
    ws.open();
    ws.receive("not json{");
    ws.receive(JSON.stringify({ type: "progress" }));
    ws.receive(msg("progress", 1));
    assert.deepEqual(r.seqs(), [1]);
  });

  test("resumes after a drop with after=<lastSeq> and never goes backwards", async () => {
    const { handle, r, WebSocket } = start("j1", { token: "st" });
    const [first] = WebSocket.instances;
    first.open();
    first.receive(msg("connected", 1));
    first.receive(msg("progress", 2));
    first.drop(1006);
    await until(() => WebSocket.instances.length === 2, 2000, "a reconnect");
    const second = WebSocket.instances[1];
    assert.deepEqual(query(second.url), { after: "2", token: "st" });
    assert.equal(handle.transport, "ws");
    second.open();
    second.receive(msg("progress", 2)); // already drawn
    second.receive(msg("progress", 3));
    second.receive(msg("completed", 4));
    assert.deepEqual(r.seqs(), [1, 2, 3, 4]);
    assert.equal(r.done.length, 1);
  });

  test("a clean close before the final message is a drop too", async () => {
    const { WebSocket } = start();
    const [ws] = WebSocket.instances;
    ws.open();
    ws.receive(msg("connected", 5));
    ws.drop(1000);
    await until(() => WebSocket.instances.length === 2);
    assert.equal(query(WebSocket.instances[1].url).after, "5");
  });

  test("a job that already ended: connected with a final snapshot is done", async () => {
    const { r, WebSocket } = start();
    const [ws] = WebSocket.instances;
    ws.open();
    ws.receive(msg("connected", 9, { status: "failed", error: { code: "task_error", message: "boom" } }));
    assert.equal(r.done.length, 1);
    assert.equal(r.done[0].status, "failed");
    ws.drop(1000);
    await settle();
    assert.equal(WebSocket.instances.length, 1);
  });

  test("onDone is called exactly once, and nothing after it", async () => {
    const { r, WebSocket } = start();
    const [ws] = WebSocket.instances;
    ws.open();
    ws.receive(msg("progress", 1));
    ws.receive(msg("cancelled", 2));
    ws.receive(msg("cancelled", 2));
    ws.receive(msg("progress", 3));
    ws.drop(1000);
    await settle();
    assert.equal(r.done.length, 1);
    assert.equal(r.done[0].status, "cancelled");
    assert.deepEqual(r.seqs(), [1, 2]);
  });

  test("close 4404 is fatal: onError, no retry", async () => {
    const { handle, r, WebSocket, EventSource } = start();
    const [ws] = WebSocket.instances;
    ws.open();
    ws.drop(4404);
    await settle(20);
    assert.equal(r.errors.length, 1);
    assert.ok(r.errors[0] instanceof JobwireError);
    assert.equal(r.errors[0].status, 404);
    assert.equal(r.errors[0].code, "job_not_found");
    assert.equal(WebSocket.instances.length, 1);
    assert.equal(EventSource.instances.length, 0);
    assert.equal(r.done.length, 0);
    assert.equal(handle.transport, "ws");
  });

  test("close 4401 is fatal even before the socket opened", async () => {
    const { r, WebSocket, EventSource } = start();
    WebSocket.instances[0].drop(4401);
    await settle(20);
    assert.equal(r.errors.length, 1);
    assert.equal(r.errors[0].status, 401);
    assert.equal(r.errors[0].code, "unauthorized");
    assert.equal(WebSocket.instances.length + EventSource.instances.length, 1);
  });

  test("an error frame before close 4404 reports once, with the server's message", async () => {
    const { r, WebSocket } = start();
    const [ws] = WebSocket.instances;
    ws.open();
    ws.receive({ type: "error", error: { code: "job_not_found", message: "No job 'j1'" } });
    ws.drop(4404, "job not found");
    await settle(20);
    assert.equal(r.errors.length, 1);
    assert.equal(r.errors[0].status, 404);
    assert.equal(r.errors[0].message, "No job 'j1'");
    assert.equal(WebSocket.instances.length, 1);
  });

  test("the end of a share (an error frame, then close 4403) is fatal, with the server's message", async () => {
    const { r, WebSocket, EventSource } = start();
    const [ws] = WebSocket.instances;
    ws.open();
    ws.receive(msg("progress", 1));
    ws.receive({ type: "error", error: { code: "share_ended", message: "The share of job j1 ended." } });
    ws.drop(4403, "The share of job j1 ended.");
    await settle(20);
    assert.equal(r.errors.length, 1);
    assert.ok(r.errors[0] instanceof JobwireError);
    assert.equal(r.errors[0].status, 403);
    assert.equal(r.errors[0].code, "share_ended");
    assert.equal(r.errors[0].message, "The share of job j1 ended.");
    assert.equal(WebSocket.instances.length + EventSource.instances.length, 1);
  });

  test("close 4403 alone is fatal too", async () => {
    const { r, WebSocket } = start();
    WebSocket.instances[0].open();
    WebSocket.instances[0].drop(4403);
    await settle(20);
    assert.equal(r.errors.length, 1);
    assert.equal(r.errors[0].code, "share_ended");
    assert.equal(WebSocket.instances.length, 1);
  });

  test("other error frames (a cancel that crossed the end) do not stop the watch", () => {
    const { r, WebSocket } = start();
    const [ws] = WebSocket.instances;
    ws.open();
    ws.receive(msg("progress", 1));
    ws.receive({ type: "error", job_id: "j1", error: { code: "job_finished", message: "It already ended." } });
    ws.receive(msg("completed", 2));
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.seqs(), [1, 2]);
    assert.equal(r.done.length, 1);
  });

  test("resumes from `after` when given one", () => {
    const { handle, WebSocket } = start("j1", { after: 7 });
    assert.equal(query(WebSocket.instances[0].url).after, "7");
    assert.equal(handle.lastSeq, 7);
  });
});

describe("fallback", () => {
  test("ws → sse when the WebSocket fails to open", async () => {
    const { handle, r, WebSocket, EventSource } = start("j1", { token: "st" });
    WebSocket.instances[0].drop(1006); // refused before opening (a proxy, a firewall)
    assert.equal(EventSource.instances.length, 1, "falls back at once, without waiting");
    const [es] = EventSource.instances;
    assert.equal(es.url, "http://test/api/jobs/j1/events?token=st");
    assert.equal(handle.transport, "sse");
    es.open();
    es.emit(msg("connected", 1));
    es.emit(msg("status", 2));
    es.emit({ ...msg("log", 3), log: "hello" });
    es.emit(msg("progress", 4));
    es.emit(msg("completed", 5));
    assert.deepEqual(r.seqs(), [1, 2, 3, 4, 5]);
    assert.equal(r.done.length, 1);
    assert.equal(es.closed, true);
    await settle();
    assert.equal(WebSocket.instances.length, 1);
  });

  test("sse is used at once when there is no WebSocket", () => {
    const { handle, EventSource } = start("j1", { WebSocket: null });
    assert.equal(handle.transport, "sse");
    assert.equal(EventSource.instances.length, 1);
  });

  test("ws → sse when the WebSocket does not open in time", async () => {
    const { WebSocket, EventSource } = start("j1", { openTimeout: 10 });
    await until(() => EventSource.instances.length === 1, 2000, "the SSE fallback");
    assert.equal(WebSocket.instances[0].closedWith, 1000);
  });

  test("ws → sse → poll when neither stream opens", async () => {
    const fetch = fakeFetch(() => json(snap(3, { status: "succeeded" }), 200, { ETag: '"j1.3"' }));
    const { handle, r, WebSocket, EventSource } = start("j1", { fetch, token: "st" });
    WebSocket.instances[0].drop(1006);
    EventSource.instances[0].fail();
    assert.equal(EventSource.instances[0].closed, true, "the browser's own reconnect is stopped");
    assert.equal(handle.transport, "poll");
    await until(() => r.done.length === 1, 2000, "onDone");
    assert.equal(fetch.calls.length, 1);
    const url = new URL(fetch.calls[0].url);
    assert.equal(url.pathname, "/api/jobs/j1");
    assert.deepEqual(Object.fromEntries(url.searchParams), { wait: "25", token: "st" });
    assert.equal(r.messages[0].type, "completed");
  });

  test("no transport at all is reported", () => {
    const { r } = start("j1", { transports: ["ws", "sse"], WebSocket: null, EventSource: null });
    assert.equal(r.errors.length, 1);
    assert.equal(r.errors[0].code, "no_transport");
  });

  test("unknown transports are refused", () => {
    assert.throws(() => watch("j1", { transports: ["carrier-pigeon"] }), TypeError);
    assert.throws(() => watch("", {}), TypeError);
  });

  test("a WebSocket that worked is retried before falling back", async () => {
    const { r, WebSocket, EventSource } = start();
    WebSocket.instances[0].open();
    WebSocket.instances[0].receive(msg("connected", 1));
    WebSocket.instances[0].drop(1006);
    for (let n = 2; n <= 4; n++) {
      await until(() => WebSocket.instances.length === n || EventSource.instances.length > 0);
      assert.equal(EventSource.instances.length, 0, `no fallback before reconnect ${n - 1}`);
      WebSocket.instances[n - 1].drop(1006); // fails to open again
    }
    await until(() => EventSource.instances.length === 1, 2000, "the SSE fallback");
    assert.equal(WebSocket.instances.length, 4, "three reopen attempts, then SSE");
    assert.equal(query(EventSource.instances[0].url).after, "1");
    assert.deepEqual(r.seqs(), [1]);
  });
});

describe("watch over SSE", () => {
  test("resumes after a drop with after=<lastSeq>", async () => {
    const { r, EventSource } = start("j1", { WebSocket: null, token: "st" });
    const [first] = EventSource.instances;
    first.open();
    first.emit(msg("connected", 4));
    first.emit(msg("progress", 6));
    first.fail();
    assert.equal(first.closed, true);
    await until(() => EventSource.instances.length === 2, 2000, "a reconnect");
    const second = EventSource.instances[1];
    assert.deepEqual(query(second.url), { after: "6", token: "st" });
    second.open();
    second.emit(msg("progress", 5));
    second.emit(msg("progress", 6));
    second.emit(msg("failed", 7));
    assert.deepEqual(r.seqs(), [4, 6, 7]);
    assert.equal(r.done.length, 1);
    assert.equal(r.done[0].status, "failed");
  });

  test("the server's `error` event for the end of a share is fatal; it does not reconnect", async () => {
    const { r, EventSource } = start("j1", { WebSocket: null });
    const [es] = EventSource.instances;
    es.open();
    es.emit(msg("progress", 2));
    es.emit({ type: "error", error: { code: "share_ended", message: "The share of job j1 ended." } }, "error");
    await settle(20);
    assert.equal(r.errors.length, 1);
    assert.equal(r.errors[0].status, 403);
    assert.equal(r.errors[0].code, "share_ended");
    assert.equal(es.closed, true);
    assert.equal(EventSource.instances.length, 1);
  });
});

describe("watch by polling", () => {
  test("sends If-None-Match, takes 304 as no change, stops after the final snapshot", async () => {
    const answers = [
      () => json(snap(1), 200, { ETag: '"j1.1"' }),
      () => new Response(null, { status: 304, headers: { ETag: '"j1.1"' } }),
      () => json(snap(2, { status: "running", cancel_requested: true }), 200, { ETag: '"j1.2"' }),
      () => json(snap(3, { status: "cancelled" }), 200, { ETag: '"j1.3"' }),
    ];
    const fetch = fakeFetch((url, init, n) => answers[n - 1]());
    const { r } = start("j1", { transports: ["poll"], fetch, pollInterval: 1 });
    await until(() => r.done.length === 1, 2000, "onDone");
    const sent = fetch.calls.map((c) => c.init.headers["If-None-Match"]);
    assert.deepEqual(sent, [undefined, '"j1.1"', '"j1.1"', '"j1.2"']);
    assert.deepEqual(r.seqs(), [1, 2, 3]);
    assert.deepEqual(
      r.messages.map((m) => m.type),
      ["connected", "status", "cancelled"],
    );
    await settle(20);
    assert.equal(fetch.calls.length, 4, "no poll after the final snapshot");
    assert.equal(r.done.length, 1);
  });

  test("an older polled snapshot is dropped and keeps the newer ETag", async () => {
    const answers = [
      () => json(snap(3), 200, { ETag: '"j1.3"' }),
      () => json(snap(2), 200, { ETag: '"j1.2"' }), // e.g. a lagging replica
      () => json(snap(4, { status: "succeeded" }), 200, { ETag: '"j1.4"' }),
    ];
    const fetch = fakeFetch((url, init, n) => answers[n - 1]());
    const { r } = start("j1", { transports: ["poll"], fetch, pollInterval: 1 });
    await until(() => r.done.length === 1, 2000, "onDone");
    assert.deepEqual(
      fetch.calls.map((c) => c.init.headers["If-None-Match"]),
      [undefined, '"j1.3"', '"j1.3"'],
    );
    assert.deepEqual(r.seqs(), [3, 4]);
  });

  test("the first poll after a stream waits on the seq already drawn", async () => {
    const fetch = fakeFetch(() => json(snap(3, { status: "succeeded" }), 200));
    const { r, WebSocket } = start("j1", { transports: ["ws", "poll"], fetch });
    const [ws] = WebSocket.instances;
    ws.open();
    ws.receive(msg("connected", 2));
    for (let i = 0; i < 4; i++) {
      await until(() => WebSocket.instances.length > i || fetch.calls.length > 0);
      if (fetch.calls.length) break;
      WebSocket.instances.at(-1).drop(1006);
    }
    await until(() => r.done.length === 1, 2000, "onDone");
    assert.equal(fetch.calls[0].init.headers["If-None-Match"], '"j1.2"');
    assert.deepEqual(r.seqs(), [2, 3]);
  });

  test("404 is fatal: onError, no retry", async () => {
    const fetch = fakeFetch(() => errorResponse(404, "job_not_found", "No job 'nope'"));
    const { r } = start("nope", { transports: ["poll"], fetch });
    await until(() => r.errors.length === 1, 2000, "onError");
    await settle(20);
    assert.equal(fetch.calls.length, 1);
    assert.equal(r.errors[0].status, 404);
    assert.equal(r.errors[0].code, "job_not_found");
    assert.equal(r.errors[0].message, "No job 'nope'");
    assert.equal(r.done.length, 0);
  });

  test("401 is fatal too", async () => {
    const fetch = fakeFetch(() => errorResponse(401, "unauthorized", "expired"));
    const { r } = start("j1", { transports: ["poll"], fetch });
    await until(() => r.errors.length === 1);
    await settle(20);
    assert.equal(fetch.calls.length, 1);
    assert.equal(r.errors[0].status, 401);
  });

  test("server errors and network failures are retried", async () => {
    const answers = [
      () => errorResponse(503, "unavailable"),
      () => {
        throw new TypeError("Failed to fetch");
      },
      () => json(snap(1, { status: "succeeded" })),
    ];
    const fetch = fakeFetch((url, init, n) => answers[n - 1]());
    const { r } = start("j1", { transports: ["poll"], fetch });
    await until(() => r.done.length === 1, 2000, "onDone");
    assert.equal(fetch.calls.length, 3);
    assert.deepEqual(r.errors, []);
  });

  test("close() aborts the poll in flight", async () => {
    let signal;
    const fetch = fakeFetch((url, init) => {
      signal = init.signal;
      return new Promise(() => {}); // a long poll that never answers
    });
    const { handle, r } = start("j1", { transports: ["poll"], fetch });
    await until(() => signal !== undefined);
    handle.close();
    assert.equal(signal.aborted, true);
    await settle();
    assert.deepEqual([r.updates, r.done, r.errors], [[], [], []]);
  });
});

describe("backoff", () => {
  /** Run `fn` with setTimeout recording the delays it is asked for and firing at once. */
  async function withRecordedTimers(fn) {
    const original = globalThis.setTimeout;
    const delays = [];
    globalThis.setTimeout = (callback, delay = 0, ...args) => {
      if (delay > 0 && delay < 1000) delays.push(delay); // not the open timeout nor poll interval
      return original(callback, delay >= 1000 ? delay : 0, ...args);
    };
    try {
      await fn(delays);
    } finally {
      globalThis.setTimeout = original;
    }
  }

  test("grows with every failure, is capped, and restarts after a success", async () => {
    await withRecordedTimers(async (delays) => {
      let failing = true;
      let successes = 0;
      const fetch = fakeFetch(() => {
        if (failing) throw new TypeError("offline");
        successes += 1;
        failing = true; // one answer, then offline again
        return json(snap(successes));
      });
      start("j1", {
        transports: ["poll"],
        fetch,
        backoff: { initial: 100, max: 800 },
        random: () => 1,
        pollInterval: 0, // the next poll after a success is not a backoff: fire it at once
      });
      await until(() => delays.length >= 6, 2000, "six retries");
      assert.deepEqual(delays.slice(0, 6), [100, 200, 400, 800, 800, 800]);
      failing = false;
      await until(() => successes === 1, 2000, "a success");
      const after = delays.length;
      await until(() => delays.length >= after + 2, 2000, "retries after the success");
      assert.deepEqual(delays.slice(after, after + 2), [100, 200]);
    });
  });

  test("a socket that opens and drops at once backs off; a message resets it", async () => {
    await withRecordedTimers(async (delays) => {
      const { WebSocket } = start("j1", { backoff: { initial: 100, max: 800 }, random: () => 1 });
      for (let n = 1; n <= 4; n++) {
        await until(() => WebSocket.instances.length === n, 2000, `socket ${n}`);
        const ws = WebSocket.instances[n - 1];
        ws.open();
        if (n === 3) ws.receive({ type: "ping" });
        ws.drop(1006);
      }
      await until(() => WebSocket.instances.length === 5, 2000, "socket 5");
      assert.deepEqual(delays, [100, 200, 100, 200]);
    });
  });

  test("honours Retry-After on 429", async () => {
    await withRecordedTimers(async (delays) => {
      const answers = [() => errorResponse(429, "rate_limited", "slow", { "Retry-After": "0.5" }), () => json(snap(1, { status: "succeeded" }))];
      const fetch = fakeFetch((url, init, n) => answers[n - 1]());
      const { r } = start("j1", { transports: ["poll"], fetch, backoff: { initial: 7, max: 7 } });
      await until(() => r.done.length === 1, 2000, "onDone");
      assert.deepEqual(delays, [500]);
    });
  });
});

describe("cancel", () => {
  test("goes over the WebSocket when it is open", async () => {
    const { handle, WebSocket } = start();
    const [ws] = WebSocket.instances;
    ws.open();
    assert.equal(await handle.cancel(), null);
    assert.deepEqual(ws.sent, [{ type: "cancel" }]);
    assert.equal(noFetch.calls.length, 0);
  });

  test("POSTs /api/jobs/{id}/cancel otherwise", async () => {
    const fetch = fakeFetch(() => json(snap(4, { cancel_requested: true }), 202));
    const { handle, WebSocket } = start("j1", { fetch, token: "st" });
    assert.equal(WebSocket.instances[0].readyState, 0, "still connecting");
    const answer = await handle.cancel();
    assert.equal(answer.cancel_requested, true);
    assert.equal(fetch.calls.length, 1);
    assert.equal(fetch.calls[0].url, "http://test/api/jobs/j1/cancel?token=st");
    assert.equal(fetch.calls[0].init.method, "POST");
    assert.deepEqual(WebSocket.instances[0].sent, []);
  });

  test("POSTs when watching over SSE, and rejects with the server's error", async () => {
    const fetch = fakeFetch(() => errorResponse(409, "job_finished", "It already ended."));
    const { handle, EventSource } = start("j1", { fetch, WebSocket: null });
    EventSource.instances[0].open();
    await assert.rejects(handle.cancel(), (error) => error instanceof JobwireError && error.status === 409 && error.code === "job_finished");
  });
});

describe("close", () => {
  test("stops callbacks and reconnects", async () => {
    const { handle, r, WebSocket } = start();
    const [ws] = WebSocket.instances;
    ws.open();
    ws.receive(msg("progress", 1));
    handle.close();
    handle.close(); // idempotent
    assert.equal(ws.closedWith, 1000);
    ws.receive(msg("progress", 2));
    ws.drop(1006);
    await settle(20);
    assert.deepEqual(r.seqs(), [1]);
    assert.equal(WebSocket.instances.length, 1);
    assert.deepEqual([r.done, r.errors], [[], []]);
  });

  test("a callback that throws does not break the watch", async (t) => {
    const errors = t.mock.method(console, "error", () => {});
    const WebSocket = FakeWebSocket.make();
    const done = [];
    const handle = watch("j1", {
      baseUrl: BASE,
      WebSocket,
      onUpdate: () => {
        throw new Error("bug in the page");
      },
      onDone: (s) => done.push(s),
    });
    handles.push(handle);
    const [ws] = WebSocket.instances;
    ws.open();
    ws.receive(msg("progress", 1));
    ws.receive(msg("completed", 2));
    assert.equal(done.length, 1);
    assert.equal(errors.mock.callCount(), 2);
  });
});
