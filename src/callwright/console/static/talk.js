// An agent's page and "Talk to this agent": a browser session over WebRTC. The console starts the
// session (POST /api/v2/sessions/webrtc), asks for the microphone, posts its SDP offer to the
// session's offer_url and plays the agent's voice from the answer's peer connection. No data
// channel: the platform reads the peer's liveness from the connection itself.
import { get, post } from "./api.js";
import { announce, badge, errorBox, facts, h, when } from "./ui.js";

const AUDIBLE = 0.01; // RMS of the agent's voice (full scale 1) above which it counts as heard
const GATHER_MS = 3000; // ICE gathering on a LAN or loopback takes milliseconds
const POLL_MS = 1000;

function gathered(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((done) => {
    const timer = setTimeout(done, GATHER_MS);
    pc.addEventListener("icegatheringstatechange", () => {
      if (pc.iceGatheringState === "complete") {
        clearTimeout(timer);
        done();
      }
    });
  });
}

// Watches the agent's voice through Web Audio: the level on a meter, and when it was first heard.
function listen(stream, meter, onFirstAudible) {
  const context = new AudioContext();
  const analyser = context.createAnalyser();
  analyser.fftSize = 1024;
  context.createMediaStreamSource(stream).connect(analyser);
  const samples = new Float32Array(analyser.fftSize);
  let heard = false;
  let peak = 0;
  const timer = setInterval(() => {
    analyser.getFloatTimeDomainData(samples);
    let sum = 0;
    for (const s of samples) sum += s * s;
    const rms = Math.sqrt(sum / samples.length);
    peak = Math.max(peak, rms);
    meter.value = Math.min(1, rms * 5);
    meter.dataset.peak = peak.toFixed(4);
    if (!heard && rms > AUDIBLE) {
      heard = true;
      onFirstAudible(performance.now());
    }
  }, 20);
  return () => {
    clearInterval(timer);
    context.close();
  };
}

function transcriptList(turns) {
  return h(
    "ol",
    { class: "transcript", "aria-label": "Transcript" },
    turns.map((t) =>
      h("li", {}, h("div", { class: `turn ${t.role}` }, h("span", { class: "who-said" }, t.role === "bot" ? "Agent" : "You"), t.content)),
    ),
  );
}

