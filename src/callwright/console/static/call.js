// One call: facts, the recording in one player synced with the transcript, each reply's
// latency breakdown, the carrier event trail and the webhook deliveries (with redeliver).
import { ApiError, get, poll, post } from "./api.js";
import { announce, badge, errorBox, facts, h, table, when } from "./ui.js";

const POLL_MS = 2000;
// Milestones of a reply, each in ms from the end of the caller's speech (voice/conversation.py).
const STAGES = [
  ["vad_stop", "VAD stop"],
  ["stt_final", "Final transcript"],
  ["llm_first_token", "LLM first token"],
  ["tts_first_audio", "TTS first audio"],
  ["send", "Sent to carrier"],
];

function answeredBy(call) {
  if (!call.answered_by) return "—";
  const confidence = call.answered_by_confidence;
  return confidence == null ? call.answered_by : `${call.answered_by} (${Math.round(confidence * 100)}% confident)`;
}

function latencyBar(turn, scale) {
  const total = turn.latency_ms;
  const marks = { ...(turn.breakdown || {}), send: total };
  const parts = [];
  let previous = 0;
  const described = [];
  for (const [name, label] of STAGES) {
    const at = marks[name];
    if (at == null || at < previous) continue;
    const width = ((at - previous) / scale) * 100;
    parts.push(h("span", { class: `seg-${name}`, style: null, "data-width": width.toFixed(2), title: `${label}: ${at - previous} ms` }));
    described.push(`${label} at ${at} ms`);
    previous = at;
  }
  const bar = h("div", { class: "bar", role: "img", "aria-label": `Reply latency ${total} ms: ${described.join(", ")}` }, parts);
  // Widths set through the CSSOM: the page's CSP allows no inline style attributes.
  for (const span of bar.children) span.style.width = `${span.dataset.width}%`;
  return h("div", { class: "latency" }, h("span", { class: "muted" }, `${total} ms`), bar);
}

function legend() {
  return h(
    "p",
    { class: "legend", "aria-hidden": "true" },
    STAGES.map(([name, label]) => h("span", {}, h("i", { class: `seg-${name}` }), label)),
  );
}

// Where each turn starts in the recording, in seconds. The recording starts with the media
// stream; a turn's timestamp is when it was logged, which for every line but the intro is when
// it ended (the caller's final transcript, the agent's last word). So a turn is placed at its end
// less a speaking-rate estimate of its length, never before the previous turn's end.
const WORDS_PER_SECOND = 2.5;

function turnOffsets(call, events) {
  const turns = call.transcript || [];
  const media = events.find((e) => e.kind === "media_started");
  const start = Date.parse(media?.created_at || call.answered_at || turns[0]?.timestamp || "");
  let previousEnd = 0;
  return turns.map((t, i) => {
    const at = Date.parse(t.timestamp);
    if (!Number.isFinite(at) || !Number.isFinite(start)) return 0;
    const end = Math.max(0, (at - start) / 1000);
    const spoken = t.content.split(/\s+/).length / WORDS_PER_SECOND + 0.3;
    const offset = i === 0 ? 0 : Math.min(end, Math.max(previousEnd, end - spoken));
    previousEnd = Math.max(previousEnd, end);
    return offset;
  });
}

function transcript(call, events, audio) {
  const turns = call.transcript || [];
  if (!turns.length) return h("p", { class: "muted" }, "No transcript.");
  const offsets = turnOffsets(call, events);
  const scale = Math.max(1, ...turns.map((t) => t.latency_ms || 0));
  const items = turns.map((turn, i) =>
    h(
      "li",
      {},
      h(
        "button",
        {
          type: "button",
          class: `turn ${turn.role}`,
          "data-offset": offsets[i].toFixed(2),
          "aria-label": `${turn.role === "bot" ? "Agent" : "Caller"} at ${offsets[i].toFixed(1)} seconds: ${turn.content}. Play from here.`,
          onclick: () => {
            if (!audio) return;
            audio.currentTime = offsets[i];
            audio.play().catch(() => {});
          },
        },
        h("span", { class: "at" }, `${offsets[i].toFixed(1)} s`),
        h("span", { class: "who-said" }, turn.role === "bot" ? "Agent" : "Caller"),
        turn.content,
        turn.interrupted ? h("span", { class: "muted" }, " (interrupted)") : null,
      ),
      turn.latency_ms != null ? latencyBar(turn, scale) : null,
    ),
  );
  if (audio) {
    const buttons = items.map((li) => li.querySelector("button"));
    audio.addEventListener("timeupdate", () => {
      let current = -1;
      offsets.forEach((o, i) => { if (audio.currentTime >= o) current = i; });
      buttons.forEach((b, i) => b.classList.toggle("playing", i === current));
    });
  }
  return h("div", {}, legend(), h("ol", { class: "transcript", "aria-label": "Transcript" }, items));
}

// The recording is one stereo WAV: caller on the left channel, agent on the right. "Listen to"
// routes one channel to both ears through Web Audio.
function channelPicker(audio) {
  let gains = null;
  const picker = h(
    "select",
    { id: "listen-to" },
    h("option", { value: "both" }, "Both (caller left, agent right)"),
    h("option", { value: "caller" }, "Caller only"),
    h("option", { value: "agent" }, "Agent only"),
  );
  picker.addEventListener("change", () => {
    if (!gains) {
      const context = new AudioContext();
      const source = context.createMediaElementSource(audio);
      const split = context.createChannelSplitter(2);
      const merge = context.createChannelMerger(2);
      source.connect(split);
      gains = [0, 1].map((channel) => {
        const gain = context.createGain();
        split.connect(gain, channel);
        gain.connect(merge, 0, 0);
        gain.connect(merge, 0, 1);
        return gain;
      });
      merge.connect(context.destination);
    }
    gains[0].gain.value = picker.value === "agent" ? 0 : 1;
    gains[1].gain.value = picker.value === "caller" ? 0 : 1;
  });
  return h("label", {}, "Listen to ", picker);
}

