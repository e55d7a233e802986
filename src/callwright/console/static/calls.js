// Calls: the live list with its filters, and one call (player, transcript, latency, trail).
import { ApiError, get, poll } from "./api.js";
import { renderCallDetail } from "./call.js";
import { announce, badge, h, table, when } from "./ui.js";

const STATUSES = ["pending", "ringing", "in_progress", "completed", "failed", "no_answer", "busy", "canceled"];
const CARRIERS = ["twilio", "plivo", "vobiz", "exotel", "mcube"];
const POLL_MS = 2000;
const PAGE = 50;

function select(name, label, options) {
  return h(
    "label",
    {},
    label,
    h("select", { name }, h("option", { value: "" }, "Any"), options.map(([v, text]) => h("option", { value: v }, text))),
  );
}

function query(form, offset) {
  const params = new URLSearchParams({ limit: String(PAGE), offset: String(offset) });
  for (const [name, value] of new FormData(form)) {
    if (!value) continue;
    if (name === "created_from") params.set(name, `${value}T00:00:00Z`);
    else if (name === "created_to") {
      const next = new Date(`${value}T00:00:00Z`);
      next.setUTCDate(next.getUTCDate() + 1); // the chosen day included
      params.set(name, next.toISOString());
    } else params.set(name, value);
  }
  return params;
}

function callRow(call, operator) {
  return h(
    "tr",
    { "data-call-id": call.call_id },
    h("td", {}, h("a", { href: `#/calls/${call.call_id}` }, when(call.created_at))),
    operator ? h("td", {}, call.partner) : null,
    h("td", {}, badge(call.status)),
    h("td", {}, call.direction),
    h("td", {}, call.from_number, " → ", call.to_number),
    h("td", {}, call.agent_name || call.agent_id),
    h("td", {}, call.provider),
    h("td", { class: "num" }, call.duration_seconds ?? "—"),
    h("td", {}, call.disposition || "—"),
  );
}

// A partner lists its own calls; the operator every partner's (the admin API), by partner.
export async function renderCalls(view, operator) {
  const base = operator ? "/admin/v1" : "/api/v2";
  const whose = operator
    ? select("partner", "Partner", (await get("/admin/v1/partners?limit=100")).data.map((p) => [p.name, p.name]))
    : select("agent_id", "Agent", (await get("/api/v2/agents?limit=100")).data.map((a) => [a.id, a.agent_name]));
  const form = h(
    "form",
    { class: "filters", "aria-label": "Filter calls" },
    select("status", "Status", STATUSES.map((s) => [s, s])),
    whose,
    select("provider", "Carrier", CARRIERS.map((c) => [c, c])),
    select("direction", "Direction", [["outbound", "outbound"], ["inbound", "inbound"]]),
    h("label", {}, "From (UTC day)", h("input", { type: "date", name: "created_from" })),
    h("label", {}, "To (UTC day)", h("input", { type: "date", name: "created_to" })),
    h("label", {}, "Number", h("input", { type: "search", name: "number", inputmode: "tel", pattern: "\\+?[0-9]*", size: 14 })),
  );
  const status = h("p", { class: "muted", id: "calls-status" });
  const holder = h("div");
  const older = h("button", { type: "button", class: "secondary" }, "Older");
  const newer = h("button", { type: "button", class: "secondary" }, "Newer");
  view.append(h("h1", {}, "Calls"), form, status, holder, h("div", { class: "row-actions" }, newer, older));

  let offset = 0;
  let shown = "";

  async function refresh() {
    let page;
    try {
      page = await get(`${base}/calls?${query(form, offset)}`);
    } catch (error) {
      status.textContent = `Could not refresh: ${error.message}`;
      if (error instanceof ApiError && error.status === 429) throw error; // the poll backs off
      return;
    }
    const { calls, total } = page.data;
    const signature = JSON.stringify(calls.map((c) => [c.call_id, c.status, c.updated_at]));
    const range = total ? `${offset + 1}–${offset + calls.length} of ${total}` : "no calls";
    status.textContent = `Showing ${range}; updates every ${POLL_MS / 1000} s.`;
    older.disabled = offset + calls.length >= total;
    newer.disabled = offset === 0;
    if (signature === shown) return;
    if (shown) announce(`Calls updated: ${range}.`);
    shown = signature;
    const focused = document.activeElement?.closest?.("tr")?.dataset.callId;
    holder.replaceChildren(
      table(
        "Calls, newest first",
        ["Created", ...(operator ? ["Partner"] : []), "Status", "Direction", "From → to", "Agent", "Carrier", "Seconds", "Disposition"],
        calls.map((c) => callRow(c, operator)),
      ),
    );
    if (focused) holder.querySelector(`tr[data-call-id="${focused}"] a`)?.focus();
  }

  form.addEventListener("change", () => {
    if (!form.reportValidity()) return;
    offset = 0;
    shown = "";
    refresh();
  });
  form.addEventListener("submit", (e) => e.preventDefault());
  older.addEventListener("click", () => { offset += PAGE; shown = ""; refresh(); });
  newer.addEventListener("click", () => { offset = Math.max(0, offset - PAGE); shown = ""; refresh(); });
  const polling = poll(refresh, POLL_MS);
  await polling.first;
  return polling.stop;
}

export async function renderCall(view, callId, operator) {
  return renderCallDetail(view, callId, operator ? "/admin/v1" : "/api/v2");
}
