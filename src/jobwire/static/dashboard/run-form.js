/**
 * The "Run a task" panel: one form per task, generated from the JSON Schema of its arguments
 * (`GET /api/tasks`), and what the server answers to a submit, shown where it belongs: a 422
 * next to the field it is about, a 409 or 429 above the Run button.
 * @module dashboard/run-form
 */

import { h, shortId } from "./util.js";

/** Follow a local `$ref` (`#/$defs/Name`); the referring schema's own keys win. */
function resolve(schema, root) {
  if (!schema || typeof schema !== "object") return {};
  if (typeof schema.$ref === "string" && schema.$ref.startsWith("#/")) {
    const target = schema.$ref
      .slice(2)
      .split("/")
      .reduce((node, key) => (node && typeof node === "object" ? node[key] : undefined), root);
    const { $ref, ...rest } = schema;
    return { ...resolve(target, root), ...rest };
  }
  if (Array.isArray(schema.allOf) && schema.allOf.length === 1) {
    const { allOf, ...rest } = schema;
    return { ...resolve(allOf[0], root), ...rest };
  }
  return schema;
}

/** pydantic's automatic title for an argument ("documents_count" → "Documents Count"). */
const autoTitle = (name) => name.replace(/_/g, " ").replace(/\b\w/g, (c) => c.toUpperCase());

/** "documents_count" → "Documents count". */
const humanize = (name) => {
  const words = name.replace(/_/g, " ").trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
};

/**
 * What input an argument gets, from its JSON Schema.
 * @returns {{name: string, label: string, kind: string, type: string, required: boolean,
 *   nullable: boolean, options?: Array<*>, schema: object, hasDefault: boolean, default: *}}
 */
export function fieldFor(name, property, root, required) {
  let schema = resolve(property, root);
  let nullable = false;
  const union = schema.anyOf ?? schema.oneOf;
  if (Array.isArray(union)) {
    const members = union.map((m) => resolve(m, root));
    const others = members.filter((m) => m.type !== "null");
    nullable = others.length < members.length;
    const { anyOf, oneOf, ...outer } = schema;
    schema = others.length === 1 ? { ...others[0], ...outer } : { ...outer, type: "json" };
  }
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== "null") : schema.type;
  if (Array.isArray(schema.type) && schema.type.includes("null")) nullable = true;
  const title = schema.title && schema.title !== autoTitle(name) ? schema.title : humanize(name);
  let kind;
  let options;
  if (Array.isArray(schema.enum)) {
    kind = "select";
    options = schema.enum;
  } else if ("const" in schema) {
    kind = "select";
    options = [schema.const];
  } else if (type === "boolean") kind = "checkbox";
  else if (type === "integer" || type === "number") kind = type;
  else if (type === "string") kind = "string";
  else kind = "json"; // arrays, objects, unions: typed as JSON
  return {
    name,
    label: title,
    kind,
    type: kind === "json" ? (type ?? "JSON") : (type ?? "value"),
    required,
    nullable,
    options,
    schema,
    hasDefault: "default" in schema,
    default: schema.default,
  };
}

const STRING_FORMATS = { date: "date", "date-time": "datetime-local", email: "email", uri: "url", time: "time" };