async function player(call, base) {
  if (!call.processing_complete) return { node: h("p", { class: "muted" }, "The recording is ready when the call has ended."), audio: null };
  let url;
  try {
    url = (await get(`${base}/calls/${call.call_id}/recording-url`)).data.recording_url;
  } catch (error) {
    return { node: h("p", { class: "muted" }, error.reason === "recording_not_found" ? "This call has no recording." : error.message), audio: null };
  }
  // Played from this origin whatever public base URL the platform signs with.
  const signed = new URL(url, location.origin);
  const audio = h("audio", { controls: true, preload: "metadata", src: signed.pathname + signed.search, "aria-label": "Call recording" });
  return { node: h("div", { class: "player" }, audio, channelPicker(audio)), audio };
}

function eventsTable(events) {
  return table(
    "Carrier event trail",
    ["When", "Source", "Event", "Status", "Payload"],
    events.map((e) =>
      h(
        "tr",
        {},
        h("td", {}, when(e.created_at)),
        h("td", {}, e.source),
        h("td", {}, e.kind),
        h("td", {}, `${e.status_before || "—"} → ${e.status_after || "—"}`),
        h("td", {}, Object.keys(e.payload).length ? h("details", {}, h("summary", {}, "payload"), h("pre", {}, JSON.stringify(e.payload, null, 2))) : "—"),
      ),
    ),
  );
}

function deliveriesTable(deliveries, reload, base) {
  return table(
    "Webhook deliveries",
    ["Event", "Status", "Attempts", "Last answer", "Created", ""],
    deliveries.map((d) => {
      const last = d.attempts[d.attempts.length - 1];
      const answer = last ? (last.status_code ? `HTTP ${last.status_code}` : last.error || "—") : "—";
      const button = h("button", { type: "button", class: "secondary", "aria-label": `Redeliver ${d.event_type}` }, "Redeliver");
      button.addEventListener("click", async () => {
        button.disabled = true;
        try {
          await post(`${base}/webhook-deliveries/${d.id}/redeliver`);
          announce("Redelivery queued.");
          await reload();
        } catch (error) {
          button.after(errorBox(error));
        }
      });
      return h("tr", {}, h("td", {}, d.event_type), h("td", {}, d.status), h("td", { class: "num" }, d.attempt_count), h("td", {}, answer), h("td", {}, when(d.created_at)), h("td", {}, button));
    }),
  );
}

export async function renderCallDetail(view, callId, base) {
  let lastSignature = "";
  const heading = h("h1", {}, "Call");
  const body = h("div");
  view.append(h("p", {}, h("a", { href: "#/calls" }, "← All calls")), heading, body);

  async function draw() {
    const call = (await get(`${base}/calls/${callId}`)).data;
    const signature = JSON.stringify([call.status, call.updated_at, call.processing_complete]);
    if (signature !== lastSignature) {
      lastSignature = signature;
      heading.textContent = `Call to ${call.to_number}`;
      const [{ node, audio }, events, deliveries] = await Promise.all([
        player(call, base),
        get(`${base}/calls/${callId}/events`),
        get(`${base}/calls/${callId}/webhook-deliveries`),
      ]);
      const deliveriesHolder = h("div", {}, deliveriesTable(deliveries.data, reloadDeliveries, base));
      async function reloadDeliveries() {
        const fresh = await get(`${base}/calls/${callId}/webhook-deliveries`);
        deliveriesHolder.replaceChildren(deliveriesTable(fresh.data, reloadDeliveries, base));
      }
      body.replaceChildren(
        facts(([
          ["Status", badge(call.status)],
          ["Disposition", call.disposition],
          ["Answered by", answeredBy(call)],
          ["Agent", call.agent_name],
          call.partner ? ["Partner", call.partner] : null,
          ["Carrier", `${call.provider} (${call.direction})`],
          ["From → to", `${call.from_number} → ${call.to_number}`],
          ["Started", when(call.started_at)],
          ["Duration", call.duration_seconds == null ? null : `${call.duration_seconds} s`],
          ["End reason", call.end_reason || call.hangup_cause],
          ["Credits used", `₹${call.credits_used}`],
          ["Average reply latency", call.latency?.avg_ms != null ? `${call.latency.avg_ms} ms` : null],
          ["Call id", call.call_id],
        ]).filter(Boolean)),
        h(
          "div",
          { class: "columns" },
          h("section", { "aria-labelledby": "h-conv" }, h("h2", { id: "h-conv" }, "Recording and transcript"), node, transcript(call, events.data, audio)),
          h(
            "section",
            {},
            h("h2", {}, "Carrier event trail"),
            eventsTable(events.data),
            h("h2", {}, "Webhook deliveries"),
            deliveriesHolder,
          ),
        ),
      );
      if (call.processing_complete) announce("The call has ended; its recording and transcript are final.");
    }
    return call.processing_complete;
  }

  // Polled until the call's processing is complete; false from a step ends the poll.
  async function step() {
    try {
      return !(await draw());
    } catch (error) {
      if (error instanceof ApiError && error.status === 429) throw error; // the poll backs off
      body.replaceChildren(errorBox(error));
      return false;
    }
  }
  const polling = poll(step, POLL_MS);
  await polling.first;
  return polling.stop;
}
