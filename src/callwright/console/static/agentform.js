// Creating and editing an agent: every field of the Partner API's agent, drawn from the schema of
// POST /api/v2/agent's body (served at /console/schema/agent.json), saved through /api/v2/agent.
import { get, post, put } from "./api.js";
import { clearErrors, describe, read, showErrors, widget } from "./form.js";
import { announce, h } from "./ui.js";

let flash = ""; // said once on the next form drawn (after a create moves to the edit page)

const same = (a, b) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

export async function renderAgentForm(view, agentId) {
  const [schema, agent] = await Promise.all([
    get("/console/schema/agent.json"),
    agentId ? get(`/api/v2/agent/${encodeURIComponent(agentId)}`).then((r) => r.data) : null,
  ]);
  const defs = schema.$defs || {};
  const unbuilt = schema["x-unbuilt"] || {};
  const required = new Set(schema.required || []);
  const fields = Object.entries(schema.properties).map(([name, prop]) => describe(name, prop, defs));
  const names = fields.map((f) => f.name);
  const initial = {};
  for (const f of fields) initial[f.name] = agent ? agent[f.name] : schema.properties[f.name].default;

  const summary = h("p", { id: "agent-form-error", class: "error", role: "alert", tabindex: "-1" });
  const status = h("p", { id: "agent-form-status", role: "status" }, flash);
  flash = "";
  const save = h("button", { type: "submit" }, agentId ? "Save changes" : "Create agent");
  const form = h(
    "form",
    { class: "edit-form", novalidate: true, "aria-labelledby": "agent-form-title" },
    summary,
    fields.map((f) => {
      const w = widget(f, initial[f.name]);
      if (required.has(f.name)) w.querySelector("label").append(" (required)");
      if (unbuilt[f.name]) w.classList.add("unbuilt");
      return w;
    }),
    h("div", { class: "row-actions" }, save, agentId ? h("a", { href: `#/agents/${agentId}` }, "Back to the agent") : null),
    status,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form, summary);
    status.textContent = "";
    const body = {};
    try {
      for (const f of fields) {
        const value = read(form, f);
        if (f.name === "agent_name" && !agentId) body[f.name] = value;
        else if (!same(value, initial[f.name])) body[f.name] = value;
      }
    } catch (error) {
      return showErrors(form, summary, error, names);
    }
    if (agentId && !Object.keys(body).length) {
      status.textContent = "Nothing changed.";
      return;
    }
    save.disabled = true;
    try {
      if (agentId) {
        const saved = (await put(`/api/v2/agent/${encodeURIComponent(agentId)}`, body)).data;
        for (const f of fields) initial[f.name] = saved[f.name];
        status.textContent = `Saved ${saved.agent_name}.`;
        announce(status.textContent);
      } else {
        const created = (await post("/api/v2/agent", body)).data;
        flash = `Created ${created.agent_name}.`;
        location.hash = `#/agents/${created.id}/edit`;
      }
    } catch (error) {
      showErrors(form, summary, error, names);
    } finally {
      save.disabled = false;
    }
  });
  view.append(
    h("h1", { id: "agent-form-title" }, agentId ? `Edit agent ${agent.agent_name}` : "New agent"),
    h(
      "p",
      { class: "muted" },
      "Every field of the Partner API's agent. The platform checks each value; its message appears next to the field. ",
      agentId ? "Only changed fields are sent." : "Fields left at their default are not sent.",
    ),
    form,
  );
}
