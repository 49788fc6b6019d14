/**
 * jobwire's dashboard: every job you may see, live, and a form to run each task; the jobs
 * shared with your teams ("Shared with me"), and a Share panel on your own jobs.
 *
 * Built on the JS client only (`../jobwire.js`): the first page of `GET /api/jobs`, then one
 * WebSocket subscribed to all jobs (`watchAll`); while that socket is down it polls
 * `GET /api/jobs` every few seconds instead. Each job keeps the snapshot with the highest
 * `seq`, whichever way it came.
 * @module dashboard
 */

import {
  downloadUrl,
  getResult,
  getStats,
  getStreamToken,
  isTerminal,
  jobAccess,
  listFiles,
  listJobs,
  listShares,
  listTasks,
  shareJob,
  submit,
  unshareJob,
  watchAll,
} from "../jobwire.js";
import { JobsTable } from "./jobs-table.js";
import { RunPanel } from "./run-form.js";
import { Toasts } from "./toasts.js";
import { LIVE, h, shortId } from "./util.js";

/** Where jobwire is mounted: this module is served at `{base}/static/dashboard/dashboard.js`. */
const BASE = new URL("../..", import.meta.url).pathname.replace(/\/+$/, "");
/** Jobs per page: 25, or `?limit=N` (1–500) in the page's URL. */
const PAGE_SIZE = Math.min(500, Math.max(1, Number.parseInt(new URLSearchParams(location.search).get("limit") ?? "", 10) || 25));
const POLL_MS = 3000;

/** The status filters, and the statuses each one asks the server for. */
const GROUPS = {
  all: { label: "All", statuses: null },
  active: { label: "Active", statuses: LIVE },
  succeeded: { label: "Succeeded", statuses: ["succeeded"] },
  failed: { label: "Failed", statuses: ["failed"] },
  cancelled: { label: "Cancelled", statuses: ["cancelled"] },
};

const $ = (selector) => document.querySelector(selector);

const state = {
  token: sessionStorage.getItem("jobwire.token") || undefined,
  /** @type {Map<string, object>} task name → its description from GET /api/tasks */
  tasks: new Map(),
  /** @type {Map<string, string[]>} task name → the steps seen in its jobs, in order */
  seenSteps: new Map(),
  filter: readFilter(),
  cursor: null,
  generation: 0, // bumped when the filter changes: older answers are dropped
  /** @type {Set<string>} jobs started from this page: a toast when they end */
  mine: new Set(),
  toasted: new Set(),
  /** @type {Map<string, object>} the latest snapshot of each job seen, shown or not */
  latest: new Map(),
  /** @type {Map<string, object>} job id → how it was shared with you (its `shared` when listed) */
  sharedVia: new Map(),
  pollTimer: null,
  statsTimer: null,
  live: null,
};

const toasts = new Toasts($("#toasts"));
const table = new JobsTable($("#job-rows"), {
  stepsFor,
  onCancel: cancel,
  loadDownloads,
  sharedFor: (job) => (state.filter.shared ? (state.sharedVia.get(job.id) ?? null) : null),
  sharing: {
    load: loadSharing,
    share: (job, { team, canDownload, expiresAt }) => shareJob(job.id, { team, canDownload, expiresAt }, api()),
    unshare: (job, team) => unshareJob(job.id, team, api()),
  },
  baseUrl: BASE,
});
const runPanel = new RunPanel($("#task-forms"), {
  submit: (task, args) => submit(task, args, api()),
  onSubmitted,
  compact: matchMedia("(max-width: 760px)").matches,
});

function api() {
  return { baseUrl: BASE, token: state.token };
}

// -- filters ----------------------------------------------------------------------------

function readFilter() {
  const params = new URLSearchParams(location.search);
  const status = params.get("status");
  return { status: status in GROUPS ? status : "all", task: params.get("task") ?? "", shared: params.get("shared") === "1" };
}

