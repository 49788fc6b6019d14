/**
 * Toasts: short notices in a polite live region (screen readers read them out), each with a
 * close button; they leave by themselves unless the pointer or focus is on them.
 * @module dashboard/toasts
 */

import { h } from "./util.js";

export class Toasts {
  /** @param {HTMLElement} region  an element with `aria-live="polite"` */
  constructor(region) {
    this.region = region;
  }

  /**
   * Show a toast.
   * @param {object} toast
   * @param {"success"|"failure"|"info"|"warning"} [toast.kind]
   * @param {string} toast.title
   * @param {string} [toast.body]
   * @param {{href: string, text: string, result?: string}} [toast.link]  `result`: the job id
   *   whose result the link opens
   * @param {number} [toast.timeout]  ms before it leaves (0: stays until closed)
   * @returns {HTMLElement}
   */
  show({ kind = "info", title, body, link, timeout = 7000 }) {
    const close = h("button", { type: "button", class: "toast-close", "aria-label": "Dismiss" }, "×");
    const toast = h(
      "div",
      { class: "toast", dataset: { kind } },
      h("span", { class: "toast-icon", "aria-hidden": "true" }),
      h(
        "div",
        { class: "toast-text" },
        h("strong", { class: "toast-title" }, title),
        body ? h("span", { class: "toast-body" }, body) : null,
        link
          ? h("a", { class: "toast-link", href: link.href, target: "_blank", rel: "noopener", dataset: link.result ? { result: link.result } : null }, link.text)
          : null,
      ),
      close,
    );
    const remove = () => {
      toast.classList.add("leaving");
      setTimeout(() => toast.remove(), 200);
    };
    close.addEventListener("click", remove);
    this.region.append(toast);
    while (this.region.children.length > 4) this.region.firstElementChild.remove();
    if (timeout > 0) {
      let timer = setTimeout(remove, timeout);
      const hold = () => clearTimeout(timer);
      const resume = () => {
        clearTimeout(timer);
        timer = setTimeout(remove, 2500);
      };
      toast.addEventListener("mouseenter", hold);
      toast.addEventListener("focusin", hold);
      toast.addEventListener("mouseleave", resume);
      toast.addEventListener("focusout", resume);
    }
    return toast;
  }
}
