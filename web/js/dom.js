// DOM helpers: elements are built with h(), never from HTML strings, so nothing a user or
// the API wrote (an account name, a broker's reason) can ever become markup.

export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "text") el.textContent = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === "value" && "value" in el) el.value = value;
    else if (key === "checked") el.checked = Boolean(value);
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of [children].flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

let sequence = 0;
const uid = (name) => `f-${String(name).replace(/[^a-z0-9_-]/gi, "-")}-${++sequence}`;

/**
 * A labelled form field with a slot for its error: `{label, name, type, options, hint, ...}`.
 * The error slot is tied to the control by aria-describedby; showProblem() fills it.
 */
export function field({ label, name, type = "text", value, options, hint, attrs = {} }) {
  const id = uid(name);
  const hintId = hint ? `${id}-hint` : null;
  const errorId = `${id}-error`;
  const described = [hintId, errorId].filter(Boolean).join(" ");
  let control;
  if (type === "select") {
    control = h(
      "select",
      { id, name, "aria-describedby": described, ...attrs },
      options.map((o) => h("option", { value: o.value, selected: o.value === value }, o.label)),
    );
  } else if (type === "textarea") {
    control = h("textarea", { id, name, rows: 3, "aria-describedby": described, ...attrs });
    if (value !== undefined) control.value = value;
  } else {
    control = h("input", {
      id, name, type, value: type === "checkbox" ? undefined : value,
      checked: type === "checkbox" ? value : undefined,
      "aria-describedby": described, spellcheck: "false", ...attrs,
    });
  }
  const labelEl = h("label", { for: id }, label);
  const error = h("p", { id: errorId, class: "field-error", hidden: true });
  const hintEl = hint ? h("p", { id: hintId, class: "hint" }, hint) : null;
  if (type === "checkbox") {
    return h("div", { class: "field check", dataset: { field: name } }, control, labelEl, hintEl, error);
  }
  return h("div", { class: "field", dataset: { field: name } }, labelEl, control, hintEl, error);
}

/** A radio group in a fieldset whose legend names it. */
export function choices({ legend, name, options, value }) {
  const errorId = uid(`${name}-error`);
  return h(
    "fieldset",
    { class: "field", dataset: { field: name }, "aria-describedby": errorId },
    h("legend", {}, legend),
    h(
      "div",
      { class: "choices" },
      options.map((o) => {
        const id = uid(`${name}-${o.value}`);
        return h(
          "label",
          { for: id },
          h("input", { id, type: "radio", name, value: o.value, checked: o.value === value }),
          o.label,
        );
      }),
    ),
    h("p", { id: errorId, class: "field-error", hidden: true }),
  );
}

/** The form-level error line (every form has one, just above its buttons). */
export function formError() {
  return h("p", { class: "form-error", role: "alert", hidden: true });
}

export function clearErrors(form) {
  for (const slot of form.querySelectorAll(".field-error, .form-error")) {
    slot.hidden = true;
    slot.textContent = "";
  }
  for (const control of form.querySelectorAll("[aria-invalid]")) control.removeAttribute("aria-invalid");
}

function slotFor(form, name) {
  if (!name) return null;
  const parts = String(name).split(".");
  // `credentials.password` → the `password` field; `risk_limits.max_volume` → itself or its parent
  const candidates = [name, parts[parts.length - 1], parts[0]];
  for (const candidate of candidates) {
    const slot = form.querySelector(`[data-field="${CSS.escape(candidate)}"]`);
    if (slot && !slot.hidden && slot.closest("[hidden]") === null) return slot;
  }
  return null;
}

function setFieldError(slot, message) {
  const error = slot.querySelector(".field-error");
  error.textContent = message;
  error.hidden = false;
  for (const control of slot.querySelectorAll("input, select, textarea")) {
    control.setAttribute("aria-invalid", "true");
  }
}

/**
 * Show an API problem on a form: each `errors[].message` next to its field, a problem
 * about one field (by its `code`, see codeFields) next to that field, and the problem's
 * `detail` in the form's error line. Focus moves to the first field in error.
 */
export function showProblem(form, err, codeFields = {}) {
  clearErrors(form);
  let first = null;
  for (const { field: name, message } of err.errors || []) {
    const slot = slotFor(form, name);
    if (slot) {
      setFieldError(slot, message);
      first = first || slot;
    }
  }
  if (!(err.errors || []).length && err.code && codeFields[err.code]) {
    const slot = slotFor(form, codeFields[err.code]);
    if (slot) {
      setFieldError(slot, err.detail);
      first = slot;
    }
  }
  // The detail goes on the form's own line unless a field already says it.
  const line = form.querySelector(".form-error");
  if (line && (!first || (err.errors || []).length > 1)) {
    line.textContent = err.detail;
    line.hidden = false;
  }
  announce(err.detail);
  const target = first ? first.querySelector("input, select, textarea") : null;
  if (target) target.focus();
}

/** The form's named values as strings (checkboxes as booleans; radios by their group). */
export function values(form) {
  const out = {};
  for (const el of form.elements) {
    if (!el.name || el.disabled || el.closest("[hidden]")) continue;
    if (el.type === "checkbox") out[el.name] = el.checked;
    else if (el.type === "radio") {
      if (el.checked) out[el.name] = el.value;
    } else out[el.name] = el.value.trim();
  }
  return out;
}

/**
 * Run `work` while `button` says what is happening: disabled, aria-busy, its label
 * replaced by `label`. A slow worker shows progress, never a frozen button.
 */
export async function busy(button, label, work) {
  const original = button.textContent;
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  button.textContent = label;
  try {
    return await work();
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
    button.textContent = original;
  }
}

/** Ask before something that cannot be undone; resolves true when confirmed. */
export function confirmDialog({ title, body, confirm, danger = true }) {
  return new Promise((resolve) => {
    const titleId = uid("dialog-title");
    const yes = h("button", { type: "button", class: danger ? "danger" : "" }, confirm);
    const no = h("button", { type: "button", class: "secondary" }, "Cancel");
    const dialog = h(
      "dialog",
      { "aria-labelledby": titleId },
      h("h2", { id: titleId }, title),
      h("p", {}, body),
      h("div", { class: "actions" }, yes, no),
    );
    const close = (answer) => {
      dialog.close();
      dialog.remove();
      resolve(answer);
    };
    yes.addEventListener("click", () => close(true));
    no.addEventListener("click", () => close(false));
    dialog.addEventListener("cancel", (event) => {
      event.preventDefault();
      close(false);
    });
    document.body.append(dialog);
    dialog.showModal();
    no.focus();
  });
}

/** Say something to screen readers (and leave it visible nowhere). */
export function announce(message) {
  const region = document.getElementById("announcer");
  if (!region) return;
  region.textContent = "";
  setTimeout(() => { region.textContent = message; }, 30);
}
