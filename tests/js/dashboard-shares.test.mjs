import { describe, test } from "node:test";
import assert from "node:assert/strict";

import { EXPIRIES, expiryFrom, expiryLabel, rightsLabel } from "../../src/jobwire/static/dashboard/shares.js";

const NOW = Date.UTC(2030, 0, 1, 12, 0, 0);

describe("the dashboard's Share form: expiryFrom", () => {
  test("never is no expiry; the presets count from now", () => {
    assert.equal(expiryFrom("never", "", NOW), null);
    assert.equal(expiryFrom("1h", "", NOW).getTime(), NOW + 3600_000);
    assert.equal(expiryFrom("7d", "", NOW).getTime(), NOW + 7 * 86400_000);
    assert.equal(expiryFrom("30d", "", NOW).getTime(), NOW + 30 * 86400_000);
    assert.deepEqual(
      EXPIRIES.map(([key]) => key),
      ["never", "1h", "1d", "7d", "30d", "date"],
    );
  });

  test("a date field's value is local time; it must be set and in the future", () => {
    const at = expiryFrom("date", "2030-02-03T04:05", NOW);
    assert.equal(at.getTime(), new Date(2030, 1, 3, 4, 5).getTime());
    assert.throws(() => expiryFrom("date", "", NOW), /Choose the date/);
    assert.throws(() => expiryFrom("date", "not a time", NOW), RangeError);
    assert.throws(() => expiryFrom("date", "2029-12-31T00:00", NOW), /future/);
  });

  test("an unknown choice is no expiry", () => {
    assert.equal(expiryFrom("someday", "", NOW), null);
  });
});

describe("the dashboard's share labels", () => {
  test("rights", () => {
    assert.equal(rightsLabel({ can_download: true }), "view and download");
    assert.equal(rightsLabel({ can_download: false }), "view only");
  });

  test("expiry: none, until (the time this year, the year after), ended", () => {
    assert.equal(expiryLabel({ expires_at: null }, NOW), "no expiry");
    const soon = expiryLabel({ expires_at: "2030-01-08T12:00:00Z" }, NOW);
    assert.match(soon, /^until /);
    assert.doesNotMatch(soon, /2030/);
    assert.match(expiryLabel({ expires_at: "2031-06-08T12:00:00Z" }, NOW), /^until .*2031/);
    assert.match(expiryLabel({ expires_at: "2029-12-31T12:00:00Z" }, NOW), /^ended .*2029/);
  });
});
