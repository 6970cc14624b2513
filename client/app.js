// LingoLive's page: microphone -> WebRTC -> server; translated audio + captions back.
// The composition root: it makes the modules and wires them together, nothing more.
// Signaling protocol: docs/protocol.md. No framework, no build step.
//
//   session.js       a session, over as many connections as it takes
//   call.js          one connection: the socket, then WebRTC or Janus
//   signaling.js     the socket to /ws (and the waits between tries)
//   peer.js          the WebRTC connection to the server
//   sfu_link.js      an SFU room: asking, joining Janus, trying again; sfu.js: Janus itself
//   microphone.js    the track sent, and muting;  meter.js: its level
//   errors.js        what the server's errors mean;  languages.js: what it serves
//   view.js          the status line and the session's controls
//   pickers.js       I speak, I hear, Conversation, Listen only
//   captions_view.js the captions (captions.js: their store and exports)
//   latency_view.js  the latency panel;  room_view.js: the room panel
//   devices.js       microphone and speaker pickers;  notices.js: dismissable lines
//   prefs.js         preferences (localStorage);  shortcuts.js: the keyboard
//   wake_lock.js     the screen stays on;  clipboard.js: copy and download
//   emitter.js       how modules report (on/emit)

import { CaptionsView } from "./captions_view.js";
import { copyText } from "./clipboard.js";
import { DevicePickers } from "./devices.js";
import { Languages } from "./languages.js";
import { LatencyPanel } from "./latency_view.js";
import { INSECURE, Microphone } from "./microphone.js";
import { Notices } from "./notices.js";
import { LanguagePickers } from "./pickers.js";
import { Prefs, showDisplayPrefs } from "./prefs.js";
import { RoomView } from "./room_view.js";
import { Session } from "./session.js";
import { installShortcuts } from "./shortcuts.js";
import { Signaling } from "./signaling.js";
import { SessionView } from "./view.js";
import { ScreenWakeLock } from "./wake_lock.js";

const audio = document.getElementById("remote");  // the translated speech
let config = null;     // GET /api/config
let languages = null;  // its languages
const langName = (code) => languages.name(code);

const prefs = new Prefs();
const notices = new Notices();
const view = new SessionView();
const pickers = new LanguagePickers(prefs);
const latency = new LatencyPanel();
const mic = new Microphone();
const signaling = new Signaling();
const devices = new DevicePickers({ prefs, audio, notices, currentTrack: () => mic.track });
const room = new RoomView({ me: () => session.sessionId, langName });
const session = new Session({
  signaling, mic, audio, langName, config: () => config, sinkId: () => devices.sinkId,
  choices: () => ({ source: pickers.source, target: pickers.target, name: room.name, micId: devices.micId,
    conversation: pickers.conversation, listenOnly: pickers.listenOnly }),
});
/** The language I hear now: the server's word once it answered, else the picker. */
const hearing = () => (session.ready ? session.ready.target_lang : pickers.target);
const captions = new CaptionsView({ me: () => session.sessionId, hearing, conversation: () => session.conversation,
  active: () => session.wanted, notices });
const wakeLock = new ScreenWakeLock(() => session.wanted);

// What the server says.
signaling
  .on("transcript", (msg) => captions.transcript(msg))
  .on("translation", (msg) => captions.translation(msg))
  .on("timing", (msg) => { if (captions.timing(msg)) latency.timing(msg); })
  .on("speaking", (msg) => {
    if (!msg.speaker || msg.speaker.id === session.sessionId) view.speaking(msg.speaking);
    room.speaking(msg);
  })
  .on("notice", (msg) => { if (msg.code !== "sfu_recovering") notices.server(msg); });
for (const type of ["participant_joined", "participant_left", "participant_updated"]) signaling.on(type, (msg) => room.update(msg));

// What the session says.
const showControls = () => view.controls({ active: session.wanted, room: !!session.room,
  conversation: !!session.conversation, hasMic: !!mic.track, configured: !!config });
