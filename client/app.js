// LingoLive browser client: microphone -> WebRTC -> server; translated audio + captions back.
// Signaling protocol: docs/protocol.md. No framework, no build step.

const $ = (id) => document.getElementById(id);
const ui = {
  source: $("source"), target: $("target"), swap: $("swap"), mic: $("mic"),
  status: $("status"), captions: $("captions"), audio: $("remote"),
  last: $("lat-last"), median: $("lat-median"), rtt: $("lat-rtt"), breakdown: $("lat-breakdown"),
  name: $("name"), createRoom: $("create-room"), inviteBox: $("invite-box"), invite: $("invite"),
  copyInvite: $("copy-invite"), roomInfo: $("room-info"), participants: $("participants"),
};

const state = {
  config: null,       // GET /api/config
  ws: null,
  pc: null,
  stream: null,
  segments: new Map(), // segment_id -> {li, src, dst, meta}
  latencies: [],
  statsTimer: null,
  sessionId: null,
  room: null,          // {room, token} when joining a room (from the invite link)
  participants: [],
  ready: null,         // the server's `ready` message for this session
  listening: false,    // ready and the media connection is up: speech now reaches the server
};
// Exposed for tests and for the curious: what happened in this page.
window.lingolive = state;

function setStatus(text, isError = false) {
  ui.status.textContent = text;
  ui.status.classList.toggle("error", isError);
}

function langName(code) {
  for (const p of state.config.pairs) {
    if (p.source === code) return p.source_name;
    if (p.target === code) return p.target_name;
  }
  return code;
}

function fillPickers() {
  const pairs = state.config.pairs;
  const sources = [...new Set(pairs.map((p) => p.source))];
  ui.source.innerHTML = "";
  for (const code of sources) ui.source.add(new Option(langName(code), code));
  if (!state.room) ui.source.add(new Option("Detect automatically", "auto"));
  ui.source.value = sources.includes(state.config.default_source) ? state.config.default_source : sources[0];
  fillTargets(state.config.default_target);
}

// Offer only targets the server can actually reach from the chosen source. In a room, what
// I hear comes from the others, whatever they speak: any language the server speaks (or mine).
function fillTargets(preferred) {
  const src = ui.source.value;
  const pairs = state.config.pairs;
  const targets = state.room
    ? [...new Set([src, ...pairs.map((p) => p.target)])]
    : [...new Set(pairs.filter((p) => src === "auto" || p.source === src).map((p) => p.target))];
  const keep = preferred || ui.target.value;
  ui.target.innerHTML = "";
  for (const code of targets) ui.target.add(new Option(langName(code), code));
  if (targets.includes(keep)) ui.target.value = keep;
}

async function loadConfig() {
  const res = await fetch("/api/config");
  if (!res.ok) throw new Error(`server answered ${res.status}`);
  state.config = await res.json();
  fillPickers();
  ui.mic.disabled = false;
  setStatus("Ready. Press “Start microphone” and speak.");
}

// Captions are keyed by speaker (rooms) and segment: every speaker numbers their own.
function segment(msg) {
  const who = msg.speaker ? msg.speaker.id : "me";
  const key = `${who}:${msg.segment_id}`;
  let seg = state.segments.get(key);
  if (!seg) {
    const li = document.createElement("li");
    li.dataset.segment = msg.segment_id;
    li.dataset.speaker = who;
    const name = document.createElement("div"); name.className = "who";
    if (msg.speaker) name.textContent = msg.speaker.id === state.sessionId ? "You" : msg.speaker.display_name;
    const src = document.createElement("div"); src.className = "src partial";
    const dst = document.createElement("div"); dst.className = "dst";
    const meta = document.createElement("div"); meta.className = "meta";
    li.append(name, src, dst, meta);
    ui.captions.append(li);
    seg = { li, src, dst, meta };
    state.segments.set(key, seg);
  }
  return seg;
}

function showParticipants(list) {
  state.participants = list;
  ui.participants.innerHTML = "";
  for (const p of list) {
    const li = document.createElement("li");
    const me = p.id === state.sessionId ? " (you)" : "";
    li.textContent = `${p.display_name}${me}: speaks ${langName(p.source_lang)}, hears ${langName(p.target_lang)}`;
    li.dataset.participant = p.id;
    ui.participants.append(li);
  }
}

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)] : null;
}

const fmt = (ms) => (ms === null || ms === undefined ? "–" : `${Math.round(ms)} ms`);

