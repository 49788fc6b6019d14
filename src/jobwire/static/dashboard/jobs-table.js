/**
 * The jobs table: one row per job, newest first, drawn from snapshots and updated in place
 * (the progress bar is a `<jobwire-progress>` element fed with `element.snapshot = …`).
 * On narrow screens CSS turns each row into a card.
 * @module dashboard/jobs-table
 */

import { formatDuration, isTerminal } from "../jobwire.js";
import { downloadsRow } from "./downloads.js";
import { expiryLabel, rightsLabel, shareRow } from "./shares.js";
import { append, clockTime, elapsed, fullTime, h, isLive, shortId, statusLabel } from "./util.js";

/**
 * Each step of `steps` with its state for `job`: `done`, `current`, `failed`, `stopped` or
 * `todo`. A step the job reports that is not in `steps` is added at the end.
 * @param {string[]} steps
 * @param {object} job
 * @returns {Array<{name: string, state: string}>}
 */
export function stepStates(steps, job) {
  const names = [...steps];
  for (const { name } of job.steps ?? []) if (!names.includes(name)) names.push(name);
  if (job.step && !names.includes(job.step)) names.push(job.step);
  const at = job.step ? names.indexOf(job.step) : -1;
  return names.map((name, i) => {
    let state = "todo";
    if (job.status === "succeeded") state = "done";
    else if (i < at) state = "done";
    else if (i === at) {
      state = job.status === "failed" ? "failed" : job.status === "cancelled" ? "stopped" : "current";
    }
    return { name, state };
  });
}

/**
 * The time shown by a step of `job`: how long it took, how long it has run so far (the
 * open one; a waiting job's too), or how long it usually takes (one not reached yet), with
 * a tooltip that adds how long it usually takes.
 * @param {object} job
 * @param {string} name
 * @param {number} [now]
 * @returns {{text: string, title: string}}
 */
export function stepTime(job, name, now = Date.now()) {
  const timed = (job.steps ?? []).filter((s) => s.name === name).at(-1);
  if (!timed) return { text: "", title: "" };
  const usually = timed.typical_seconds == null ? "" : `usually ${formatDuration(timed.typical_seconds)}`;
  let took = "";
  if (timed.seconds != null) took = formatDuration(timed.seconds);
  else if (timed.started_at && !isTerminal(job)) took = formatDuration(Math.max(0, (now - Date.parse(timed.started_at)) / 1000));
  if (!took) return { text: usually, title: usually && `${name}: ${usually}` };
  const open = timed.seconds == null;
  const text = open && usually ? `${took} · ${usually}` : took;
  const title = `${name}: ${open ? "running for" : "took"} ${took}${usually ? `, ${usually}` : ""}`;
  return { text, title };
}

/** Column headings, also used as the labels of a row's cells in the card layout. */
const COLUMNS = ["Status", "Job", "Progress", "Elapsed", "Actions"];

export class JobsTable {
  /**
   * @param {HTMLTableSectionElement} tbody
   * @param {object} hooks
   * @param {(job: object) => string[]} hooks.stepsFor
   * @param {(job: object, button: HTMLButtonElement) => void} hooks.onCancel
   * @param {(job: object) => Promise<{token?: string, files: object[]}>} hooks.loadDownloads
   *   the stream token for a succeeded job's download links and its files
   * @param {(job: object) => object|null} [hooks.sharedFor]  how a job shared with the
   *   user reached them (`{team, shared_by, can_download, expires_at}`), else null: such a
   *   row says who shared it, has no Cancel nor Share, and no downloads on a view-only share
   * @param {object} [hooks.sharing]  `{load, share, unshare}` for the Share panel of the
   *   user's own jobs (see `shareRow` in shares.js); none: no Share button
   * @param {string} [hooks.baseUrl]
   */
  constructor(tbody, { stepsFor, onCancel, loadDownloads, sharedFor = () => null, sharing = null, baseUrl = "" }) {
    this.tbody = tbody;
    this.baseUrl = baseUrl;
    this.stepsFor = stepsFor;
    this.onCancel = onCancel;
    this.loadDownloads = loadDownloads;
    this.sharedFor = sharedFor;
    this.sharing = sharing;
    /**
     * Each row, and the rows that open below it (error details or downloads, then sharing).
     * @type {Map<string, {job: object, tr: HTMLTableRowElement, detailRow: HTMLTableRowElement|null, share: {toggle: HTMLButtonElement, row: HTMLTableRowElement}|null, parts: object, actionsKey: string}>}
     */
    this.rows = new Map();
  }