/** Build one field: label, input, hint and a place for its error. */
function buildField(field, idPrefix) {
  const id = `${idPrefix}-${field.name}`;
  const hintId = `${id}-hint`;
  const errorId = `${id}-error`;
  const { schema } = field;
  let input;
  let extra = null; // a <datalist> of the schema's examples
  const common = {
    id,
    name: field.name,
    "aria-describedby": `${schema.description ? hintId : ""} ${errorId}`.trim(),
    required: field.required,
    "aria-required": field.required ? "true" : null,
  };
  if (field.kind === "select") {
    input = h("select", common);
    if (field.nullable || (!field.required && !field.hasDefault)) input.append(h("option", { value: "" }, "—"));
    field.options.forEach((value, index) => {
      const selected = field.hasDefault && JSON.stringify(field.default) === JSON.stringify(value);
      input.append(h("option", { value: String(index), selected }, String(value)));
    });
  } else if (field.kind === "checkbox") {
    input = h("input", { ...common, type: "checkbox", checked: field.default === true });
  } else if (field.kind === "integer" || field.kind === "number") {
    const min = schema.minimum ?? (schema.exclusiveMinimum != null ? schema.exclusiveMinimum : null);
    const max = schema.maximum ?? (schema.exclusiveMaximum != null ? schema.exclusiveMaximum : null);
    input = h("input", {
      ...common,
      type: "number",
      inputmode: field.kind === "integer" ? "numeric" : "decimal",
      step: field.kind === "integer" ? "1" : "any",
      min,
      max,
      value: field.hasDefault && field.default != null ? String(field.default) : null,
    });
  } else if (field.kind === "string") {
    const long = (schema.maxLength ?? 0) > 200 || schema.format === "textarea";
    const examples = Array.isArray(schema.examples) ? schema.examples.filter((e) => typeof e === "string") : [];
    if (examples.length && !long) {
      extra = h("datalist", { id: `${id}-examples` }, examples.map((e) => h("option", { value: e })));
    }
    const attrs = {
      ...common,
      placeholder: examples.length ? `e.g. ${examples[0]}` : null,
      list: extra ? `${id}-examples` : null,
      minlength: schema.minLength,
      maxlength: schema.maxLength,
      pattern: schema.pattern,
      autocomplete: "off",
      spellcheck: "false",
    };
    input = long
      ? h("textarea", { ...attrs, rows: 3 }, field.hasDefault && field.default != null ? field.default : "")
      : h("input", {
          ...attrs,
          type: STRING_FORMATS[schema.format] ?? "text",
          value: field.hasDefault && field.default != null ? field.default : null,
        });
  } else {
    input = h(
      "textarea",
      { ...common, rows: 2, class: "mono", spellcheck: "false", placeholder: field.type === "array" ? '["a", "b"]' : '{"key": "value"}' },
      field.hasDefault && field.default != null ? JSON.stringify(field.default) : "",
    );
  }
  const label = h(
    "label",
    { for: id },
    h("span", { class: "label-text" }, field.label),
    field.required ? h("span", { class: "req", title: "required" }, h("span", { "aria-hidden": "true" }, "*"), h("span", { class: "sr-only" }, " (required)")) : null,
    h("span", { class: "type" }, field.kind === "select" ? "choice" : field.type),
  );
  const hint = schema.description ? h("p", { class: "hint", id: hintId }, schema.description) : null;
  const error = h("p", { class: "field-error", id: errorId, hidden: true });
  const wrap =
    field.kind === "checkbox"
      ? h("div", { class: "field field-check", dataset: { field: field.name } }, input, label, hint, error)
      : h("div", { class: "field", dataset: { field: field.name } }, label, input, extra, hint, error);
  input.addEventListener("input", () => setFieldError(wrap, null));
  input.addEventListener("change", () => setFieldError(wrap, null));
  return { field, wrap, input, error };
}

function setFieldError(wrap, message) {
  const input = wrap.querySelector("input, select, textarea");
  const error = wrap.querySelector(".field-error");
  wrap.classList.toggle("invalid", Boolean(message));
  if (message) input.setAttribute("aria-invalid", "true");
  else input.removeAttribute("aria-invalid");
  error.textContent = message ?? "";
  error.hidden = !message;
}

/** The arguments a form holds, and the fields whose value cannot be sent as typed. */
function readArgs(fields) {
  const args = {};
  const errors = [];
  for (const { field, input } of fields) {
    if (field.kind === "checkbox") {
      args[field.name] = input.checked;
      continue;
    }
    const raw = input.value;
    if (field.kind === "select") {
      if (raw !== "") args[field.name] = field.options[Number(raw)];
      continue;
    }
    if (field.kind === "integer" || field.kind === "number") {
      if (input.validity?.badInput) errors.push([field.name, "Enter a number."]);
      else if (raw.trim() !== "") args[field.name] = Number(raw);
      continue;
    }
    if (raw.trim() === "") continue; // left empty: the default applies (or the server says it is required)
    if (field.kind === "json") {
      try {
        args[field.name] = JSON.parse(raw);
      } catch (error) {
        errors.push([field.name, `Not valid JSON: ${error.message}`]);
      }
      continue;
    }
    args[field.name] = raw;
  }
  return { args, errors };
}

