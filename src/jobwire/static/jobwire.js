/**
 * jobwire's browser client: submit jobs, watch their progress live, draw a progress bar.
 *
 * One ES module, no build step, no dependencies. It runs in browsers and imports in Node 20
 * (the custom element is only defined where `customElements` and `HTMLElement` exist).
 *
 * @example
 * import { submit, watch, formatProgress } from "/static/jobwire.js";
 * const job = await submit("tickets.classify", { file_id: "f1" });
 * watch(job.id, {
 *   token: job.stream_token,
 *   onUpdate: (snap) => console.log(formatProgress(snap)),
 *   onDone: (snap) => console.log("finished:", snap.status),
 * });
 *
 * The wire contract is docs/http.md; this module's guide is docs/js.md.
 * @module jobwire
 */

/**
 * @typedef {object} Snapshot  A job's state; every message carries the whole of it.
 * @property {string} id
 * @property {string} task
 * @property {"queued"|"running"|"waiting"|"succeeded"|"failed"|"cancelled"} status
 * @property {string|null} step
 * @property {number} current
 * @property {number|null} total      null when unknown (an indeterminate bar)
 * @property {number|null} percent    null when the total is unknown
 * @property {string|null} message
 * @property {number|null} eta_seconds
 * @property {boolean} cancel_requested
 * @property {number} seq              grows with every change of the job
 * @property {{code: string, message: string, details: *}|null} error
 * @property {string|null} result_url
 */

/**
 * @typedef {object} Message  One message of a stream (WebSocket, SSE) or a polled snapshot.
 * @property {"connected"|"progress"|"status"|"log"|"completed"|"failed"|"cancelled"} type
 * @property {number} seq
 * @property {Snapshot} job
 * @property {string} [log]   the text of a `log` message
 */

/** The statuses nothing moves a job out of. */
const TERMINAL_STATUSES = new Set(["succeeded", "failed", "cancelled"]);

/** The final message type for each terminal status (as the server names them). */
const FINAL_TYPES = { succeeded: "completed", failed: "failed", cancelled: "cancelled" };

/** The named SSE events the server sends. */
const SSE_EVENTS = ["connected", "progress", "status", "log", "completed", "failed", "cancelled"];

/** WebSocket close codes that end a watch for good, with the HTTP status they stand for. */
const FATAL_CLOSE_CODES = {
  4401: { status: 401, code: "unauthorized", message: "The credentials were refused." },
  4403: { status: 403, code: "share_ended", message: "The right to follow this job ended (its share expired or was removed)." },
  4404: { status: 404, code: "job_not_found", message: "No such job (or it is not yours)." },
};

/**
 * Error messages on a stream that end a watch for good, with their HTTP status.
 * `share_ended`: the job was followed through a share with your team, which expired or was
 * removed.
 */
const FATAL_ERROR_CODES = { job_not_found: 404, unauthorized: 401, share_ended: 403 };

const KNOWN_TRANSPORTS = new Set(["ws", "sse", "poll"]);

/** A transport that has worked before is retried this many times before the next one. */
const REOPEN_ATTEMPTS = 3;

/** Seconds a poll asks the server to hold an unchanged answer (`?wait=`, at most 30). */
const POLL_WAIT_SECONDS = 25;

// ---------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------

/**
 * An error answered by the server (or a network failure, `status` 0).
 *
 * `code` is the server's error code (`job_not_found`, `owner_limit_reached`,
 * `invalid_arguments`, `rate_limited`, …, see docs/http.md), or `network_error`.
 */
export class JobwireError extends Error {
  /**
   * @param {string} message
   * @param {object} [info]
   * @param {number} [info.status]      the HTTP status, 0 when no answer arrived
   * @param {string} [info.code]        the server's error code
   * @param {*} [info.details]          the server's `details` (e.g. `errors` for 422)
   * @param {number|null} [info.retryAfter]  seconds to wait, from `Retry-After` (429)
   * @param {*} [info.cause]
   */
  constructor(message, { status = 0, code = "error", details = {}, retryAfter = null, cause } = {}) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = "JobwireError";
    /** @type {number} */
    this.status = status;
    /** @type {string} */
    this.code = code;
    this.details = details;
    /** @type {number|null} */
    this.retryAfter = retryAfter;
  }
}

/**
 * The JobwireError for an HTTP answer that is not ok.
 * @param {Response} response
 * @returns {Promise<JobwireError>}
 */
async function errorFromResponse(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    // Not JSON (a proxy's HTML page, an empty body): the status alone has to do.
  }
  const error = body && typeof body === "object" && body.error ? body.error : {};
  return new JobwireError(error.message || `HTTP ${response.status} ${response.statusText || ""}`.trim(), {
    status: response.status,
    code: error.code || `http_${response.status}`,
    details: error.details ?? {},
    retryAfter: parseRetryAfter(response.headers?.get?.("Retry-After")),
  });
}

/**
 * Seconds from a `Retry-After` header: delay-seconds or an HTTP date; null when absent.
 * @param {string|null|undefined} value
 * @param {number} [now]
 * @returns {number|null}
 */
function parseRetryAfter(value, now = Date.now()) {
  if (value == null || value === "") return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds);
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, Math.ceil((date - now) / 1000));
}

// ---------------------------------------------------------------------------------------
// Pure helpers
// ---------------------------------------------------------------------------------------

/**
 * Whether a snapshot is final (`succeeded`, `failed` or `cancelled`).
 * @param {Snapshot|null|undefined} snapshot
 * @returns {boolean}
 */
export function isTerminal(snapshot) {
  return Boolean(snapshot) && TERMINAL_STATUSES.has(snapshot.status);
}

/**
 * The counters as text: `"150/500 (30%)"`; with an unknown total just the count (`"150"`),
 * or `""` when nothing is counted yet. Mirrors the terminal's format.
 * @param {Snapshot|null|undefined} snapshot
 * @returns {string}
 */
export function formatProgress(snapshot) {
  if (!snapshot) return "";
  const current = Number(snapshot.current) || 0;
  const total = snapshot.total;
  if (typeof total === "number" && total > 0) {
    const percent = snapshot.percent ?? Math.round(Math.min(Math.max(current / total, 0), 1) * 1000) / 10;
    return `${current}/${total} (${percent}%)`;
  }
  return current ? String(current) : "";
}

/**
 * A duration as people say it: `"20 s"`, `"2 min"`, `"1 min 30 s"`, `"1 h 5 min"`
 * (`"<1 s"` under a second). Used for time left, and by the dashboard for elapsed time.
 * @param {number} seconds
 * @returns {string}
 */
export function formatDuration(seconds) {
  if (!Number.isFinite(seconds)) return "";
  if (seconds < 1) return "<1 s";
  let s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  let m = Math.floor(s / 60);
  s %= 60;
  if (m < 60) return s ? `${m} min ${s} s` : `${m} min`;
  const h = Math.floor(m / 60);
  m %= 60;
  return `${h} h ${m} min`;
}

/**
 * Time left as text: `"about 20 s left"`, `"about 2 min left"`, `"<1 s left"`; `""` when
 * there is no estimate (null) — jobwire never shows a made-up number.
 * @param {number|null|undefined} seconds
 * @returns {string}
 */
export function formatEta(seconds) {
  if (seconds == null || !Number.isFinite(seconds) || seconds < 0) return "";
  if (seconds < 1) return "<1 s left";
  return `about ${formatDuration(seconds)} left`;
}

const BYTE_UNITS = ["kB", "MB", "GB", "TB"];