  get size() {
    return this.rows.size;
  }

  clear() {
    this.rows.clear();
    this.tbody.replaceChildren();
  }

  /** Take a job's row (and the rows below it) out of the table. */
  remove(jobId) {
    const row = this.rows.get(jobId);
    if (!row) return;
    this.rows.delete(jobId);
    for (const tr of this.#trs(row)) tr.remove();
  }

  /** The row's `<tr>`s, in their order: the job, then the rows that open below it. */
  #trs(row) {
    return [row.tr, row.detailRow, row.share?.row].filter(Boolean);
  }

  /** The creation time of the oldest row, or null. */
  oldest() {
    let oldest = null;
    for (const { job } of this.rows.values()) {
      if (oldest == null || job.created_at < oldest) oldest = job.created_at;
    }
    return oldest;
  }

  /** Draw `job`: update its row, or add one in its place (newest first). */
  upsert(job, { fresh = false } = {}) {
    const row = this.rows.get(job.id);
    if (row) {
      row.job = job;
      this.#update(row);
      return;
    }
    const created = this.#create(job);
    this.rows.set(job.id, created);
    this.#place(created);
    this.#update(created);
    if (fresh) {
      created.tr.classList.add("is-new");
      setTimeout(() => created.tr.classList.remove("is-new"), 1600);
    }
  }

  /** Draw every row again (e.g. once the tasks' declared steps are known). */
  redraw() {
    for (const row of this.rows.values()) this.#update(row);
  }

  /** Move the elapsed times of running jobs on (called every second). */
  tick(now = Date.now()) {
    for (const row of this.rows.values()) {
      if (isLive(row.job)) {
        this.#time(row, now);
        this.#stepTimes(row, now);
      }
    }
  }

  #place(row) {
    // Newest first; ISO times in one format sort as strings.
    const key = `${row.job.created_at}|${row.job.id}`;
    for (const other of this.tbody.querySelectorAll("tr.job")) {
      const that = this.rows.get(other.dataset.id)?.job;
      if (that && `${that.created_at}|${that.id}` < key) {
        other.before(...this.#trs(row));
        return;
      }
    }
    this.tbody.append(...this.#trs(row));
  }

  #create(job) {
    const cell = (index, cls, ...children) => h("td", { class: cls, dataset: { label: COLUMNS[index] } }, ...children);
    const badge = h("span", { class: "badge" });
    const task = h("span", { class: "job-task" });
    const meta = h("span", { class: "meta" });
    const via = h("span", { class: "shared-via", hidden: true });
    const progress = document.createElement("jobwire-progress");
    progress.setAttribute("label", `Progress of ${job.task} #${shortId(job.id)}`);
    const steps = h("ol", { class: "steps", "aria-label": "Steps" });
    const message = h("p", { class: "msg" });
    const time = h("span", { class: "elapsed" });
    const when = h("span", { class: "when" });
    const actions = h("div", { class: "actions" });
    const tr = h(
      "tr",
      { class: "job", dataset: { id: job.id } },
      cell(0, "c-status", badge),
      cell(1, "c-job", task, meta, via),
      cell(2, "c-progress", progress, steps, message),
      cell(3, "c-time", time, when),
      cell(4, "c-actions", actions),
    );
    return { job, tr, detailRow: null, share: null, parts: { badge, task, meta, via, progress, steps, message, time, when, actions }, actionsKey: "", stepsKey: "" };
  }

  #update(row) {
    const { job, tr, parts } = row;
    tr.dataset.status = job.status;
    tr.classList.toggle("cancelling", Boolean(job.cancel_requested) && isLive(job));

    const label = statusLabel(job);
    if (parts.badge.textContent !== label) parts.badge.textContent = label;
    parts.badge.dataset.status = label;