function onTiming(msg) {
  // In a room, one phrase is voiced once per listener language: keep the one I hear.
  if (msg.speaker && msg.lang && msg.lang !== ui.target.value) return;
  const seg = segment(msg);
  const parts = [];
  if (msg.first_audio_out_ms !== null) parts.push(`speech end → audio out ${fmt(msg.first_audio_out_ms)}`);
  parts.push(`VAD ${fmt(msg.speech_end_ms)}`, `STT ${fmt(msg.stt_ms)}`, `MT ${fmt(msg.mt_ms)}`,
    `TTS first audio ${fmt(msg.tts_first_audio_ms)}`);
  seg.meta.textContent = parts.join(" · ");
  if (msg.first_audio_out_ms !== null) {
    state.latencies.push(msg.first_audio_out_ms);
    ui.last.textContent = fmt(msg.first_audio_out_ms);
    ui.median.textContent = fmt(median(state.latencies));
    ui.breakdown.textContent = parts.slice(1).join(" · ");
  }
}

// "Listening" only once speech can reach the server: the session is ready *and* ICE/DTLS
// connected. Before that the microphone already runs, but what is said is lost.
function showListening() {
  const msg = state.ready;
  if (!msg || !state.pc || state.pc.connectionState !== "connected") return;
  state.listening = true;
  setStatus(`Listening: ${langName(msg.source_lang)} → ${langName(msg.target_lang)}`);
}

function onMessage(msg) {
  switch (msg.type) {
    case "answer":
      state.sessionId = msg.session_id;
      state.pc.setRemoteDescription({ type: "answer", sdp: msg.sdp }).catch((e) => fail(`Could not apply the answer: ${e}`));
      break;
    case "ready":
      state.ready = msg;
      showListening();
      break;
    case "transcript": {
      const seg = segment(msg);
      seg.src.textContent = msg.text;
      seg.src.classList.toggle("partial", !msg.final);
      seg.src.lang = msg.lang;
      break;
    }
    case "translation": {
      if (msg.speaker && msg.lang !== ui.target.value) break;  // another listener's language
      const seg = segment(msg);
      seg.dst.textContent = msg.text;
      seg.dst.lang = msg.lang;
      break;
    }
    case "timing":
      onTiming(msg);
      break;
    case "participant_joined":
    case "participant_left":
      showParticipants(msg.participants);
      ui.roomInfo.hidden = false;
      ui.roomInfo.textContent = `Room ${msg.room}: ${msg.participants.length} here` +
        (msg.type === "participant_joined" ? ` (${msg.participant.display_name} joined)` : ` (${msg.participant.display_name} left)`);
      break;
    case "error":
      if (msg.segment_id !== null && msg.segment_id !== undefined) {
        const seg = segment(msg);
        const err = document.createElement("div"); err.className = "err"; err.textContent = msg.message;
        seg.li.append(err);
      } else {
        fail(msg.message);
      }
      break;
    default:
      break;
  }
}

function fail(text) {
  setStatus(text, true);
  stop(false);
}

function waitForIce(pc, ms) {
  // Send a complete offer when gathering is quick (LAN); after `ms`, send what we have and
  // trickle the rest as `candidate` messages.
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => { pc.removeEventListener("icegatheringstatechange", check); resolve(); };
    const check = () => { if (pc.iceGatheringState === "complete") done(); };
    pc.addEventListener("icegatheringstatechange", check);
    setTimeout(done, ms);
  });
}

async function start() {
  ui.mic.disabled = true;
  setStatus("Asking for the microphone…");
  try {
    state.stream = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true, channelCount: 1 },
    });
  } catch (e) {
    ui.mic.disabled = false;
    setStatus(`Microphone unavailable: ${e.message}. Pages off localhost need https.`, true);
    return;
  }
  const pc = new RTCPeerConnection({ iceServers: state.config.ice_servers || [] });
  state.pc = pc;
  for (const track of state.stream.getAudioTracks()) pc.addTrack(track, state.stream);
  pc.ontrack = (ev) => {
    ui.audio.srcObject = ev.streams[0] || new MediaStream([ev.track]);
    ui.audio.play().catch(() => setStatus("Click anywhere to allow audio playback.", true));
  };
  pc.onconnectionstatechange = () => {
    if (pc.connectionState === "failed") fail("The media connection failed (firewall or NAT? see README: TURN).");
    if (pc.connectionState === "connected") showListening();
  };

  const proto = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${proto}://${location.host}/ws`);
  state.ws = ws;
  ws.onmessage = (ev) => onMessage(JSON.parse(ev.data));
  ws.onclose = () => { if (state.ws === ws) { setStatus("Disconnected."); stop(false); } };
  await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = () => reject(new Error("WebSocket failed")); })
    .catch((e) => fail(e.message));
  if (ws.readyState !== WebSocket.OPEN) return;

  const pending = [];
  let offerSent = false;
  pc.onicecandidate = (ev) => {
    const c = ev.candidate;
    const msg = { type: "candidate", candidate: c ? c.candidate : null, sdpMid: c ? c.sdpMid : null,
      sdpMLineIndex: c ? c.sdpMLineIndex : null };
    if (!c) return;
    if (offerSent) ws.send(JSON.stringify(msg)); else pending.push(msg);
  };
  await pc.setLocalDescription(await pc.createOffer());
  await waitForIce(pc, 2000);
  const offer = {
    type: "offer", sdp: pc.localDescription.sdp,
    source_lang: ui.source.value, target_lang: ui.target.value,
  };
  if (state.room) {
    offer.room = state.room.room;
    offer.token = state.room.token;
    if (ui.name.value.trim()) offer.display_name = ui.name.value.trim();
  }
  ws.send(JSON.stringify(offer));
  offerSent = true;
  // Candidates already inside the offer need not be sent again.
  for (const msg of pending) if (!pc.localDescription.sdp.includes(msg.candidate)) ws.send(JSON.stringify(msg));

  ui.mic.textContent = "Stop microphone";
  ui.mic.setAttribute("aria-pressed", "true");
  ui.mic.disabled = false;
  ui.source.disabled = ui.target.disabled = ui.swap.disabled = true;
  setStatus("Connecting…");
  state.statsTimer = setInterval(readStats, 1000);
}

