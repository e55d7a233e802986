// Forms drawn from a JSON schema the platform serves (the API's own request models), so a field
// added to the API appears here with no console change. The browser does not validate: the API
// does, and its messages (which name the field) are shown next to that field.
import { ApiError } from "./api.js";
import { h } from "./ui.js";

// One property of a schema → what widget edits it, and whether null is allowed.
export function describe(name, prop, defs) {
  const options = prop.anyOf || [prop];
  const nullable = options.some((o) => o.type === "null");
  let base = options.find((o) => o.type !== "null") || {};
  if (base.$ref) base = { ...(defs[base.$ref.split("/").pop()] || {}), type: "object" };
  let kind = "text";
  if (base.enum) kind = "select";
  else if (base.type === "boolean") kind = "checkbox";
  else if (base.type === "integer" || base.type === "number") kind = "number";
  else if (base.type === "array" && (base.items?.type === "string" || !base.items)) kind = "list";
  else if (base.type === "object" || base.type === "array") kind = "json";
  else if ((base.maxLength || 0) > 500) kind = "textarea";
  const bounds = { ...prop, ...base };
  return { name, kind, nullable, base, title: prop.title || name, description: prop.description, bounds };
}

function rule(field) {
  const b = field.bounds;
  const parts = [];
  if (b.minimum !== undefined && b.maximum !== undefined) parts.push(`${b.minimum} to ${b.maximum}`);
  if (b.maxLength !== undefined && field.kind !== "select") parts.push(`up to ${b.maxLength} characters`);
  if (field.kind === "list") parts.push("comma-separated");
  if (field.kind === "json") parts.push("JSON");
  if (field.nullable && field.kind !== "checkbox") parts.push("empty: none");
  return parts.join("; ");
}

// The widget for one field, with its label, its hint and an empty slot for the API's message.
export function widget(field, value, { secret = false } = {}) {
  const id = `f-${field.name}`;
  const hintId = `${id}-hint`;
  const errorId = `${id}-error`;
  const described = `${hintId} ${errorId}`;
  const common = { id, name: field.name, "aria-describedby": described, "data-kind": field.kind };
  let input;
  if (field.kind === "checkbox") {
    input = h("input", { ...common, type: "checkbox" });
    input.checked = Boolean(value);
  } else if (field.kind === "select") {
    const choices = (field.nullable ? [""] : []).concat(field.base.enum);
    input = h("select", common, choices.map((c) => h("option", { value: c }, c === "" ? "(none / default)" : c)));
    input.value = value ?? "";
  } else if (!secret && (field.kind === "textarea" || field.kind === "json")) {
    input = h("textarea", { ...common, rows: field.kind === "json" ? 4 : 3, spellcheck: field.kind === "json" ? "false" : undefined });
    input.value = field.kind === "json" ? (value == null ? "" : JSON.stringify(value, null, 2)) : (value ?? "");
  } else {
    const type = secret ? "password" : field.kind === "number" ? "number" : "text";
    input = h("input", {
      ...common,
      type,
      step: field.kind === "number" ? (field.base.type === "integer" ? "1" : "any") : undefined,
      autocomplete: secret ? "new-password" : "off",
      spellcheck: "false",
    });
    input.value = secret ? "" : field.kind === "list" ? (value || []).join(", ") : (value ?? "");
  }
  const hint = [field.description, rule(field)].filter(Boolean).join(" ");
  return h(
    "div",
    { class: `field field-${field.kind}`, "data-field": field.name },
    h("label", { for: id }, field.title, " ", h("code", {}, field.name)),
    input,
    h("p", { id: hintId, class: "hint muted" }, hint),
    h("p", { id: errorId, class: "error field-error" }),
  );
}

// What the widget holds, as the API wants it; a JSON field that does not parse throws a message naming it.
export function read(form, field) {
  const input = form.elements[field.name];
  if (field.kind === "checkbox") return input.checked;
  const raw = input.value;
  if (field.kind === "list") return raw.split(",").map((s) => s.trim()).filter(Boolean);
  if (field.kind === "json") {
    if (!raw.trim()) return null;
    try {
      return JSON.parse(raw);
    } catch (error) {
      throw new FieldError(field.name, `${field.name} must be valid JSON (${error.message})`);
    }
  }
  if (field.kind === "number") return raw.trim() === "" ? null : Number(raw);
  if ((field.kind === "select" || field.nullable) && raw === "") return null;
  return raw;
}

export class FieldError extends Error {
  constructor(field, message) {
    super(message);
    this.field = field;
  }
}

export function clearErrors(form, summary) {
  summary.textContent = "";
  for (const slot of form.querySelectorAll(".field-error")) slot.textContent = "";
  for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
}

// The API's message at the top of the form and next to each field it names; focus goes to the first.
export function showErrors(form, summary, error, names) {
  summary.textContent = error.message || String(error);
  const problems = [];
  if (error instanceof FieldError) problems.push({ field: error.field, message: error.message });
  else if (error instanceof ApiError && error.details.length) {
    for (const d of error.details) if (d && d.field) problems.push({ field: String(d.field).split(".")[0], message: d.message });
  } else {
    const first = (error.message || "").split(/[\s.:]/)[0];
    if (names.includes(first)) problems.push({ field: first, message: error.message });
  }
  let focused = false;
  for (const p of problems) {
    const input = form.elements[p.field];
    const slot = form.querySelector(`#f-${CSS.escape(p.field)}-error`);
    if (!input || !slot) continue;
    slot.textContent = p.message;
    input.setAttribute("aria-invalid", "true");
    if (!focused) {
      input.focus();
      focused = true;
    }
  }
  if (!focused) summary.focus();
}
