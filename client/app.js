// LingoLive browser client: microphone -> WebRTC -> server; translated audio + captions back.
// Signaling protocol: docs/protocol.md. No framework, no build step.

import { CaptionStore, FORMATS, toTXT } from "./captions.js";
import { LevelMeter } from "./meter.js";
import { SfuSession } from "./sfu.js";

const $ = (id) => document.getElementById(id);
const ui = {
  source: $("source"), target: $("target"), swap: $("swap"), mic: $("mic"),
  conversation: $("conversation"), conversationBox: $("conversation-box"),
  listenOnly: $("listen-only"), listenOnlyBox: $("listen-only-box"),
  mute: $("mute"), ptt: $("ptt"), talk: $("talk"), level: $("level"), speaking: $("speaking"),
  skip: $("skip"), devices: $("devices"), micDevice: $("mic-device"), speakerDevice: $("speaker-device"),
  speakerBox: $("speaker-box"),
  status: $("status"), notices: $("notices"), captions: $("captions"), captionsEmpty: $("captions-empty"),
  audio: $("remote"),
  latency: $("latency"), last: $("lat-last"), median: $("lat-median"), rtt: $("lat-rtt"), breakdown: $("lat-breakdown"),
  name: $("name"), createRoom: $("create-room"), inviteBox: $("invite-box"), invite: $("invite"),
  copyInvite: $("copy-invite"), roomInfo: $("room-info"), participants: $("participants"),
  fontDown: $("font-down"), fontUp: $("font-up"), showTimings: $("show-timings"), copy: $("copy"),
  clear: $("clear"), captionsBox: $("captions-box"), convHead: $("conv-head"), convLeft: $("conv-left"),
  convRight: $("conv-right"), sayForm: $("say-form"), sayText: $("say-text"), saySend: $("say-send"),
};

/** Captions kept in the page (older ones stay in storage and in the exports). */
const MAX_DOM_CAPTIONS = 500;
/** Waits between reconnection attempts (s): doubled each time, capped. */
const RECONNECT_CAP_S = 10;
const BUSY_CAP_S = 30;
/** SFU rooms: the longest wait between two tries to get back into Janus (s). */
const SFU_RETRY_CAP_S = 10;
/** Errors after which trying again cannot help: the session ends and says why. */
const CLOSING_CODES = new Set(["connection_failed", "connect_timeout", "idle_timeout", "server_shutdown",
  "offer_timeout", "too_many_connections"]);
const PREFS_KEY = "lingolive.prefs.v1";

const state = {
  config: null,       // GET /api/config
  ws: null,
  pc: null,
  stream: null,       // the microphone's MediaStream
  track: null,        // its audio track (the one sent)
  segments: new Map(), // caption key -> {li, src, dst, meta, phrase}
  latencies: [],
  statsTimer: null,
  sessionId: null,
  room: null,          // {room, token} when joining a room (from the invite link)
  sfu: null,           // SfuSession (sfu.js) while in an SFU room: audio through Janus
  sfuWait: null,       // resolves the `sfu_listen` asked when joining a room (see connect)
  sfuReady: null,      // the latest `sfu_ready` while in an SFU room (this connection)
  sfuTimer: null,      // the next try to get back into Janus
  sfuAttempt: 0,       // tries since the page last had the room's audio
  sfuTrouble: false,   // Janus was lost (or is being restarted): failing to reach it is no news
  sfuWasUp: false,     // this session had the room's audio once
  participants: [],
  ready: null,         // the server's latest `ready` for this connection
  listening: false,    // ready and the media connection is up: speech now reaches the server
  wanted: false,       // a session is running (or reconnecting): the user pressed Start
  attempt: 0,          // reconnection attempts since media last flowed
  retryTimer: null,
  tag: "",             // this connection's id in caption keys (segment ids restart per session)
  conversation: null,  // {source, target} while a conversation session runs
  muted: false,        // the Mute button
  ptt: false,          // push-to-talk on
  holding: false,      // space / "Hold to talk" held
  sentMuted: false,    // what the server was last told
  lastError: null,     // the last session-level `error` message
  pendingListen: null, // the language asked for with `listen`, until the server's `ready`
  reconnecting: false, // the connection dropped and is being made again
  speaking: new Set(), // ids of who speaks now ("me" in loopback)
  level: 0,            // the microphone level shown, 0..1
  wakeLock: null,
  store: new CaptionStore(),
  prefs: loadPrefs(),
};
// Exposed for tests and for the curious: what happened in this page.
window.lingolive = state;

const meter = new LevelMeter((level) => { state.level = level; ui.level.value = level; });

function loadPrefs() {
  const defaults = { fontScale: 1, showTimings: false, listenOnly: false };
  try { return { ...defaults, ...JSON.parse(localStorage.getItem(PREFS_KEY) || "{}") }; }
  catch { return defaults; }
}
function savePrefs() {
  try { localStorage.setItem(PREFS_KEY, JSON.stringify(state.prefs)); } catch { /* storage blocked */ }
}

function setStatus(text, isError = false) {
  ui.status.textContent = text;
  ui.status.classList.toggle("error", isError);
}

// --- notices: dismissable lines ------------------------------------------------------------

const NOTICE_TEXT = {
  tts_fallback: "The online voice could not be reached: the offline voice spoke instead.",
  audio_dropped: "Some microphone audio was dropped: the server could not keep up.",
  recognition_behind: "Recognition fell behind: the next phrases are merged and come later. “Skip backlog” drops what waits to be spoken.",
};

/** Show a line until dismissed (or for `ttl` ms). A repeated `code` replaces its line. */
function notice(text, { code = null, ttl = 0, action = null, error = false } = {}) {
  if (code) for (const old of ui.notices.querySelectorAll(`li[data-code="${code}"]`)) old.remove();
  const li = document.createElement("li");
  li.classList.toggle("error", error);
  if (code) li.dataset.code = code;
  const span = document.createElement("span");
  span.textContent = text;
  li.append(span);
  if (action) {
    const act = document.createElement("button");
    act.type = "button"; act.textContent = action.label;
    act.addEventListener("click", () => { li.remove(); action.run(); });
    li.append(act);
  }
  const close = document.createElement("button");
  close.type = "button"; close.className = "dismiss"; close.textContent = "×";
  close.setAttribute("aria-label", "Dismiss");
  close.addEventListener("click", () => li.remove());
  li.append(close);
  ui.notices.append(li);
  while (ui.notices.children.length > 4) ui.notices.firstElementChild.remove();
  if (ttl) setTimeout(() => li.remove(), ttl);
  return li;
}

