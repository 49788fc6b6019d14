/**
 * A job's Share panel, in a row that opens below it: a form to share the job with a team
 * (view only, or view and download; an expiry), and the teams it is shared with, each with a
 * Remove button. What the panel offers comes from `GET /api/jobs/{id}/access` (`share`: the
 * caller may share it; `manage`: remove its shares) and `GET /api/jobs/{id}/shares`, loaded
 * on each opening.
 * @module dashboard/shares
 */

import { fullTime, h, ms } from "./util.js";

const HOUR = 3600_000;
const DAY = 24 * HOUR;

/** The expiry choices: label → milliseconds from now (null: none; "date": the date field). */
export const EXPIRIES = [
  ["never", "Never", null],
  ["1h", "In 1 hour", HOUR],
  ["1d", "In 1 day", DAY],
  ["7d", "In 7 days", 7 * DAY],
  ["30d", "In 30 days", 30 * DAY],
  ["date", "At a date…", "date"],
];

/**
 * When a share chosen in the form ends: null for none, else a Date.
 * @param {string} choice  a key of {@link EXPIRIES}
 * @param {string} [localTime]  the date field's value (`2030-01-31T18:00`, local time)
 * @param {number} [now]
 * @returns {Date|null}
 */
export function expiryFrom(choice, localTime = "", now = Date.now()) {
  const found = EXPIRIES.find(([key]) => key === choice);
  if (!found || found[2] == null) return null;
  if (found[2] === "date") {
    const at = localTime ? new Date(localTime) : null; // no zone: local time, as typed
    if (!at || Number.isNaN(at.getTime())) throw new RangeError("Choose the date and time the share ends.");
    if (at.getTime() <= now) throw new RangeError("The share must end in the future.");
    return at;
  }
  return new Date(now + found[2]);
}

/** `view only` or `view and download`. */
export const rightsLabel = (share) => (share?.can_download ? "view and download" : "view only");

const thisYear = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
const otherYear = new Intl.DateTimeFormat(undefined, { year: "numeric", month: "short", day: "numeric" });

/** `until Jan 31, 18:00` (this year), `until Jan 31, 2031`, `ended …` or `no expiry`. */
export function expiryLabel(share, now = Date.now()) {
  const ends = ms(share?.expires_at);
  if (ends == null) return "no expiry";
  const sameYear = new Date(ends).getFullYear() === new Date(now).getFullYear();
  return `${ends <= now ? "ended" : "until"} ${(sameYear ? thisYear : otherYear).format(ends)}`;
}

/**
 * The button that opens a job's Share panel, and the row it opens (hidden at first).
 * @param {object} job  the job's snapshot
 * @param {object} options
 * @param {string} options.name  how the job is named to people, e.g. `demo.analyse #3f2a9c0e`
 * @param {number} options.columns  the table's column count (the row spans them all)
 * @param {(job: object) => Promise<{access: object, shares: object[]}>} options.load
 * @param {(job: object, share: {team: string, canDownload: boolean, expiresAt: Date|null}) => Promise<object>} options.share
 * @param {(job: object, team: string) => Promise<void>} options.unshare
 * @param {(open: boolean) => void} [options.onToggle]
 * @returns {{toggle: HTMLButtonElement, row: HTMLTableRowElement}}
 */
export function shareRow(job, { name, columns, load, share, unshare, onToggle }) {
  const id = `share-${job.id}`;
  const panel = h("div", { class: "share-panel", role: "region", "aria-label": `Sharing of ${name}` });
  const row = h("tr", { class: "detail-row share-row", id, hidden: true }, h("td", { colspan: String(columns) }, panel));
  const toggle = h(
    "button",
    { type: "button", class: "btn btn-sm", "aria-expanded": "false", "aria-controls": id, "aria-label": `Share ${name}` },
    h("span", { class: "chev", "aria-hidden": "true" }),
    "Share",
  );
  const hooks = { name, share: (body) => share(job, body), unshare: (team) => unshare(job, team) };
  let loading = null;
  const fill = async () => {
    if (!panel.hasChildNodes()) panel.append(h("p", { class: "muted dl-note" }, "Loading…"));
    panel.setAttribute("aria-busy", "true");
    try {
      const { access, shares } = await load(job);
      panel.replaceChildren(...draw(job, access, shares, hooks));
    } catch (error) {
      panel.replaceChildren(h("p", { class: "dl-note is-error", role: "alert" }, `Could not load the shares: ${error.message}`));
    } finally {
      panel.removeAttribute("aria-busy");
      loading = null;
    }
  };
  toggle.addEventListener("click", () => {
    const open = row.hidden;
    row.hidden = !open;
    toggle.setAttribute("aria-expanded", String(open));
    onToggle?.(open);
    if (open && !loading) loading = fill();
  });
  return { toggle, row };
}

