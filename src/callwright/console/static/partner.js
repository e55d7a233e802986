// A partner's sections besides calls: campaigns (live progress), agents, carriers and credits,
// webhook endpoints with their delivery logs.
import { ApiError, get, poll, post, put } from "./api.js";
import { clearErrors, describe, read, showErrors, widget } from "./form.js";
import { announce, badge, errorBox, facts, h, table, when } from "./ui.js";

const POLL_MS = 2000;

function progress(c) {
  const done = c.completed_count + c.failed_count + c.skipped_count;
  const total = Math.max(1, c.total_contacts);
  return h(
    "span",
    {},
    h("progress", { class: "progress", max: total, value: done, "aria-label": `${c.name}: ${done} of ${c.total_contacts} contacts done` }),
    ` ${done}/${c.total_contacts}`,
  );
}

export async function renderCampaigns(view) {
  const holder = h("div");
  view.append(h("h1", {}, "Campaigns"), h("p", { class: "muted" }, `Progress updates every ${POLL_MS / 1000} s.`), holder);
  let shown = "";
  async function refresh() {
    const page = await get("/api/v2/campaigns?limit=100");
    const signature = JSON.stringify(page.data);
    if (signature !== shown) {
      shown = signature;
      holder.replaceChildren(
        table(
          "Campaigns",
          ["Name", "Status", "Agent", "Carrier", "Progress", "Completed", "Failed", "Calling now", "Pending"],
          page.data.map((c) =>
            h(
              "tr",
              {},
              h("td", {}, c.name),
              h("td", {}, badge(c.status), c.pause_reason ? h("span", { class: "muted" }, ` ${c.pause_reason}`) : null),
              h("td", {}, c.agent_name || c.agent_id),
              h("td", {}, c.provider),
              h("td", {}, progress(c)),
              h("td", { class: "num" }, c.completed_count),
              h("td", { class: "num" }, c.failed_count),
              h("td", { class: "num" }, c.calling_count),
              h("td", { class: "num" }, c.pending_count),
            ),
          ),
        ),
      );
    }
  }
  async function step() {
    try {
      await refresh();
    } catch (error) {
      if (error instanceof ApiError && error.status === 429) throw error; // the poll backs off
      holder.replaceChildren(errorBox(error));
    }
  }
  const polling = poll(step, POLL_MS);
  await polling.first;
  return polling.stop;
}

export async function renderAgents(view) {
  const page = await get("/api/v2/agents?limit=100");
  view.append(
    h("h1", {}, "Agents"),
    h("p", {}, h("a", { href: "#/agents/new", class: "button-link" }, "New agent")),
    table(
      "Agents",
      ["Name", "Type", "Status", "Voice", "Language", "Recording", "Voicemail detection", "Created", "Calls"],
      page.data.map((a) =>
        h(
          "tr",
          {},
          h("td", {}, h("a", { href: `#/agents/${a.id}`, "data-agent": a.id }, a.agent_name)),
          h("td", {}, a.agent_type),
          h("td", {}, a.status),
          h("td", {}, a.voice_id),
          h("td", {}, a.language),
          h("td", {}, a.enable_recording ? "on" : "off"),
          h("td", {}, a.voicemail_detection_enabled ? "on" : "off"),
          h("td", {}, when(a.created_at)),
          h("td", {}, h("a", { href: `#/calls?agent=${a.id}`, "aria-label": `Calls of ${a.agent_name}` }, "Calls")),
        ),
      ),
    ),
  );
}

function carrierRows(config) {
  return Object.entries(config.telephony || {}).map(([provider, conn]) => {
    const details = Object.entries(conn)
      .filter(([k, v]) => k !== "configured" && v)
      .map(([k, v]) => `${k}: ${v}`)
      .join(", ");
    const allowed = (config.allowed_telephony_providers || []).includes(provider);
    return h(
      "tr",
      { "data-provider": provider },
      h("td", {}, provider),
      h("td", {}, allowed ? "yes" : "no"),
      h("td", {}, conn.configured ? "configured" : "not configured"),
      h("td", {}, details || "—"),
    );
  });
}