// --- languages -------------------------------------------------------------------------------

function langName(code) {
  if (code === "auto") return "Detect automatically";
  for (const p of state.config.pairs) {
    if (p.source === code) return p.source_name;
    if (p.target === code) return p.target_name;
  }
  return code;
}

function fillPickers() {
  const pairs = state.config.pairs;
  const sources = [...new Set(pairs.map((p) => p.source))];
  const keep = ui.source.value;
  ui.source.innerHTML = "";
  for (const code of sources) ui.source.add(new Option(langName(code), code));
  if (!state.room && !ui.conversation.checked) ui.source.add(new Option("Detect automatically", "auto"));
  const want = keep || state.config.default_source;
  ui.source.value = [...ui.source.options].some((o) => o.value === want) ? want
    : sources.includes(state.config.default_source) ? state.config.default_source : sources[0];
  fillTargets(ui.target.value || state.config.default_target);
}

// Offer only targets the server can actually reach from the chosen source (both ways in a
// conversation). In a room, what I hear comes from the others, whatever they speak: any
// language the server speaks (or mine).
function fillTargets(preferred) {
  const src = ui.source.value;
  const pairs = state.config.pairs;
  const served = (a, b) => pairs.some((p) => p.source === a && p.target === b);
  let targets;
  if (state.room) targets = [...new Set([src, ...pairs.map((p) => p.target)])];
  else {
    targets = [...new Set(pairs.filter((p) => src === "auto" || p.source === src).map((p) => p.target))];
    if (ui.conversation.checked) targets = targets.filter((t) => served(t, src));
  }
  const keep = preferred || ui.target.value;
  ui.target.innerHTML = "";
  for (const code of targets) ui.target.add(new Option(langName(code), code));
  if (targets.includes(keep)) ui.target.value = keep;
}

/** The language I hear now: the server's word once it answered, else the picker. */
const hearing = () => (state.ready ? state.ready.target_lang : ui.target.value);

async function loadConfig() {
  const res = await fetch("/api/config");
  if (!res.ok) throw new Error(`server answered ${res.status}`);
  state.config = await res.json();
  fillPickers();
  applyLink();
  ui.mic.disabled = false;
  if (!window.isSecureContext) setStatus(INSECURE, true);
  else setStatus(state.room ? "Ready. Press “Join the room” and speak." : "Ready. Press “Start microphone” and speak.");
}

// --- captions --------------------------------------------------------------------------------

const clockTime = (ms) => new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });

/** Build one caption's <li> (empty, appended to the log, then filled: so that only final
 * text is an addition the log announces; partial text sits in `aria-live="off"`). */
function captionItem(phrase) {
  const li = document.createElement("li");
  li.dataset.key = phrase.id;
  li.dataset.speaker = phrase.speakerId || "me";
  if (phrase.segmentId !== undefined) li.dataset.segment = phrase.segmentId;
  if (phrase.side) li.dataset.side = phrase.side;
  const head = document.createElement("div"); head.className = "head"; head.setAttribute("aria-live", "off");
  const name = document.createElement("span"); name.className = "who";
  const ts = document.createElement("time"); ts.className = "ts";
  head.append(name, ts);
  const src = document.createElement("div"); src.className = "src partial"; src.setAttribute("aria-live", "off");
  const dst = document.createElement("div"); dst.className = "dst";
  const meta = document.createElement("div"); meta.className = "meta"; meta.setAttribute("aria-live", "off");
  li.append(head, src, dst, meta);
  ui.captions.append(li);
  while (ui.captions.children.length > MAX_DOM_CAPTIONS) {
    const old = ui.captions.firstElementChild;
    state.segments.delete(old.dataset.key);
    old.remove();
  }
  ui.captionsEmpty.hidden = true;
  name.textContent = phrase.who || "";
  ts.dateTime = new Date(phrase.at).toISOString();
  ts.textContent = clockTime(phrase.at);
  return { li, src, dst, meta, phrase };
}

/** The final text replaces the partial element: a node added to the log, so announced. */
function setSource(seg, text, lang, final) {
  if (final && seg.src.classList.contains("partial")) {
    const node = document.createElement("div");
    node.className = "src";
    node.lang = lang || "";
    node.textContent = text;
    seg.src.replaceWith(node);
    seg.src = node;
  } else {
    seg.src.textContent = text;
    if (lang) seg.src.lang = lang;
  }
}

function setTranslation(seg, text, lang) {
  seg.dst.textContent = text;
  if (lang) seg.dst.lang = lang;
}

function restoreCaptions() {
  ui.captions.setAttribute("aria-busy", "true");
  for (const p of state.store.phrases.slice(-MAX_DOM_CAPTIONS)) {
    const seg = captionItem(p);
    setSource(seg, p.src, p.srcLang, true);
    setTranslation(seg, p.dst, p.dstLang);
  }
  ui.captions.setAttribute("aria-busy", "false");
}

// Captions are keyed by connection, speaker (rooms) and segment: every speaker numbers their
// own, and a new session (a reconnection) starts again at 1.
function segment(msg) {
  const speakerId = msg.speaker ? msg.speaker.id : "me";
  const key = `${state.tag}:${speakerId}:${msg.segment_id}`;
  let seg = state.segments.get(key);
  if (!seg) {
    const now = Date.now();
    state.store.begin(now);
    const who = msg.speaker ? (msg.speaker.id === state.sessionId ? "You" : msg.speaker.display_name) : "";
    const phrase = { id: key, at: now, start: now - state.store.start, end: now - state.store.start,
      who, speakerId, segmentId: msg.segment_id, src: "", srcLang: "", dst: "", dstLang: "", final: false };
    seg = captionItem(phrase);
    state.segments.set(key, seg);
  }
  return seg;
}

/** Keep a phrase's end time and, once it is final, store it (for reloads and exports). */
function touch(seg, endWall = Date.now()) {
  const p = seg.phrase;
  p.end = Math.max(p.end, endWall - state.store.start);
  if (p.final) state.store.put(p);
}

function onTranscript(msg) {
  const seg = segment(msg);
  setSource(seg, msg.text, msg.lang, msg.final);
  const p = seg.phrase;
  p.src = msg.text; p.srcLang = msg.lang; p.final = p.final || msg.final;
  if (state.conversation) {
    p.side = msg.lang === state.conversation.source ? "left" : "right";
    seg.li.dataset.side = p.side;
  }
  touch(seg);
}

