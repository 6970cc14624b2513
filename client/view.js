// The session's controls and the status line. DOM only.

import { Emitter } from "./emitter.js";

const $ = (id) => document.getElementById(id);

/**
 * The status line (#status: its text, `.error`, and `data-state`: "idle", "connecting",
 * "reconnecting" or "listening", what the session is doing) and the session's controls:
 * the Start/Stop (Join/Leave) button, Mute, Push to talk and Hold to talk, the Mic level
 * meter, "Speech heard", Skip backlog, Text to speak. `controls(…)` enables what can be used
 * now, across the page (pickers, devices, Create a room).
 *
 * Emits what the user does: "mic" (Start/Stop), "mute", "ptt" (on), "hold" (held: bool),
 * "skip", "say" (text; `clearSay()` once it went).
 */
export class SessionView extends Emitter {
  constructor() {
    super();
    const ui = this.ui = {
      status: $("status"), mic: $("mic"), mute: $("mute"), ptt: $("ptt"), talk: $("talk"), level: $("level"),
      speaking: $("speaking"), skip: $("skip"), sayForm: $("say-form"), sayText: $("say-text"), saySend: $("say-send"),
      source: $("source"), target: $("target"), swap: $("swap"), conversation: $("conversation"),
      listenOnly: $("listen-only"), micDevice: $("mic-device"), createRoom: $("create-room"),
    };
    ui.mic.addEventListener("click", () => this.emit("mic"));
    ui.mute.addEventListener("click", () => this.emit("mute"));
    ui.ptt.addEventListener("change", () => {
      ui.talk.hidden = !ui.ptt.checked;
      this.emit("ptt", ui.ptt.checked);
    });
    ui.talk.addEventListener("pointerdown", (e) => {
      try { ui.talk.setPointerCapture(e.pointerId); } catch { /* synthetic pointer */ }
      this.emit("hold", true);
    });
    for (const ev of ["pointerup", "pointercancel", "lostpointercapture"]) ui.talk.addEventListener(ev, () => this.emit("hold", false));
    ui.talk.addEventListener("keydown", (e) => { if (e.key === "Enter" && !e.repeat) this.emit("hold", true); });
    ui.talk.addEventListener("keyup", (e) => { if (e.key === "Enter") this.emit("hold", false); });
    ui.skip.addEventListener("click", () => this.emit("skip"));
    ui.sayForm.addEventListener("submit", (e) => {
      e.preventDefault();
      this.emit("say", ui.sayText.value.trim());
    });
  }

  status(text, isError = false) {
    this.ui.status.textContent = text;
    this.ui.status.classList.toggle("error", isError);
  }

  state(phase) {
    this.ui.status.dataset.state = phase;
  }

  /** What can be used now: `active` (a session runs), in a `room`, a `conversation`, with a
   * microphone (`hasMic`), once the server's languages are known (`configured`). */
  controls({ active, room, conversation, hasMic, configured }) {
    const ui = this.ui;
    ui.mic.textContent = active ? (room ? "Leave" : "Stop") : (room ? "Join the room" : "Start microphone");
    ui.mic.setAttribute("aria-pressed", String(active));
    ui.mic.disabled = !configured;
    ui.source.disabled = ui.swap.disabled = ui.conversation.disabled = ui.listenOnly.disabled = active;
    // What I hear can change mid-session (`listen`), except in a conversation.
    ui.target.disabled = active && conversation;
    ui.skip.disabled = ui.sayText.disabled = ui.saySend.disabled = !active;
    // Listening only: no microphone to mute, talk with or pick.
    const noMic = active && !hasMic;
    ui.mute.disabled = ui.talk.disabled = !active || noMic;
    ui.ptt.disabled = ui.micDevice.disabled = noMic;
    document.body.classList.toggle("listen-only", noMic);
    ui.createRoom.disabled = active;
  }

  /** SFU room: I hear is fixed (another language needs another join); no typed text, no skip. */
  sfuMode() {
    const ui = this.ui;
    ui.target.disabled = true;
    ui.skip.disabled = ui.sayText.disabled = ui.saySend.disabled = true;
  }

  /** Start usable (the server's languages are known) or not (waiting for the microphone). */
  enableStart(on) {
    this.ui.mic.disabled = !on;
  }

  /** The microphone's mute state ({muted, holding, silent}: microphone.js). */
  mute({ muted, holding, silent }) {
    this.ui.mute.setAttribute("aria-pressed", String(muted));
    this.ui.talk.setAttribute("aria-pressed", String(holding));
    document.body.classList.toggle("muted", silent);
  }

  level(value) {
    this.ui.level.value = value;
  }

  /** The server hears me speak now ("Speech heard"). */
  speaking(on) {
    this.ui.speaking.hidden = !on;
  }

  clearSay() {
    this.ui.sayText.value = "";
  }
}
