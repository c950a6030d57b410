// NAILA device page: WHIP to the gateway, events over SSE, photo upload. No external code.
"use strict";

const SPEECH_RMS = 0.01;        // mic blocks louder than this count as speech (-40 dBFS)
const REPLY_RMS = 0.003;        // reply audio louder than this counts as heard
const SPEAKING_HOLD_S = 0.6;    // reply silence after which the page is listening again
const base = location.pathname.replace(/[^/]*$/, "");  // works under HA ingress prefixes
const $ = (id) => document.getElementById(id);

const page = {
  // read by people (the DOM) and by tests/benches (window.nailaPage)
  state: "off", session: null, events: [], turns: [], errors: [],
  lastSpeechAt: null, replyEnergy: 0, heardAt: null,
};
window.nailaPage = page;
page.micEnabled = () => !!(mic && mic.getAudioTracks()[0].enabled);

// ---- identity and access --------------------------------------------------------------
function loadDevice() {
  try { return JSON.parse(localStorage.getItem("naila.device") || "null"); } catch { return null; }
}
function slug(text) {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, "_").replace(/^_+|_+$/g, "").slice(0, 40);
}
const params = new URLSearchParams(location.search);
if (params.get("token")) {
  localStorage.setItem("naila.token", params.get("token"));
  params.delete("token");
  history.replaceState(null, "", location.pathname + (params.size ? "?" + params : ""));
}
const token = localStorage.getItem("naila.token");
function authHeaders(extra) {
  return Object.assign(token ? { Authorization: "Bearer " + token } : {}, extra || {});
}
async function api(path, options) {
  const response = await fetch(base + path, Object.assign({}, options, {
    headers: authHeaders(options && options.headers),
  }));
  if (!response.ok) {
    let reason = response.statusText;
    try { const body = await response.json(); reason = body.message || body.error; } catch { /* not JSON */ }
    throw new Error(`${response.status}: ${reason}`);
  }
  return response;
}

let device = loadDevice();
function showDevice() {
  $("setup").hidden = !!device;
  $("talk").hidden = !device;
  $("forget").hidden = !device;
  $("device-label").textContent = device ? `${device.name}${device.zone ? " · " + device.zone : ""}` : "";
}
$("setup").addEventListener("submit", (event) => {
  event.preventDefault();
  const name = $("name").value.trim();
  const zone = $("zone").value.trim();
  const id = "web_" + (slug(name) || "device") + "_" + Math.random().toString(36).slice(2, 6);
  device = { id, name, zone };
  localStorage.setItem("naila.device", JSON.stringify(device));
  showDevice();
});
$("forget").addEventListener("click", async () => {
  await stop();
  localStorage.removeItem("naila.device");
  device = null;
  $("name").value = "";
  $("zone").value = "";
  showDevice();
});

// ---- state shown to the user --------------------------------------------------------------
function setState(state) {
  page.state = state;
  $("state").dataset.state = state;
  $("state").textContent = state;
}
function say(text) { $("message").textContent = text; }
function fail(error) {
  page.errors.push(String(error));
  say(String(error.message || error));
}

function addTurn(you, naila, timing) {
  const item = document.createElement("li");
  if (you) {
    const line = document.createElement("div");
    line.className = "you";
    line.textContent = you;
    item.append(line);
  }
  const reply = document.createElement("div");
  reply.className = "naila";
  reply.textContent = naila;
  const small = document.createElement("div");
  small.className = "timing";
  small.textContent = timing || "";
  item.append(reply, small);
  $("turns").prepend(item);
  while ($("turns").children.length > 50) $("turns").lastChild.remove();
  return small;
}

// The live (partial) transcript of the utterance being spoken; the reply's final one replaces it.
function showLive(text, requestId) {
  const live = $("live");
  live.textContent = text;
  live.dataset.requestId = requestId || "";
  live.hidden = !text;
}

// One spoken turn: speech end (mic clock), first reply sample heard, the gateway's reply event.
let pending = null;
function showTiming(turn) {
  if (!turn.record || turn.heardAt === null || turn.speechEnd === null) return;
  turn.record.heard_ms = Math.round((turn.heardAt - turn.speechEnd) * 1000);
  turn.timingEl.textContent = [turn.gatewayText, `${turn.record.heard_ms} ms heard here`]
    .filter(Boolean).join(" · ");
}