session
  .on("status", (text, isError) => view.status(text, isError))
  .on("state", (phase) => view.state(phase))
  .on("notice", (text, options) => notices.show(text, options))
  .on("dismiss", (code) => notices.dismiss(code))
  .on("controls", showControls)
  .on("asking", (on) => view.enableStart(!on))
  .on("started", () => {
    devices.useSavedSpeaker();
    captions.showConversation(langName);
    captions.begin();
    wakeLock.request();
  })
  .on("ended", () => { captions.save(); wakeLock.release(); })
  .on("connect", () => captions.newConnection())
  .on("phrase_error", (msg) => captions.error(msg))
  .on("hearing", (code) => { pickers.target = code; })
  .on("sfu_mode", () => view.sfuMode())
  .on("people", (list) => room.sfuPeople(list, session.room.room))
  .on("people_gone", () => room.show([]))
  .on("me", () => room.show())
  .on("quiet", () => { room.quiet(); view.speaking(false); })
  .on("devices", () => devices.refresh())
  .on("rtt", (ms) => latency.rtt(ms));
mic.on("level", (level) => view.level(level)).on("mute", (m) => view.mute(m)).on("lost", micLost);

// What the user does.
view
  .on("mic", () => (session.wanted ? session.stop() : session.start()))
  .on("mute", () => mic.toggleMute())
  .on("ptt", (on) => mic.setPtt(on))
  .on("hold", (on) => session.hold(on))
  .on("skip", () => session.skip())
  .on("say", (text) => { if (session.say(text)) view.clearSay(); });
pickers.on("target", (code) => session.targetChanged(code));
devices
  .on("mic", (id) => { if (mic.stream) session.switchMic(id); })
  .on("speaker", (id) => session.sfu.setSink(id))
  .on("change", () => { if (mic.track && mic.track.readyState === "ended") micLost(); });
room.on("create", createRoom).on("copy", async () => {
  if (await copyText(room.invite)) view.status("Invite link copied.");
});
installShortcuts(session);
document.addEventListener("click", () => { if (audio.srcObject && audio.paused) audio.play().catch(() => {}); });
// pagehide, not beforeunload: it also fires on mobile when the tab is discarded, and does not
// keep the page out of the back-forward cache.
window.addEventListener("pagehide", () => { captions.save(); if (session.wanted) session.end(true); });
window.addEventListener("pageshow", (e) => { if (e.persisted && config) view.status("Stopped while the page was away: press Start again."); });

function micLost() {
  view.status("The microphone stopped (unplugged?): pick another one under Devices.", true);
  notices.show("The microphone stopped.", {
    code: "mic_ended", error: true,
    action: { label: "Use the default microphone", run: () => session.switchMic("") },
  });
  devices.offer();
}

function enterRoom(id, token) {
  session.room = { room: id, token };
  room.enter(id, token);
  pickers.enterRoom();
  session.refreshControls();
}

async function createRoom() {
  room.creating = true;
  try {
    const res = await fetch("/rooms", { method: "POST" });
    if (!res.ok) throw new Error(`server answered ${res.status}`);
    const made = await res.json();
    enterRoom(made.room, made.token);
    room.showInvite(made.invite_url);
    view.status("Room created. Send the invite link, then press “Join the room”.");
  } catch (e) {
    view.status(`Could not create a room: ${e.message}`, true);
  } finally {
    room.creating = false;
  }
}

/** What the link says: a room and its invite, a name, languages. */
function applyLink() {
  const params = new URLSearchParams(location.search);
  // The invite's token is in the fragment (#token=…), which never reaches a server log;
  // links from before kept it in the query.
  const token = new URLSearchParams(location.hash.slice(1)).get("token") || params.get("token");
  if (params.get("room") && token) enterRoom(params.get("room"), token);
  if (params.get("name")) room.name = params.get("name");
  pickers.applyLink(params);
}

async function loadConfig() {
  const res = await fetch("/api/config");
  if (!res.ok) throw new Error(`server answered ${res.status}`);
  config = await res.json();
  languages = new Languages(config);
  pickers.setLanguages(languages);
  applyLink();
  view.enableStart(true);
  if (!window.isSecureContext) view.status(INSECURE, true);
  else view.status(session.room ? "Ready. Press “Join the room” and speak." : "Ready. Press “Start microphone” and speak.");
}

showDisplayPrefs(prefs);
captions.restore();
view.state(session.phase);
session.refreshControls();
loadConfig()
  .then(() => devices.refresh())
  .catch((e) => view.status(`Could not reach the server: ${e.message}`, true));