function writeFilter() {
  const params = new URLSearchParams(location.search);
  params.delete("status");
  params.delete("task");
  params.delete("shared");
  if (state.filter.status !== "all") params.set("status", state.filter.status);
  if (state.filter.task) params.set("task", state.filter.task);
  if (state.filter.shared) params.set("shared", "1");
  const qs = params.toString();
  history.replaceState(null, "", `${location.pathname}${qs ? `?${qs}` : ""}`);
}

function matches(job) {
  const { statuses } = GROUPS[state.filter.status];
  if (state.filter.shared && !state.sharedVia.has(job.id)) return false;
  return (!statuses || statuses.includes(job.status)) && (!state.filter.task || job.task === state.filter.task);
}

/** "Shared with me": a switch beside the filters, for the jobs shared with your teams. */
function drawSharedFilter() {
  const input = $("#shared-filter");
  input.checked = state.filter.shared;
  input.addEventListener("change", () => setFilter({ shared: input.checked }));
}

function drawStatusFilter() {
  const group = $("#status-filter");
  group.replaceChildren(
    h("legend", { class: "sr-only" }, "Status"),
    ...Object.entries(GROUPS).map(([key, { label }]) =>
      h(
        "label",
        { class: "seg-item", dataset: { group: key } },
        h("input", { type: "radio", name: "status", value: key, checked: state.filter.status === key }),
        h("span", { class: "seg-label" }, label, h("span", { class: "count", dataset: { count: key } })),
      ),
    ),
  );
  group.addEventListener("change", (event) => setFilter({ status: event.target.value }));
}

function drawTaskFilter() {
  const select = $("#task-filter");
  const names = new Set([...state.tasks.keys(), ...state.seenSteps.keys()]);
  if (state.filter.task) names.add(state.filter.task);
  const current = state.filter.task;
  select.replaceChildren(
    h("option", { value: "" }, "All tasks"),
    ...[...names].sort().map((name) => h("option", { value: name, selected: name === current }, name)),
  );
}

function setFilter(change) {
  state.filter = { ...state.filter, ...change };
  writeFilter();
  for (const input of document.querySelectorAll('#status-filter input[name="status"]')) {
    input.checked = input.value === state.filter.status;
  }
  $("#task-filter").value = state.filter.task;
  $("#shared-filter").checked = state.filter.shared;
  return loadFirstPage();
}

// -- jobs -------------------------------------------------------------------------------

/** The steps a job's task declared, else the ones seen in its jobs so far. */
function stepsFor(job) {
  const declared = state.tasks.get(job.task)?.steps;
  return declared?.length ? declared : (state.seenSteps.get(job.task) ?? []);
}

function noteSteps(job) {
  let seen = state.seenSteps.get(job.task);
  if (!seen) {
    seen = [];
    state.seenSteps.set(job.task, seen);
    if (!state.tasks.has(job.task)) drawTaskFilter();
  }
  if (job.step && !seen.includes(job.step)) seen.push(job.step);
}

/**
 * Take a snapshot from anywhere (a page, the socket, a poll, a submit): keep it if it is
 * newer than the one we have, draw it if the filter shows it, toast the end of our jobs.
 * `listed`: it came in a page of the list, so it belongs among the rows shown.
 */
function take(job, { live = false, listed = false } = {}) {
  // A share changed (downloads allowed, another expiry) shows at once, even without a newer seq.
  const viaChanged = Boolean(job.shared) && JSON.stringify(job.shared) !== JSON.stringify(state.sharedVia.get(job.id));
  if (job.shared) state.sharedVia.set(job.id, job.shared);
  const previous = state.latest.get(job.id);
  const newer = !previous || job.seq > previous.seq;
  if (newer) {
    state.latest.set(job.id, job);
    noteSteps(job);
    if (state.mine.has(job.id) && isTerminal(job)) announceEnd(job);
    if (!previous || previous.status !== job.status) scheduleStats();
  }
  const best = newer ? job : previous;
  const shown = table.rows.has(best.id);
  if (!newer && (shown || !listed)) {
    if (shown && viaChanged) table.upsert(best);
    return;
  }
  if (!shown) {
    if (!matches(best)) return;
    // Older than the last row while more pages remain: it will come with "Load more".
    const oldest = table.oldest();
    if (!listed && state.cursor && oldest && best.created_at < oldest) return;
  }
  table.upsert(best, { fresh: live && !shown });
  drawEmpty();
}