// ---- audio: levels, speech end, first reply sample ----------------------------------------
let audio = null;   // {context, mic, micNode, remoteNode}
async function startAudio(micStream) {
  const context = new AudioContext({ latencyHint: "interactive" });
  await context.audioWorklet.addModule(base + "static/meter-worklet.js");
  const micNode = new AudioWorkletNode(context, "naila-meter");
  context.createMediaStreamSource(micStream).connect(micNode);
  micNode.port.onmessage = ({ data }) => {
    $("level").value = Math.min(1, data.rms * 8);
    if (data.rms > SPEECH_RMS && micStream.getAudioTracks()[0].enabled) {
      page.lastSpeechAt = data.time + 256 / context.sampleRate;
    }
  };
  audio = { context, micNode, remoteNode: null };
}
function watchReply(stream) {
  const { context } = audio;
  const node = new AudioWorkletNode(context, "naila-meter");
  context.createMediaStreamSource(stream).connect(node);
  node.port.onmessage = ({ data }) => {
    page.replyEnergy = data.rms;
    if (data.rms > REPLY_RMS) {
      page.heardAt = data.time;
      if (pending && pending.heardAt === null) {
        pending.heardAt = data.time;
        showTiming(pending);
      }
      if (page.state !== "speaking") setState("speaking");
    } else if (page.state === "speaking" && data.time - (page.heardAt || 0) > SPEAKING_HOLD_S) {
      setState("listening");
    }
  };
  audio.remoteNode = node;
}

// ---- events from the gateway --------------------------------------------------------------
let feed = null;
function openFeed() {
  const query = token ? "?token=" + encodeURIComponent(token) : "";
  feed = new EventSource(`${base}api/devices/${encodeURIComponent(device.id)}/events${query}`);
  feed.onmessage = (message) => {
    let event;
    try { event = JSON.parse(message.data); } catch { return; }
    page.events.push(event);
    if (page.events.length > 500) page.events.shift();
    onEvent(event);
  };
}
function onEvent(event) {
  switch (event.event) {
    case "utterance":
      pending = { speechEnd: page.lastSpeechAt, heardAt: null, record: null, requestId: event.request_id };
      setState("thinking");
      break;
    case "transcript":
      if (event.final === false) showLive(event.text || "", event.request_id);
      break;
    case "wake":
      say(`wake word: ${event.model || event.wake_word || ""}`);
      break;
    case "state": {
      const shown = { idle: "listening", listening: "listening", processing: "thinking", responding: "speaking" };
      if (shown[event.state] && page.state !== "speaking") setState(shown[event.state]);
      break;
    }
    case "reply": {
      const record = { request_id: event.request_id, transcript: event.transcript, reply: event.reply,
        first_audio_ms: event.first_audio_ms, heard_ms: null,
        timings: event.timings || {}, gateway_timings: event.gateway_timings || {} };
      page.turns.push(record);
      showLive("", null);
      const gatewayText = event.first_audio_ms != null
        ? `first audio ${Math.round(event.first_audio_ms)} ms (gateway)` : "";
      const timingEl = addTurn(event.transcript || "", event.reply || "", gatewayText);
      if (pending && pending.requestId === event.request_id) {
        Object.assign(pending, { record, timingEl, gatewayText });
        showTiming(pending);
      }
      break;
    }
    case "interrupted":
      pending = null;
      if ($("live").dataset.requestId === event.request_id) showLive("", null);
      setState("listening");
      break;
    case "error":
    case "server_unavailable":
    case "timeout":
      pending = null;
      showLive("", null);
      say(`${event.event}: ${event.message || event.code || ""}`);
      setState("listening");
      break;
    default:
      break;
  }
}

// ---- WebRTC over WHIP -----------------------------------------------------------------------
let pc = null, mic = null, camera = null, videoSender = null;
async function start() {
  if (pc) return;
  say("");
  $("start").disabled = true;
  try {
    mic = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
    });
    await startAudio(mic);
    openFeed();
    pc = new RTCPeerConnection({ iceServers: [] });
    pc.addTransceiver(mic.getAudioTracks()[0], { direction: "sendrecv" });
    videoSender = pc.addTransceiver("video", { direction: "sendonly" }).sender;
    pc.ontrack = (event) => {
      if (event.track.kind !== "audio") return;
      const stream = event.streams[0] || new MediaStream([event.track]);
      $("speaker").srcObject = stream;
      watchReply(stream);
    };
    pc.onconnectionstatechange = () => {
      if (pc && pc.connectionState === "connected") setState("listening");
      if (pc && (pc.connectionState === "failed" || pc.connectionState === "closed")) {
        say("connection lost");
        stop();
      }
    };
    await pc.setLocalDescription(await pc.createOffer());
    await gatheringComplete(pc);
    const query = new URLSearchParams({
      name: device.name, zone: device.zone || "", listening_mode: $("mode").value,
    });
    const response = await api(`whip/${encodeURIComponent(device.id)}?${query}`, {
      method: "POST", headers: { "Content-Type": "application/sdp" }, body: pc.localDescription.sdp,
    });
    page.session = response.headers.get("Location");
    await pc.setRemoteDescription({ type: "answer", sdp: await response.text() });
    setState("connecting");
    $("stop").hidden = false;
    $("start").hidden = true;
    for (const id of ["mute", "camera", "ptt"]) $(id).disabled = false;
    applyMode(false);
  } catch (error) {
    fail(error);
    await stop();
  } finally {
    $("start").disabled = false;
  }
}
function gatheringComplete(connection) {
  if (connection.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => { if (connection.iceGatheringState === "complete") resolve(); };
    connection.addEventListener("icegatheringstatechange", done);
    setTimeout(resolve, 3000);  // send what was gathered so far
  });
}
async function stop() {
  const location_ = page.session;
  page.session = null;
  if (location_) {
    try {
      await fetch(new URL(location_, location.href), { method: "DELETE", headers: authHeaders() });
    } catch { /* the gateway also ends it when the connection fails */ }
  }
  if (feed) { feed.close(); feed = null; }
  if (pc) { const old = pc; pc = null; old.close(); }
  for (const stream of [mic, camera]) if (stream) stream.getTracks().forEach((t) => t.stop());
  mic = camera = videoSender = null;
  if (audio) { audio.context.close(); audio = null; }
  $("preview").hidden = true;
  $("camera").textContent = "Camera on";
  $("camera").setAttribute("aria-pressed", "false");
  $("stop").hidden = true;
  $("start").hidden = false;
  for (const id of ["mute", "camera", "ptt"]) $(id).disabled = true;
  setState("off");
}