async function readStats() {
  if (!state.pc) return;
  const report = await state.pc.getStats();
  report.forEach((s) => {
    if (s.type === "candidate-pair" && s.state === "succeeded" && s.currentRoundTripTime !== undefined) {
      ui.rtt.textContent = fmt(s.currentRoundTripTime * 1000);
    }
  });
}

function stop(sendBye = true) {
  clearInterval(state.statsTimer);
  state.ready = null;
  state.listening = false;
  const ws = state.ws;
  state.ws = null;
  if (ws && ws.readyState === WebSocket.OPEN) {
    if (sendBye) ws.send(JSON.stringify({ type: "bye" }));
    ws.close();
  }
  if (state.pc) { state.pc.close(); state.pc = null; }
  if (state.stream) { state.stream.getTracks().forEach((t) => t.stop()); state.stream = null; }
  ui.mic.textContent = "Start microphone";
  ui.mic.setAttribute("aria-pressed", "false");
  ui.mic.disabled = !state.config;
  ui.source.disabled = ui.target.disabled = ui.swap.disabled = false;
}

async function createRoom() {
  ui.createRoom.disabled = true;
  try {
    const res = await fetch("/rooms", { method: "POST" });
    if (!res.ok) throw new Error(`server answered ${res.status}`);
    const room = await res.json();
    enterRoom(room.room, room.token);
    ui.invite.value = room.invite_url;
    ui.inviteBox.hidden = false;
    setStatus("Room created. Send the invite link, then start your microphone.");
  } catch (e) {
    setStatus(`Could not create a room: ${e.message}`, true);
  } finally {
    ui.createRoom.disabled = false;
  }
}

function enterRoom(room, token) {
  state.room = { room, token };
  ui.roomInfo.hidden = false;
  ui.roomInfo.textContent = `Room ${room}: start your microphone to join.`;
  ui.createRoom.hidden = true;
  const keep = ui.target.value;
  fillPickers();
  fillTargets(keep);
  if (!ui.invite.value) {
    ui.invite.value = `${location.origin}/?${new URLSearchParams({ room })}#${new URLSearchParams({ token })}`;
    ui.inviteBox.hidden = false;
  }
}

ui.createRoom.addEventListener("click", createRoom);
ui.copyInvite.addEventListener("click", async () => {
  try { await navigator.clipboard.writeText(ui.invite.value); setStatus("Invite link copied."); }
  catch { ui.invite.select(); document.execCommand("copy"); }
});
ui.mic.addEventListener("click", () => (state.pc ? (stop(), setStatus("Stopped.")) : start()));
ui.source.addEventListener("change", () => fillTargets());
ui.swap.addEventListener("click", () => {
  const s = ui.source.value, t = ui.target.value;
  if (s === "auto") return;
  ui.source.value = t;
  fillTargets(s);
});
document.addEventListener("click", () => { if (ui.audio.srcObject && ui.audio.paused) ui.audio.play().catch(() => {}); });
window.addEventListener("beforeunload", () => stop());

loadConfig()
  .then(() => {
    const params = new URLSearchParams(location.search);
    // The invite's token is in the fragment (#token=…), which never reaches a server log;
    // links from before kept it in the query.
    const token = new URLSearchParams(location.hash.slice(1)).get("token") || params.get("token");
    if (params.get("room") && token) enterRoom(params.get("room"), token);
    if (params.get("name")) ui.name.value = params.get("name");
    for (const [key, el] of [["source", ui.source], ["target", ui.target]]) {
      const want = params.get(key);
      if (want && [...el.options].some((o) => o.value === want)) {
        el.value = want;
        if (key === "source") fillTargets();
      }
    }
  })
  .catch((e) => setStatus(`Could not reach the server: ${e.message}`, true));