export async function renderAgent(view, agentId) {
  const agent = (await get(`/api/v2/agent/${encodeURIComponent(agentId)}`)).data;
  const status = h("p", { id: "talk-status", role: "status" }, "Not connected.");
  const talk = h("button", { type: "button" }, "Talk to this agent");
  const end = h("button", { type: "button", class: "secondary", disabled: true }, "End");
  const voice = h("audio", { autoplay: true, "aria-label": "The agent's voice" });
  const meter = h("meter", { min: 0, max: 1, value: 0, "aria-label": "Level of the agent's voice" });
  const result = h("div", { "aria-live": "polite" });
  const live = h("div", { "aria-live": "polite" });
  let conversation = null;

  // The transcript so far, every second while the session runs.
  function follow(sessionId) {
    const timer = setInterval(async () => {
      try {
        const session = (await get(`/api/v2/sessions/${sessionId}`)).data;
        if (session.transcript.length) live.replaceChildren(transcriptList(session.transcript));
      } catch {
        // a missed poll: the next one tries again
      }
    }, POLL_MS);
    return () => clearInterval(timer);
  }

  async function settle(sessionId) {
    // The session's transcript is stored when it ends.
    for (let i = 0; i < 30; i++) {
      const session = (await get(`/api/v2/sessions/${sessionId}`)).data;
      if (["completed", "failed", "expired"].includes(session.status)) {
        result.replaceChildren(
          h("h2", {}, "Last session"),
          facts([
            ["Status", badge(session.status)],
            ["Ended", session.end_reason],
            ["Duration", session.duration_seconds === null ? "—" : `${session.duration_seconds} s`],
            ["Started", when(session.started_at)],
          ]),
          transcriptList(session.transcript),
        );
        return;
      }
      await new Promise((done) => setTimeout(done, POLL_MS));
    }
  }

  async function hangUp() {
    if (!conversation) return;
    const { pc, mic, stopListening, stopFollowing, sessionId } = conversation;
    conversation = null;
    stopListening?.();
    stopFollowing?.();
    live.replaceChildren();
    pc.close();
    mic.getTracks().forEach((t) => t.stop());
    talk.disabled = false;
    end.disabled = true;
    status.textContent = "Ended. Fetching the transcript…";
    await settle(sessionId);
    status.textContent = "Ended.";
  }

  talk.addEventListener("click", async () => {
    talk.disabled = true;
    result.replaceChildren();
    delete status.dataset.firstAudioMs;
    try {
      status.textContent = "Starting a session…";
      const started = (await post("/api/v2/sessions/webrtc", { agent_id: agent.id })).data;
      status.dataset.sessionId = started.session_id;
      status.textContent = "Asking for the microphone…";
      const mic = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: true, noiseSuppression: true }, video: false });
      const pc = new RTCPeerConnection({ iceServers: started.ice_servers.map((urls) => ({ urls })) });
      conversation = { pc, mic, sessionId: started.session_id };
      for (const track of mic.getAudioTracks()) pc.addTrack(track, mic);
      let offeredAt = 0;
      pc.addEventListener("track", (event) => {
        const stream = event.streams[0] || new MediaStream([event.track]);
        voice.srcObject = stream;
        conversation.stopListening = listen(stream, meter, (at) => {
          const ms = Math.round(at - offeredAt);
          status.dataset.firstAudioMs = String(ms);
          status.textContent = `Connected: the agent is speaking (first audio ${ms} ms after the offer).`;
        });
      });
      pc.addEventListener("connectionstatechange", () => {
        if (["failed", "closed", "disconnected"].includes(pc.connectionState) && conversation?.pc === pc) {
          status.textContent = `The connection ${pc.connectionState === "failed" ? "failed" : "ended"}.`;
          hangUp();
        }
      });
      await pc.setLocalDescription(await pc.createOffer());
      await gathered(pc); // the offer carries this browser's candidates
      status.textContent = "Connecting…";
      offeredAt = performance.now();
      const offerPath = new URL(started.offer_url, location.href).pathname; // same origin (CSP)
      const answer = (await post(offerPath, { sdp: pc.localDescription.sdp, type: "offer" })).data;
      await pc.setRemoteDescription(answer);
      end.disabled = false;
      conversation.stopFollowing = follow(started.session_id);
      announce(`Talking to ${agent.agent_name}.`);
    } catch (error) {
      status.replaceChildren(errorBox(error));
      if (conversation) {
        conversation.pc.close();
        conversation.mic.getTracks().forEach((t) => t.stop());
        conversation = null;
      }
      talk.disabled = false;
    }
  });
  end.addEventListener("click", hangUp);

  view.append(
    h("h1", {}, `Agent ${agent.agent_name}`),
    facts([
      ["Type", agent.agent_type],
      ["Status", agent.status],
      ["Voice", agent.voice_id],
      ["Language", agent.language],
      ["Intro", agent.intro_message],
      ["Created", when(agent.created_at)],
    ]),
    h(
      "p",
      { class: "row-actions" },
      h("a", { href: `#/agents/${agent.id}/edit` }, "Edit this agent"),
      h("a", { href: `#/calls?agent=${agent.id}` }, "This agent's calls"),
    ),
    h("h2", {}, "Talk to this agent"),
    h(
      "p",
      { class: "muted" },
      "A browser session over WebRTC, straight to this platform: the agent runs as on a phone call (its intro, prompt and voice) and hears your microphone. Sessions are not recorded or billed.",
    ),
    h("div", { class: "row-actions" }, talk, end),
    status,
    h("div", { class: "player" }, voice, meter),
    live,
    result,
  );
  return () => {
    if (conversation) hangUp();
  };
}
