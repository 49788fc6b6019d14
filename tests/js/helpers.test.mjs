import { describe, test } from "node:test";
import assert from "node:assert/strict";

import { JobwireError, formatEta, formatProgress, isTerminal, nextBackoff } from "../../src/jobwire/static/jobwire.js";

describe("formatProgress", () => {
  test("counts and percent with a known total", () => {
    assert.equal(formatProgress({ current: 150, total: 500, percent: 30 }), "150/500 (30%)");
    assert.equal(formatProgress({ current: 1, total: 3, percent: 33.3 }), "1/3 (33.3%)");
    assert.equal(formatProgress({ current: 500, total: 500, percent: 100 }), "500/500 (100%)");
  });

  test("computes the percent when the snapshot lacks it", () => {
    assert.equal(formatProgress({ current: 150, total: 500 }), "150/500 (30%)");
    assert.equal(formatProgress({ current: 2, total: 3 }), "2/3 (66.7%)");
    assert.equal(formatProgress({ current: 7, total: 5 }), "7/5 (100%)");
  });

  test("indeterminate: just the count, or nothing before the first item", () => {
    assert.equal(formatProgress({ current: 42, total: null, percent: null }), "42");
    assert.equal(formatProgress({ current: 0, total: null, percent: null }), "");
    assert.equal(formatProgress({ current: 3, total: 0, percent: null }), "3");
  });

  test("no snapshot", () => {
    assert.equal(formatProgress(null), "");
    assert.equal(formatProgress(undefined), "");
  });
});

describe("formatEta", () => {
  test("seconds, minutes, hours", () => {
    assert.equal(formatEta(20), "about 20 s left");
    assert.equal(formatEta(19.6), "about 20 s left");
    assert.equal(formatEta(120), "about 2 min left");
    assert.equal(formatEta(90), "about 1 min 30 s left");
    assert.equal(formatEta(3900), "about 1 h 5 min left");
  });

  test("under a second", () => {
    assert.equal(formatEta(0.4), "<1 s left");
    assert.equal(formatEta(0), "<1 s left");
  });

  test("no estimate is no text", () => {
    assert.equal(formatEta(null), "");
    assert.equal(formatEta(undefined), "");
    assert.equal(formatEta(Number.NaN), "");
    assert.equal(formatEta(-3), "");
  });
});

describe("nextBackoff", () => {
  const backoff = { initial: 250, max: 10000 };

  test("doubles with every attempt", () => {
    const top = (attempt) => nextBackoff(attempt, backoff, () => 1);
    assert.deepEqual([0, 1, 2, 3, 4].map(top), [250, 500, 1000, 2000, 4000]);
  });

  test("is capped at max", () => {
    assert.equal(nextBackoff(6, backoff, () => 1), 10000);
    assert.equal(nextBackoff(50, backoff, () => 1), 10000);
    assert.equal(nextBackoff(5000, backoff, () => 1), 10000);
  });

  test("jitters between half the step and the full step", () => {
    assert.equal(nextBackoff(2, backoff, () => 0), 500);
    assert.equal(nextBackoff(2, backoff, () => 0.5), 750);
    for (let attempt = 0; attempt < 12; attempt++) {
      const step = Math.min(10000, 250 * 2 ** attempt);
      const value = nextBackoff(attempt, backoff);
      assert.ok(value >= step / 2 && value <= step, `${value} not in [${step / 2}, ${step}]`);
    }
  });

  test("defaults to 250 ms … 10 s", () => {
    assert.equal(nextBackoff(0, undefined, () => 1), 250);
    assert.equal(nextBackoff(10, {}, () => 1), 10000);
  });
});

describe("isTerminal", () => {
  test("succeeded, failed and cancelled are final", () => {
    for (const status of ["succeeded", "failed", "cancelled"]) assert.equal(isTerminal({ status }), true);
  });

  test("live statuses and nothing are not", () => {
    for (const status of ["queued", "running", "waiting"]) assert.equal(isTerminal({ status }), false);
    assert.equal(isTerminal(null), false);
    assert.equal(isTerminal(undefined), false);
  });
});

describe("JobwireError", () => {
  test("is an Error carrying the server's answer", () => {
    const error = new JobwireError("slow down", { status: 429, code: "rate_limited", retryAfter: 2 });
    assert.ok(error instanceof Error);
    assert.equal(error.name, "JobwireError");
    assert.equal(error.message, "slow down");
    assert.equal(error.status, 429);
    assert.equal(error.code, "rate_limited");
    assert.deepEqual(error.details, {});
    assert.equal(error.retryAfter, 2);
  });
});