function announceEnd(job) {
  if (state.toasted.has(job.id)) return;
  state.toasted.add(job.id);
  if (job.status === "succeeded") {
    const took = job.started_at && job.finished_at ? (Date.parse(job.finished_at) - Date.parse(job.started_at)) / 1000 : null;
    toasts.show({
      kind: "success",
      title: `${job.task} succeeded`,
      body: `Job #${shortId(job.id)}${took != null ? ` finished in ${took < 10 ? took.toFixed(1) : Math.round(took)} s` : " finished"}.`,
      link: { href: `${BASE}${job.result_url ?? `/api/jobs/${job.id}/result`}`, text: "View result", result: job.id },
    });
  } else if (job.status === "failed") {
    toasts.show({
      kind: "failure",
      title: `${job.task} failed`,
      body: `Job #${shortId(job.id)}: ${job.error?.message ?? "no error recorded"}`,
      timeout: 12000,
    });
  } else {
    toasts.show({ kind: "warning", title: `${job.task} cancelled`, body: `Job #${shortId(job.id)} was cancelled.` });
  }
}

function drawEmpty() {
  const empty = $("#empty");
  const none = table.size === 0;
  empty.hidden = !none || $("#jobs-panel").dataset.loading === "true";
  if (none) {
    const group = GROUPS[state.filter.status];
    const what = state.filter.status === "all" ? "jobs" : `${group.label.toLowerCase()} jobs`;
    const task = state.filter.task ? ` of ${state.filter.task}` : "";
    $("#empty-title").textContent = `No ${what}${task} ${state.filter.shared ? "shared with you" : "yet"}`;
    $("#empty-hint").textContent = state.filter.shared
      ? "When a job is shared with one of your teams, it shows up here."
      : "Run a task from the panel and it shows up here, live.";
  }
  $("#load-more").hidden = !state.cursor;
}

async function loadFirstPage() {
  const generation = ++state.generation;
  const panel = $("#jobs-panel");
  panel.dataset.loading = "true";
  panel.dataset.shared = String(state.filter.shared);
  panel.setAttribute("aria-busy", "true");
  try {
    const page = await listJobs(query(), api());
    if (generation !== state.generation) return;
    table.clear();
    if (state.filter.shared) state.sharedVia.clear(); // a share that ended is not listed again
    state.cursor = page.next_cursor;
    for (const job of page.jobs) take(job, { listed: true });
    // Jobs created after the list was read, seen on the socket meanwhile, go on top.
    const newest = page.jobs[0]?.created_at ?? "";
    for (const job of state.latest.values()) {
      if (job.created_at > newest && matches(job)) take(job, { listed: true });
    }
    banner(null);
  } catch (error) {
    if (generation === state.generation) failed(error);
  } finally {
    if (generation === state.generation) {
      panel.dataset.loading = "false";
      panel.removeAttribute("aria-busy");
      drawEmpty();
    }
  }
}

/** Reload the rows shown (after a reconnect, or while polling) and merge them in. */
async function refresh() {
  const generation = state.generation;
  const limit = Math.min(500, Math.max(PAGE_SIZE, table.size));
  const page = await listJobs({ ...query(), limit }, api());
  if (generation !== state.generation) return;
  if (table.size === 0) state.cursor = page.next_cursor;
  if (state.filter.shared && !page.next_cursor) dropEndedShares(page.jobs);
  for (const job of page.jobs) take(job, { live: true, listed: true });
  drawEmpty();
}

/** With every shared job listed: the rows no longer listed lost their share (ended, removed). */
function dropEndedShares(listed) {
  const ids = new Set(listed.map((job) => job.id));
  for (const id of [...table.rows.keys()]) {
    if (ids.has(id)) continue;
    table.remove(id);
    state.sharedVia.delete(id);
  }
}