function onTranslation(msg) {
  if (msg.speaker && msg.lang !== hearing()) return;  // another listener's language
  const seg = segment(msg);
  setTranslation(seg, msg.text, msg.lang);
  seg.phrase.dst = msg.text; seg.phrase.dstLang = msg.lang;
  touch(seg);
}

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)] : null;
}

const fmt = (ms) => (ms === null || ms === undefined ? "–" : `${Math.round(ms)} ms`);

function onTiming(msg) {
  // In a room, one phrase is voiced once per listener language: keep the one I hear.
  if (msg.speaker && msg.lang && msg.lang !== hearing()) return;
  const seg = segment(msg);
  const parts = [];
  if (msg.first_audio_out_ms !== null) parts.push(`speech end → audio out ${fmt(msg.first_audio_out_ms)}`);
  parts.push(`VAD ${fmt(msg.speech_end_ms)}`, `STT ${fmt(msg.stt_ms)}`, `MT ${fmt(msg.mt_ms)}`,
    `TTS first audio ${fmt(msg.tts_first_audio_ms)}`);
  seg.meta.textContent = parts.join(" · ");
  // The phrase's subtitle runs from when it was spoken to when its translation has played.
  const now = Date.now();
  const p = seg.phrase;
  const start = msg.stages && msg.stages.speech_start;
  if (msg.first_audio_out_ms !== null && typeof start === "number") {
    p.start = Math.max(0, Math.min(p.start, now - msg.first_audio_out_ms + start - state.store.start));
  }
  touch(seg, now + (msg.audio_ms || 0));
  if (msg.first_audio_out_ms !== null) {
    state.latencies.push(msg.first_audio_out_ms);
    ui.last.textContent = fmt(msg.first_audio_out_ms);
    ui.median.textContent = fmt(median(state.latencies));
    ui.breakdown.textContent = parts.slice(1).join(" · ");
  }
}

/** Conversation: captions in two columns, one per person (by the language they speak). */
function showConversation() {
  const c = state.conversation;
  ui.captionsBox.classList.toggle("conversation", !!c);
  ui.convHead.hidden = !c;
  if (c) {
    ui.convLeft.textContent = `${langName(c.source)} speaker`;
    ui.convRight.textContent = `${langName(c.target)} speaker`;
  }
}

function exportCaptions(format) {
  state.store.save();
  const { make, mime } = FORMATS[format];
  const text = make(state.store.phrases, state.store.start);
  const stamp = new Date(state.store.start || Date.now()).toISOString().slice(0, 16).replace(/[-:]/g, "").replace("T", "-");
  const a = document.createElement("a");
  a.href = URL.createObjectURL(new Blob([text], { type: `${mime};charset=utf-8` }));
  a.download = `lingolive-${stamp}.${format}`;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}

async function copyText(text) {
  try { await navigator.clipboard.writeText(text); return true; }
  catch {
    const area = document.createElement("textarea");
    area.value = text; document.body.append(area); area.select();
    const ok = document.execCommand("copy");
    area.remove();
    return ok;
  }
}

function applyPrefs() {
  document.documentElement.style.setProperty("--caption-scale", String(state.prefs.fontScale));
  ui.showTimings.checked = !!state.prefs.showTimings;
  ui.listenOnly.checked = !!state.prefs.listenOnly;
  document.body.classList.toggle("show-timings", !!state.prefs.showTimings);
  ui.latency.hidden = !state.prefs.showTimings;
}

function scaleFont(step) {
  state.prefs.fontScale = Math.min(2.5, Math.max(0.75, Math.round((state.prefs.fontScale + step) * 8) / 8));
  savePrefs(); applyPrefs();
}

// --- rooms -----------------------------------------------------------------------------------

function showParticipants(list) {
  state.participants = list;
  ui.participants.innerHTML = "";
  for (const p of list) {
    const li = document.createElement("li");
    const me = p.id === state.sessionId ? " (you)" : "";
    const name = document.createElement("span");
    // SFU rooms: what a speaker hears is not known (Janus only has "Name [en]").
    const langs = [p.source_lang ? `speaks ${langName(p.source_lang)}` : "",
      p.target_lang ? `hears ${langName(p.target_lang)}` : ""].filter(Boolean).join(", ");
    name.textContent = `${p.display_name}${me}${langs ? `: ${langs}` : ""}`;
    const flags = document.createElement("span"); flags.className = "flags";
    flags.textContent = [p.muted ? "muted" : "", state.speaking.has(p.id) ? "speaking" : ""].filter(Boolean).join(", ");
    li.append(name, flags);
    li.dataset.participant = p.id;
    li.classList.toggle("speaking", state.speaking.has(p.id));
    li.classList.toggle("muted", !!p.muted);
    ui.participants.append(li);
  }
  ui.participants.hidden = list.length === 0;
}

function onParticipants(msg) {
  showParticipants(msg.participants);
  ui.roomInfo.hidden = false;
  const who = msg.participant.display_name;
  const what = { participant_joined: ` (${who} joined)`, participant_left: ` (${who} left)`, participant_updated: "" }[msg.type];
  ui.roomInfo.textContent = `Room ${msg.room}: ${msg.participants.length} here${what}`;
}

/** SFU room: who publishes in the Janus room (its `"Name [en]"` displays). LingoLive's own
 * feeds are not people; listening-only pages never publish, so Janus shows them to nobody. */
function showSfuPeople(list) {
  const people = list.filter((p) => !(p.display || "").startsWith("LingoLive")).map((p) => {
    const m = /^(.*?)\s*\[\s*([A-Za-z]{2,3}(?:-[A-Za-z0-9]+)?)\s*\]\s*$/.exec(p.display || "");
    return { id: String(p.id), display_name: (m ? m[1] : p.display) || "Guest", source_lang: m ? m[2].toLowerCase() : null };
  });
  showParticipants(people);
  ui.roomInfo.hidden = false;
  const n = people.length;
  ui.roomInfo.textContent = `Room ${state.room.room}: ${n ? `${n} speaker${n === 1 ? "" : "s"}` : "nobody speaks yet"}`;
}

function onSpeaking(msg) {
  const id = msg.speaker ? msg.speaker.id : "me";
  if (msg.speaking) state.speaking.add(id); else state.speaking.delete(id);
  const mine = !msg.speaker || msg.speaker.id === state.sessionId;
  if (mine) ui.speaking.hidden = !msg.speaking;
  if (state.participants.length) showParticipants(state.participants);
}

