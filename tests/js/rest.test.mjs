import { describe, test } from "node:test";
import assert from "node:assert/strict";

import { JobwireError, cancelJob, formatDuration, getResult, getStats, listJobs, listTasks } from "../../src/jobwire/static/jobwire.js";
import { errorResponse, fakeFetch, json, snap } from "./fakes.mjs";

const TASK = { name: "demo.analyse", description: "", steps: ["init", "processing"], schema: {}, options: {} };

describe("listTasks", () => {
  test("GETs /api/tasks and resolves to the list", async () => {
    const fetch = fakeFetch(() => json({ tasks: [TASK] }));
    assert.deepEqual(await listTasks({ fetch }), [TASK]);
    const [{ url, init }] = fetch.calls;
    assert.equal(url, "/api/tasks");
    assert.equal(init.method, "GET");
    assert.equal(init.body, undefined);
    assert.equal(init.headers["Content-Type"], undefined);
  });

  test("joins baseUrl and sends the token as a bearer", async () => {
    const fetch = fakeFetch(() => json({ tasks: [] }));
    assert.deepEqual(await listTasks({ fetch, baseUrl: "https://x.test/jobs/", token: "key1" }), []);
    assert.equal(fetch.calls[0].url, "https://x.test/jobs/api/tasks");
    assert.equal(fetch.calls[0].init.headers.Authorization, "Bearer key1");
  });

  test("a 401 rejects with the server's code", async () => {
    const fetch = fakeFetch(() => errorResponse(401, "unauthorized", "Bad key"));
    await assert.rejects(listTasks({ fetch }), (e) => e instanceof JobwireError && e.status === 401 && e.code === "unauthorized");
  });
});

describe("listJobs", () => {
  test("passes the filters as the query, repeating status, and skips empty ones", async () => {
    const page = { jobs: [snap(1)], next_cursor: "c2" };
    const fetch = fakeFetch(() => json(page));
    const answer = await listJobs({ status: ["queued", "running"], task: "demo.analyse", owner: "", limit: 20 }, { fetch });
    assert.deepEqual(answer, page);
    const url = new URL(fetch.calls[0].url, "http://x");
    assert.equal(url.pathname, "/api/jobs");
    assert.deepEqual(url.searchParams.getAll("status"), ["queued", "running"]);
    assert.equal(url.searchParams.get("task"), "demo.analyse");
    assert.equal(url.searchParams.get("limit"), "20");
    assert.equal(url.searchParams.has("owner"), false);
    assert.equal(url.searchParams.has("cursor"), false);
  });

  test("one status as a string, and a cursor", async () => {
    const fetch = fakeFetch(() => json({ jobs: [], next_cursor: null }));
    assert.deepEqual(await listJobs({ status: "failed", cursor: "abc" }, { fetch }), { jobs: [], next_cursor: null });
    assert.equal(fetch.calls[0].url, "/api/jobs?status=failed&cursor=abc");
  });

  test("no filters at all", async () => {
    const fetch = fakeFetch(() => json({ jobs: [] }));
    assert.deepEqual(await listJobs(undefined, { fetch }), { jobs: [], next_cursor: null });
    assert.equal(fetch.calls[0].url, "/api/jobs");
  });

  test("a bad cursor rejects with 400 invalid_cursor; a network failure with status 0", async () => {
    let fetch = fakeFetch(() => errorResponse(400, "invalid_cursor", "Bad cursor"));
    await assert.rejects(listJobs({ cursor: "x" }, { fetch }), (e) => e.status === 400 && e.code === "invalid_cursor");
    fetch = fakeFetch(() => {
      throw new TypeError("Failed to fetch");
    });
    await assert.rejects(listJobs({}, { fetch }), (e) => e.status === 0 && e.code === "network_error");
  });
});

describe("cancelJob", () => {
  test("POSTs to the job's cancel URL and resolves to the snapshot", async () => {
    const fetch = fakeFetch(() => json(snap(3, { cancel_requested: true }), 202));
    const answer = await cancelJob("a b", { fetch, baseUrl: "/jobs", token: "k" });
    assert.equal(answer.cancel_requested, true);
    const [{ url, init }] = fetch.calls;
    assert.equal(url, "/jobs/api/jobs/a%20b/cancel");
    assert.equal(init.method, "POST");
    assert.equal(init.headers.Authorization, "Bearer k");
  });

  test("409 job_finished when it already ended", async () => {
    const fetch = fakeFetch(() => errorResponse(409, "job_finished", "It ended"));
    await assert.rejects(cancelJob("j1", { fetch }), (e) => e.status === 409 && e.code === "job_finished" && e.message === "It ended");
  });
});

describe("getResult", () => {
  test("GETs the job's result with the token as a bearer", async () => {
    const fetch = fakeFetch(() => json({ documents: 3 }));
    assert.deepEqual(await getResult("j 1", { fetch, token: "k" }), { documents: 3 });
    assert.equal(fetch.calls[0].url, "/api/jobs/j%201/result");
    assert.equal(fetch.calls[0].init.headers.Authorization, "Bearer k");
  });

  test("409 while the job has not succeeded", async () => {
    const fetch = fakeFetch(() => errorResponse(409, "result_not_available", "Not yet"));
    await assert.rejects(getResult("j1", { fetch }), (e) => e.status === 409 && e.code === "result_not_available");
  });
});

describe("getStats", () => {
  test("GETs /api/stats", async () => {
    const stats = { jobs: { running: 2, failed: 1 }, worker: {}, streams: {} };
    const fetch = fakeFetch(() => json(stats));
    assert.deepEqual(await getStats({ fetch, baseUrl: "/jobs" }), stats);
    assert.equal(fetch.calls[0].url, "/jobs/api/stats");
  });
});

describe("formatDuration", () => {
  test("seconds, minutes, hours, as formatEta says them", () => {
    assert.equal(formatDuration(0.2), "<1 s");
    assert.equal(formatDuration(20), "20 s");
    assert.equal(formatDuration(90), "1 min 30 s");
    assert.equal(formatDuration(120), "2 min");
    assert.equal(formatDuration(3900), "1 h 5 min");
  });

  test("nothing for a non-number", () => {
    assert.equal(formatDuration(NaN), "");
    assert.equal(formatDuration(Infinity), "");
  });
});
