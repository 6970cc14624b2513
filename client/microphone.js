// The microphone: what getUserMedia gave, the track the page sends, and its mute state.

import { Emitter } from "./emitter.js";
import { LevelMeter } from "./meter.js";

export const INSECURE = "Open this page over https (or on localhost): browsers only give the microphone to secure pages.";

/** Whether this page may ask for a microphone at all (secure context, getUserMedia). */
export const micAvailable = () => window.isSecureContext && navigator.mediaDevices && navigator.mediaDevices.getUserMedia;

/** What a getUserMedia failure means for the user, and the fix. */
export function micError(e) {
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

/**
 * The microphone of the session: `stream` (from getUserMedia) and `track`, its audio track,
 * the one sent; null while there is none (listening only, no session).
 *
 * Mute state: `muted` (the Mute button), `ptt` (push to talk on), `holding` (space or "Hold
 * to talk" held); `silent` is what they add up to. `apply()` (and `toggleMute()`,
 * `setPtt(on)`) makes the track follow it (a disabled track sends silence) and emits "mute"
 * (this microphone). Also emits "level"
 * (0..1, ten times a second, 0 while silent) and "lost" when the track ends (unplugged).
 */
export class Microphone extends Emitter {
  constructor() {
    super();
    this.stream = null;
    this.track = null;
    this.muted = false;
    this.ptt = false;
    this.holding = false;
    this.meter = new LevelMeter((level) => this.emit("level", level));
  }

  get silent() {
    return this.muted || (this.ptt && !this.holding);
  }

  /** Ask for a microphone (`deviceId`, or the default one); resolves its stream, not yet used. */
  open(deviceId) {
    const audio = { echoCancellation: true, noiseSuppression: true, autoGainControl: true, channelCount: 1 };
    if (deviceId) audio.deviceId = { exact: deviceId };
    return navigator.mediaDevices.getUserMedia({ audio }).catch((e) => {
      // A remembered device that is gone: the default one will do.
      if (deviceId && (e.name === "OverconstrainedError" || e.name === "NotFoundError")) return this.open("");
      throw e;
    });
  }

  /** Send `stream`'s track from now on (meter, mute state, a warning if it ends); the
   * previous stream, if any, is stopped. */
  use(stream) {
    const old = this.stream;
    const track = stream.getAudioTracks()[0];
    this.stream = stream;
    this.track = track;
    track.enabled = !this.silent;
    track.addEventListener("ended", () => { if (track === this.track) this.emit("lost"); });
    this.meter.attach(track);
    if (old && old !== stream) old.getTracks().forEach((t) => t.stop());
  }

  /** Stop the microphone (the session ended). */
  release() {
    this.meter.detachSource();
    if (this.stream) this.stream.getTracks().forEach((t) => t.stop());
    this.stream = this.track = null;
  }

  toggleMute() {
    this.muted = !this.muted;
    this.apply();
  }

  /** Push to talk on or off (nothing held yet). */
  setPtt(on) {
    this.ptt = on;
    this.holding = false;
    this.apply();
  }

  apply() {
    if (this.track) this.track.enabled = !this.silent;
    this.emit("mute", this);
  }
}
