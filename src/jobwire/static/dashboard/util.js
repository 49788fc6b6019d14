/**
 * Small helpers shared by the dashboard's modules: building DOM nodes, times, statuses.
 * @module dashboard/util
 */

import { formatDuration } from "../jobwire.js";

/**
 * Create an element: `h("a", {href: "/x", class: "btn"}, "text", child)`.
 * Attributes that are null, undefined or false are left out; `true` sets an empty attribute;
 * `on<event>` keys add listeners; `dataset` sets `data-*`.
 * @param {string} tag
 * @param {Record<string, *>} [attrs]
 * @param {...(Node|string|number|null|undefined|false)} children
 * @returns {HTMLElement}
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value == null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(el.dataset, value ?? {});
    else if (key === "class") el.className = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

/** Append children (nodes, strings, nested arrays); null, undefined and false are skipped. */
export function append(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child == null || child === false) continue;
    parent.append(child instanceof Node ? child : String(child));
  }
  return parent;
}

/** The statuses of a job that is still live (cancellable). */
export const LIVE = ["queued", "running", "waiting"];

export const isLive = (job) => LIVE.includes(job?.status);

/** Milliseconds since the epoch for an ISO time, or null. */
export function ms(iso) {
  if (!iso) return null;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? null : t;
}

const clockFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });
const dayFormat = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

/** A time as a short label: `14:03:21` today, `Nov 21, 14:03` before. */
export function clockTime(iso, now = Date.now()) {
  const t = ms(iso);
  if (t == null) return "";
  const sameDay = new Date(t).toDateString() === new Date(now).toDateString();
  return (sameDay ? clockFormat : dayFormat).format(t);
}

/** A time in full, for tooltips and `<time title>`. */
export function fullTime(iso) {
  const t = ms(iso);
  return t == null ? "" : fullFormat.format(t);
}

/**
 * How long a job has run: from start to end (or to now while it runs). Empty for a job that
 * never started.
 */
export function elapsed(job, now = Date.now()) {
  const start = ms(job.started_at);
  if (start == null) return "";
  const end = ms(job.finished_at) ?? now;
  return formatDuration(Math.max(0, (end - start) / 1000));
}

/** The words for a job's status, as the badge shows them. */
export function statusLabel(job) {
  if (job.cancel_requested && isLive(job)) return "cancelling";
  return job.status;
}

/**
 * The last 8 characters of a job id, as people quote it (the server's `short_id`, also in
 * download names): ids start with their creation time, which jobs made together share.
 */
export const shortId = (id) => String(id).slice(-8);