/** A short list of the task's options, as people read them. */
function optionChips(options = {}) {
  const chips = [];
  if (options.per_owner_limit) chips.push(`${options.per_owner_limit} live per user`);
  if (options.max_concurrency) chips.push(`${options.max_concurrency} at once`);
  if (options.dedupe) chips.push("deduplicated");
  if (options.cache_ttl) chips.push(`cached ${Math.round(options.cache_ttl)} s`);
  if (options.retries) chips.push(`${options.retries} ${options.retries === 1 ? "retry" : "retries"}`);
  if (options.timeout) chips.push(`timeout ${Math.round(options.timeout)} s`);
  return chips;
}

/**
 * The Run panel.
 *
 * `submit(task, args)` sends the job (it rejects with a JobwireError); `onSubmitted(job)` is
 * called with the server's answer.
 */
export class RunPanel {
  /**
   * @param {HTMLElement} container
   * @param {{submit: (task: string, args: object) => Promise<object>, onSubmitted: (job: object) => void, compact?: boolean}} hooks
   */
  constructor(container, { submit, onSubmitted, compact = false }) {
    this.container = container;
    this.submit = submit;
    this.onSubmitted = onSubmitted;
    this.compact = compact;
  }

  /** Draw a form for each task (the first one open, unless the screen is narrow). */
  render(tasks) {
    this.container.replaceChildren();
    if (!tasks.length) {
      this.container.append(h("p", { class: "muted" }, "No tasks are registered on this server."));
      return;
    }
    tasks.forEach((task, index) => this.container.append(this.#taskForm(task, index, !this.compact && index === 0)));
  }

  #taskForm(task, index, open) {
    const schema = task.schema ?? {};
    const required = new Set(schema.required ?? []);
    const fields = Object.entries(schema.properties ?? {}).map(([name, property]) =>
      buildField(fieldFor(name, property, schema, required.has(name)), `f${index}`),
    );
    const button = h("button", { type: "submit", class: "btn btn-primary" }, h("span", { class: "btn-label" }, "Run"));
    const formError = h("div", { class: "form-error", role: "alert", hidden: true });
    const formStatus = h("p", { class: "form-status", role: "status" });
    const steps = Array.isArray(task.steps) && task.steps.length
      ? h("ol", { class: "task-steps", "aria-label": "Steps" }, task.steps.map((s) => h("li", {}, s)))
      : null;
    const chips = optionChips(task.options);
    const form = h(
      "form",
      { class: "task-form", novalidate: true, dataset: { task: task.name }, "aria-label": `Run ${task.name}` },
      steps,
      chips.length ? h("ul", { class: "chips" }, chips.map((c) => h("li", {}, c))) : null,
      fields.length ? fields.map((f) => f.wrap) : h("p", { class: "muted" }, "This task takes no arguments."),
      formError,
      h("div", { class: "form-actions" }, button, formStatus),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.#send(task, form, fields, { button, formError, formStatus });
    });
    return h(
      "details",
      { class: "task", open, dataset: { task: task.name } },
      h(
        "summary",
        {},
        h("span", { class: "task-name" }, task.name),
        task.description ? h("span", { class: "task-desc" }, task.description) : null,
      ),
      form,
    );
  }

