import { describe, test } from "node:test";
import assert from "node:assert/strict";

import {
  EXPORT_FORMATS,
  JobwireError,
  downloadUrl,
  formatBytes,
  getStreamToken,
  listFiles,
} from "../../src/jobwire/static/jobwire.js";
import { errorResponse, fakeFetch, json } from "./fakes.mjs";

const ID = "3f2a9c0e1b7d4a55b2c4e6f8a0b1c2d3";
const ENTRY = { name: "frame-001.png", size: 1234, content_type: "image/png", sha256: "ab".repeat(32), created_at: "2025-01-01T00:00:00Z" };

describe("downloadUrl", () => {
  test("an export with the stream token in the query, JSON by default", () => {
    assert.equal(downloadUrl(ID, { format: "csv" }, { token: "tok" }), `/api/jobs/${ID}/export?format=csv&token=tok`);
    assert.equal(downloadUrl(ID), `/api/jobs/${ID}/export?format=json`);
    assert.equal(downloadUrl(ID, {}, { token: "" }), `/api/jobs/${ID}/export?format=json`);
    for (const format of EXPORT_FORMATS) {
      assert.equal(new URL(downloadUrl(ID, { format }), "http://x").searchParams.get("format"), format);
    }
  });

  test("one file, its name encoded as one path segment", () => {
    assert.equal(downloadUrl(ID, { file: "frame-001.png" }, { token: "t" }), `/api/jobs/${ID}/files/frame-001.png?token=t`);
    assert.equal(downloadUrl(ID, { file: "a b/é?.txt" }), `/api/jobs/${ID}/files/a%20b%2F%C3%A9%3F.txt`);
  });

  test("under baseUrl, absolute or not, and a token that needs escaping", () => {
    assert.equal(downloadUrl("a/b", { format: "zip" }, { baseUrl: "/jobs/" }), "/jobs/api/jobs/a%2Fb/export?format=zip");
    const url = new URL(downloadUrl(ID, { format: "zip" }, { baseUrl: "https://api.example.com", token: "x+y=/z" }));
    assert.equal(url.origin, "https://api.example.com");
    assert.equal(url.searchParams.get("token"), "x+y=/z");
  });

  test("an unknown format, or a format and a file, is a TypeError", () => {
    assert.throws(() => downloadUrl(ID, { format: "xml" }), TypeError);
    assert.throws(() => downloadUrl(ID, { format: "CSV" }), /json, csv, zip/);
    assert.throws(() => downloadUrl(ID, { format: "csv", file: "a.png" }), TypeError);
    assert.throws(() => downloadUrl(ID, { file: "" }), TypeError);
  });
});

describe("listFiles", () => {
  test("GETs the job's files with a bearer token", async () => {
    const fetch = fakeFetch(() => json({ files: [ENTRY] }));
    assert.deepEqual(await listFiles(ID, { fetch, token: "key" }), [ENTRY]);
    assert.equal(fetch.calls[0].url, `/api/jobs/${ID}/files`);
    assert.equal(fetch.calls[0].init.headers.Authorization, "Bearer key");
  });

  test("or with the job's stream token in the query", async () => {
    const fetch = fakeFetch(() => json({ files: [] }));
    assert.deepEqual(await listFiles(ID, { fetch, streamToken: "st", baseUrl: "/jobs" }), []);
    assert.equal(fetch.calls[0].url, `/jobs/api/jobs/${ID}/files?token=st`);
    assert.equal(fetch.calls[0].init.headers.Authorization, undefined);
  });

  test("a 404 rejects with job_not_found", async () => {
    const fetch = fakeFetch(() => errorResponse(404, "job_not_found"));
    await assert.rejects(listFiles(ID, { fetch }), (e) => e instanceof JobwireError && e.code === "job_not_found");
  });
});

describe("getStreamToken", () => {
  test("GETs /api/jobs/{id}/token with the API key", async () => {
    const fetch = fakeFetch(() => json({ token: "fresh" }));
    assert.equal(await getStreamToken(ID, { fetch, token: "key" }), "fresh");
    assert.equal(fetch.calls[0].url, `/api/jobs/${ID}/token`);
    assert.equal(fetch.calls[0].init.headers.Authorization, "Bearer key");
  });
});

describe("formatBytes", () => {
  test("decimal units, one decimal under 10", () => {
    assert.equal(formatBytes(0), "0 B");
    assert.equal(formatBytes(999), "999 B");
    assert.equal(formatBytes(1000), "1 kB");
    assert.equal(formatBytes(1536), "1.5 kB");
    assert.equal(formatBytes(999_499), "999 kB");
    assert.equal(formatBytes(999_500), "1 MB");
    assert.equal(formatBytes(200_000_000), "200 MB");
    assert.equal(formatBytes(3.2e9), "3.2 GB");
  });

  test("nothing for what is not a size", () => {
    for (const value of [null, undefined, "12", Number.NaN, -1]) assert.equal(formatBytes(value), "");
  });
});
