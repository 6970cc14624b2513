// The Devices pickers: which microphone, and which speaker. DOM only.

import { Emitter } from "./emitter.js";

const $ = (id) => document.getElementById(id);

/** Whether the browser can choose where an <audio> plays (setSinkId). */
export const sinkSupported = typeof HTMLMediaElement !== "undefined" && "setSinkId" in HTMLMediaElement.prototype;

function fillDevices(select, devices, noun, want) {
  const keep = want || select.value;
  select.innerHTML = "";
  select.add(new Option(`Default ${noun.toLowerCase()}`, ""));
  devices.filter((d) => d.deviceId && d.deviceId !== "default").forEach((d, i) =>
    select.add(new Option(d.label || `${noun} ${i + 1}`, d.deviceId)));
  select.value = [...select.options].some((o) => o.value === keep) ? keep : "";
}

/**
 * #devices: the microphone picker (#mic-device) and, where the browser can choose one, the
 * speaker picker (#speaker-device), both remembered in `prefs` (micId, speakerId). The speaker
 * picked plays `audio` (the translated speech). `currentTrack()` is the microphone's track
 * now (shown as picked while it runs). `refresh()` lists the devices again.
 *
 * Emits "mic" (deviceId) and "speaker" (deviceId) when the user picks one, "change" when
 * devices come or go.
 */
export class DevicePickers extends Emitter {
  constructor({ prefs, audio, notices, currentTrack }) {
    super();
    Object.assign(this, { prefs, audio, currentTrack });
    this.ui = { devices: $("devices"), mic: $("mic-device"), speaker: $("speaker-device"), speakerBox: $("speaker-box") };
    const ui = this.ui;
    ui.mic.addEventListener("change", () => {
      prefs.set("micId", ui.mic.value);
      this.emit("mic", ui.mic.value);
    });
    ui.speaker.addEventListener("change", () => {
      prefs.set("speakerId", ui.speaker.value);
      audio.setSinkId(ui.speaker.value).catch((e) => notices.show(`Could not use that speaker: ${e.message}`, { code: "sink", error: true }));
      this.emit("speaker", ui.speaker.value);
    });
    if (navigator.mediaDevices && navigator.mediaDevices.addEventListener) {
      navigator.mediaDevices.addEventListener("devicechange", () => {
        this.refresh();
        this.emit("change");
      });
    }
  }

  /** The microphone to ask for: the one picked, else the remembered one, else the default. */
  get micId() {
    return this.ui.mic.value || this.prefs.values.micId || "";
  }

  /** The remembered speaker, where the browser can choose one (null: the default). */
  get sinkId() {
    return sinkSupported && this.prefs.values.speakerId ? this.prefs.values.speakerId : null;
  }

  /** Play the translated speech on the remembered speaker (a session starts). */
  useSavedSpeaker() {
    if (this.sinkId) this.audio.setSinkId(this.sinkId).catch(() => {});
  }

  async refresh() {
    const ui = this.ui;
    if (!navigator.mediaDevices || !navigator.mediaDevices.enumerateDevices) { ui.devices.hidden = true; return; }
    let list = [];
    try { list = await navigator.mediaDevices.enumerateDevices(); } catch { return; }
    const track = this.currentTrack();
    const current = track && track.readyState === "live" ? track.getSettings().deviceId : null;
    fillDevices(ui.mic, list.filter((d) => d.kind === "audioinput"), "Microphone", current || this.prefs.values.micId);
    ui.speakerBox.hidden = !sinkSupported;
    if (sinkSupported) fillDevices(ui.speaker, list.filter((d) => d.kind === "audiooutput"), "Speaker", this.prefs.values.speakerId);
  }

  /** The microphone stopped: open the pickers, the microphone one focused. */
  offer() {
    this.ui.devices.open = true;
    this.refresh().then(() => this.ui.mic.focus());
  }
}
