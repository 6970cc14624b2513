// One session of the page: the microphone to the server, translated speech and captions back.

import { Call } from "./call.js";
import { Emitter } from "./emitter.js";
import { CLOSING_CODES, explain } from "./errors.js";
import { INSECURE, micAvailable, micError } from "./microphone.js";
import { Backoff } from "./signaling.js";
import { SfuLink } from "./sfu_link.js";

/** Waits between reconnection attempts (s): doubled each time, capped. */
const RECONNECT_CAP_S = 10;
const BUSY_CAP_S = 30;

/**
 * A session: from Start to Stop, over as many connections as it takes (a dropped one is made
 * again with the same microphone; in a room with the `resume_token` of the last `ready`).
 * Each connection is a Call (call.js): a socket (`signaling`), then a Peer (peer.js) or, in
 * an SFU room, Janus (sfu_link.js). `mic` is the Microphone; `choices()` what the page's
 * controls say now ({source, target, name, micId, conversation, listenOnly}); `room` ({room,
 * token}) makes Start join that room; `audio` plays the translated speech; `config()` is
 * /api/config; `langName(code)` names a language; `sinkId()` the speaker picked (or null).
 * Methods: start, stop, end, targetChanged, say, skip, hold, switchMic (muting is the
 * Microphone's: the session tells the server).
 *
 * Emits: "status" (text, isError), "state" ("idle" | "connecting" | "reconnecting" |
 * "listening": speech reaches the server), "notice" (text, options of notices.js),
 * "dismiss" (notice code), "started", "ended", "controls" (the controls must show what
 * runs), "asking" (waiting for the microphone: true, or no longer), "connect" (a new
 * connection: captions restart their numbering), "phrase_error" (msg), "hearing" (the
 * language heard after a refused `listen`), "sfu_mode", "people" (who publishes in the Janus
 * room), "people_gone", "me" (my id is known), "quiet" (nobody speaks now: the connection
 * dropped), "devices" (the device list may have changed), "rtt" (ms).
 */
export class Session extends Emitter {
  constructor({ signaling, mic, audio, choices, config, langName, sinkId }) {
    super();
    Object.assign(this, { signaling, mic, audio, choices, config, langName, sinkId });
    this.room = null;
    this.wanted = false;        // a session is running (or reconnecting): the user pressed Start
    this.reconnecting = false;  // the connection dropped and is being made again
    this.listening = false;     // ready and the media connection is up
    this.ready = null;          // the server's latest `ready` for this connection
    this.sessionId = null;      // my id: `answer.session_id`, or my Janus feed id
    this.previousSessionId = null;
    this.resumeToken = null;
    this.pendingListen = null;  // the language asked for with `listen`, until the server's `ready`
    this.sentMuted = false;     // what the server was last told
    this.conversation = null;   // {source, target} while a conversation session runs
    this.call = null;           // this connection
    this.phase = "idle";
    this.backoff = new Backoff();
    this.sfu = new SfuLink(this);
    signaling
      .on("answer", (msg) => this.call.answer(msg))
      .on("ready", (msg) => this.onReady(msg))
      .on("error", (msg) => { if (!this.sfu.answer(msg)) this.onError(msg); })
      .on("sfu_ready", (msg) => {
        if (this.sfu.answer(msg)) return;
        // Unasked: the room is back on Janus after the server lost it.
        if (this.sfu.ready && this.wanted) this.sfu.join(msg);
      })
      .on("notice", (msg) => { if (msg.code === "sfu_recovering") this.sfu.recovering(msg); })
      .on("dropped", () => this.connectionLost("The connection to the server dropped."));
    mic.on("mute", () => this.muteChanged());
  }

  status(text, isError = false) { this.emit("status", text, isError); }
  notice(text, options) { this.emit("notice", text, options); }
  send(msg) { return this.signaling.send(msg); }

  setListening(on) {
    this.listening = on;
    this.showPhase();
  }

  showPhase() {
    const phase = !this.wanted ? "idle" : this.listening ? "listening"
      : this.reconnecting || this.sfu.trouble ? "reconnecting" : "connecting";
    if (phase !== this.phase) this.emit("state", (this.phase = phase));
  }

  /** The controls follow what runs; the microphone follows the mute state. */
  refreshControls() {
    this.emit("controls");
    this.mic.apply();
  }