// --- the session -----------------------------------------------------------------------------

const INSECURE = "Open this page over https (or on localhost): browsers only give the microphone to secure pages.";

function micError(e) {
  switch (e && e.name) {
    case "NotAllowedError": case "SecurityError":
      return "Microphone blocked: allow it in the address bar's site settings, then press Start again.";
    case "NotFoundError": case "OverconstrainedError":
      return "No microphone found: plug one in.";
    case "NotReadableError": case "AbortError":
      return "The microphone is busy in another app: close it there and try again.";
    default:
      return `Microphone unavailable: ${e && e.message ? e.message : e}`;
  }
}

function openMic(deviceId) {
  const audio = { echoCancellation: true, noiseSuppression: true, autoGainControl: true, channelCount: 1 };
  if (deviceId) audio.deviceId = { exact: deviceId };
  return navigator.mediaDevices.getUserMedia({ audio }).catch((e) => {
    // A remembered device that is gone: the default one will do.
    if (deviceId && (e.name === "OverconstrainedError" || e.name === "NotFoundError")) return openMic("");
    throw e;
  });
}

/** Send `track` from now on: meter, mute state, and a warning if it ends (unplugged). */
function useTrack(stream) {
  const track = stream.getAudioTracks()[0];
  state.stream = stream;
  state.track = track;
  track.enabled = !effectiveMuted();
  track.addEventListener("ended", () => { if (track === state.track) micLost(); });
  meter.attach(track);
}

function micLost() {
  setStatus("The microphone stopped (unplugged?): pick another one under Devices.", true);
  notice("The microphone stopped.", {
    code: "mic_ended", error: true,
    action: { label: "Use the default microphone", run: () => switchMic("") },
  });
  ui.devices.open = true;
  refreshDevices().then(() => ui.micDevice.focus());
}

async function switchMic(deviceId) {
  if (!state.wanted) return;
  let stream;
  try { stream = await openMic(deviceId); }
  catch (e) { setStatus(micError(e), true); return; }
  if (!state.wanted) { stream.getTracks().forEach((t) => t.stop()); return; }
  const old = state.stream;
  const sender = state.pc && state.pc.getSenders().find((s) => !s.track || s.track.kind === "audio");
  if (sender) await sender.replaceTrack(stream.getAudioTracks()[0]);
  if (state.sfu) await state.sfu.replaceTrack(stream.getAudioTracks()[0]);
  useTrack(stream);
  if (old) old.getTracks().forEach((t) => t.stop());
  for (const li of ui.notices.querySelectorAll('li[data-code="mic_ended"]')) li.remove();
  notice(`Microphone: ${stream.getAudioTracks()[0].label || "default"}`, { code: "mic", ttl: 5000 });
  if (state.listening) showListening();
  refreshDevices();
}

const sinkSupported = typeof HTMLMediaElement !== "undefined" && "setSinkId" in HTMLMediaElement.prototype;

async function refreshDevices() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.enumerateDevices) { ui.devices.hidden = true; return; }
  let list = [];
  try { list = await navigator.mediaDevices.enumerateDevices(); } catch { return; }
  const current = state.track && state.track.readyState === "live" ? state.track.getSettings().deviceId : null;
  fillDevices(ui.micDevice, list.filter((d) => d.kind === "audioinput"), "Microphone", current || state.prefs.micId);
  ui.speakerBox.hidden = !sinkSupported;
  if (sinkSupported) fillDevices(ui.speakerDevice, list.filter((d) => d.kind === "audiooutput"), "Speaker", state.prefs.speakerId);
}

function fillDevices(select, devices, noun, want) {
  const keep = want || select.value;
  select.innerHTML = "";
  select.add(new Option(`Default ${noun.toLowerCase()}`, ""));
  devices.filter((d) => d.deviceId && d.deviceId !== "default").forEach((d, i) =>
    select.add(new Option(d.label || `${noun} ${i + 1}`, d.deviceId)));
  select.value = [...select.options].some((o) => o.value === keep) ? keep : "";
}

const effectiveMuted = () => state.muted || (state.ptt && !state.holding);

function send(msg) {
  if (state.ws && state.ws.readyState === WebSocket.OPEN) { state.ws.send(JSON.stringify(msg)); return true; }
  return false;
}

/** Mute = the track sends silence, and (once the session is ready) the server is told. */
function applyMute() {
  const muted = effectiveMuted();
  if (state.track) state.track.enabled = !muted;
  ui.mute.setAttribute("aria-pressed", String(state.muted));
  ui.talk.setAttribute("aria-pressed", String(state.holding));
  document.body.classList.toggle("muted", muted);
  if (state.ready && muted !== state.sentMuted && send({ type: "mute", muted })) state.sentMuted = muted;
  if (state.listening) showListening();
}

function hold(on) {
  if (!state.ptt || !state.wanted || state.holding === on) return;
  state.holding = on;
  applyMute();
}

// "Listening" only once speech can reach the server: the session is ready *and* ICE/DTLS
// connected. Before that the microphone already runs, but what is said is lost.
function showListening() {
  // SFU room: up once the microphone reaches Janus (sfu.js); what I hear cannot change.
  const sfu = state.sfu && state.sfu.up ? { source_lang: ui.source.value, target_lang: state.sfu.hears } : null;
  const msg = state.ready || sfu;
  if (!msg || (!sfu && (!state.pc || state.pc.connectionState !== "connected"))) return;
  const first = !state.listening;
  state.listening = true;
  if (first && state.reconnecting) {
    const same = state.sessionId && state.sessionId === state.previousSessionId;
    notice(!state.room ? "Reconnected."
      : same ? "Reconnected: back in the room (the others did not see you leave)."
        : "Reconnected: rejoined the room as a new participant (you were away too long).",
    { code: "reconnected", ttl: 8000 });
  }
  state.attempt = 0;
  state.reconnecting = false;
  if (sfu && !state.track) {
    setStatus(`Listening only (no microphone): ${langName(msg.target_lang)}, through the room's audio server`);
    return;
  }
  const arrow = state.conversation ? "⇄" : "→";
  let text = `Listening: ${langName(state.conversation ? state.conversation.source : msg.source_lang)} ${arrow} ${langName(msg.target_lang)}`;
  if (state.conversation) text += " (conversation)";
  if (sfu) text += " (through the room's audio server)";
  if (state.muted) text += " · muted";
  else if (state.ptt) text += state.holding ? " · talking" : " · hold Space or “Hold to talk” to speak";
  setStatus(text);
}