function connectionRows(connections) {
  return connections.map((c) =>
    h(
      "tr",
      {},
      h("td", {}, c.name),
      h("td", {}, c.provider),
      h("td", {}, c.status),
      h("td", {}, c.is_default ? "yes" : "no"),
      h("td", {}, c.verified ? "verified" : "not verified"),
      h("td", {}, (c.phone_numbers || []).map((n) => n.phone_number).join(", ") || "—"),
    ),
  );
}

// Configure a carrier: its credential fields from /console/schema/carriers.json; secrets in
// password inputs. PUT /api/v2/config/telephony/{provider} verifies them with the carrier before
// storing; after saving the form is emptied, so a secret never stays in the page.
function carrierForm(config, schemas, onSaved) {
  const allowed = (config.allowed_telephony_providers || []).filter((p) => schemas[p]);
  const summary = h("p", { id: "carrier-form-error", class: "error", role: "alert", tabindex: "-1" });
  const status = h("p", { id: "carrier-form-status", role: "status" });
  const fieldsHolder = h("div", { class: "edit-form" });
  const choose = h(
    "select",
    { id: "carrier-provider", name: "provider" },
    allowed.map((p) => h("option", { value: p }, schemas[p].name)),
  );
  let fields = [];
  function draw() {
    const spec = schemas[choose.value];
    if (!spec) return fieldsHolder.replaceChildren(h("p", { class: "muted" }, "No carrier is allowed for this account."));
    const required = new Set(spec.schema.required || []);
    fields = Object.entries(spec.schema.properties).map(([name, prop]) => describe(name, prop, spec.schema.$defs || {}));
    fieldsHolder.replaceChildren(
      ...fields.map((f) => {
        const w = widget(f, null, { secret: spec.secret_fields.includes(f.name) });
        if (required.has(f.name)) w.querySelector("label").append(" (required)");
        return w;
      }),
    );
  }
  choose.addEventListener("change", () => {
    clearErrors(form, summary);
    draw();
  });
  const save = h("button", { type: "submit" }, "Verify and save");
  const form = h(
    "form",
    { class: "edit-form", novalidate: true, "aria-labelledby": "carrier-form-title" },
    summary,
    h("div", { class: "field" }, h("label", { for: "carrier-provider" }, "Carrier"), choose),
    fieldsHolder,
    h("div", { class: "row-actions" }, save),
    status,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form, summary);
    status.textContent = "";
    const provider = choose.value;
    const spec = schemas[provider];
    const body = {};
    try {
      for (const f of fields) {
        const value = read(form, f);
        if (value !== null && value !== "") body[f.name] = value;
      }
    } catch (error) {
      return showErrors(form, summary, error, fields.map((f) => f.name));
    }
    save.disabled = true;
    try {
      const saved = (await put(`/api/v2/config/telephony/${encodeURIComponent(provider)}`, body)).data;
      draw(); // empties every input: nothing typed stays in the page
      const shown = Object.entries(saved)
        .filter(([k, v]) => k !== "message" && !spec.secret_fields.includes(k) && typeof v !== "object")
        .map(([k, v]) => `${k}: ${v}`)
        .join(", ");
      status.textContent = `${saved.message || "Saved."} ${shown}`.trim();
      announce(status.textContent);
      await onSaved();
    } catch (error) {
      showErrors(form, summary, error, fields.map((f) => f.name));
    } finally {
      save.disabled = false;
    }
  });
  draw();
  return h(
    "section",
    { "aria-labelledby": "carrier-form-title" },
    h("h2", { id: "carrier-form-title" }, "Configure a carrier"),
    h(
      "p",
      { class: "muted" },
      "The platform checks the credentials with the carrier before storing them (encrypted); a refused key is not saved. " +
        "Secrets are never shown again: re-send them all to change or re-verify a connection.",
    ),
    form,
  );
}

