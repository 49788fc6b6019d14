import { describe, test } from "node:test";
import assert from "node:assert/strict";

import { JobwireError, submit } from "../../src/jobwire/static/jobwire.js";
import { errorResponse, fakeFetch, json, snap } from "./fakes.mjs";

const accepted = { ...snap(1, { status: "queued" }), outcome: "created", links: {}, stream_token: "st" };

describe("submit", () => {
  test("POSTs the arguments as JSON and resolves to the answer", async () => {
    const fetch = fakeFetch(() => json(accepted, 202, { Location: "/api/jobs/j1" }));
    const job = await submit("demo.analyse", { documents_count: 5 }, { fetch });
    assert.deepEqual(job, accepted);
    const [{ url, init }] = fetch.calls;
    assert.equal(url, "/api/tasks/demo.analyse/jobs");
    assert.equal(init.method, "POST");
    assert.equal(init.headers["Content-Type"], "application/json");
    assert.equal(init.headers.Authorization, undefined);
    assert.deepEqual(JSON.parse(init.body), { documents_count: 5 });
  });

  test("resolves a 200 (deduplicated or cached) the same way", async () => {
    const fetch = fakeFetch(() => json({ ...accepted, outcome: "cached" }, 200));
    assert.equal((await submit("demo.analyse", {}, { fetch })).outcome, "cached");
  });

  test("encodes the task name, joins baseUrl and sends the token as a bearer", async () => {
    const fetch = fakeFetch(() => json(accepted, 202));
    await submit("a/b c", undefined, { fetch, baseUrl: "https://x.test/jobs/", token: "key1" });
    const [{ url, init }] = fetch.calls;
    assert.equal(url, "https://x.test/jobs/api/tasks/a%2Fb%20c/jobs");
    assert.equal(init.headers.Authorization, "Bearer key1");
    assert.equal(init.body, "{}");
  });

  test("429 carries retryAfter in seconds", async () => {
    const fetch = fakeFetch(() => errorResponse(429, "rate_limited", "Too many submits", { "Retry-After": "3" }));
    await assert.rejects(submit("t", {}, { fetch }), (error) => {
      assert.ok(error instanceof JobwireError);
      assert.equal(error.status, 429);
      assert.equal(error.code, "rate_limited");
      assert.equal(error.message, "Too many submits");
      assert.equal(error.retryAfter, 3);
      return true;
    });
  });

  test("Retry-After as an HTTP date", async () => {
    const when = new Date(Date.now() + 5000).toUTCString();
    const fetch = fakeFetch(() => errorResponse(429, "rate_limited", "slow", { "Retry-After": when }));
    const error = await submit("t", {}, { fetch }).catch((e) => e);
    assert.ok(error.retryAfter >= 3 && error.retryAfter <= 6, String(error.retryAfter));
  });

  test("maps the server's error code, message and details", async () => {
    const details = { errors: [{ loc: ["documents_count"], msg: "not an int", type: "int_parsing" }] };
    const cases = [
      [404, "unknown_task", {}],
      [409, "owner_limit_reached", {}],
      [422, "invalid_arguments", details],
    ];
    for (const [status, code, d] of cases) {
      const fetch = fakeFetch(() => errorResponse(status, code, `message for ${code}`, {}, d));
      const error = await submit("t", {}, { fetch }).catch((e) => e);
      assert.ok(error instanceof JobwireError);
      assert.equal(error.status, status);
      assert.equal(error.code, code);
      assert.equal(error.message, `message for ${code}`);
      assert.deepEqual(error.details, d);
      assert.equal(error.retryAfter, null);
    }
  });

  test("an answer that is not JSON still becomes a JobwireError", async () => {
    const fetch = fakeFetch(() => new Response("<html>Bad gateway</html>", { status: 502, statusText: "Bad Gateway" }));
    const error = await submit("t", {}, { fetch }).catch((e) => e);
    assert.ok(error instanceof JobwireError);
    assert.equal(error.status, 502);
    assert.equal(error.code, "http_502");
    assert.match(error.message, /502/);
  });

  test("a network failure is status 0, network_error", async () => {
    const fetch = fakeFetch(() => {
      throw new TypeError("Failed to fetch");
    });
    const error = await submit("t", {}, { fetch }).catch((e) => e);
    assert.ok(error instanceof JobwireError);
    assert.equal(error.status, 0);
    assert.equal(error.code, "network_error");
    assert.ok(error.cause instanceof TypeError);
  });
});