  async #send(task, form, fields, { button, formError, formStatus }) {
    if (button.disabled) return;
    for (const { wrap } of fields) setFieldError(wrap, null);
    showFormError(formError, null);
    formStatus.textContent = "";
    const { args, errors } = readArgs(fields);
    if (errors.length) {
      this.#fieldErrors(fields, errors, formError);
      return;
    }
    button.disabled = true;
    button.classList.add("busy");
    button.setAttribute("aria-busy", "true");
    let retryTimer = null;
    try {
      const job = await this.submit(task.name, args);
      const how = job.outcome === "deduplicated" ? "Already running as" : job.outcome === "cached" ? "Cached result:" : "Started";
      formStatus.textContent = `${how} job #${shortId(job.id)}`;
      setTimeout(() => {
        if (formStatus.textContent.includes(shortId(job.id))) formStatus.textContent = "";
      }, 6000);
      this.onSubmitted(job);
    } catch (error) {
      retryTimer = this.#serverError(error, task, fields, formError, button);
    } finally {
      button.classList.remove("busy");
      button.removeAttribute("aria-busy");
      if (!retryTimer) button.disabled = false;
    }
  }

  /** Put each error next to its field; those that fit no field go above the button. */
  #fieldErrors(fields, errors, formError) {
    const loose = [];
    let first = null;
    for (const [name, message] of errors) {
      const match = fields.find((f) => f.field.name === name);
      if (match) {
        setFieldError(match.wrap, message);
        first ??= match.input;
      } else {
        loose.push(name ? `${name}: ${message}` : message);
      }
    }
    const count = errors.length - loose.length;
    const summary = count ? `Check the highlighted ${count === 1 ? "field" : "fields"}.` : "The server refused these arguments.";
    showFormError(formError, summary, loose);
    first?.focus();
  }

  /** Show what the server said; returns the timer of a 429 countdown, if one runs. */
  #serverError(error, task, fields, formError, button) {
    switch (error.code) {
      case "invalid_arguments": {
        const list = Array.isArray(error.details?.errors) ? error.details.errors : [];
        const errors = list.map((e) => {
          const loc = Array.isArray(e.loc) ? e.loc.filter((part) => part !== "body") : [];
          return [loc.length ? String(loc[0]) : "", capitalize(e.msg ?? "Invalid value")];
        });
        this.#fieldErrors(fields, errors.length ? errors : [["", error.message]], formError);
        return null;
      }
      case "owner_limit_reached":
        showFormError(
          formError,
          `You already have as many live ${task.name} jobs as it allows.`,
          ["Wait for one to finish, or cancel it, then run again.", error.message],
        );
        return null;
      case "rate_limited":
        return this.#countdown(formError, button, error.retryAfter ?? 1);
      case "unknown_task":
        showFormError(formError, `The server no longer knows ${task.name}.`, ["Reload the page to see its tasks."]);
        return null;
      case "payload_too_large":
        showFormError(formError, "These arguments are too large to send.", [error.message]);
        return null;
      case "unauthorized":
        showFormError(formError, "The server refused your credentials.", [error.message]);
        return null;
      case "network_error":
        showFormError(formError, "Cannot reach the server.", ["Check that jobwire is running, then try again."]);
        return null;
      default:
        showFormError(formError, error.message || "The job could not be started.", error.status ? [`HTTP ${error.status} ${error.code}`] : []);
        return null;
    }
  }

  /** 429: say when to retry, and keep the button disabled (counting down) until then. */
  #countdown(formError, button, seconds) {
    let left = Math.max(1, Math.ceil(seconds));
    const label = button.querySelector(".btn-label");
    showFormError(formError, "Too many jobs started too quickly.", [`Try again in ${left} s.`]);
    button.disabled = true;
    label.textContent = `Retry in ${left} s`;
    const timer = setInterval(() => {
      left -= 1;
      if (left > 0) {
        label.textContent = `Retry in ${left} s`;
        return;
      }
      clearInterval(timer);
      label.textContent = "Run";
      button.disabled = false;
      showFormError(formError, null);
    }, 1000);
    return timer;
  }
}

function capitalize(text) {
  const s = String(text);
  return s.charAt(0).toUpperCase() + s.slice(1) + (/[.!?]$/.test(s) ? "" : ".");
}

function showFormError(box, title, lines = []) {
  box.replaceChildren();
  box.hidden = !title;
  if (!title) return;
  box.append(h("strong", {}, title));
  const shown = lines.filter(Boolean);
  if (shown.length) box.append(h("ul", {}, shown.map((line) => h("li", {}, line))));
}
