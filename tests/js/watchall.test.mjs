import { afterEach, describe, test } from "node:test";
import assert from "node:assert/strict";

import { watchAll } from "../../src/jobwire/static/jobwire.js";
import { FakeWebSocket, errorResponse, fakeFetch, json, msg, settle, snap, until } from "./fakes.mjs";

const BASE = "http://test";

const handles = [];
afterEach(() => {
  while (handles.length) handles.pop().close();
});

/** watchAll() on a fake WebSocket, fast backoff, recording every callback. */
function start(options = {}) {
  const WebSocket = options.WebSocket === undefined ? FakeWebSocket.make() : options.WebSocket;
  const r = { updates: [], opens: 0, closes: [], errors: [] };
  const handle = watchAll({
    baseUrl: BASE,
    backoff: { initial: 1, max: 4 },
    ...options,
    WebSocket,
    onUpdate: (job, message) => r.updates.push([job.id, message.seq, message.type]),
    onOpen: () => (r.opens += 1),
    onClose: (info) => r.closes.push(info.code),
    onError: (error) => r.errors.push(error),
  });
  handles.push(handle);
  return { handle, r, WebSocket };
}

const other = (type, seq) => ({ ...msg(type, seq), job: snap(seq, { id: "j2" }) });

describe("watchAll", () => {
  test("opens /ws, subscribes to all jobs, and delivers each job's messages in seq order", async () => {
    const { handle, r, WebSocket } = start();
    const [ws] = WebSocket.instances;
    assert.equal(ws.url, "ws://test/ws");
    assert.equal(handle.open, false);
    ws.open();
    assert.deepEqual(ws.sent, [{ type: "subscribe", all: true }]);
    assert.equal(handle.open, true);
    assert.equal(r.opens, 1);
    ws.receive(msg("status", 1));
    ws.receive(other("connected", 4));
    ws.receive(msg("progress", 2));
    ws.receive(msg("progress", 2)); // a duplicate
    ws.receive(msg("progress", 1)); // older
    ws.receive({ type: "ping" });
    ws.receive("not json");
    ws.receive({ type: "error", error: { code: "job_finished", message: "ended" } });
    ws.receive(other("progress", 5));
    ws.receive(msg("completed", 3));
    assert.deepEqual(r.updates, [
      ["j1", 1, "status"],
      ["j2", 4, "connected"],
      ["j1", 2, "progress"],
      ["j2", 5, "progress"],
      ["j1", 3, "completed"],
    ]);
    assert.deepEqual(r.errors, []);
  });

  test("a drop says so, reopens with backoff, resubscribes and calls onOpen again", async () => {
    const { handle, r, WebSocket } = start();
    WebSocket.instances[0].open();
    WebSocket.instances[0].receive(msg("progress", 2));
    WebSocket.instances[0].drop(1006);
    assert.deepEqual(r.closes, [1006]);
    assert.equal(handle.open, false);
    await until(() => WebSocket.instances.length === 2, 1000, "a second socket");
    const ws = WebSocket.instances[1];
    ws.open();
    assert.deepEqual(ws.sent, [{ type: "subscribe", all: true }]);
    assert.equal(r.opens, 2);
    ws.receive(msg("progress", 2)); // replayed by nobody, but dropped if it were
    ws.receive(msg("progress", 3));
    assert.deepEqual(
      r.updates.map(([, seq]) => seq),
      [2, 3],
    );
  });

  test("a socket that never opens is given up after openTimeout and tried again", async () => {
    const { r, WebSocket } = start({ openTimeout: 5 });
    await until(() => WebSocket.instances.length >= 2, 1000, "a retry");
    assert.equal(WebSocket.instances[0].closedWith, 1000);
    assert.ok(r.closes.length >= 1);
    assert.equal(r.opens, 0);
  });

  test("close 4401 is fatal: onError, and no reconnect", async () => {
    const { r, WebSocket } = start();
    WebSocket.instances[0].open();
    WebSocket.instances[0].drop(4401, "unauthorized");
    assert.equal(r.errors.length, 1);
    assert.equal(r.errors[0].status, 401);
    assert.equal(r.errors[0].code, "unauthorized");
    await settle(20);
    assert.equal(WebSocket.instances.length, 1);
  });

  test("no WebSocket here: onError no_transport, asynchronously", async () => {
    const { handle, r } = start({ WebSocket: null });
    assert.equal(r.errors.length, 0);
    await settle();
    assert.equal(r.errors.length, 1);
    assert.equal(r.errors[0].code, "no_transport");
    assert.equal(handle.open, false);
  });

  test("close() stops everything and closes the socket", async () => {
    const { handle, r, WebSocket } = start();
    const [ws] = WebSocket.instances;
    ws.open();
    handle.close();
    handle.close();
    assert.equal(ws.closedWith, 1000);
    ws.receive(msg("progress", 9));
    await settle(20);
    assert.deepEqual(r.updates, []);
    assert.deepEqual(r.closes, []);
    assert.equal(WebSocket.instances.length, 1);
  });

  test("onClose may close the watch: then it does not reconnect", async () => {
    const WebSocket = FakeWebSocket.make();
    const handle = watchAll({ baseUrl: BASE, WebSocket, backoff: { initial: 1, max: 1 }, onClose: () => handle.close() });
    handles.push(handle);
    WebSocket.instances[0].open();
    WebSocket.instances[0].drop(1006);
    await settle(20);
    assert.equal(WebSocket.instances.length, 1);
  });

  test("cancel() POSTs the job's cancel URL with the token as a bearer", async () => {
    const fetch = fakeFetch((url) =>
      url.endsWith("/j1/cancel") ? json(snap(3, { cancel_requested: true }), 202) : errorResponse(409, "job_finished"),
    );
    const { handle } = start({ fetch, token: "k" });
    assert.equal((await handle.cancel("j1")).cancel_requested, true);
    assert.equal(fetch.calls[0].url, "http://test/api/jobs/j1/cancel");
    assert.equal(fetch.calls[0].init.headers.Authorization, "Bearer k");
    await assert.rejects(handle.cancel("j2"), (e) => e.code === "job_finished");
  });
});