  async start() {
    const choices = this.choices();
    // Listen only (rooms): no microphone asked for; an SFU room joins Janus without publishing.
    const listenOnly = !!this.room && choices.listenOnly;
    if (!listenOnly && !micAvailable()) { this.status(INSECURE, true); return; }
    const conversation = !this.room && choices.conversation;
    if (conversation && choices.source === "auto") {
      this.status("A conversation needs both languages: pick the one you speak.", true);
      return;
    }
    if (!listenOnly) {
      this.emit("asking", true);
      this.status("Asking for the microphone…");
      let stream;
      try { stream = await this.mic.open(choices.micId); } catch (e) {
        this.emit("asking", false);
        this.status(micError(e), true);
        return;
      }
      this.mic.use(stream);
      this.emit("devices");
    }
    this.sfu.wasUp = false;
    this.wanted = true;
    this.backoff.reset();
    this.conversation = conversation ? { source: choices.source, target: choices.target } : null;
    this.emit("started");
    this.refreshControls();
    this.connect();
  }

  /** One connection (WebSocket + peer connection, or Janus) of the running session. */
  connect() {
    this.backoff.cancel();
    if (!this.wanted) return;
    this.emit("connect");
    this.ready = null;
    this.setListening(false);
    this.sentMuted = false;
    if (this.sessionId) this.previousSessionId = this.sessionId;
    this.sessionId = null;
    this.status(this.reconnecting ? "Reconnecting…" : "Connecting…");
    this.call = new Call(this);
    this.call.run();
  }

  onReady(msg) {
    this.ready = msg;
    if (msg.resume_token) this.resumeToken = msg.resume_token;
    if (this.pendingListen === msg.target_lang) this.pendingListen = null;
    // "I hear" changed while the offer was on its way.
    const { target } = this.choices();
    if (!this.conversation && !this.pendingListen && msg.target_lang !== target) this.listen(target);
    const muted = this.mic.silent;
    if (muted !== this.sentMuted && this.send({ type: "mute", muted })) this.sentMuted = muted;
    this.showListening();
  }

  onError(msg) {
    if (msg.segment_id !== null && msg.segment_id !== undefined) { this.emit("phrase_error", msg); return; }
    const code = msg.code;
    if (this.pendingListen && this.ready && code !== "busy" && !CLOSING_CODES.has(code)) {
      // A refused `listen`: I still hear what the server said last.
      this.emit("hearing", this.ready.target_lang);
      this.pendingListen = null;
      this.showListening();
    }
    if (code === "busy") {
      this.drop();
      this.retry((n) => `Server busy — retrying in ${n} s`, BUSY_CAP_S);
    } else if (CLOSING_CODES.has(code)) {
      this.status("Reconnecting…");  // the server closes the socket; "dropped" retries
    } else if ((!this.ready && !this.sfu.ready) || code === "session_expired" || code === "sfu_failed") {
      this.end(false);
      this.status(explain(msg), true);
    } else {
      // The session goes on: a refused `listen`, `say` or similar.
      this.notice(explain(msg), { code: `error-${code}`, error: true });
    }
  }

  // "Listening" only once speech can reach the server: the session is ready *and* ICE/DTLS
  // connected. Before that the microphone already runs, but what is said is lost.
  showListening() {
    // SFU room: up once the microphone reaches Janus (sfu.js); what I hear cannot change.
    const sfu = this.sfu.up ? { source_lang: this.choices().source, target_lang: this.sfu.hears } : null;
    const msg = this.ready || sfu;
    if (!msg || (!sfu && (!this.call || !this.call.connected))) return;
    const first = !this.listening;
    if (first && this.reconnecting) {
      const same = this.sessionId && this.sessionId === this.previousSessionId;
      this.notice(!this.room ? "Reconnected."
        : same ? "Reconnected: back in the room (the others did not see you leave)."
          : "Reconnected: rejoined the room as a new participant (you were away too long).",
      { code: "reconnected", ttl: 8000 });
    }
    this.backoff.reset();
    this.reconnecting = false;
    this.setListening(true);
    const name = this.langName;
    if (sfu && !this.mic.track) {
      this.status(`Listening only (no microphone): ${name(msg.target_lang)}, through the room's audio server`);
      return;
    }
    const c = this.conversation;
    let text = `Listening: ${name(c ? c.source : msg.source_lang)} ${c ? "⇄" : "→"} ${name(msg.target_lang)}`;
    if (c) text += " (conversation)";
    if (sfu) text += " (through the room's audio server)";
    if (this.mic.muted) text += " · muted";
    else if (this.mic.ptt) text += this.mic.holding ? " · talking" : " · hold Space or “Hold to talk” to speak";
    this.status(text);
  }