async function loadMore() {
  const button = $("#load-more");
  if (!state.cursor) return;
  const generation = state.generation;
  button.disabled = true;
  button.textContent = "Loading…";
  try {
    const page = await listJobs({ ...query(), cursor: state.cursor }, api());
    if (generation !== state.generation) return;
    state.cursor = page.next_cursor;
    for (const job of page.jobs) take(job, { listed: true });
  } catch (error) {
    failed(error);
  } finally {
    button.disabled = false;
    button.textContent = "Load more";
    drawEmpty();
  }
}

function query() {
  return {
    status: GROUPS[state.filter.status].statuses ?? undefined,
    task: state.filter.task || undefined,
    shared: state.filter.shared || undefined,
    limit: PAGE_SIZE,
  };
}

async function cancel(job, button) {
  button.disabled = true;
  button.textContent = "Cancelling…";
  try {
    take(await state.live.cancel(job.id));
  } catch (error) {
    if (error.code === "job_finished") return; // it ended meanwhile; its final state is on its way
    button.disabled = false;
    button.textContent = "Cancel";
    toasts.show({ kind: "failure", title: `Could not cancel ${job.task}`, body: error.message });
  }
}

/**
 * What a succeeded job's download links need: its files, and with an API key a fresh stream
 * token for the job (a link cannot send the key; the token goes in its URL). Without auth,
 * plain URLs. And whether it has a CSV: a task declares its rows, or has none.
 */
async function loadDownloads(job) {
  const [token, files] = await Promise.all([state.token ? getStreamToken(job.id, api()) : undefined, listFiles(job.id, api())]);
  const csv = await exportProblem(job, "csv", token);
  return { token, files, unavailable: csv ? { csv } : {} };
}

/**
 * Why `format` cannot be downloaded (the server's message), or null when it can: asked with
 * the link's own URL and dropped once the answer's status is known, so that a link never
 * leads to an error page or a failed download.
 */
async function exportProblem(job, format, token) {
  const control = new AbortController();
  try {
    const response = await fetch(downloadUrl(job.id, { format }, { baseUrl: BASE, token }), { signal: control.signal });
    if (response.ok) return null;
    const body = await response.json().catch(() => null);
    return body?.error?.message ?? `HTTP ${response.status}`;
  } catch {
    return null; // not reachable now: the link may work later
  } finally {
    control.abort();
  }
}

/**
 * What a job's Share panel needs: what you may do with it (`manage`: share it), and the
 * teams it is shared with.
 */
async function loadSharing(job) {
  const [access, shares] = await Promise.all([jobAccess(job.id, api()), listShares(job.id, api())]);
  return { access, shares };
}

function onSubmitted(job) {
  const { outcome, links, stream_token: token, ...snapshot } = job;
  state.mine.add(snapshot.id);
  if (!matches(snapshot)) {
    // The filter would hide the job just started: show everything again.
    setFilter({ status: "all", task: "", shared: false }).then(() => take(snapshot, { live: true }));
    return;
  }
  take(snapshot, { live: true });
}

// -- stats --------------------------------------------------------------------------------

function scheduleStats() {
  clearTimeout(state.statsTimer);
  state.statsTimer = setTimeout(loadStats, 400);
}

async function loadStats() {
  let stats;
  try {
    stats = await getStats(api());
  } catch {
    return; // the counts are a nicety; the table says what matters
  }
  const counts = stats?.jobs ?? {};
  for (const [key, { statuses }] of Object.entries(GROUPS)) {
    const n = (statuses ?? Object.keys(counts)).reduce((sum, s) => sum + (counts[s] ?? 0), 0);
    const badge = document.querySelector(`[data-count="${key}"]`);
    if (badge) badge.textContent = String(n);
  }
}

// -- live updates -------------------------------------------------------------------------

function connection(mode) {
  const el = $("#conn");
  el.dataset.state = mode;
  const text = {
    connecting: "Connecting…",
    live: "Live",
    polling: `Polling every ${POLL_MS / 1000} s`,
    offline: "Offline — retrying",
    signin: "Sign-in needed",
  }[mode];
  $("#conn-label").textContent = text;
  el.title =
    mode === "live"
      ? "Updates arrive over a WebSocket as they happen."
      : mode === "polling"
        ? "The WebSocket is unavailable; the list is reloaded every few seconds."
        : "";
}