/**
 * A size for people: `"512 B"`, `"1.5 kB"`, `"200 MB"` (decimal units, as browsers show
 * downloads); `""` for a non-number.
 * @param {number} bytes
 * @returns {string}
 */
export function formatBytes(bytes) {
  if (typeof bytes !== "number" || !Number.isFinite(bytes) || bytes < 0) return "";
  if (bytes < 1000) return `${Math.round(bytes)} B`;
  let value = bytes;
  let unit = -1;
  while (value >= 999.5 && unit < BYTE_UNITS.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${value < 10 ? value.toFixed(1).replace(/\.0$/, "") : Math.round(value)} ${BYTE_UNITS[unit]}`;
}

/**
 * Milliseconds to wait before reconnect number `attempt` (0-based): exponential, capped at
 * `max`, with "equal jitter" — a random value between half the step and the full step, so
 * many clients dropped together do not come back together.
 * @param {number} attempt
 * @param {{initial?: number, max?: number}} [backoff]
 * @param {() => number} [random]  returns a number in [0, 1)
 * @returns {number}
 * @example nextBackoff(0, {initial: 250, max: 10000}, () => 0.5) // 187.5
 */
export function nextBackoff(attempt, { initial = 250, max = 10000 } = {}, random = Math.random) {
  const step = Math.min(max, initial * 2 ** Math.max(0, attempt));
  return step / 2 + (random() * step) / 2;
}

// ---------------------------------------------------------------------------------------
// URLs
// ---------------------------------------------------------------------------------------

/** `baseUrl` without its trailing slashes. */
function trimBase(baseUrl) {
  return String(baseUrl ?? "").replace(/\/+$/, "");
}

/**
 * An HTTP URL (relative when `baseUrl` is) with the non-null `params` as its query; an
 * array value repeats its key (`status=queued&status=running`).
 * @param {string} baseUrl
 * @param {string} path
 * @param {Record<string, string|number|null|undefined|Array<string|number>>} [params]
 */
function httpUrl(baseUrl, path, params = {}) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    for (const item of Array.isArray(value) ? value : [value]) {
      if (item != null && item !== "") query.append(key, String(item));
    }
  }
  const qs = query.toString();
  return `${trimBase(baseUrl)}${path}${qs ? `?${qs}` : ""}`;
}

/**
 * The `ws(s)://` URL for `path`, resolved against `baseUrl` and the page's location;
 * null when it cannot be made absolute (a relative `baseUrl` outside a browser).
 */
function wsUrl(baseUrl, path, params = {}) {
  let url;
  try {
    url = new URL(httpUrl(baseUrl, path, params), globalThis.location?.href);
  } catch {
    return null;
  }
  if (url.protocol === "https:") url.protocol = "wss:";
  else if (url.protocol === "http:") url.protocol = "ws:";
  return url.protocol === "ws:" || url.protocol === "wss:" ? url.href : null;
}

const jobPath = (jobId) => `/api/jobs/${encodeURIComponent(jobId)}`;

// ---------------------------------------------------------------------------------------
// submit()
// ---------------------------------------------------------------------------------------

/**
 * Submit a job: `POST /api/tasks/{task}/jobs` with `args` as the JSON body.
 *
 * Resolves to the answer: the job's snapshot plus `outcome` (`created`, `deduplicated` or
 * `cached`), `links` and `stream_token` (pass it as `token` to {@link watch}).
 *
 * @param {string} task  the task's name, e.g. `"tickets.classify"`
 * @param {object} [args]  the task's arguments
 * @param {object} [options]
 * @param {string} [options.baseUrl]  where jobwire is mounted, e.g. `"/jobs"`; default same origin
 * @param {string} [options.token]  an API key or JWT, sent as `Authorization: Bearer`
 * @param {typeof fetch} [options.fetch]
 * @returns {Promise<Snapshot & {outcome: string, links: Record<string,string>, stream_token: string}>}
 * @throws {JobwireError} 404 `unknown_task`, 409 `owner_limit_reached`, 422 `invalid_arguments`,
 *   429 `rate_limited` (see `retryAfter`), 0 `network_error`, …
 * @example
 * try {
 *   const job = await submit("tickets.classify", { file_id: "f1" });
 * } catch (err) {
 *   if (err.code === "owner_limit_reached") alert("You already have a job running.");
 * }
 */
export async function submit(task, args = {}, { baseUrl = "", token, fetch = globalThis.fetch } = {}) {
  const headers = { "Content-Type": "application/json", Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  const url = httpUrl(baseUrl, `/api/tasks/${encodeURIComponent(task)}/jobs`);
  let response;
  try {
    response = await fetch(url, { method: "POST", headers, body: JSON.stringify(args ?? {}) });
  } catch (cause) {
    throw new JobwireError(`Could not reach ${url}: ${cause?.message ?? cause}`, {
      code: "network_error",
      cause,
    });
  }
  if (!response.ok) throw await errorFromResponse(response);
  return response.json();
}

// ---------------------------------------------------------------------------------------
// REST helpers: tasks, history, cancel
// ---------------------------------------------------------------------------------------

/**
 * One JSON call to the API; rejects with a JobwireError (status 0 `network_error` when no
 * answer arrived). `token` is an API key or a JWT, sent as `Authorization: Bearer`.
 */
async function requestJson(method, path, { baseUrl = "", token, fetch = globalThis.fetch, params, body } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  const url = httpUrl(baseUrl, path, params);
  const init = { method, headers };
  if (body !== undefined) init.body = JSON.stringify(body);
  let response;
  try {
    response = await fetch(url, init);
  } catch (cause) {
    throw new JobwireError(`Could not reach ${url}: ${cause?.message ?? cause}`, { code: "network_error", cause });
  }
  if (!response.ok) throw await errorFromResponse(response);
  return response.status === 204 ? null : response.json();
}

/**
 * @typedef {object} TaskInfo  A registered task, from `GET /api/tasks`.
 * @property {string} name
 * @property {string} description
 * @property {string[]} steps  the steps it declared, in order (may be empty)
 * @property {object} schema  the JSON Schema of its arguments
 * @property {object} options  limits, cache, retries, timeout, dedupe
 */

/**
 * The server's tasks: `GET /api/tasks`.
 * @param {{baseUrl?: string, token?: string, fetch?: typeof fetch}} [options]
 * @returns {Promise<TaskInfo[]>}
 * @example
 * for (const task of await listTasks()) console.log(task.name, task.steps);
 */
export async function listTasks(options = {}) {
  const answer = await requestJson("GET", "/api/tasks", options);
  return Array.isArray(answer?.tasks) ? answer.tasks : [];
}

/**
 * One page of job history, newest first: `GET /api/jobs`.
 * @param {object} [filters]
 * @param {string|string[]} [filters.status]  one status or several
 * @param {string} [filters.task]
 * @param {string} [filters.owner]  admins only
 * @param {string|null} [filters.cursor]  the previous page's `next_cursor`
 * @param {number} [filters.limit]  1–500 (the server's default is 50)
 * @param {boolean} [filters.shared]  the jobs shared with your teams instead (`?shared=true`;
 *   each has `shared`, see {@link sharedWithMe})
 * @param {{baseUrl?: string, token?: string, fetch?: typeof fetch}} [options]
 * @returns {Promise<{jobs: Snapshot[], next_cursor: string|null}>}
 * @example
 * let page = await listJobs({ status: ["queued", "running"], limit: 20 });
 * if (page.next_cursor) page = await listJobs({ status: ["queued", "running"], cursor: page.next_cursor });
 */
export async function listJobs({ status, task, owner, cursor, limit, shared } = {}, options = {}) {
  const params = { status, task, owner, cursor, limit, shared: shared ? "true" : undefined };
  const answer = await requestJson("GET", "/api/jobs", { ...options, params });
  return { jobs: Array.isArray(answer?.jobs) ? answer.jobs : [], next_cursor: answer?.next_cursor ?? null };
}

/**
 * A succeeded job's result: `GET /api/jobs/{id}/result`. Rejects with a JobwireError: 409
 * `result_not_available` while the job has not succeeded, 404 `job_not_found`.
 * @param {string} jobId
 * @param {{baseUrl?: string, token?: string, fetch?: typeof fetch}} [options]
 * @returns {Promise<*>} the result, as the task returned it (JSON)
 */
export function getResult(jobId, options = {}) {
  return requestJson("GET", `${jobPath(jobId)}/result`, options);
}

/**
 * Counts by status and the server's counters: `GET /api/stats`.
 * @param {{baseUrl?: string, token?: string, fetch?: typeof fetch}} [options]
 * @returns {Promise<{jobs: Record<string, number>, worker: Record<string, number>, streams: Record<string, number>}>}
 */
export function getStats(options = {}) {
  return requestJson("GET", "/api/stats", options);
}

/**
 * Ask the server to cancel a job: `POST /api/jobs/{id}/cancel`. Resolves to the snapshot
 * (a queued job is `cancelled` at once; a running one has `cancel_requested`). Rejects with
 * a JobwireError: 409 `job_finished` when it already ended, 404 `job_not_found`.
 * @param {string} jobId
 * @param {{baseUrl?: string, token?: string, fetch?: typeof fetch}} [options]  `token`: an
 *   API key or JWT (Bearer); for a job's stream token use `watch(…).cancel()`
 * @returns {Promise<Snapshot>}
 */
export function cancelJob(jobId, options = {}) {
  return requestJson("POST", `${jobPath(jobId)}/cancel`, options);
}

// ---------------------------------------------------------------------------------------
// Downloads: exports and files
// ---------------------------------------------------------------------------------------

/** The formats of `GET /api/jobs/{id}/export`. */
export const EXPORT_FORMATS = Object.freeze(["json", "csv", "zip"]);

/**
 * The URL that downloads a succeeded job's export (`{format}`: `"json"`, the default,
 * `"csv"` or `"zip"`) or one file it saved (`{file}`), for a plain `<a href>`: a link sends
 * no `Authorization` header, so `token` is the job's stream token, put in the URL as
 * `?token=` (the server accepts it on the job's files and export). Leave it out when the
 * server needs no credentials. Throws a TypeError for a format it does not know, or for both
 * a format and a file.
 * @param {string} jobId
 * @param {{format?: "json"|"csv"|"zip", file?: string}} [what]
 * @param {{baseUrl?: string, token?: string}} [options]  `token`: the job's stream token
 *   (from `submit()` or {@link getStreamToken})
 * @returns {string}
 * @example
 * link.href = downloadUrl(job.id, { format: "csv" }, { token: job.stream_token });
 * // "/api/jobs/3f2a…/export?format=csv&token=…"
 * img.src = downloadUrl(job.id, { file: "frame-001.png" }, { token: job.stream_token });
 */
export function downloadUrl(jobId, what = {}, { baseUrl = "", token } = {}) {
  const { format, file } = what ?? {};
  if (file != null) {
    if (format != null) throw new TypeError(`Expected a format or a file, but got both: ${format}, ${file}`);
    if (typeof file !== "string" || !file) throw new TypeError(`Expected a file name, but got ${JSON.stringify(file)}`);
    return httpUrl(baseUrl, `${jobPath(jobId)}/files/${encodeURIComponent(file)}`, { token });
  }
  const chosen = format ?? "json";
  if (!EXPORT_FORMATS.includes(chosen)) {
    throw new TypeError(`Expected a format among ${EXPORT_FORMATS.join(", ")}, but got ${JSON.stringify(format)}`);
  }
  return httpUrl(baseUrl, `${jobPath(jobId)}/export`, { format: chosen, token });
}

/**
 * @typedef {object} FileEntry  A file a job saved, from `GET /api/jobs/{id}/files`.
 * @property {string} name
 * @property {number} size  in bytes
 * @property {string} content_type
 * @property {string} sha256  hex
 * @property {string|null} created_at
 */

/**
 * The files a job saved, by name: `GET /api/jobs/{id}/files`. Rejects with a JobwireError
 * (404 `job_not_found`).
 * @param {string} jobId
 * @param {{baseUrl?: string, token?: string, streamToken?: string, fetch?: typeof fetch}} [options]
 *   `token`: an API key or JWT (Bearer); or `streamToken`: the job's stream token (`?token=`)
 * @returns {Promise<FileEntry[]>}
 */
export async function listFiles(jobId, { streamToken, ...options } = {}) {
  const params = streamToken ? { token: streamToken } : undefined;
  const answer = await requestJson("GET", `${jobPath(jobId)}/files`, { ...options, params });
  return Array.isArray(answer?.files) ? answer.files : [];
}

/**
 * A fresh stream token for a job (`GET /api/jobs/{id}/token`), to put in URLs that cannot
 * carry an `Authorization` header: {@link downloadUrl}, {@link watch}. Needs an API key or a
 * JWT as `token`.
 * @param {string} jobId
 * @param {{baseUrl?: string, token?: string, fetch?: typeof fetch}} [options]
 * @returns {Promise<string>}
 */
export async function getStreamToken(jobId, options = {}) {
  const answer = await requestJson("GET", `${jobPath(jobId)}/token`, options);
  return String(answer?.token ?? "");
}

// ---------------------------------------------------------------------------------------
// Shares: a job shared with a team
// ---------------------------------------------------------------------------------------

/**
 * @typedef {object} Share  A job shared with a team (`/api/jobs/{id}/shares`).
 * @property {string} job_id
 * @property {string} team
 * @property {boolean} can_view
 * @property {boolean} can_download  whether the team's members may download its export and files
 * @property {string|null} expires_at  ISO 8601 UTC; null: until it is removed
 * @property {string} shared_by  the user who shared it (or last changed the share)
 * @property {string} created_at
 * @property {string} updated_at  when it was last changed
 */

/**
 * @typedef {object} SharedVia  How a job listed by {@link sharedWithMe} reached you: its
 *   `shared` field.
 * @property {string} team  your team it was shared with
 * @property {string} shared_by
 * @property {boolean} can_view
 * @property {boolean} can_download
 * @property {string|null} expires_at
 */

/**
 * @typedef {object} Access  What the caller may do with a job (`GET /api/jobs/{id}/access`).
 * @property {boolean} view
 * @property {boolean} download  its export and files
 * @property {boolean} cancel
 * @property {boolean} manage  list and remove its shares (its owner, an admin)
 * @property {boolean} share  share it with a team (`manage` and a sharing role)
 * @property {"owner"|"admin"|"share"|"stream_token"} via  where the access comes from
 * @property {string|null} team  the team of that share
 * @property {string|null} expires_at  when that share ends
 */

/** An expiry as the server takes it: ISO 8601, or null for none. */
function expiryOf(value) {
  if (value == null || value === "") return null;
  const time = value instanceof Date ? value.getTime() : typeof value === "string" ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(time)) {
    throw new TypeError(`Expected expiresAt as a Date, an ISO 8601 time or null, but got ${JSON.stringify(value)}`);
  }
  return value instanceof Date ? value.toISOString() : value;
}

/**
 * Share a job with a team (`POST /api/jobs/{id}/shares`), or change an existing share with
 * that team. Resolves to the share. Sharing needs a sharing role (`teamlead` or `admin` by
 * default): without it, rejects with 403 `forbidden`; 404 `job_not_found`; a TypeError for
 * a missing team or an expiry that is not a time.
 * @param {string} jobId
 * @param {object} share
 * @param {string} share.team
 * @param {boolean} [share.canView]  default true
 * @param {boolean} [share.canDownload]  default true; false: view only
 * @param {Date|string|null} [share.expiresAt]  when the share ends (a Date or an ISO 8601
 *   time); null or left out: until it is removed
 * @param {{baseUrl?: string, token?: string, fetch?: typeof fetch}} [options]
 * @returns {Promise<Share>}
 * @example
 * const week = new Date(Date.now() + 7 * 86400_000);
 * await shareJob(job.id, { team: "platform", canDownload: false, expiresAt: week }, { token });
 */
export async function shareJob(jobId, { team, canView = true, canDownload = true, expiresAt = null } = {}, options = {}) {
  if (typeof team !== "string" || !team.trim()) throw new TypeError(`Expected a team name, but got ${JSON.stringify(team)}`);
  const body = { team: team.trim(), can_view: Boolean(canView), can_download: Boolean(canDownload), expires_at: expiryOf(expiresAt) };
  return requestJson("POST", `${jobPath(jobId)}/shares`, { ...options, body });
}

/**
 * Stop sharing a job with a team (`DELETE /api/jobs/{id}/shares/{team}`); the team's members
 * lose it at once, open streams included. Resolves to undefined. Rejects with 404
 * `share_not_found` when the job is not shared with that team, 404 `job_not_found`, 403
 * `forbidden` for a member of the team who is not its teamlead.
 * @param {string} jobId
 * @param {string} team
 * @param {{baseUrl?: string, token?: string, fetch?: typeof fetch}} [options]
 * @returns {Promise<void>}
 */
export async function unshareJob(jobId, team, options = {}) {
  if (typeof team !== "string" || !team) throw new TypeError(`Expected a team name, but got ${JSON.stringify(team)}`);
  await requestJson("DELETE", `${jobPath(jobId)}/shares/${encodeURIComponent(team)}`, options);
}

/**
 * The teams a job is shared with (`GET /api/jobs/{id}/shares`), for its owner or an admin.
 * @param {string} jobId
 * @param {{baseUrl?: string, token?: string, fetch?: typeof fetch}} [options]
 * @returns {Promise<Share[]>}
 */
export async function listShares(jobId, options = {}) {
  const answer = await requestJson("GET", `${jobPath(jobId)}/shares`, options);
  return Array.isArray(answer?.shares) ? answer.shares : [];
}

/**
 * One page of the jobs shared with your teams, newest first (`GET /api/jobs?shared=true`).
 * Each snapshot has `shared` ({@link SharedVia}): the team and who shared it.
 * @param {{cursor?: string|null, limit?: number, status?: string|string[], task?: string}} [filters]
 * @param {{baseUrl?: string, token?: string, fetch?: typeof fetch}} [options]
 * @returns {Promise<{jobs: Array<Snapshot & {shared: SharedVia}>, next_cursor: string|null}>}
 * @example
 * const { jobs } = await sharedWithMe({ limit: 20 }, { token });
 * for (const job of jobs) console.log(job.task, "from", job.shared.shared_by, "via", job.shared.team);
 */
export function sharedWithMe(filters = {}, options = {}) {
  return listJobs({ ...filters, owner: undefined, shared: true }, options);
}

/**
 * What you may do with a job (`GET /api/jobs/{id}/access`): view it, download it, manage its
 * shares, and through what. 404 `job_not_found` when you may not even see it.
 * @param {string} jobId
 * @param {{baseUrl?: string, token?: string, fetch?: typeof fetch}} [options]
 * @returns {Promise<Access>}
 */
export function jobAccess(jobId, options = {}) {
  return requestJson("GET", `${jobPath(jobId)}/access`, options);
}

// ---------------------------------------------------------------------------------------
// watch()
// ---------------------------------------------------------------------------------------

/**
 * @typedef {object} WatchHandle
 * @property {() => void} close  stop watching (no more callbacks); idempotent
 * @property {() => Promise<Snapshot|null>} cancel  ask the server to cancel the job: over the
 *   WebSocket when it is open (resolves to null; the answer arrives as the next `status`
 *   update), else `POST /api/jobs/{id}/cancel` (resolves to the snapshot; rejects with a
 *   JobwireError, e.g. 409 `job_finished`)
 * @property {"ws"|"sse"|"poll"|null} transport  the transport in use (or last used)
 * @property {number} lastSeq  the `seq` of the last message drawn, 0 before the first
 * @property {Snapshot|null} snapshot  the last snapshot drawn
 */

/**
 * Watch a job live: WebSocket first, Server-Sent Events when WebSockets are unavailable or
 * fail to open, then polling (`GET /api/jobs/{id}` with `If-None-Match` and `?wait=`).
 *
 * After a drop it reconnects with exponential backoff and jitter and resumes after the last
 * `seq` it drew; anything not newer is dropped, so it never goes backwards and never delivers
 * a message twice. After the final message it calls `onDone` once and stops. A missing job
 * (404 / close 4404), refused credentials (401 / close 4401) or the end of the share it was
 * followed through (`share_ended`, close 4403) call `onError` and stop; other failures are
 * retried.
 *
 * @param {string} jobId
 * @param {object} [options]
 * @param {(snapshot: Snapshot, message: Message) => void} [options.onUpdate]  each new message
 * @param {(snapshot: Snapshot) => void} [options.onDone]  once, after the final message
 * @param {(error: JobwireError) => void} [options.onError]  a fatal error; watching stopped
 * @param {string} [options.baseUrl]  where jobwire is mounted; default same origin
 * @param {string} [options.token]  the job's `stream_token` (sent as `?token=`)
 * @param {Array<"ws"|"sse"|"poll">} [options.transports]  the order to try them in
 * @param {number} [options.after]  resume after this seq (e.g. a snapshot you already drew)
 * @param {typeof WebSocket} [options.WebSocket]
 * @param {typeof EventSource} [options.EventSource]
 * @param {typeof fetch} [options.fetch]
 * @param {number} [options.pollInterval]  ms; polls start at most this often
 * @param {{initial: number, max: number}} [options.backoff]  reconnect delays in ms
 * @param {number} [options.openTimeout]  ms a WebSocket or EventSource may take to open
 * @param {() => number} [options.random]  jitter source, for tests
 * @returns {WatchHandle}
 * @example
 * const handle = watch(job.id, {
 *   token: job.stream_token,
 *   onUpdate: (snap) => (label.textContent = formatProgress(snap)),
 *   onDone: (snap) => toast(`Job ${snap.status}`),
 *   onError: (err) => console.error(err.code, err.message),
 * });
 * cancelButton.onclick = () => handle.cancel();
 */
export function watch(jobId, options = {}) {
  const watcher = new Watcher(jobId, options);
  watcher.start();
  return {
    close: () => watcher.close(),
    cancel: () => watcher.cancel(),
    get transport() {
      return watcher.transport;
    },
    get lastSeq() {
      return watcher.lastSeq;
    },
    get snapshot() {
      return watcher.snapshot;
    },
  };
}

/** The state behind one {@link watch}; each connection attempt has a generation number so
 * that events from a connection already given up on are ignored. */
class Watcher {
  #jobId;
  #opts;
  #transports;
  #index = 0;
  #gen = 0;
  #attempt = 0; // reconnects since the last sign of life
  #reopenFailures = 0; // failed opens in a row of a transport that worked before
  #opened = new Set(); // transports that opened at least once
  #stopped = false;
  #timer = null;
  #socket = null; // the open (or opening) WebSocket or EventSource
  #etag = { value: null, seq: 0 }; // the last poll's ETag and the seq it stood for
  #cleanup = () => {};

  /** @type {"ws"|"sse"|"poll"|null} */
  transport = null;
  lastSeq = 0;
  /** @type {Snapshot|null} */
  snapshot = null;

  constructor(jobId, options) {
    if (jobId == null || jobId === "") throw new TypeError("watch() needs a job id");
    const {
      transports = ["ws", "sse", "poll"],
      baseUrl = "",
      backoff = {},
      pollInterval = 1000,
      openTimeout = 10000,
      random = Math.random,
      after = 0,
      WebSocket = globalThis.WebSocket,
      EventSource = globalThis.EventSource,
      fetch = globalThis.fetch,
    } = options;
    const unknown = transports.filter((t) => !KNOWN_TRANSPORTS.has(t));
    if (unknown.length || !transports.length) {
      throw new TypeError(`transports must be a non-empty list of "ws", "sse", "poll"; got ${JSON.stringify(transports)}`);
    }
    this.#jobId = String(jobId);
    this.#transports = [...transports];
    this.#opts = {
      ...options,
      baseUrl,
      pollInterval,
      openTimeout,
      random,
      WebSocket,
      EventSource,
      fetch,
      backoff: { initial: 250, max: 10000, ...backoff },
    };
    this.lastSeq = Number(after) || 0;
  }

  start() {
    this.#connect();
  }

  close() {
    this.#stop();
  }

  async cancel() {
    const ws = this.#socket;
    if (this.transport === "ws" && ws && ws.readyState === 1 /* OPEN */) {
      ws.send(JSON.stringify({ type: "cancel" }));
      return null;
    }
    const { baseUrl, token, fetch } = this.#opts;
    const url = httpUrl(baseUrl, `${jobPath(this.#jobId)}/cancel`, { token });
    let response;
    try {
      response = await fetch(url, { method: "POST", headers: { Accept: "application/json" } });
    } catch (cause) {
      throw new JobwireError(`Could not reach ${url}: ${cause?.message ?? cause}`, { code: "network_error", cause });
    }
    if (!response.ok) throw await errorFromResponse(response);
    return response.json();
  }

  // -- lifecycle -------------------------------------------------------------------------

  #connect() {
    if (this.#stopped) return;
    this.#teardown();
    const name = this.#transports[this.#index];
    this.transport = name;
    const gen = ++this.#gen;
    const available =
      name === "ws" ? this.#openWebSocket(gen) : name === "sse" ? this.#openEventSource(gen) : this.#poll(gen);
    if (available !== false) return;
    // Not available here (no WebSocket in this runtime, no absolute URL for it): forget it.
    this.#transports.splice(this.#index, 1);
    if (!this.#transports.length) {
      this.#fail(new JobwireError("No transport is available here (WebSocket, EventSource, fetch).", { code: "no_transport" }));
    } else if (this.#index < this.#transports.length) {
      this.#connect();
    } else {
      this.#index = this.#transports.length - 1; // back to the last one that worked
      this.#retry();
    }
  }

  /** Close the current connection and cancel the pending timer. */
  #teardown() {
    clearTimeout(this.#timer);
    this.#timer = null;
    this.#cleanup();
    this.#cleanup = () => {};
    this.#socket = null;
  }

  #stop() {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#gen += 1; // anything still in flight is now stale
    this.#teardown();
  }

  #isCurrent(gen) {
    return !this.#stopped && gen === this.#gen;
  }

  /** The connection opened: this transport works here. */
  #markOpen() {
    this.#opened.add(this.#transports[this.#index]);
    this.#reopenFailures = 0;
  }

  /** Something arrived (a message, a ping, a poll's answer): the next drop starts the backoff
   * afresh. Not on `open` alone, so a server that accepts and at once closes is not hammered. */
  #alive() {
    this.#markOpen();
    this.#attempt = 0;
  }

  /** The connection could not be opened (or a poll failed). */
  #failedToOpen(gen) {
    if (!this.#isCurrent(gen)) return;
    this.#teardown();
    const name = this.#transports[this.#index];
    const isLast = this.#index === this.#transports.length - 1;
    if (!isLast && (!this.#opened.has(name) || ++this.#reopenFailures >= REOPEN_ATTEMPTS)) {
      // Never worked here (blocked by a proxy, not supported), or stopped working: next one.
      this.#index += 1;
      this.#reopenFailures = 0;
      this.#connect();
      return;
    }
    this.#retry();
  }

  /** An open connection ended before the final message: reconnect, same transport. */
  #dropped(gen) {
    if (!this.#isCurrent(gen)) return;
    this.#teardown();
    this.#retry();
  }

  /** Reconnect after the next backoff delay (or `delayMs` when the server asked for one). */
  #retry(delayMs) {
    const { backoff, random } = this.#opts;
    const delay = delayMs ?? nextBackoff(this.#attempt, backoff, random);
    this.#attempt += 1;
    this.#timer = setTimeout(() => this.#connect(), delay);
  }

  #fail(error) {
    if (this.#stopped) return;
    this.#stop();
    this.#call(this.#opts.onError, error);
  }

  /** Call a user callback; an exception there must not break the watch. */
  #call(fn, ...args) {
    if (typeof fn !== "function") return;
    try {
      fn(...args);
    } catch (error) {
      console.error("jobwire: a watch callback raised", error);
    }
  }

  // -- messages --------------------------------------------------------------------------

  /** Draw one message if it is newer than the last one; stop after the final one. */
  #receive(gen, message) {
    if (!this.#isCurrent(gen) || !message || typeof message !== "object") return;
    this.#alive();
    if (message.type === "ping") return;
    if (message.type === "error") {
      // The server says why before it closes with 4404 / 4401. Other errors leave the socket
      // open and the watch goes on: `job_finished` (a cancel that crossed the final
      // message, which is on its way) or `bad_request`.
      const e = message.error ?? {};
      const status = FATAL_ERROR_CODES[e.code];
      if (status) this.#fail(new JobwireError(e.message || e.code, { status, code: e.code, details: e.details ?? {} }));
      return;
    }
    const { seq, job } = message;
    if (typeof seq !== "number" || !job || seq <= this.lastSeq) return;
    this.lastSeq = seq;
    this.snapshot = job;
    this.#call(this.#opts.onUpdate, job, message);
    if (this.#stopped) return; // onUpdate closed the watch
    if (Object.values(FINAL_TYPES).includes(message.type) || isTerminal(job)) {
      this.#stop();
      this.#call(this.#opts.onDone, job);
    }
  }

  #receiveText(gen, text) {
    let message;
    try {
      message = JSON.parse(text);
    } catch {
      return; // Not ours (or a truncated frame): the next message carries the whole snapshot.
    }
    this.#receive(gen, message);
  }

  #resumeParams() {
    return { after: this.lastSeq > 0 ? this.lastSeq : null, token: this.#opts.token };
  }

  /** Give a WebSocket or EventSource `openTimeout` ms to open. */
  #armOpenTimeout(gen, isOpen) {
    const timer = setTimeout(() => {
      if (!isOpen()) this.#failedToOpen(gen);
    }, this.#opts.openTimeout);
    return () => clearTimeout(timer);
  }

  // -- WebSocket -------------------------------------------------------------------------

  #openWebSocket(gen) {
    const { WebSocket: WS, baseUrl } = this.#opts;
    if (typeof WS !== "function") return false;
    const url = wsUrl(baseUrl, `/ws/jobs/${encodeURIComponent(this.#jobId)}`, this.#resumeParams());
    if (!url) return false;
    let ws;
    try {
      ws = new WS(url);
    } catch {
      return false; // e.g. a SecurityError: this page may not open sockets there
    }
    let open = false;
    const onOpen = () => {
      if (!this.#isCurrent(gen)) return;
      open = true;
      this.#markOpen();
    };
    const onMessage = (event) => this.#receiveText(gen, event.data);
    const onClose = (event) => {
      if (!this.#isCurrent(gen)) return;
      const fatal = FATAL_CLOSE_CODES[event.code];
      if (fatal) {
        this.#fail(new JobwireError(event.reason || fatal.message, { status: fatal.status, code: fatal.code }));
      } else if (open) {
        this.#dropped(gen);
      } else {
        this.#failedToOpen(gen);
      }
    };
    ws.addEventListener("open", onOpen);
    ws.addEventListener("message", onMessage);
    ws.addEventListener("close", onClose);
    const disarm = this.#armOpenTimeout(gen, () => open);
    this.#socket = ws;
    this.#cleanup = () => {
      disarm();
      ws.removeEventListener("open", onOpen);
      ws.removeEventListener("message", onMessage);
      ws.removeEventListener("close", onClose);
      if (ws.readyState === 0 || ws.readyState === 1) ws.close(1000);
    };
    return true;
  }

  // -- Server-Sent Events ----------------------------------------------------------------

  #openEventSource(gen) {
    const { EventSource: ES, baseUrl } = this.#opts;
    if (typeof ES !== "function") return false;
    const url = httpUrl(baseUrl, `${jobPath(this.#jobId)}/events`, this.#resumeParams());
    let es;
    try {
      es = new ES(url);
    } catch {
      return false;
    }
    let open = false;
    const onOpen = () => {
      if (!this.#isCurrent(gen)) return;
      open = true;
      this.#markOpen();
    };
    const onMessage = (event) => this.#receiveText(gen, event.data);
    // EventSource would reconnect on its own (with Last-Event-ID); we close it and reconnect
    // ourselves instead, so every transport shares one backoff and one `after` cursor. An
    // HTTP error (404, 401) looks like a network error here; if it persists, polling will
    // see the status and stop.
    const onError = (event) => {
      if (!this.#isCurrent(gen)) return;
      // The server's last word (`event: error`, e.g. share_ended) comes as this same event,
      // with data: a fatal one ends the watch.
      if (typeof event?.data === "string" && event.data) {
        this.#receiveText(gen, event.data);
        if (!this.#isCurrent(gen)) return;
      }
      if (open) this.#dropped(gen);
      else this.#failedToOpen(gen);
    };
    es.addEventListener("open", onOpen);
    es.addEventListener("error", onError);
    for (const type of SSE_EVENTS) es.addEventListener(type, onMessage);
    const disarm = this.#armOpenTimeout(gen, () => open);
    this.#socket = es;
    this.#cleanup = () => {
      disarm();
      es.removeEventListener("open", onOpen);
      es.removeEventListener("error", onError);
      for (const type of SSE_EVENTS) es.removeEventListener(type, onMessage);
      es.close();
    };
    return true;
  }

  // -- polling ---------------------------------------------------------------------------

  #poll(gen) {
    const { fetch, baseUrl, token, pollInterval } = this.#opts;
    if (typeof fetch !== "function") return false;
    const abort = typeof AbortController === "function" ? new AbortController() : null;
    this.#cleanup = () => abort?.abort();
    // Wait for a change of what was drawn last. When a stream drew it, not a poll, make the
    // ETag from its documented form "{id}.{seq}".
    const etag =
      this.#etag.seq === this.lastSeq && this.#etag.value
        ? this.#etag.value
        : this.lastSeq > 0
          ? `"${this.#jobId}.${this.lastSeq}"`
          : null;
    const headers = { Accept: "application/json" };
    if (etag) headers["If-None-Match"] = etag;
    const url = httpUrl(baseUrl, jobPath(this.#jobId), { wait: POLL_WAIT_SECONDS, token });
    const started = Date.now();
    const next = () => {
      const delay = Math.max(0, pollInterval - (Date.now() - started));
      this.#timer = setTimeout(() => this.#connect(), delay);
    };
    const run = async () => {
      let response;
      try {
        response = await fetch(url, { headers, signal: abort?.signal });
      } catch {
        this.#failedToOpen(gen); // network down or aborted (then stale, and ignored)
        return;
      }
      if (!this.#isCurrent(gen)) return;
      if (response.status === 304) {
        this.#alive();
        next();
        return;
      }
      if (!response.ok) {
        const error = await errorFromResponse(response);
        if (!this.#isCurrent(gen)) return;
        const retryable = error.status >= 500 || error.status === 408 || error.status === 429;
        if (!retryable) {
          this.#fail(error);
        } else if (error.retryAfter != null) {
          this.#teardown();
          this.#retry(error.retryAfter * 1000);
        } else {
          this.#failedToOpen(gen);
        }
        return;
      }
      let job;
      try {
        job = await response.json();
      } catch {
        this.#failedToOpen(gen);
        return;
      }
      if (!this.#isCurrent(gen)) return;
      const previous = this.snapshot;
      this.#receive(gen, { type: pollType(previous, job), seq: job.seq, job });
      if (job.seq === this.lastSeq) this.#etag = { value: response.headers?.get?.("ETag") ?? null, seq: job.seq };
      if (this.#isCurrent(gen)) next();
    };
    run();
    return true;
  }
}

/** The message type a polled snapshot stands for, as a stream would have named it. */
function pollType(previous, job) {
  if (isTerminal(job)) return FINAL_TYPES[job.status];
  if (!previous) return "connected";
  if (previous.status !== job.status || previous.cancel_requested !== job.cancel_requested) return "status";
  return "progress";
}

// ---------------------------------------------------------------------------------------
// watchAll(): every job you may see, over one WebSocket
// ---------------------------------------------------------------------------------------

/**
 * @typedef {object} WatchAllHandle
 * @property {() => void} close  stop watching (no more callbacks); idempotent
 * @property {(jobId: string) => Promise<Snapshot>} cancel  {@link cancelJob} with this watch's
 *   `baseUrl`, `token` and `fetch`
 * @property {boolean} open  whether the socket is open and subscribed right now
 */

/**
 * Follow every job you may see (yours; all of them for an admin), live, over one WebSocket:
 * `/ws` with `{"type": "subscribe", "all": true}`. There is no backlog: list the jobs with
 * {@link listJobs} when `onOpen` is called (the first time and after every reconnect), and
 * keep, per job, the snapshot with the highest `seq`.
 *
 * The socket is reopened after a drop with backoff, forever; `onClose` says it is down, so
 * a caller can poll meanwhile. It stops for good on close 4401 (`onError`, `unauthorized`)
 * or when this runtime has no WebSocket (`onError`, `no_transport`). Messages older than the
 * last `seq` delivered for their job are dropped; pings are not delivered.
 *
 * The socket carries no credentials (browsers cannot put headers on a WebSocket, and `?token=`
 * accepts only one job's stream token): use it on a server with `JOBWIRE_AUTH=none`, or
 * behind a proxy that authenticates the page. `token` is used for {@link cancelJob} only.
 *
 * @param {object} [options]
 * @param {(snapshot: Snapshot, message: Message) => void} [options.onUpdate]  each new message
 * @param {() => void} [options.onOpen]  subscribed (again): time to (re)load the list
 * @param {(info: {code: number, reason: string}) => void} [options.onClose]  the socket is
 *   down (or never opened); it will be reopened
 * @param {(error: JobwireError) => void} [options.onError]  fatal; watching has stopped
 * @param {string} [options.baseUrl]
 * @param {string} [options.token]  an API key or JWT, for `cancel()`
 * @param {{initial?: number, max?: number}} [options.backoff]  reconnect delays in ms
 * @param {number} [options.openTimeout]  ms the socket may take to open (default 10000)
 * @param {() => number} [options.random]
 * @param {typeof WebSocket} [options.WebSocket]
 * @param {typeof fetch} [options.fetch]
 * @returns {WatchAllHandle}
 * @example
 * const jobs = new Map();
 * const keep = (s) => { if (!jobs.has(s.id) || jobs.get(s.id).seq < s.seq) jobs.set(s.id, s); };
 * watchAll({
 *   onOpen: async () => (await listJobs({ limit: 50 })).jobs.forEach(keep),
 *   onUpdate: keep,
 * });
 */
export function watchAll(options = {}) {
  const watcher = new AllWatcher(options);
  watcher.start();
  return {
    close: () => watcher.close(),
    cancel: (jobId) => watcher.cancel(jobId),
    get open() {
      return watcher.open;
    },
  };
}

class AllWatcher {
  #opts;
  #seqs = new Map(); // job id -> the last seq delivered
  #socket = null;
  #timer = null;
  #attempt = 0;
  #stopped = false;
  #cleanup = () => {};
  open = false;

  constructor(options) {
    const {
      baseUrl = "",
      backoff = {},
      openTimeout = 10000,
      random = Math.random,
      WebSocket = globalThis.WebSocket,
      fetch = globalThis.fetch,
    } = options;
    this.#opts = {
      ...options,
      baseUrl,
      openTimeout,
      random,
      WebSocket,
      fetch,
      backoff: { initial: 250, max: 10000, ...backoff },
    };
  }

  start() {
    this.#connect();
  }

  close() {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#teardown();
  }

  cancel(jobId) {
    const { baseUrl, token, fetch } = this.#opts;
    return cancelJob(jobId, { baseUrl, token, fetch });
  }

  #call(fn, ...args) {
    if (typeof fn !== "function") return;
    try {
      fn(...args);
    } catch (error) {
      console.error("jobwire: a watchAll callback raised", error);
    }
  }

  #teardown() {
    clearTimeout(this.#timer);
    this.#timer = null;
    this.#socket = null;
    this.open = false;
    this.#cleanup();
    this.#cleanup = () => {};
  }

  #fail(error) {
    if (this.#stopped) return;
    this.close();
    this.#call(this.#opts.onError, error);
  }

  #connect() {
    if (this.#stopped) return;
    const { WebSocket: WS, baseUrl, openTimeout } = this.#opts;
    const url = typeof WS === "function" ? wsUrl(baseUrl, "/ws") : null;
    let ws = null;
    try {
      ws = url ? new WS(url) : null;
    } catch {
      ws = null; // e.g. a SecurityError: this page may not open sockets there
    }
    if (!ws) {
      // Asynchronously, so the caller holds the handle when onError runs.
      queueMicrotask(() => this.#fail(new JobwireError("No WebSocket is available here.", { code: "no_transport" })));
      return;
    }
    this.#socket = ws;
    const timer = setTimeout(() => {
      if (this.#socket === ws && !this.open) this.#down(ws, { code: 1006, reason: "open timeout" });
    }, openTimeout);
    const onOpen = () => {
      clearTimeout(timer);
      if (this.#socket !== ws) return;
      ws.send(JSON.stringify({ type: "subscribe", all: true }));
      this.open = true;
      this.#call(this.#opts.onOpen);
    };
    const onMessage = (event) => {
      if (this.#socket === ws) this.#receive(event.data);
    };
    const onClose = (event) => {
      clearTimeout(timer);
      if (this.#socket !== ws) return;
      if (event.code === 4401) {
        const fatal = FATAL_CLOSE_CODES[4401];
        this.#fail(new JobwireError(event.reason || fatal.message, { status: fatal.status, code: fatal.code }));
        return;
      }
      this.#down(ws, { code: event.code, reason: event.reason ?? "" });
    };
    ws.addEventListener("open", onOpen);
    ws.addEventListener("message", onMessage);
    ws.addEventListener("close", onClose);
    this.#cleanup = () => {
      clearTimeout(timer);
      ws.removeEventListener("open", onOpen);
      ws.removeEventListener("message", onMessage);
      ws.removeEventListener("close", onClose);
      if (ws.readyState === 0 || ws.readyState === 1) ws.close(1000);
    };
  }

  /** The socket is down (closed, or never opened): say so, then reopen after a backoff. */
  #down(ws, info) {
    if (this.#socket !== ws || this.#stopped) return;
    this.#teardown();
    this.#call(this.#opts.onClose, info);
    if (this.#stopped) return; // onClose closed the watch
    const { backoff, random } = this.#opts;
    const delay = nextBackoff(this.#attempt, backoff, random);
    this.#attempt += 1;
    this.#timer = setTimeout(() => this.#connect(), delay);
  }

  #receive(text) {
    let message;
    try {
      message = JSON.parse(text);
    } catch {
      return; // not ours: the next message carries a whole snapshot anyway
    }
    if (!message || typeof message !== "object") return;
    this.#attempt = 0; // the server is talking: the next drop starts the backoff afresh
    const { seq, job } = message;
    if (message.type === "ping" || message.type === "error") return; // errors close 4401 if fatal
    if (typeof seq !== "number" || !job || typeof job.id !== "string") return;
    if (seq <= (this.#seqs.get(job.id) ?? 0)) return;
    this.#seqs.set(job.id, seq);
    this.#call(this.#opts.onUpdate, job, message);
  }
}

// ---------------------------------------------------------------------------------------
// <jobwire-progress>
// ---------------------------------------------------------------------------------------

const STYLES = `
:host { display: block; font: inherit; color: inherit; }
:host([hidden]) { display: none; }
.head, .row { display: flex; justify-content: space-between; gap: 1em; align-items: baseline; }
.step { font-weight: 600; }
.status { font-size: .9em; opacity: .8; }
.bar { position: relative; height: .6em; margin: .35em 0; border-radius: .3em; overflow: hidden;
  background: var(--jobwire-track, rgba(127, 127, 127, .25)); }
.fill { height: 100%; width: 0; background: var(--jobwire-fill, #2f6fde); transition: width .2s ease-out; }
.bar.indeterminate .fill { width: 30%; animation: jobwire-slide 1.2s ease-in-out infinite; }
:host([data-status="succeeded"]) .fill { background: var(--jobwire-success, #2e8540); }
:host([data-status="failed"]) .fill { background: var(--jobwire-failure, #c62828); }
:host([data-status="cancelled"]) .fill { background: var(--jobwire-cancelled, #777); }
.counts { font-variant-numeric: tabular-nums; }
.eta, .message { font-size: .9em; opacity: .8; }
.message:empty, .eta:empty, .step:empty { display: none; }
button { margin-top: .4em; font: inherit; }
@keyframes jobwire-slide { from { margin-left: -30%; } to { margin-left: 100%; } }
@media (prefers-reduced-motion: reduce) {
  .fill { transition: none; }
  .bar.indeterminate .fill { animation: none; width: 100%; opacity: .4; }
}
`;

const TEMPLATE = `
<style>${STYLES}</style>
<div class="head"><span class="step" part="step"></span><span class="status" part="status" aria-live="polite"></span></div>
<div class="bar" part="bar" role="progressbar" aria-valuemin="0" aria-label="Job progress"><div class="fill" part="fill"></div></div>
<div class="row"><span class="counts" part="counts"></span><span class="eta" part="eta"></span></div>
<div class="message" part="message"></div>
<button type="button" part="cancel" hidden>Cancel</button>
`;

/** The words shown for a status. */
function statusText(snapshot) {
  if (!snapshot) return "connecting…";
  if (snapshot.cancel_requested && !isTerminal(snapshot)) return "cancelling…";
  return snapshot.status;
}

/**
 * Render `snapshot` into the element's parts. Kept apart from the element class so it reads
 * as one function of the snapshot.
 */
function render(parts, snapshot, host) {
  const { bar, fill, counts, step, status, eta, message, cancel } = parts;
  const total = snapshot?.total;
  const determinate = typeof total === "number" && total > 0;
  const terminal = isTerminal(snapshot);
  const progress = formatProgress(snapshot);

  bar.classList.toggle("indeterminate", !determinate && !terminal);
  if (determinate) {
    bar.setAttribute("aria-valuemax", String(total));
    bar.setAttribute("aria-valuenow", String(Math.min(Math.max(snapshot.current, 0), total)));
  } else {
    bar.removeAttribute("aria-valuemax");
    bar.removeAttribute("aria-valuenow");
  }
  bar.setAttribute("aria-valuetext", progress || statusText(snapshot));
  const percent = determinate ? (snapshot.percent ?? (snapshot.current / total) * 100) : terminal ? 100 : 0;
  fill.style.width = determinate || terminal ? `${percent}%` : "";

  counts.textContent = progress;
  step.textContent = snapshot?.step ?? "";
  status.textContent = statusText(snapshot);
  eta.textContent = snapshot && snapshot.status === "running" ? formatEta(snapshot.eta_seconds) : "";
  message.textContent =
    snapshot?.status === "failed" && snapshot.error ? snapshot.error.message || snapshot.error.code : (snapshot?.message ?? "");

  cancel.hidden = !snapshot || terminal;
  cancel.disabled = !snapshot || terminal || Boolean(snapshot.cancel_requested);
  if (snapshot) host.dataset.status = snapshot.status;
  else delete host.dataset.status;
}

/**
 * Define `<jobwire-progress>` (only where custom elements exist, i.e. not in Node).
 *
 * ```html
 * <jobwire-progress job-id="…" base-url="" token="…"></jobwire-progress>
 * ```
 * It watches the job while it is in the document (and restarts when `job-id`, `base-url`
 * or `token` change), draws an accessible progress bar with the counts, step, message, time
 * left and a Cancel button, and dispatches bubbling `jobwire:update`, `jobwire:done` and
 * `jobwire:error` events (the snapshot, or the JobwireError, in `detail`).
 * Style it with `--jobwire-fill`, `--jobwire-track`, … or `::part(bar|fill|counts|step|status|eta|message|cancel)`.
 */
function defineElement() {
  if (!globalThis.customElements || typeof globalThis.HTMLElement !== "function") return;
  if (customElements.get("jobwire-progress")) return;

  class JobwireProgress extends HTMLElement {
    static observedAttributes = ["job-id", "base-url", "token", "label"];

    #handle = null;
    #parts = null;
    #restartQueued = false;
    #snapshot = null;
    #external = false; // the snapshot was given (`element.snapshot = …`), not watched

    /** The last snapshot drawn, or null. */
    get snapshot() {
      return this.#snapshot;
    }

    /**
     * Draw a snapshot you got elsewhere (a list, a shared stream such as `watchAll()`), on
     * an element without `job-id`, which then watches nothing by itself. A snapshot of the
     * same job that is not newer (by `seq`) than the one drawn is ignored.
     * @param {Snapshot|null} value
     */
    set snapshot(value) {
      if (this.getAttribute("job-id")) return; // it watches its job: the stream draws it
      const drawn = this.#snapshot;
      if (value && drawn && value.id === drawn.id && !(value.seq > drawn.seq)) return;
      this.#snapshot = value ?? null;
      this.#external = true;
      if (this.#parts) render(this.#parts, this.#snapshot, this);
    }

    connectedCallback() {
      if (!this.#parts) this.#build();
      this.#restart();
    }

    disconnectedCallback() {
      this.#handle?.close();
      this.#handle = null;
    }

    attributeChangedCallback(name, oldValue, newValue) {
      if (name === "label") {
        this.#parts?.bar.setAttribute("aria-label", newValue || "Job progress");
        return;
      }
      if (oldValue === newValue || !this.isConnected || !this.#parts) return;
      // Setting several attributes in a row restarts the watch once.
      if (this.#restartQueued) return;
      this.#restartQueued = true;
      queueMicrotask(() => {
        this.#restartQueued = false;
        if (this.isConnected) this.#restart();
      });
    }

    /** Ask the server to cancel the job (what the Cancel button does). Without `job-id`,
     * the job of the snapshot drawn, through `POST /api/jobs/{id}/cancel`. */
    cancel() {
      if (this.#handle) return this.#handle.cancel();
      if (this.#snapshot && !this.getAttribute("job-id")) {
        return cancelJob(this.#snapshot.id, { baseUrl: this.getAttribute("base-url") ?? "" });
      }
      return Promise.resolve(null);
    }

    #build() {
      const root = this.shadowRoot ?? this.attachShadow({ mode: "open" });
      root.innerHTML = TEMPLATE;
      const $ = (selector) => root.querySelector(selector);
      this.#parts = {
        bar: $(".bar"),
        fill: $(".fill"),
        counts: $(".counts"),
        step: $(".step"),
        status: $(".status"),
        eta: $(".eta"),
        message: $(".message"),
        cancel: $("button"),
      };
      this.#parts.bar.setAttribute("aria-label", this.getAttribute("label") || "Job progress");
      this.#parts.cancel.addEventListener("click", () => this.#onCancel());
    }

    #restart() {
      this.#handle?.close();
      this.#handle = null;
      const jobId = this.getAttribute("job-id");
      if (!jobId && this.#external && this.#snapshot) {
        render(this.#parts, this.#snapshot, this); // drawn from outside: `element.snapshot = …`
        return;
      }
      this.#snapshot = null;
      this.#external = false;
      render(this.#parts, null, this);
      if (!jobId) {
        this.#parts.status.textContent = "";
        return;
      }
      this.#handle = watch(jobId, {
        baseUrl: this.getAttribute("base-url") ?? "",
        token: this.getAttribute("token") || undefined,
        onUpdate: (snapshot) => {
          this.#snapshot = snapshot;
          render(this.#parts, snapshot, this);
          this.#emit("jobwire:update", snapshot);
        },
        onDone: (snapshot) => this.#emit("jobwire:done", snapshot),
        onError: (error) => {
          this.#parts.status.textContent = error.status === 404 ? "job not found" : "error";
          this.#parts.message.textContent = error.message;
          this.#parts.cancel.hidden = true;
          this.#parts.bar.classList.remove("indeterminate");
          this.#emit("jobwire:error", error);
        },
      });
    }

    async #onCancel() {
      const button = this.#parts.cancel;
      button.disabled = true;
      try {
        await this.cancel();
      } catch (error) {
        // 409 job_finished: it ended meanwhile, and the final message is on its way.
        if (error.code !== "job_finished") {
          button.disabled = false;
          this.#emit("jobwire:error", error);
        }
      }
    }

    #emit(type, detail) {
      this.dispatchEvent(new CustomEvent(type, { detail, bubbles: true, composed: true }));
    }
  }

  customElements.define("jobwire-progress", JobwireProgress);
}

defineElement();