// ---- controls -------------------------------------------------------------------------------
$("start").addEventListener("click", start);
$("stop").addEventListener("click", stop);
$("mute").addEventListener("click", () => {
  if (!mic) return;
  const track = mic.getAudioTracks()[0];
  const muted = $("mute").getAttribute("aria-pressed") !== "true";
  $("mute").setAttribute("aria-pressed", String(muted));
  $("mute").textContent = muted ? "Unmute" : "Mute";
  track.enabled = !muted && $("mode").value !== "push_to_talk";
});
$("camera").addEventListener("click", async () => {
  if (!videoSender) return;
  try {
    if (camera) {
      await videoSender.replaceTrack(null);
      camera.getTracks().forEach((t) => t.stop());
      camera = null;
    } else {
      camera = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 } });
      await videoSender.replaceTrack(camera.getVideoTracks()[0]);
      $("preview").srcObject = camera;
      $("preview").play().catch(() => {});
    }
    const on = !!camera;
    $("preview").hidden = !on;
    $("camera").textContent = on ? "Camera off" : "Camera on";
    $("camera").setAttribute("aria-pressed", String(on));
  } catch (error) { fail(error); }
});

const savedMode = localStorage.getItem("naila.mode");
if (savedMode) $("mode").value = savedMode;
$("mode").addEventListener("change", () => {
  localStorage.setItem("naila.mode", $("mode").value);
  applyMode(true);
});
async function applyMode(remember) {
  const mode = $("mode").value;
  const ptt = mode === "push_to_talk";
  $("ptt").hidden = !ptt;
  if (mic) mic.getAudioTracks()[0].enabled = !ptt && $("mute").getAttribute("aria-pressed") !== "true";
  if (!remember || !device || !pc) return;  // at start the WHIP offer carries the mode
  try {
    await api(`api/devices/${encodeURIComponent(device.id)}/settings`, {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ listening_mode: mode }),
    });
  } catch (error) { fail(error); }
}
let releaseTimer = null;
async function talk(held) {
  if (!mic || $("mode").value !== "push_to_talk") return;
  $("ptt").classList.toggle("held", held);
  clearTimeout(releaseTimer);
  const track = mic.getAudioTracks()[0];
  if (held) track.enabled = $("mute").getAttribute("aria-pressed") !== "true";
  try {
    await api(`api/devices/${encodeURIComponent(device.id)}/command`, {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ command: held ? "talk_start" : "talk_end" }),
    });
  } catch (error) { fail(error); }
  // the gateway ends the utterance on the next frame after talk_end: keep sending a moment
  if (!held) releaseTimer = setTimeout(() => { track.enabled = false; }, 500);
}
$("ptt").addEventListener("pointerdown", (event) => {
  event.preventDefault();
  $("ptt").setPointerCapture(event.pointerId);  // a finger sliding off still holds the button
  talk(true);
});
for (const name of ["pointerup", "pointercancel"]) {
  $("ptt").addEventListener(name, () => { if ($("ptt").classList.contains("held")) talk(false); });
}

$("photo").addEventListener("submit", async (event) => {
  event.preventDefault();
  const file = $("photo-file").files[0];
  if (!file || !device) { say("choose a photo first"); return; }
  const question = $("photo-question").value.trim() || "What is in this picture?";
  say("asking about the photo…");
  setState(pc ? "thinking" : page.state);
  try {
    const response = await api(
      `api/devices/${encodeURIComponent(device.id)}/upload?question=${encodeURIComponent(question)}`,
      { method: "POST", headers: { "Content-Type": file.type || "image/jpeg" }, body: file },
    );
    const answer = await response.json();
    page.turns.push({ transcript: question, reply: answer.answer, photo: true });
    addTurn(`Photo: ${question}`, answer.answer, answer.spoken ? "" : "(not spoken: press Start to hear answers)");
    say("");
  } catch (error) { fail(error); }
  if (page.state === "thinking") setState(pc ? "listening" : "off");
});

window.addEventListener("pagehide", () => {
  if (page.session) {
    fetch(new URL(page.session, location.href), { method: "DELETE", headers: authHeaders(), keepalive: true });
  }
});
showDevice();
