// One connection of a session: the socket, then WebRTC to the server or Janus (SFU rooms).

import { INSECURE, micAvailable, micError } from "./microphone.js";
import { Peer } from "./peer.js";

/**
 * One try at connecting the Session (session.js) `session`, which owns it: `run()` opens a
 * socket (session.signaling); in a room it asks first whether the room is on an SFU (then
 * Janus carries the audio: session.sfu); otherwise it makes the Peer (peer.js) and sends the
 * `offer`. `answer(msg)` applies the server's answer; `close()` ends the Peer. A Call whose
 * socket is no longer the current one (`current`) stops where it is.
 */
export class Call {
  constructor(session) {
    this.session = session;
    this.id = null;    // the socket's id (Signaling)
    this.peer = null;
  }

  get current() {
    return this.id !== null && this.session.signaling.isCurrent(this.id);
  }

  /** ICE and DTLS are up: the server gets what the microphone says. */
  get connected() {
    return !!this.peer && this.peer.connected;
  }

  async run() {
    const s = this.session;
    this.id = await s.signaling.open();
    if (!this.current) return;  // "dropped" retries
    if (s.room) {
      // A room of a server in SFU mode (LL_SFU=janus) answers `sfu_listen` with `sfu_ready`:
      // then the audio goes through Janus; any other server says `sfu_unavailable`, and the
      // room is one of LingoLive's own (the offer below).
      const { target, name } = s.choices();
      const ready = await s.sfu.ask(s.room, target, name);
      if (ready === false || !this.current) return;  // refused: the error said why
      if (ready) { s.sfu.join(ready); return; }
      // A room of LingoLive's own: there every participant sends a microphone.
      if (!s.mic.track && (!(await this.micForDirectRoom()) || !this.current)) return;
    }
    const peer = new Peer({
      iceServers: s.config().ice_servers || [], track: s.mic.track, stream: s.mic.stream,
      audio: s.audio, send: (msg) => this.current && s.send(msg),
      onConnected: () => s.showListening(),
      onFailed: () => s.connectionLost("The media connection failed (firewall or NAT? see README: TURN)."),
      onPlayBlocked: () => s.status("Click anywhere to allow audio playback.", true),
      onRtt: (ms) => s.emit("rtt", ms),
    });
    this.peer = peer;
    const sdp = await peer.offer();
    if (!this.current) return;
    const { source, target, name } = s.choices();
    const c = s.conversation;
    const offer = { type: "offer", sdp, source_lang: c ? c.source : source, target_lang: c ? c.target : target };
    if (c) offer.conversation = true;
    if (s.room) {
      offer.room = s.room.room;
      offer.token = s.room.token;
      if (name) offer.display_name = name;
      // Back after a dropped connection: the server keeps our seat a while (LL_REJOIN_GRACE_S)
      // and this brings back the same participant, with no leave/join for the others.
      if (s.reconnecting && s.resumeToken) offer.resume_token = s.resumeToken;
    }
    s.send(offer);
    peer.offerSent();
  }

  /**
   * "Listen only" in a room of LingoLive's own (not on an SFU): its server needs every
   * participant's audio (a session whose audio never comes is closed), so the microphone is
   * asked for after all, and starts muted.
   */
  async micForDirectRoom() {
    const s = this.session;
    s.notice("“Listen only” works in rooms of a server with an audio server (SFU). In this room everyone " +
      "sends a microphone: yours starts muted, press Mute to speak.", { code: "listen-only" });
    if (!micAvailable()) { s.end(true); s.status(INSECURE, true); return false; }
    s.status("Asking for the microphone…");
    let stream;
    try { stream = await s.mic.open(s.choices().micId); } catch (e) {
      if (s.wanted) { s.end(true); s.status(micError(e), true); }
      return false;
    }
    if (!s.wanted) { stream.getTracks().forEach((t) => t.stop()); return false; }
    s.mic.muted = true;
    s.mic.use(stream);
    s.refreshControls();
    s.emit("devices");
    return true;
  }

  /** The server's `answer`. */
  answer(msg) {
    const s = this.session;
    s.sessionId = msg.session_id;
    this.peer.answer(msg.sdp).catch((e) => { s.end(false); s.status(`Could not apply the answer: ${e}`, true); });
  }

  replaceTrack(track) {
    return this.peer ? this.peer.replaceTrack(track) : Promise.resolve();
  }

  close() {
    if (this.peer) { this.peer.close(); this.peer = null; }
  }
}
