// A session's way into an SFU room (docs/sfu.md): the audio goes through Janus (sfu.js).

import { SfuSession } from "./sfu.js";

/** The longest wait between two tries to get back into Janus (s). */
const SFU_RETRY_CAP_S = 10;

/**
 * The SFU part of a Session (session.js), which it belongs to (`session`): asks the server
 * `sfu_listen` when joining a room (`ask`, answered through `answer`), then runs one
 * SfuSession at a time with the latest `sfu_ready` (`join`). When Janus is lost it tries
 * again by itself (2, 4, 8, then every SFU_RETRY_CAP_S s) until the room is back, the server
 * sends a new `sfu_ready` or the session ends. `close()` when the connection goes.
 *
 * State: `ready` (the latest `sfu_ready` of this connection, null when the room is not an
 * SFU room), `trouble` (Janus was lost or is being rebuilt: failing to reach it is no news),
 * `up` (the room's audio flows), `hears` (the language heard through Janus).
 */
export class SfuLink {
  constructor(session) {
    this.session = session;
    this.wait = null;      // resolves the `sfu_listen` asked when joining a room
    this.ready = null;
    this.sfu = null;       // the SfuSession
    this.timer = null;     // the next try to get back into Janus
    this.attempt = 0;      // tries since the page last had the room's audio
    this.trouble = false;
    this.wasUp = false;    // this session had the room's audio once
  }

  get up() {
    return !!(this.sfu && this.sfu.up);
  }

  get hears() {
    return this.sfu ? this.sfu.hears : null;
  }

  /** Is `room` an SFU room? Resolves its `sfu_ready`, null (a room of LingoLive's own:
   * `sfu_unavailable`) or false (refused: the error says why). */
  ask(room, language, name) {
    const answer = new Promise((resolve) => { this.wait = resolve; });
    const msg = { type: "sfu_listen", room: room.room, token: room.token, language };
    if (name) msg.display_name = name;
    this.session.send(msg);
    return answer;
  }

  /** A server message that may answer `ask`: true when it did and needs nothing more. */
  answer(msg) {
    if (!this.wait || (msg.type !== "sfu_ready" && msg.type !== "error")) return false;
    const resolve = this.wait;
    this.wait = null;
    if (msg.type === "sfu_ready") { resolve(msg); return true; }
    if (msg.code === "sfu_unavailable") { resolve(null); return true; }
    resolve(false);  // and the error is handled as any other
    return false;
  }

  /** LingoLive's socket brings the captions, Janus the audio. A new `sfu_ready` (the server
   * built the room again after losing Janus, or this page's Janus token is about to expire)
   * replaces the Janus session. */
  join(ready) {
    const s = this.session;
    clearTimeout(this.timer);
    this.timer = null;
    if (this.sfu) { this.sfu.close(); this.sfu = null; }
    this.ready = ready;
    this.attempt = 0;
    s.setListening(false);
    s.emit("sfu_mode");  // another language needs another `sfu_listen`; no typed text, no skip
    s.status(s.mic.track ? "Joining the room's audio (Janus)…" : "Joining the room's audio (Janus), to listen only…");
    this.start();
  }

  /** One SfuSession with the latest `sfu_ready`, the microphone (or none) and the speaker. */
  start() {
    const s = this.session;
    const { name, source } = s.choices();
    const sfu = new SfuSession({
      ready: this.ready, name, speaks: source, track: s.mic.track,
      onUp: () => {
        if (this.sfu !== sfu) return;
        s.sessionId = String(sfu.myId);  // my captions' `speaker.id`: "You"
        const back = this.trouble;
        this.trouble = false;
        this.attempt = 0;
        this.wasUp = true;
        s.emit("dismiss", "sfu-lost");
        if (back) s.notice("Back in the room's audio.", { code: "sfu-back", ttl: 8000 });
        s.emit("me");
        s.showListening();
      },
      onFail: (text, kind) => {
        if (this.sfu !== sfu) return;
        this.sfu = null;
        // Janus refusing the page ends the session; losing Janus does not (the server builds
        // the room again and sends a new `sfu_ready`; meanwhile the page tries by itself).
        if (kind === "lost" || (kind === "unreachable" && (this.wasUp || this.trouble))) this.lost(text);
        else {
          s.end(false);
          s.status(text, true);
        }
      },
      onNotice: (text) => s.notice(text, { code: "sfu" }),
      onPeople: (list) => { if (this.sfu === sfu) s.emit("people", list); },
    });
    this.sfu = sfu;
    const sink = s.sinkId();
    if (sink) sfu.setSink(sink);
    sfu.start().catch((e) => sfu.fail(e.message || String(e), e.kind || "refused"));
  }

  /** The page lost the room's Janus (not the room): close what is left, try again later. */
  lost(why) {
    const s = this.session;
    if (this.sfu) { this.sfu.close(); this.sfu = null; }
    this.trouble = true;
    s.setListening(false);
    s.emit("quiet");
    s.notice(why, { code: "sfu-lost" });
    if (this.timer) return;  // a try is already on its way
    const wait = Math.min(SFU_RETRY_CAP_S, 2 ** (this.attempt + 1));
    this.attempt += 1;
    s.status(`Lost the room's audio server; reconnecting… (next try in ${wait} s)`, true);
    this.timer = setTimeout(() => {
      this.timer = null;
      if (!s.wanted || !this.ready || this.sfu) return;
      s.status("Reconnecting to the room's audio server…");
      this.start();
    }, wait * 1000);
  }

  /** `sfu_recovering`: the server lost the room's Janus and builds the room again; a new
   * `sfu_ready` follows (or `sfu_failed`). The page's own Janus session, if it still works,
   * stays until then; if it is broken, janus.js says so (`lost`). */
  recovering(msg) {
    const s = this.session;
    this.trouble = true;
    if (this.wait) {  // joining while the room is rebuilt: `sfu_ready` comes when it is back
      s.status("The room's audio server is restarting; waiting for it…");
    } else if (this.ready) {
      const text = msg.message || "the room's audio server went away; rebuilding the room";
      s.notice(`${text[0].toUpperCase()}${text.slice(1)}.`, { code: "sfu-lost" });
      if (this.sfu) s.status("Lost the room's audio server; reconnecting…", true);
    }
  }

  replaceTrack(track) {
    return this.sfu ? this.sfu.replaceTrack(track) : Promise.resolve();
  }

  setSink(sinkId) {
    if (this.sfu) this.sfu.setSink(sinkId);
  }

  /** The connection goes: no more Janus session, no answer to wait for. */
  close() {
    if (this.wait) { this.wait(false); this.wait = null; }
    if (this.sfu) { this.sfu.close(); this.sfu = null; }
    clearTimeout(this.timer);
    this.timer = null;
    if (this.ready) {
      this.ready = null;
      this.session.emit("people_gone");  // Janus's list: the next join brings it again
    }
    this.trouble = false;
  }
}