/** The panel's content: the form (for those who may share), then the shares. */
function draw(job, access, shares, hooks) {
  const list = h("ul", { class: "share-list", "aria-labelledby": `shared-with-${job.id}` });
  const count = h("span", { class: "count" });
  const status = h("p", { class: "form-status share-status", role: "status" });
  const redraw = (items) => {
    count.textContent = String(items.length);
    list.replaceChildren(...items.map((s) => shareItem(job, s, { ...hooks, manage: access.manage, onRemoved })));
    empty.hidden = items.length > 0;
  };
  let current = [...shares];
  const onRemoved = (team) => {
    current = current.filter((s) => s.team !== team);
    redraw(current);
    status.textContent = `No longer shared with ${team}.`;
  };
  const onShared = (saved) => {
    current = [...current.filter((s) => s.team !== saved.team), saved].sort((a, b) => a.team.localeCompare(b.team));
    redraw(current);
    status.textContent = `Shared with ${saved.team}: ${rightsLabel(saved)}, ${expiryLabel(saved)}.`;
  };
  const empty = h("p", { class: "muted dl-note" }, "Not shared with any team yet.");
  const existing = h(
    "div",
    { class: "dl-group share-existing" },
    h("h3", { class: "dl-title", id: `shared-with-${job.id}` }, "Shared with", count),
    list,
    empty,
  );
  redraw(current);
  const form = access.share
    ? shareForm(job, { ...hooks, onShared, status })
    : h(
        "p",
        { class: "muted dl-note share-note" },
        "Only the job's owner with a sharing role (teamlead or admin) can share it with a team.",
      );
  return [form, existing];
}

function shareForm(job, { name, share, onShared, status }) {
  const ids = (what) => `share-${what}-${job.id}`;
  const team = h("input", { type: "text", id: ids("team"), name: "team", required: true, autocomplete: "off", maxlength: "200", placeholder: "e.g. platform" });
  const radio = (value, label, checked) =>
    h("label", { class: "share-choice" }, h("input", { type: "radio", name: ids("rights"), value, checked }), h("span", {}, label));
  const rights = h(
    "fieldset",
    { class: "share-rights" },
    h("legend", {}, "Members may"),
    radio("download", "View and download", true),
    radio("view", "View only", false),
  );
  const expiry = h(
    "select",
    { id: ids("expiry"), name: "expiry" },
    EXPIRIES.map(([key, label]) => h("option", { value: key, selected: key === "never" }, label)),
  );
  const date = h("input", { type: "datetime-local", id: ids("date"), "aria-label": "Share ends at", hidden: true });
  expiry.addEventListener("change", () => {
    date.hidden = expiry.value !== "date";
    if (!date.hidden) date.focus();
  });
  const error = h("p", { class: "form-error", role: "alert", hidden: true });
  const submit = h("button", { type: "submit", class: "btn btn-primary btn-sm" }, h("span", { class: "btn-label" }, "Share"));
  const form = h(
    "form",
    { class: "share-form", "aria-label": `Share ${name} with a team`, novalidate: true },
    h("h3", { class: "dl-title" }, "Share with a team"),
    h("div", { class: "field" }, h("label", { for: ids("team") }, "Team"), team),
    rights,
    h("div", { class: "field" }, h("label", { for: ids("expiry") }, "Expires"), h("div", { class: "share-expiry" }, expiry, date)),
    error,
    h("div", { class: "form-actions" }, submit, status),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    status.textContent = "";
    const teamName = team.value.trim();
    if (!teamName) {
      showError(error, "Name the team to share the job with.");
      team.focus();
      return;
    }
    let expiresAt;
    try {
      expiresAt = expiryFrom(expiry.value, date.value);
    } catch (problem) {
      showError(error, problem.message);
      date.focus();
      return;
    }
    const canDownload = form.querySelector(`input[name="${ids("rights")}"]:checked`)?.value !== "view";
    submit.disabled = true;
    submit.classList.add("busy");
    try {
      const saved = await share({ team: teamName, canDownload, expiresAt });
      team.value = "";
      onShared(saved);
    } catch (problem) {
      showError(error, problem.status === 403 ? `Not allowed: ${problem.message}` : problem.message);
    } finally {
      submit.disabled = false;
      submit.classList.remove("busy");
    }
  });
  return form;
}

function showError(box, text) {
  box.textContent = text;
  box.hidden = false;
}

function shareItem(job, share, { name, manage, unshare, onRemoved }) {
  const ended = ms(share.expires_at) != null && ms(share.expires_at) <= Date.now();
  const remove = h(
    "button",
    { type: "button", class: "btn btn-sm btn-danger", "aria-label": `Stop sharing ${name} with ${share.team}` },
    "Remove",
  );
  const problem = h("span", { class: "field-error", role: "alert", hidden: true });
  remove.addEventListener("click", async () => {
    remove.disabled = true;
    problem.hidden = true;
    try {
      await unshare(share.team);
      onRemoved(share.team);
    } catch (error) {
      if (error.code === "share_not_found") {
        onRemoved(share.team); // removed meanwhile, elsewhere: the list catches up
        return;
      }
      remove.disabled = false;
      problem.textContent = error.message;
      problem.hidden = false;
    }
  });
  return h(
    "li",
    { dataset: { team: share.team }, class: ended ? "is-ended" : null },
    h(
      "div",
      { class: "share-info" },
      h("strong", { class: "share-team" }, share.team),
      h("span", { class: `pill${share.can_download ? "" : " is-view-only"}` }, rightsLabel(share)),
      h("span", { class: "share-when", title: share.expires_at ? fullTime(share.expires_at) : null }, expiryLabel(share)),
      h("span", { class: "share-by" }, `by ${share.shared_by}`),
    ),
    manage ? remove : null,
    problem,
  );
}