export async function renderCarriers(view) {
  const [config, usage, schemas] = await Promise.all([
    get("/api/v2/config").then((r) => r.data),
    get("/api/v2/usage").then((r) => r.data),
    get("/console/schema/carriers.json"),
  ]);
  const concurrency = config.concurrency || {};
  const carriers = h("div", { "aria-live": "polite" }, table("Carrier connections", ["Carrier", "Allowed", "State", "Details (secrets masked)"], carrierRows(config)));
  const named = h("div");
  async function refreshNamed() {
    const connections = (await get("/api/v2/telephony/connections")).data;
    named.replaceChildren(table("Named connections", ["Name", "Carrier", "Status", "Default", "Verified", "Numbers"], connectionRows(connections)));
  }
  async function refresh() {
    const fresh = (await get("/api/v2/config")).data;
    carriers.replaceChildren(table("Carrier connections", ["Carrier", "Allowed", "State", "Details (secrets masked)"], carrierRows(fresh)));
    await refreshNamed();
  }
  await refreshNamed();
  view.append(
    h("h1", {}, "Credits, usage & carriers"),
    facts([
      ["Credit balance", `₹${config.credits}`],
      ["Concurrent calls", `${concurrency.active ?? 0} of ${concurrency.limit ?? "—"}`],
      ["Agents", `${config.current_agent_count} of ${config.agent_limit}`],
    ]),
    h("h2", {}, "Carrier connections"),
    carriers,
    h("h3", {}, "Named connections"),
    named,
    carrierForm(config, schemas, refresh),
    h("h2", {}, `Usage ${usage.from} to ${usage.to} (UTC days)`),
    table(
      "Usage per day and agent",
      ["Day", "Agent", "Calls", "Connected", "Billed seconds", "Credits used"],
      usage.rows.map((r) =>
        h("tr", {}, h("td", {}, r.day), h("td", {}, r.agent_name || r.agent_id), h("td", { class: "num" }, r.calls), h("td", { class: "num" }, r.connected_calls), h("td", { class: "num" }, r.billed_seconds), h("td", { class: "num" }, `₹${r.credits_used}`)),
      ),
    ),
    h("p", { class: "muted" }, `Totals: ${usage.totals.calls} calls, ${usage.totals.billed_seconds} billed seconds, ₹${usage.totals.credits_used}.`),
  );
}

function deliveriesFor(endpointId) {
  const holder = h("div", { "aria-live": "polite" });
  async function load() {
    const page = await get(`/api/v2/config/webhooks/${endpointId}/deliveries?limit=50`);
    holder.replaceChildren(
      table(
        "Deliveries",
        ["Event", "Call", "Status", "Attempts", "Created", ""],
        page.data.map((d) => {
          const redo = h("button", { type: "button", class: "secondary", "aria-label": `Redeliver ${d.event_type} of ${when(d.created_at)}` }, "Redeliver");
          redo.addEventListener("click", async () => {
            redo.disabled = true;
            await post(`/api/v2/webhook-deliveries/${d.id}/redeliver`);
            announce("Redelivery queued.");
            await load();
          });
          return h(
            "tr",
            {},
            h("td", {}, d.event_type),
            h("td", {}, d.call_id ? h("a", { href: `#/calls/${d.call_id}` }, d.call_id.slice(0, 8)) : "—"),
            h("td", {}, d.status),
            h("td", { class: "num" }, d.attempt_count),
            h("td", {}, when(d.created_at)),
            h("td", {}, redo),
          );
        }),
      ),
    );
  }
  return { holder, load };
}

export async function renderWebhooks(view, endpointId) {
  const page = await get("/api/v2/config/webhooks");
  view.append(
    h("h1", {}, "Webhook endpoints"),
    table(
      "Webhook endpoints",
      ["Label", "URL", "Events", "Enabled", "Last delivery", ""],
      page.data.map((e) =>
        h(
          "tr",
          {},
          h("td", {}, e.label),
          h("td", {}, e.url),
          h("td", {}, e.events.join(", ")),
          h("td", {}, e.enabled ? "yes" : "no"),
          h("td", {}, e.last_delivery_status ? `${e.last_delivery_status}, ${when(e.last_delivery_at)}` : "—"),
          h("td", {}, h("a", { href: `#/webhooks/${e.id}` }, "Deliveries")),
        ),
      ),
    ),
  );
  if (endpointId) {
    const { holder, load } = deliveriesFor(endpointId);
    view.append(h("h2", {}, "Deliveries"), holder);
    await load();
  }
}
