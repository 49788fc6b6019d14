import { describe, test } from "node:test";
import assert from "node:assert/strict";

import { JobwireError, jobAccess, listJobs, listShares, shareJob, sharedWithMe, unshareJob } from "../../src/jobwire/static/jobwire.js";
import { errorResponse, fakeFetch, json, snap } from "./fakes.mjs";

const ID = "3f2a9c0e1b7d4a55b2c4e6f8a0b1c2d3";
const SHARE = {
  job_id: ID,
  team: "platform",
  can_view: true,
  can_download: false,
  expires_at: null,
  shared_by: "lead",
  created_at: "2025-01-01T00:00:00Z",
  updated_at: "2025-01-02T00:00:00Z",
};

describe("shareJob", () => {
  test("POSTs the share as JSON with the API key, and resolves to it", async () => {
    const fetch = fakeFetch(() => json(SHARE, 201));
    const share = await shareJob(ID, { team: "platform", canDownload: false }, { fetch, token: "key" });
    assert.deepEqual(share, SHARE);
    const [{ url, init }] = fetch.calls;
    assert.equal(url, `/api/jobs/${ID}/shares`);
    assert.equal(init.method, "POST");
    assert.equal(init.headers.Authorization, "Bearer key");
    assert.equal(init.headers["Content-Type"], "application/json");
    assert.deepEqual(JSON.parse(init.body), { team: "platform", can_view: true, can_download: false, expires_at: null });
  });

  test("view and download by default; an expiry as a Date or an ISO string", async () => {
    const fetch = fakeFetch(() => json(SHARE));
    await shareJob(ID, { team: " ops ", expiresAt: new Date(Date.UTC(2030, 0, 2, 3, 4, 5)) }, { fetch, baseUrl: "/jobs/" });
    assert.equal(fetch.calls[0].url, `/jobs/api/jobs/${ID}/shares`);
    assert.deepEqual(JSON.parse(fetch.calls[0].init.body), {
      team: "ops",
      can_view: true,
      can_download: true,
      expires_at: "2030-01-02T03:04:05.000Z",
    });
    await shareJob(ID, { team: "ops", expiresAt: "2030-01-02T03:04:05+09:00" }, { fetch });
    assert.equal(JSON.parse(fetch.calls[1].init.body).expires_at, "2030-01-02T03:04:05+09:00");
  });

  test("a missing team or an expiry that is not a time rejects with a TypeError, sending nothing", async () => {
    const fetch = fakeFetch(() => json(SHARE));
    await assert.rejects(shareJob(ID, {}, { fetch }), TypeError);
    await assert.rejects(shareJob(ID, { team: "  " }, { fetch }), TypeError);
    await assert.rejects(shareJob(ID, { team: "ops", expiresAt: "next week" }, { fetch }), /expiresAt/);
    await assert.rejects(shareJob(ID, { team: "ops", expiresAt: 7 }, { fetch }), TypeError);
    assert.equal(fetch.calls.length, 0);
  });

  test("without a sharing role the server's 403 rejects with forbidden", async () => {
    const fetch = fakeFetch(() => errorResponse(403, "forbidden", "Sharing needs the teamlead role"));
    await assert.rejects(
      shareJob(ID, { team: "ops" }, { fetch }),
      (e) => e instanceof JobwireError && e.status === 403 && e.code === "forbidden" && /teamlead/.test(e.message),
    );
  });
});