function listen(lang) {
  state.pendingListen = lang;
  if (send({ type: "listen", target_lang: lang })) setStatus(`Switching to ${langName(lang)}…`);
}

function onReady(msg) {
  state.ready = msg;
  if (msg.resume_token) state.resumeToken = msg.resume_token;
  if (state.pendingListen === msg.target_lang) state.pendingListen = null;
  // "I hear" changed while the offer was on its way.
  if (!state.conversation && !state.pendingListen && msg.target_lang !== ui.target.value) listen(ui.target.value);
  if (effectiveMuted() !== state.sentMuted && send({ type: "mute", muted: effectiveMuted() })) state.sentMuted = effectiveMuted();
  showListening();
}

function onError(msg) {
  if (msg.segment_id !== null && msg.segment_id !== undefined) {
    const seg = segment(msg);
    const err = document.createElement("div"); err.className = "err"; err.textContent = msg.message;
    seg.li.append(err);
    return;
  }
  state.lastError = msg;
  const code = msg.code;
  if (state.pendingListen && state.ready && code !== "busy" && !CLOSING_CODES.has(code)) {
    // A refused `listen`: I still hear what the server said last.
    ui.target.value = state.ready.target_lang;
    state.pendingListen = null;
    showListening();
  }
  if (code === "busy") {
    dropConnection();
    retryLater((n) => `Server busy — retrying in ${n} s`, BUSY_CAP_S);
  } else if (CLOSING_CODES.has(code)) {
    setStatus("Reconnecting…");  // the server closes the socket; onclose retries
  } else if ((!state.ready && !state.sfuReady) || code === "session_expired" || code === "sfu_failed") {
    endSession(false);
    setStatus(explain(msg), true);
  } else {
    // The session goes on: a refused `listen`, `say` or similar.
    notice(explain(msg), { code: `error-${code}`, error: true });
  }
}

function explain(msg) {
  switch (msg.code) {
    case "bad_token": case "token_expired":
      return "This invite expired or is not from this server: ask for a new invite.";
    case "room_full":
      return "The room is full: try again later or ask for a new room.";
    case "session_expired":
      return "The session reached its time limit: press Start to go on.";
    case "too_many_requests":
      return "Too many typed phrases in the last minute: wait a little.";
    case "sfu_failed":
      return "The room's translation stopped (the server lost its audio server, Janus): create a new room.";
    default:
      return msg.message;
  }
}

