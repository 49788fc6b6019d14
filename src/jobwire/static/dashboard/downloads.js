/**
 * A succeeded job's downloads, in a row that opens below it: its export as JSON, CSV or ZIP,
 * and the files it saved (name, size, type, a download link). The links are plain
 * `<a href download>` built with `downloadUrl()`: with an API key they carry a stream token
 * for the job (`?token=`), fetched each time the row opens, since a link sends no header.
 * @module dashboard/downloads
 */

import { EXPORT_FORMATS, downloadUrl, formatBytes } from "../jobwire.js";
import { h } from "./util.js";

const LABELS = { json: "JSON", csv: "CSV", zip: "ZIP" };
const HINTS = { json: "the result as JSON", csv: "the result as CSV (opens in a spreadsheet)", zip: "the result and every file, zipped" };

/**
 * The button that opens a job's downloads, and the row it opens (hidden at first; its
 * content is loaded on each opening).
 * @param {object} job  a succeeded job's snapshot
 * @param {object} options
 * @param {string} options.name  how the job is named to people, e.g. `demo.analyse #3f2a9c0e`
 * @param {number} options.columns  the table's column count (the row spans them all)
 * @param {string} options.baseUrl  where jobwire is mounted
 * @param {(job: object) => Promise<{token?: string, files: object[], unavailable?: Record<string, string>}>} options.load
 *   the stream token for the links (none without auth), the job's files, and the export
 *   formats it has not (format → why)
 * @param {(open: boolean) => void} [options.onToggle]
 * @returns {{toggle: HTMLButtonElement, row: HTMLTableRowElement}}
 */
export function downloadsRow(job, { name, columns, baseUrl, load, onToggle }) {
  const id = `downloads-${job.id}`;
  const panel = h("div", { class: "downloads", role: "region", "aria-label": `Downloads of ${name}` });
  const row = h("tr", { class: "detail-row downloads-row", id, hidden: true }, h("td", { colspan: String(columns) }, panel));
  const toggle = h(
    "button",
    { type: "button", class: "btn btn-sm", "aria-expanded": "false", "aria-controls": id, "aria-label": `Downloads of ${name}` },
    h("span", { class: "chev", "aria-hidden": "true" }),
    "Download",
  );
  let loading = null;
  const fill = async () => {
    if (!panel.hasChildNodes()) panel.append(h("p", { class: "muted dl-note" }, "Loading…"));
    panel.setAttribute("aria-busy", "true");
    try {
      const { token, files, unavailable = {} } = await load(job);
      panel.replaceChildren(...draw(job, { name, baseUrl, token, files, unavailable }));
    } catch (error) {
      panel.replaceChildren(h("p", { class: "dl-note is-error", role: "alert" }, `Could not load the downloads: ${error.message}`));
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

/** The panel's content: the export links, then the files. */
function draw(job, { name, baseUrl, token, files, unavailable }) {
  const exportId = `export-${job.id}`;
  const filesId = `files-${job.id}`;
  const exports = h(
    "div",
    { class: "dl-group" },
    h("h3", { class: "dl-title", id: exportId }, "Export"),
    h(
      "div",
      { class: "dl-links", role: "group", "aria-labelledby": exportId },
      EXPORT_FORMATS.map((format) =>
        unavailable[format]
          ? h("span", { class: "btn btn-sm is-unavailable", role: "link", "aria-disabled": "true", "aria-describedby": `no-${format}-${job.id}`, title: unavailable[format] }, LABELS[format])
          : h(
              "a",
              {
                class: "btn btn-sm",
                href: downloadUrl(job.id, { format }, { baseUrl, token }),
                download: "",
                dataset: { format },
                title: `Download ${HINTS[format]}`,
                "aria-label": `Download ${name} as ${LABELS[format]}`,
              },
              LABELS[format],
            ),
      ),
    ),
  );
  const notes = Object.entries(unavailable).map(([format, why]) =>
    h("p", { class: "muted dl-note dl-unavailable", id: `no-${format}-${job.id}` }, `No ${LABELS[format]} for this job: ${why}`),
  );
  const list = files.length
    ? h("ul", { class: "dl-files", "aria-labelledby": filesId }, files.map((file) => fileItem(job, file, { baseUrl, token })))
    : h("p", { class: "muted dl-note" }, "This job saved no files.");
  const titled = h("div", { class: "dl-group dl-files-group" }, h("h3", { class: "dl-title", id: filesId }, "Files", h("span", { class: "count" }, String(files.length))), list);
  return [exports, titled, ...notes];
}

function fileItem(job, file, { baseUrl, token }) {
  const size = formatBytes(file.size);
  return h(
    "li",
    { dataset: { file: file.name } },
    h("code", { class: "dl-name", title: file.sha256 ? `SHA-256 ${file.sha256}` : null }, file.name),
    h("span", { class: "dl-size", title: `${file.size} bytes` }, size),
    h("span", { class: "dl-type" }, file.content_type ?? ""),
    h(
      "a",
      { class: "btn btn-sm", href: downloadUrl(job.id, { file: file.name }, { baseUrl, token }), download: "", "aria-label": `Download ${file.name} (${size})` },
      "Download",
    ),
  );
}