describe("unshareJob", () => {
  test("DELETEs the team's share, its name as one path segment; a 204 resolves to undefined", async () => {
    const fetch = fakeFetch(() => new Response(null, { status: 204 }));
    assert.equal(await unshareJob(ID, "a/b team", { fetch, token: "key" }), undefined);
    assert.equal(fetch.calls[0].url, `/api/jobs/${ID}/shares/a%2Fb%20team`);
    assert.equal(fetch.calls[0].init.method, "DELETE");
    assert.equal(fetch.calls[0].init.body, undefined);
  });

  test("a 404 rejects with its code (no such share, or no such job); a missing team is a TypeError", async () => {
    const fetch = fakeFetch(() => errorResponse(404, "share_not_found", "Job is not shared with ops"));
    await assert.rejects(
      unshareJob(ID, "ops", { fetch }),
      (e) => e instanceof JobwireError && e.status === 404 && e.code === "share_not_found" && /ops/.test(e.message),
    );
    const gone = fakeFetch(() => errorResponse(404, "job_not_found"));
    await assert.rejects(unshareJob(ID, "ops", { fetch: gone }), (e) => e.status === 404 && e.code === "job_not_found");
    await assert.rejects(unshareJob(ID, "", { fetch }), TypeError);
    assert.equal(fetch.calls.length, 1);
  });
});

describe("listShares", () => {
  test("GETs the job's shares", async () => {
    const fetch = fakeFetch(() => json({ shares: [SHARE] }));
    assert.deepEqual(await listShares(ID, { fetch }), [SHARE]);
    assert.equal(fetch.calls[0].url, `/api/jobs/${ID}/shares`);
    assert.equal(fetch.calls[0].init.method, "GET");
  });

  test("an answer without a list is an empty list", async () => {
    const fetch = fakeFetch(() => json({}));
    assert.deepEqual(await listShares(ID, { fetch }), []);
  });
});

describe("sharedWithMe and listJobs({shared})", () => {
  const via = { team: "platform", shared_by: "lead", can_view: true, can_download: false, expires_at: null };

  test("GETs /api/jobs?shared=true with the cursor and limit", async () => {
    const page = { jobs: [{ ...snap(3), shared: via }], next_cursor: "c2" };
    const fetch = fakeFetch(() => json(page));
    assert.deepEqual(await sharedWithMe({ cursor: "c1", limit: 10 }, { fetch, token: "key" }), page);
    const url = new URL(fetch.calls[0].url, "http://x");
    assert.equal(url.pathname, "/api/jobs");
    assert.equal(url.searchParams.get("shared"), "true");
    assert.equal(url.searchParams.get("cursor"), "c1");
    assert.equal(url.searchParams.get("limit"), "10");
    assert.equal(fetch.calls[0].init.headers.Authorization, "Bearer key");
  });

  test("no filters: only shared=true; an owner filter is not sent", async () => {
    const fetch = fakeFetch(() => json({ jobs: [], next_cursor: null }));
    assert.deepEqual(await sharedWithMe(undefined, { fetch }), { jobs: [], next_cursor: null });
    await sharedWithMe({ owner: "someone" }, { fetch });
    assert.equal(fetch.calls[0].url, "/api/jobs?shared=true");
    assert.equal(fetch.calls[1].url, "/api/jobs?shared=true");
  });

  test("listJobs sends shared only when asked", async () => {
    const fetch = fakeFetch(() => json({ jobs: [], next_cursor: null }));
    await listJobs({ status: "running", shared: true }, { fetch });
    await listJobs({ status: "running", shared: false }, { fetch });
    assert.equal(fetch.calls[0].url, "/api/jobs?status=running&shared=true");
    assert.equal(fetch.calls[1].url, "/api/jobs?status=running");
  });
});

describe("jobAccess", () => {
  test("GETs /api/jobs/{id}/access", async () => {
    const access = { view: true, download: false, cancel: false, manage: false, share: false, via: "share", team: "platform", expires_at: null };
    const fetch = fakeFetch(() => json(access));
    assert.deepEqual(await jobAccess(ID, { fetch, token: "key" }), access);
    assert.equal(fetch.calls[0].url, `/api/jobs/${ID}/access`);
  });

  test("a job you may not see rejects with 404", async () => {
    const fetch = fakeFetch(() => errorResponse(404, "job_not_found"));
    await assert.rejects(jobAccess(ID, { fetch }), (e) => e instanceof JobwireError && e.code === "job_not_found");
  });
});