function onMessage(msg) {
  // Joining a room: is it an SFU room? (see connect)
  if (state.sfuWait && (msg.type === "sfu_ready" || msg.type === "error")) {
    const answer = state.sfuWait;
    state.sfuWait = null;
    if (msg.type === "sfu_ready") { answer(msg); return; }
    if (msg.code === "sfu_unavailable") { answer(null); return; }
    answer(false);  // and the error is handled below
  }
  switch (msg.type) {
    case "answer":
      state.sessionId = msg.session_id;
      state.pc.setRemoteDescription({ type: "answer", sdp: msg.sdp })
        .catch((e) => { endSession(false); setStatus(`Could not apply the answer: ${e}`, true); });
      break;
    case "ready": onReady(msg); break;
    case "transcript": onTranscript(msg); break;
    case "translation": onTranslation(msg); break;
    case "timing": onTiming(msg); break;
    case "speaking": onSpeaking(msg); break;
    case "notice":
      if (msg.code === "sfu_recovering") onSfuRecovering(msg);
      else notice(NOTICE_TEXT[msg.code] || msg.message, { code: `notice-${msg.code}` });
      break;
    case "sfu_ready":  // unasked: the room is back on Janus after the server lost it
      if (state.sfuReady && state.wanted) joinSfu(msg);
      break;
    case "participant_joined":
    case "participant_left":
    case "participant_updated":
      onParticipants(msg);
      break;
    case "error": onError(msg); break;
    default: break;
  }
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

const micAvailable = () => window.isSecureContext && navigator.mediaDevices && navigator.mediaDevices.getUserMedia;

async function start() {
  // Listen only (rooms): no microphone asked for; an SFU room joins Janus without publishing.
  const listenOnly = !!state.room && ui.listenOnly.checked;
  if (!listenOnly && !micAvailable()) {
    setStatus(INSECURE, true);
    return;
  }
  const conversation = !state.room && ui.conversation.checked;
  if (conversation && ui.source.value === "auto") {
    setStatus("A conversation needs both languages: pick the one you speak.", true);
    return;
  }
  if (listenOnly) {
    state.stream = state.track = null;
  } else {
    ui.mic.disabled = true;
    setStatus("Asking for the microphone…");
    let stream;
    try {
      stream = await openMic(ui.micDevice.value || state.prefs.micId || "");
    } catch (e) {
      ui.mic.disabled = false;
      setStatus(micError(e), true);
      return;
    }
    useTrack(stream);
    refreshDevices();
  }
  state.sfuWasUp = false;
  if (sinkSupported && state.prefs.speakerId) ui.audio.setSinkId(state.prefs.speakerId).catch(() => {});
  state.wanted = true;
  state.attempt = 0;
  state.conversation = conversation ? { source: ui.source.value, target: ui.target.value } : null;
  showConversation();
  state.store.begin();
  sessionUi(true);
  requestWakeLock();
  connect();
}

/** One connection (WebSocket + peer connection) of the running session. */
async function connect() {
  clearTimeout(state.retryTimer);
  if (!state.wanted) return;
  state.tag = Date.now().toString(36);
  state.ready = null;
  state.listening = false;
  state.sentMuted = false;
  state.lastError = null;
  if (state.sessionId) state.previousSessionId = state.sessionId;
  state.sessionId = null;
  setStatus(state.reconnecting ? "Reconnecting…" : "Connecting…");
  const proto = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${proto}://${location.host}/ws`);
  state.ws = ws;
  ws.onmessage = (ev) => { if (state.ws === ws) onMessage(JSON.parse(ev.data)); };
  ws.onclose = () => { if (state.ws === ws) connectionLost("The connection to the server dropped."); };
  const opened = await new Promise((resolve) => { ws.onopen = () => resolve(true); ws.onerror = () => resolve(false); });
  if (!opened || state.ws !== ws) return;  // onclose retries
  if (state.room) {
    // A room of a server in SFU mode (LL_SFU=janus) answers `sfu_listen` with `sfu_ready`:
    // then the audio goes through Janus (sfu.js); any other server says `sfu_unavailable`,
    // and the room is one of LingoLive's own (the offer below).
    const answer = new Promise((resolve) => { state.sfuWait = resolve; });
    const listen = { type: "sfu_listen", room: state.room.room, token: state.room.token, language: ui.target.value };
    if (ui.name.value.trim()) listen.display_name = ui.name.value.trim();
    send(listen);
    const ready = await answer;
    if (ready === false || state.ws !== ws) return;  // refused: onError said why
    if (ready) { joinSfu(ready); return; }
    // A room of LingoLive's own: there every participant sends a microphone.
    if (!state.track && (!(await micForDirectRoom()) || state.ws !== ws)) return;
  }

  const pc = new RTCPeerConnection({ iceServers: state.config.ice_servers || [] });
  state.pc = pc;
  pc.addTrack(state.track, state.stream);
  pc.ontrack = (ev) => {
    if (state.pc !== pc) return;
    ui.audio.srcObject = ev.streams[0] || new MediaStream([ev.track]);
    ui.audio.play().catch(() => setStatus("Click anywhere to allow audio playback.", true));
  };
  pc.onconnectionstatechange = () => {
    if (state.pc !== pc) return;
    if (pc.connectionState === "failed") connectionLost("The media connection failed (firewall or NAT? see README: TURN).");
    if (pc.connectionState === "connected") showListening();
  };
  const pending = [];
  let offerSent = false;
  pc.onicecandidate = (ev) => {
    const c = ev.candidate;
    if (!c || state.ws !== ws) return;
    const msg = { type: "candidate", candidate: c.candidate, sdpMid: c.sdpMid, sdpMLineIndex: c.sdpMLineIndex };
    if (offerSent) send(msg); else pending.push(msg);
  };
  await pc.setLocalDescription(await pc.createOffer());
  await waitForIce(pc, 2000);
  if (state.ws !== ws) return;
  const offer = {
    type: "offer", sdp: pc.localDescription.sdp,
    source_lang: state.conversation ? state.conversation.source : ui.source.value,
    target_lang: state.conversation ? state.conversation.target : ui.target.value,
  };
  if (state.conversation) offer.conversation = true;
  if (state.room) {
    offer.room = state.room.room;
    offer.token = state.room.token;
    if (ui.name.value.trim()) offer.display_name = ui.name.value.trim();
    // Back after a dropped connection: the server keeps our seat a while (LL_REJOIN_GRACE_S)
    // and this brings back the same participant, with no leave/join for the others.
    if (state.reconnecting && state.resumeToken) offer.resume_token = state.resumeToken;
  }
  send(offer);
  offerSent = true;
  // Candidates already inside the offer need not be sent again.
  for (const msg of pending) if (!pc.localDescription.sdp.includes(msg.candidate)) send(msg);
  clearInterval(state.statsTimer);
  state.statsTimer = setInterval(readStats, 1000);
}

/**
 * "Listen only" in a room of LingoLive's own (not on an SFU): its server needs every
 * participant's audio (a session whose audio never comes is closed), so the microphone is
 * asked for after all, and starts muted.
 */
async function micForDirectRoom() {
  notice("“Listen only” works in rooms of a server with an audio server (SFU). In this room everyone " +
    "sends a microphone: yours starts muted, press Mute to speak.", { code: "listen-only" });
  if (!micAvailable()) { endSession(true); setStatus(INSECURE, true); return false; }
  setStatus("Asking for the microphone…");
  let stream;
  try {
    stream = await openMic(ui.micDevice.value || state.prefs.micId || "");
  } catch (e) {
    if (state.wanted) { endSession(true); setStatus(micError(e), true); }
    return false;
  }
  if (!state.wanted) { stream.getTracks().forEach((t) => t.stop()); return false; }
  state.muted = true;
  useTrack(stream);
  sessionUi(true);
  refreshDevices();
  return true;
}

/** SFU room: LingoLive's socket brings the captions, Janus the audio. A new `sfu_ready` (the
 * server built the room again after losing Janus) replaces the Janus session. */
function joinSfu(ready) {
  clearTimeout(state.sfuTimer);
  state.sfuTimer = null;
  if (state.sfu) { state.sfu.close(); state.sfu = null; }
  state.sfuReady = ready;
  state.sfuAttempt = 0;
  state.listening = false;
  ui.target.disabled = true;  // another language needs another `sfu_listen`: leave and join
  ui.skip.disabled = ui.sayText.disabled = ui.saySend.disabled = true;  // no LingoLive session
  setStatus(state.track ? "Joining the room's audio (Janus)…" : "Joining the room's audio (Janus), to listen only…");
  startSfu();
}

/** One SfuSession with the latest `sfu_ready`, the microphone (or none) and the speaker. */
function startSfu() {
  const session = new SfuSession({
    ready: state.sfuReady, name: ui.name.value.trim(), speaks: ui.source.value, track: state.track,
    onUp: () => {
      if (state.sfu !== session) return;
      state.sessionId = String(session.myId);  // my captions' `speaker.id`: "You"
      const back = state.sfuTrouble;
      state.sfuTrouble = false;
      state.sfuAttempt = 0;
      state.sfuWasUp = true;
      for (const li of ui.notices.querySelectorAll('li[data-code="sfu-lost"]')) li.remove();
      if (back) notice("Back in the room's audio.", { code: "sfu-back", ttl: 8000 });
      showParticipants(state.participants);
      showListening();
    },
    onFail: (text, kind) => {
      if (state.sfu !== session) return;
      state.sfu = null;
      // Janus refusing the page ends the session; losing Janus does not (the server builds
      // the room again and sends a new `sfu_ready`; meanwhile the page tries by itself).
      if (kind === "lost" || (kind === "unreachable" && (state.sfuWasUp || state.sfuTrouble))) sfuLost(text);
      else {
        endSession(false);
        setStatus(text, true);
      }
    },
    onNotice: (text) => notice(text, { code: "sfu" }),
    onPeople: (list) => { if (state.sfu === session) showSfuPeople(list); },
  });
  state.sfu = session;
  if (sinkSupported && state.prefs.speakerId) session.setSink(state.prefs.speakerId);
  session.start().catch((e) => session.fail(e.message || String(e), e.kind || "refused"));
}

/** The page lost the room's Janus (not the room): close what is left of the session, and try
 * again with the latest `sfu_ready` after a while (2, 4, 8, then every SFU_RETRY_CAP_S s)
 * until the room is back, the server sends a new `sfu_ready`, or the room is left. */
function sfuLost(why) {
  if (state.sfu) { state.sfu.close(); state.sfu = null; }
  state.sfuTrouble = true;
  state.listening = false;
  state.speaking.clear();
  ui.speaking.hidden = true;
  notice(why, { code: "sfu-lost" });
  if (state.sfuTimer) return;  // a try is already on its way
  const wait = Math.min(SFU_RETRY_CAP_S, 2 ** (state.sfuAttempt + 1));
  state.sfuAttempt += 1;
  setStatus(`Lost the room's audio server; reconnecting… (next try in ${wait} s)`, true);
  state.sfuTimer = setTimeout(() => {
    state.sfuTimer = null;
    if (!state.wanted || !state.sfuReady || state.sfu) return;
    setStatus("Reconnecting to the room's audio server…");
    startSfu();
  }, wait * 1000);
}

/** The server lost the room's Janus and builds the room again: a new `sfu_ready` follows (or
 * `sfu_failed`). The page's own Janus session, if it still works, stays until then; if it is
 * broken, janus.js says so (sfuLost). */
function onSfuRecovering(msg) {
  state.sfuTrouble = true;
  if (state.sfuWait) {  // joining while the room is rebuilt: `sfu_ready` comes when it is back
    setStatus("The room's audio server is restarting; waiting for it…");
  } else if (state.sfuReady) {
    const text = msg.message || "the room's audio server went away; rebuilding the room";
    notice(`${text[0].toUpperCase()}${text.slice(1)}.`, { code: "sfu-lost" });
    if (state.sfu) setStatus("Lost the room's audio server; reconnecting…", true);
  }
}

/** Close this connection (not the microphone). */
function dropConnection(sendBye = false) {
  clearInterval(state.statsTimer);
  if (state.sfuWait) { state.sfuWait(false); state.sfuWait = null; }
  if (state.sfu) { state.sfu.close(); state.sfu = null; }
  clearTimeout(state.sfuTimer);
  state.sfuTimer = null;
  if (state.sfuReady) {
    state.sfuReady = null;
    showParticipants([]);  // Janus's list: the next join brings it again
  }
  state.sfuTrouble = false;
  state.ready = null;
  state.listening = false;
  const ws = state.ws;
  state.ws = null;
  if (ws && ws.readyState === WebSocket.OPEN) {
    if (sendBye) ws.send(JSON.stringify({ type: "bye" }));
    ws.close();
  } else if (ws) ws.close();
  if (state.pc) { state.pc.close(); state.pc = null; }
  state.speaking.clear();
  ui.speaking.hidden = true;
}

function connectionLost(reason) {
  dropConnection();
  if (!state.wanted) return;  // errors that end the session ended it already
  state.reconnecting = true;
  retryLater((n) => `Reconnecting… (${reason} Trying again in ${n} s.)`, RECONNECT_CAP_S);
}

function retryLater(text, cap) {
  clearTimeout(state.retryTimer);
  let left = Math.min(cap, 2 ** state.attempt);
  state.attempt += 1;
  const tick = () => {
    if (!state.wanted) return;
    if (left <= 0) { connect(); return; }
    setStatus(text(left), true);
    left -= 1;
    state.retryTimer = setTimeout(tick, 1000);
  };
  tick();
}

/** End the session: bye, close everything, release the microphone. */
function endSession(sendBye = true) {
  state.wanted = false;
  state.resumeToken = null;  // leaving on purpose: the seat goes
  clearTimeout(state.retryTimer);
  dropConnection(sendBye);
  meter.detachSource();
  if (state.stream) state.stream.getTracks().forEach((t) => t.stop());
  state.stream = state.track = null;
  state.conversation = null;
  state.holding = false;
  state.store.save();
  releaseWakeLock();
  sessionUi(false);
}

function sessionUi(active) {
  ui.mic.textContent = active ? (state.room ? "Leave" : "Stop") : (state.room ? "Join the room" : "Start microphone");
  ui.mic.setAttribute("aria-pressed", String(active));
  ui.mic.disabled = !state.config;
  ui.source.disabled = ui.swap.disabled = ui.conversation.disabled = ui.listenOnly.disabled = active;
  // What I hear can change mid-session (`listen`), except in a conversation.
  ui.target.disabled = active && !!state.conversation;
  ui.skip.disabled = ui.sayText.disabled = ui.saySend.disabled = !active;
  // Listening only: no microphone to mute, talk with or pick.
  const noMic = active && !state.track;
  ui.mute.disabled = ui.talk.disabled = !active || noMic;
  ui.ptt.disabled = ui.micDevice.disabled = noMic;
  document.body.classList.toggle("listen-only", noMic);
  ui.createRoom.disabled = active;
  applyMute();
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

async function requestWakeLock() {
  if (!("wakeLock" in navigator) || !state.wanted || state.wakeLock) return;
  try {
    state.wakeLock = await navigator.wakeLock.request("screen");
    state.wakeLock.addEventListener("release", () => { state.wakeLock = null; });
  } catch { /* not allowed now (hidden page, battery saver) */ }
}

function releaseWakeLock() {
  if (state.wakeLock) state.wakeLock.release().catch(() => {});
  state.wakeLock = null;
}

function say(event) {
  event.preventDefault();
  const text = ui.sayText.value.trim();
  if (!text || !state.ready) return;
  const msg = { type: "say", text };
  if (state.conversation) msg.lang = state.conversation.source;
  else if (state.ready.source_lang === "auto") {
    const mine = (navigator.language || "en").slice(0, 2);
    msg.lang = state.config.pairs.some((p) => p.source === mine) ? mine : state.config.pairs[0].source;
  }
  if (send(msg)) ui.sayText.value = "";
}

// --- rooms -----------------------------------------------------------------------------------

async function createRoom() {
  ui.createRoom.disabled = true;
  try {
    const res = await fetch("/rooms", { method: "POST" });
    if (!res.ok) throw new Error(`server answered ${res.status}`);
    const room = await res.json();
    enterRoom(room.room, room.token);
    ui.invite.value = room.invite_url;
    ui.inviteBox.hidden = false;
    setStatus("Room created. Send the invite link, then press “Join the room”.");
  } catch (e) {
    setStatus(`Could not create a room: ${e.message}`, true);
  } finally {
    ui.createRoom.disabled = false;
  }
}

function enterRoom(room, token) {
  state.room = { room, token };
  document.body.classList.add("in-room");
  ui.roomInfo.hidden = false;
  ui.roomInfo.textContent = `Room ${room}: press “Join the room” to join.`;
  ui.createRoom.hidden = true;
  ui.conversation.checked = false;
  ui.conversationBox.hidden = true;
  ui.listenOnlyBox.hidden = false;
  const keep = ui.target.value;
  fillPickers();
  fillTargets(keep);
  if (!ui.invite.value) {
    ui.invite.value = `${location.origin}/?${new URLSearchParams({ room })}#${new URLSearchParams({ token })}`;
    ui.inviteBox.hidden = false;
  }
  sessionUi(!!state.wanted);
}

// --- wiring ----------------------------------------------------------------------------------

ui.createRoom.addEventListener("click", createRoom);
ui.copyInvite.addEventListener("click", async () => {
  if (await copyText(ui.invite.value)) setStatus("Invite link copied.");
});
ui.mic.addEventListener("click", () => {
  if (state.wanted) { endSession(); setStatus(state.room ? "You left the room." : "Stopped."); } else start();
});
ui.source.addEventListener("change", () => fillTargets());
ui.target.addEventListener("change", () => {
  if (!state.wanted || state.conversation || !state.ready) return;  // the next offer carries it
  listen(ui.target.value);
});
ui.conversation.addEventListener("change", () => fillPickers());
ui.listenOnly.addEventListener("change", () => { state.prefs.listenOnly = ui.listenOnly.checked; savePrefs(); });
ui.swap.addEventListener("click", () => {
  const s = ui.source.value, t = ui.target.value;
  if (s === "auto") return;
  ui.source.value = t;
  fillTargets(s);
});
ui.mute.addEventListener("click", () => { state.muted = !state.muted; applyMute(); });
ui.ptt.addEventListener("change", () => {
  state.ptt = ui.ptt.checked;
  state.holding = false;
  ui.talk.hidden = !state.ptt;
  applyMute();
});
ui.talk.addEventListener("pointerdown", (e) => {
  try { ui.talk.setPointerCapture(e.pointerId); } catch { /* synthetic pointer */ }
  hold(true);
});
for (const ev of ["pointerup", "pointercancel", "lostpointercapture"]) ui.talk.addEventListener(ev, () => hold(false));
ui.talk.addEventListener("keydown", (e) => { if (e.key === "Enter" && !e.repeat) hold(true); });
ui.talk.addEventListener("keyup", (e) => { if (e.key === "Enter") hold(false); });
ui.skip.addEventListener("click", () => { if (send({ type: "skip" })) notice("Skipped the translated speech waiting to be played.", { code: "skip", ttl: 4000 }); });
ui.sayForm.addEventListener("submit", say);
ui.micDevice.addEventListener("change", () => {
  state.prefs.micId = ui.micDevice.value; savePrefs();
  if (state.stream) switchMic(ui.micDevice.value);
});
ui.speakerDevice.addEventListener("change", () => {
  state.prefs.speakerId = ui.speakerDevice.value; savePrefs();
  ui.audio.setSinkId(ui.speakerDevice.value).catch((e) => notice(`Could not use that speaker: ${e.message}`, { code: "sink", error: true }));
  if (state.sfu) state.sfu.setSink(ui.speakerDevice.value);
});
if (navigator.mediaDevices && navigator.mediaDevices.addEventListener) {
  navigator.mediaDevices.addEventListener("devicechange", () => {
    refreshDevices();
    if (state.track && state.track.readyState === "ended") micLost();
  });
}
ui.fontDown.addEventListener("click", () => scaleFont(-0.125));
ui.fontUp.addEventListener("click", () => scaleFont(0.125));
ui.showTimings.addEventListener("change", () => { state.prefs.showTimings = ui.showTimings.checked; savePrefs(); applyPrefs(); });
ui.copy.addEventListener("click", async () => {
  if (await copyText(toTXT(state.store.phrases, state.store.start))) notice("Captions copied.", { code: "copied", ttl: 3000 });
});
for (const button of document.querySelectorAll("button[data-format]")) {
  button.addEventListener("click", () => exportCaptions(button.dataset.format));
}
ui.clear.addEventListener("click", () => {
  state.store.clear();
  state.segments.clear();
  ui.captions.innerHTML = "";
  ui.captionsEmpty.hidden = false;
  if (state.wanted) state.store.begin();
});

// Keyboard: m = mute, Space = hold to talk (push-to-talk on). Not while typing.
const typing = (el) => el instanceof HTMLElement && (el.isContentEditable || el.tagName === "TEXTAREA" ||
  el.tagName === "SELECT" || (el.tagName === "INPUT" && !["checkbox", "radio", "button"].includes(el.type)));
document.addEventListener("keydown", (e) => {
  if (e.ctrlKey || e.metaKey || e.altKey || typing(e.target)) return;
  if (e.key.toLowerCase() === "m" && !e.repeat && state.wanted && state.track) { state.muted = !state.muted; applyMute(); }
  else if (e.code === "Space" && state.ptt && state.wanted && state.track) { e.preventDefault(); if (!e.repeat) hold(true); }
});
document.addEventListener("keyup", (e) => {
  if (e.code === "Space" && state.ptt && state.wanted && !typing(e.target)) { e.preventDefault(); hold(false); }
});
window.addEventListener("blur", () => hold(false));
document.addEventListener("visibilitychange", () => { if (document.visibilityState === "visible") requestWakeLock(); });
document.addEventListener("click", () => { if (ui.audio.srcObject && ui.audio.paused) ui.audio.play().catch(() => {}); });
// pagehide, not beforeunload: it also fires on mobile when the tab is discarded, and does not
// keep the page out of the back-forward cache.
window.addEventListener("pagehide", () => { state.store.save(); if (state.wanted) endSession(true); });
window.addEventListener("pageshow", (e) => { if (e.persisted && state.config) setStatus("Stopped while the page was away: press Start again."); });

applyPrefs();
restoreCaptions();
sessionUi(false);
/** What the link says: a room and its invite, a name, languages. */
function applyLink() {
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
}

loadConfig()
  .then(refreshDevices)
  .catch((e) => setStatus(`Could not reach the server: ${e.message}`, true));