    parts.task.textContent = job.task;
    parts.task.title = job.task;
    const via = this.sharedFor(job);
    const metaKey = `${job.owner}|${job.attempt}|${JSON.stringify(via)}`;
    if (row.metaKey !== metaKey) {
      row.metaKey = metaKey;
      parts.meta.replaceChildren();
      append(parts.meta, [
        h("code", { title: `job ${job.id}, created ${fullTime(job.created_at)}` }, `#${shortId(job.id)}`),
        job.owner ? h("span", { class: "owner", title: "owner" }, job.owner) : null,
        job.attempt > 1 ? h("span", { title: "attempt" }, `attempt ${job.attempt}/${job.max_attempts}`) : null,
      ]);
      tr.classList.toggle("is-shared", Boolean(via));
      parts.via.replaceChildren(...(via ? sharedLine(via) : []));
      parts.via.hidden = !via;
    }

    parts.progress.snapshot = job;

    const states = stepStates(this.stepsFor(job), job);
    const stepsKey = states.map((s) => `${s.name}:${s.state}`).join(",");
    if (stepsKey !== row.stepsKey) {
      row.stepsKey = stepsKey;
      parts.steps.replaceChildren(
        ...states.map(({ name, state }) =>
          h(
            "li",
            { dataset: { state }, "aria-current": state === "current" ? "step" : null },
            h("span", { class: "step-name", title: `${name}: ${state}` }, name),
            h("span", { class: "step-time", dataset: { step: name } }),
          ),
        ),
      );
      parts.steps.hidden = !states.length;
    }
    this.#stepTimes(row);

    // A live job's message says what it does now; a failed one's, why it failed. Once a job
    // succeeded or was cancelled its last message is stale: the bar and steps say enough.
    const text =
      job.status === "failed" ? (job.error?.message || job.error?.code || "") : isLive(job) ? (job.message ?? "") : "";
    parts.message.textContent = text;
    parts.message.title = text;
    parts.message.classList.toggle("is-error", job.status === "failed");
    parts.message.hidden = !text;

