// The console's shell: sign-in, the section menu, and a hash router (#/calls, #/calls/<id>, …).
import { ApiError, forget, get, remember, signedIn } from "./api.js";
import { renderCall, renderCalls } from "./calls.js";
import { renderAgents, renderCampaigns, renderCarriers, renderWebhooks } from "./partner.js";
import { renderPartner, renderPartners } from "./operator.js";
import { renderAgent } from "./talk.js";
import { renderAgentForm } from "./agentform.js";
import { errorBox, h } from "./ui.js";

const SECTIONS = {
  partner: [
    ["calls", "Calls"],
    ["campaigns", "Campaigns"],
    ["agents", "Agents"],
    ["carriers", "Credits & usage"],
    ["webhooks", "Webhooks"],
  ],
  operator: [
    ["calls", "Calls"],
    ["partners", "Partners"],
  ],
};

let stopCurrent = null; // the open view's cleanup (its polling timer)

function showSignIn(message) {
  document.getElementById("sign-in").hidden = false;
  document.getElementById("view").hidden = true;
  document.getElementById("nav").hidden = true;
  document.getElementById("sign-out").hidden = true;
  document.getElementById("who").textContent = "";
  document.getElementById("sign-in-error").textContent = message || "";
  document.getElementById("credential").focus();
}

async function verify(role) {
  if (role === "operator") {
    await get("/admin/v1/partners?limit=1");
    return "Operator";
  }
  const config = await get("/api/v2/config");
  return `Partner: ${config.data.display_name || config.data.name}`;
}

function drawNav(role) {
  const nav = document.getElementById("nav");
  nav.replaceChildren(...SECTIONS[role].map(([id, label]) => h("a", { href: `#/${id}`, "data-section": id }, label)));
  nav.hidden = false;
}

function markNav(section) {
  for (const link of document.querySelectorAll("#nav a")) {
    if (link.dataset.section === section) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

// Each route() renders into a pane of its own. Two can overlap (signing in routes while a click
// on the navigation changes the hash): only the latest one's pane stays in the view, and a
// renderer that finishes after it was superseded is stopped at once (its polling included).
let routeTurn = 0;

async function route() {
  const who = signedIn();
  if (!who) return showSignIn();
  const turn = ++routeTurn;
  if (stopCurrent) stopCurrent();
  stopCurrent = null;
  const view = document.getElementById("view");
  const [section, id, sub] = location.hash.replace(/^#\/?/, "").split("/");
  const fallback = SECTIONS[who.role][0][0];
  const operator = who.role === "operator";
  const current = SECTIONS[who.role].some(([s]) => s === section) ? section : fallback;
  markNav(current);
  const pane = document.createElement("div");
  view.replaceChildren(pane);
  try {
    const renderers = {
      calls: () => (id ? renderCall(pane, id, operator) : renderCalls(pane, operator)),
      campaigns: () => renderCampaigns(pane),
      agents: () => {
        if (id === "new") return renderAgentForm(pane, null);
        if (id && sub === "edit") return renderAgentForm(pane, id);
        return id ? renderAgent(pane, id) : renderAgents(pane);
      },
      carriers: () => renderCarriers(pane),
      webhooks: () => renderWebhooks(pane, id),
      partners: () => (id ? renderPartner(pane, decodeURIComponent(id), sub) : renderPartners(pane)),
    };
    const stop = (await renderers[current]()) || null;
    if (turn !== routeTurn) {
      if (stop) stop();
      return;
    }
    stopCurrent = stop;
  } catch (error) {
    if (turn !== routeTurn) return;
    if (error instanceof ApiError && error.status === 401) {
      forget();
      return showSignIn("Your key was refused; sign in again.");
    }
    pane.replaceChildren(errorBox(error));
  }
  const heading = pane.querySelector("h1");
  if (heading) {
    heading.tabIndex = -1;
    heading.focus({ preventScroll: true });
  }
}

async function enter() {
  const who = signedIn();
  document.getElementById("sign-in").hidden = true;
  document.getElementById("view").hidden = false;
  document.getElementById("sign-out").hidden = false;
  drawNav(who.role);
  // The menu is usable while the key is checked: a section opened meanwhile is already routed,
  // and routing again would redraw it under the partner's next click (which then hit nothing).
  const turn = routeTurn;
  try {
    document.getElementById("who").textContent = await verify(who.role);
  } catch (error) {
    forget();
    return showSignIn(error.message);
  }
  if (turn === routeTurn) await route();
}

document.getElementById("sign-in-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const role = form.elements.role.value;
  const credential = form.elements.credential.value.trim();
  remember(role, credential);
  try {
    await verify(role);
  } catch (error) {
    forget();
    document.getElementById("sign-in-error").textContent =
      error.status === 401 ? "That key or token was refused." : error.message;
    return;
  }
  form.reset();
  await enter();
});

document.getElementById("sign-out").addEventListener("click", () => {
  if (stopCurrent) stopCurrent();
  forget();
  location.hash = "";
  showSignIn();
});

window.addEventListener("hashchange", () => signedIn() && route());

if (signedIn()) enter();
else showSignIn();
