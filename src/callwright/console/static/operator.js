// The operator's view across partners: partners, their API keys, credits, ledger and usage.
import { call, get, post } from "./api.js";
import { announce, errorBox, facts, h, table, when } from "./ui.js";

export async function renderPartners(view) {
  const page = await get("/admin/v1/partners?limit=100");
  view.append(
    h("h1", {}, "Partners"),
    table(
      "Partners",
      ["Name", "Display name", "Status", "Carriers allowed", "Concurrency", "Agents", "Created"],
      page.data.map((p) =>
        h(
          "tr",
          {},
          h("td", {}, h("a", { href: `#/partners/${encodeURIComponent(p.name)}` }, p.name)),
          h("td", {}, p.display_name),
          h("td", {}, p.status),
          h("td", {}, p.allowed_telephony_providers.join(", ")),
          h("td", { class: "num" }, p.concurrency_limit),
          h("td", { class: "num" }, p.agent_limit),
          h("td", {}, when(p.created_at)),
        ),
      ),
    ),
  );
}

function keysTable(name, keys, reload) {
  return table(
    "API keys",
    ["Prefix", "Mode", "Status", "Created", "Revoked", ""],
    keys.map((k) => {
      const revoke = k.status === "active" ? h("button", { type: "button", class: "secondary", "aria-label": `Revoke key ${k.display_prefix}` }, "Revoke") : null;
      revoke?.addEventListener("click", async () => {
        if (!confirm(`Revoke ${k.display_prefix}…? Clients using it stop working at once.`)) return;
        await call("DELETE", `/admin/v1/keys/${k.key_id}`);
        announce("Key revoked.");
        await reload();
      });
      return h("tr", {}, h("td", {}, `${k.display_prefix}…`), h("td", {}, k.mode), h("td", {}, k.status), h("td", {}, when(k.created_at)), h("td", {}, when(k.revoked_at)), h("td", {}, revoke));
    }),
  );
}

export async function renderPartner(view, name) {
  const base = `/admin/v1/partners/${encodeURIComponent(name)}`;
  const [partner, credits, usage] = await Promise.all([get(base), get(`${base}/credits`), get(`${base}/usage`)]);
  const p = partner.data;
  const keysHolder = h("div");
  const newKey = h("p", { role: "status" });
  async function reloadKeys() {
    keysHolder.replaceChildren(keysTable(name, (await get(`${base}/keys`)).data, reloadKeys));
  }
  const issue = h("button", { type: "button" }, "Issue a new API key");
  issue.addEventListener("click", async () => {
    try {
      const made = await post(`${base}/keys`);
      // Shown once, on the page only (never logged or put in a URL).
      newKey.replaceChildren("New key (shown once, copy it now): ", h("code", {}, made.data.api_key));
      await reloadKeys();
    } catch (error) {
      newKey.replaceChildren(errorBox(error));
    }
  });
  const usageRows = usage.data.rows.map((r) =>
    h("tr", {}, h("td", {}, r.day), h("td", {}, r.agent_name || r.agent_id), h("td", { class: "num" }, r.calls), h("td", { class: "num" }, r.connected_calls), h("td", { class: "num" }, r.billed_seconds), h("td", { class: "num" }, `₹${r.credits_used}`)),
  );
  view.append(
    h("p", {}, h("a", { href: "#/partners" }, "← All partners")),
    h("h1", {}, `Partner ${p.display_name || p.name}`),
    facts([
      ["Status", p.status],
      ["Credit balance", `₹${credits.data.credits}`],
      ["Rate per minute", `₹${credits.data.effective_rate_per_minute}`],
      ["Concurrency limit", p.concurrency_limit],
      ["Agents", `${p.current_agent_count} of ${p.agent_limit}`],
      ["Active API keys", p.active_api_keys],
    ]),
    h("h2", {}, "Carrier connections"),
    table(
      "Carrier connections",
      ["Carrier", "Connection", "Details"],
      (p.connections || []).map((c) => h("tr", {}, h("td", {}, c.provider), h("td", {}, c.connection_id), h("td", {}, h("pre", {}, JSON.stringify(c, null, 1))))),
    ),
    h("h2", {}, "API keys"),
    issue,
    newKey,
    keysHolder,
    h("h2", {}, `Usage ${usage.data.from} to ${usage.data.to}`),
    table("Usage per day and agent", ["Day", "Agent", "Calls", "Connected", "Billed seconds", "Credits used"], usageRows),
    h("p", { class: "muted" }, `Totals: ${usage.data.totals.calls} calls, ${usage.data.totals.billed_seconds} billed seconds, ₹${usage.data.totals.credits_used}.`),
  );
  await reloadKeys();
}