    this.#time(row);
    this.#actions(row);
  }

  /** Each step's time (the open one moves on with `tick`). */
  #stepTimes(row, now = Date.now()) {
    for (const span of row.parts.steps.querySelectorAll(".step-time")) {
      const { text, title } = stepTime(row.job, span.dataset.step, now);
      if (span.textContent !== text) span.textContent = text;
      span.title = title;
      span.hidden = !text;
    }
  }

  #time(row, now = Date.now()) {
    const { job, parts } = row;
    const took = elapsed(job, now);
    parts.time.textContent = took || "—";
    parts.time.title = took ? (isTerminal(job) ? "run time" : "running for") : "not started";
    let when = "";
    if (job.status === "queued") when = "queued";
    else if (isTerminal(job) && job.finished_at) when = `ended ${clockTime(job.finished_at, now)}`;
    else if (job.started_at) when = `since ${clockTime(job.started_at, now)}`;
    if (parts.when.textContent !== when) parts.when.textContent = when;
  }

  #actions(row) {
    const { job, parts } = row;
    const via = this.sharedFor(job);
    const key = `${job.status}|${job.cancel_requested}|${job.result_url}|${via ? via.can_download : "own"}`;
    if (key === row.actionsKey) return;
    row.actionsKey = key;
    const name = `${job.task} #${shortId(job.id)}`;
    const items = [];
    if (isLive(job) && !via) {
      const button = h(
        "button",
        { type: "button", class: "btn btn-sm btn-danger", "aria-label": `Cancel ${name}`, disabled: Boolean(job.cancel_requested) },
        job.cancel_requested ? "Cancelling…" : "Cancel",
      );
      button.addEventListener("click", () => this.onCancel(row.job, button));
      items.push(button);
    }
    if (job.status === "succeeded") {
      // result_url is relative to where jobwire is mounted (snapshots do not know the prefix).
      const href = `${this.baseUrl}${job.result_url ?? `/api/jobs/${encodeURIComponent(job.id)}/result`}`;
      items.push(
        h(
          "a",
          { class: "btn btn-sm", href, target: "_blank", rel: "noopener", "aria-label": `Result of ${name}`, dataset: { result: job.id } },
          "Result",
        ),
      );
    }
    const hadFocus = parts.actions.contains(document.activeElement);
    parts.actions.replaceChildren(...items);
    if (job.status === "failed") this.#errorDetails(row, name);
    if (job.status === "succeeded") this.#downloads(row, name, via);
    if (!via && this.sharing) this.#share(row, name);
    if (hadFocus) (parts.actions.querySelector("button:not(:disabled), a") ?? row.tr.querySelector(".job-task"))?.focus?.();
  }

  /** Whether any row below the job is open (its corners join them). */
  #expanded(row) {
    row.tr.classList.toggle("expanded", [row.detailRow, row.share?.row].some((tr) => tr && !tr.hidden));
  }

  /**
   * A Download button that opens the job's exports and files in a row below; disabled, with
   * the reason, when the job reached the user through a view-only share.
   */
  #downloads(row, name, via) {
    const { toggle, row: detailRow } = downloadsRow(row.job, {
      name,
      columns: COLUMNS.length,
      baseUrl: this.baseUrl,
      load: (job) => this.loadDownloads(job),
      onToggle: () => this.#expanded(row),
    });
    row.detailRow?.remove();
    row.detailRow = detailRow;
    row.tr.after(detailRow);
    if (via && !via.can_download) {
      toggle.disabled = true;
      toggle.title = `Shared with ${via.team} to view only: no downloads`;
      toggle.setAttribute("aria-description", "view-only share: downloads are off");
    }
    row.parts.actions.append(toggle);
  }

  /** A Share button that opens the job's sharing in a row below (made once, kept open). */
  #share(row, name) {
    if (!row.share) {
      row.share = shareRow(row.job, {
        name,
        columns: COLUMNS.length,
        load: (job) => this.sharing.load(job),
        share: (job, body) => this.sharing.share(job, body),
        unshare: (job, team) => this.sharing.unshare(job, team),
        onToggle: () => this.#expanded(row),
      });
      (row.detailRow ?? row.tr).after(row.share.row);
    } else if (row.detailRow) {
      row.detailRow.after(row.share.row); // the share row stays last
    }
    row.parts.actions.append(row.share.toggle);
  }

  /** A Details button that shows the error (code, message, traceback) in a row below. */
  #errorDetails(row, name) {
    const { job, parts } = row;
    const error = job.error ?? { code: "unknown", message: "No error was recorded.", details: {} };
    const id = `error-${job.id}`;
    const details = error.details && typeof error.details === "object" ? error.details : {};
    const { traceback, type, ...rest } = details;
    const extra = Object.keys(rest).length ? JSON.stringify(rest, null, 2) : "";
    const box = h(
      "div",
      { class: "error-box" },
      h(
        "dl",
        {},
        h("dt", {}, "Code"),
        h("dd", {}, h("code", {}, error.code)),
        type ? [h("dt", {}, "Type"), h("dd", {}, h("code", {}, type))] : null,
        h("dt", {}, "Message"),
        h("dd", {}, error.message || "—"),
        h("dt", {}, "Attempt"),
        h("dd", {}, `${job.attempt || 1} of ${job.max_attempts || 1}`),
      ),
      traceback ? h("pre", { class: "traceback", tabindex: "0", "aria-label": "Traceback" }, traceback) : null,
      extra ? h("pre", { class: "traceback", tabindex: "0", "aria-label": "Details" }, extra) : null,
    );
    const detailRow = h("tr", { class: "detail-row error-row", id, hidden: true }, h("td", { colspan: String(COLUMNS.length) }, box));
    row.detailRow?.remove();
    row.detailRow = detailRow;
    row.tr.after(detailRow);
    const toggle = h(
      "button",
      { type: "button", class: "btn btn-sm", "aria-expanded": "false", "aria-controls": id, "aria-label": `Error details of ${name}` },
      h("span", { class: "chev", "aria-hidden": "true" }),
      "Details",
    );
    toggle.addEventListener("click", () => {
      const open = detailRow.hidden;
      detailRow.hidden = !open;
      toggle.setAttribute("aria-expanded", String(open));
      this.#expanded(row);
    });
    parts.actions.append(toggle);
  }
}


/** "shared by lead with platform", view only, until …: how a shared job reached the user. */
function sharedLine(via) {
  return [
    h(
      "span",
      { class: "shared-who", title: `Shared with your team ${via.team} by ${via.shared_by}` },
      "shared by ",
      h("strong", { class: "shared-by" }, via.shared_by),
      " with ",
      h("strong", { class: "shared-team" }, via.team),
    ),
    h("span", { class: `pill${via.can_download ? "" : " is-view-only"}` }, rightsLabel(via)),
    via.expires_at ? h("span", { class: "shared-until", title: fullTime(via.expires_at) }, expiryLabel(via)) : null,
  ].filter(Boolean);
}