function startPolling() {
  if (state.pollTimer) return;
  const poll = async () => {
    try {
      await refresh();
      await loadStats();
      if (!state.live?.open) connection("polling");
    } catch (error) {
      if (!state.live?.open) connection("offline");
      if (error.status === 401) failed(error);
    }
  };
  poll();
  state.pollTimer = setInterval(poll, POLL_MS);
}

function stopPolling() {
  clearInterval(state.pollTimer);
  state.pollTimer = null;
}

function goLive() {
  state.live = watchAll({
    ...api(),
    onUpdate: (job) => take(job, { live: true }),
    onOpen: () => {
      connection("live");
      stopPolling();
      refresh().catch(() => {}); // the events missed while it was down
      loadStats();
    },
    onClose: () => startPolling(),
    onError: () => startPolling(), // no WebSocket here, or refused: poll for good
  });
}

// -- errors and sign-in ---------------------------------------------------------------------

function failed(error) {
  if (error.status === 401) {
    banner("auth");
    connection("signin");
    return;
  }
  banner("error", error.status === 0 ? "Cannot reach the jobwire server. Retrying…" : error.message);
}

function banner(kind, text) {
  const box = $("#banner");
  // Several calls answer 401 at start: the sign-in form is drawn once, keeping what was typed.
  if (kind === "auth" && !box.hidden && box.querySelector(".auth-form")) return;
  box.hidden = !kind;
  box.replaceChildren();
  if (!kind) return;
  if (kind === "auth") {
    const input = h("input", { type: "password", id: "token-input", autocomplete: "off", required: true });
    const form = h(
      "form",
      { class: "auth-form" },
      h("p", {}, h("strong", {}, "This server needs an API key. "), "Create one with ", h("code", {}, "jobwire keys create --user NAME"), "."),
      h("label", { for: "token-input" }, "API key or JWT"),
      input,
      h("button", { type: "submit", class: "btn btn-primary" }, "Sign in"),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      state.token = input.value.trim() || undefined;
      if (state.token) sessionStorage.setItem("jobwire.token", state.token);
      start();
    });
    box.append(form);
    input.focus();
    return;
  }
  box.append(h("p", {}, text));
}

/**
 * With an API key, a result link cannot carry it (a link sends no Authorization header):
 * fetch the result with it and open that instead.
 */
function openResultsWithToken() {
  document.addEventListener("click", async (event) => {
    const link = event.target.closest?.("a[data-result]");
    if (!link || !state.token || event.button !== 0) return;
    event.preventDefault();
    const tab = window.open("", "_blank");
    try {
      const result = await getResult(link.dataset.result, api());
      const blob = new Blob([JSON.stringify(result, null, 2)], { type: "application/json" });
      const url = URL.createObjectURL(blob);
      if (tab) tab.location.href = url;
      else location.assign(url);
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
    } catch (error) {
      tab?.close();
      toasts.show({ kind: "failure", title: "Could not load the result", body: error.message });
    }
  });
}

// -- start ----------------------------------------------------------------------------------

async function loadTasks() {
  try {
    const tasks = await listTasks(api());
    state.tasks = new Map(tasks.map((t) => [t.name, t]));
    runPanel.render(tasks);
    drawTaskFilter();
    table.redraw(); // rows drawn before now showed only the steps seen so far
  } catch (error) {
    $("#task-forms").replaceChildren(h("p", { class: "muted" }, `Could not load the tasks: ${error.message}`));
    if (error.status === 401) failed(error);
  }
}

let started = false;
async function start() {
  banner(null);
  await Promise.all([loadTasks(), loadFirstPage(), loadStats()]);
  if (!started && $("#banner").hidden) {
    started = true;
    goLive();
  }
}

drawStatusFilter();
drawTaskFilter();
drawSharedFilter();
connection("connecting");
$("#task-filter").addEventListener("change", (event) => setFilter({ task: event.target.value }));
$("#load-more").addEventListener("click", loadMore);
openResultsWithToken();
setInterval(() => table.tick(), 1000);
start();