  /** Hear `lang` from now on (`listen`); the server answers with a new `ready`. */
  listen(lang) {
    this.pendingListen = lang;
    if (this.send({ type: "listen", target_lang: lang })) this.status(`Switching to ${this.langName(lang)}…`);
  }

  /** "I hear" was changed: mid-session, ask for it (the next offer carries it otherwise). */
  targetChanged(lang) {
    if (!this.wanted || this.conversation || !this.ready) return;
    this.listen(lang);
  }

  /** The mute state was applied to the track (microphone.js): the server is told once ready. */
  muteChanged() {
    const muted = this.mic.silent;
    if (this.ready && muted !== this.sentMuted && this.send({ type: "mute", muted })) this.sentMuted = muted;
    if (this.listening) this.showListening();
  }

  /** Push to talk: the space bar or "Hold to talk" is held (`on`) or let go. */
  hold(on) {
    if (!this.mic.ptt || !this.wanted || this.mic.holding === on) return;
    this.mic.holding = on;
    this.mic.apply();
  }

  /** Typed text, spoken like a phrase (`say`); false when it could not go. */
  say(text) {
    if (!text || !this.ready) return false;
    const msg = { type: "say", text };
    if (this.conversation) msg.lang = this.conversation.source;
    else if (this.ready.source_lang === "auto") {
      const mine = (navigator.language || "en").slice(0, 2);
      const pairs = this.config().pairs;
      msg.lang = pairs.some((p) => p.source === mine) ? mine : pairs[0].source;
    }
    return this.send(msg);
  }

  skip() {
    if (this.send({ type: "skip" })) this.notice("Skipped the translated speech waiting to be played.", { code: "skip", ttl: 4000 });
  }

  /** Another microphone mid-session, on the same connection (no reconnection). */
  async switchMic(deviceId) {
    if (!this.wanted) return;
    let stream;
    try { stream = await this.mic.open(deviceId); } catch (e) { this.status(micError(e), true); return; }
    if (!this.wanted) { stream.getTracks().forEach((t) => t.stop()); return; }
    const track = stream.getAudioTracks()[0];
    if (this.call) await this.call.replaceTrack(track);
    await this.sfu.replaceTrack(track);
    this.mic.use(stream);
    this.emit("dismiss", "mic_ended");
    this.notice(`Microphone: ${track.label || "default"}`, { code: "mic", ttl: 5000 });
    if (this.listening) this.showListening();
    this.emit("devices");
  }

  /** Close this connection (not the microphone). */
  drop(sendBye = false) {
    this.sfu.close();
    this.ready = null;
    this.setListening(false);
    this.signaling.close(sendBye);
    if (this.call) { this.call.close(); this.call = null; }
    this.emit("quiet");
  }

  connectionLost(reason) {
    this.drop();
    if (!this.wanted) return;  // errors that end the session ended it already
    this.reconnecting = true;
    this.showPhase();
    this.retry((n) => `Reconnecting… (${reason} Trying again in ${n} s.)`, RECONNECT_CAP_S);
  }

  retry(text, cap) {
    this.backoff.schedule(cap, {
      alive: () => this.wanted,
      tick: (n) => this.status(text(n), true),
      fire: () => this.connect(),
    });
  }

  /** End the session: bye, close everything, release the microphone. */
  end(sendBye = true) {
    this.wanted = false;
    this.resumeToken = null;  // leaving on purpose: the seat goes
    this.backoff.cancel();
    this.drop(sendBye);
    this.mic.release();
    this.conversation = null;
    this.mic.holding = false;
    this.emit("ended");
    this.refreshControls();
  }

  /** The user's Stop (or Leave). */
  stop() {
    this.end();
    this.status(this.room ? "You left the room." : "Stopped.");
  }
}
