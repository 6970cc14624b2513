// The latency panel (#latency, behind "Show timings"), and how a phrase's timings read. DOM only.

const $ = (id) => document.getElementById(id);

/** Milliseconds as the page shows them ("–" when unknown). */
export const fmt = (ms) => (ms === null || ms === undefined ? "–" : `${Math.round(ms)} ms`);

/** A `timing` message as words: end to end first (when its audio went out), then each stage. */
export function timingParts(msg) {
  const parts = [];
  if (msg.first_audio_out_ms !== null) parts.push(`speech end → audio out ${fmt(msg.first_audio_out_ms)}`);
  parts.push(`VAD ${fmt(msg.speech_end_ms)}`, `STT ${fmt(msg.stt_ms)}`, `MT ${fmt(msg.mt_ms)}`,
    `TTS first audio ${fmt(msg.tts_first_audio_ms)}`);
  return parts;
}

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)] : null;
}

/** The last phrase's latency and its stages, the median of this page's phrases, the
 * network's round trip: `timing(msg)` for a phrase the page shows, `rtt(ms)`. */
export class LatencyPanel {
  constructor() {
    this.latencies = [];
    this.ui = { last: $("lat-last"), median: $("lat-median"), rtt: $("lat-rtt"), breakdown: $("lat-breakdown") };
  }

  timing(msg) {
    if (msg.first_audio_out_ms === null) return;
    this.latencies.push(msg.first_audio_out_ms);
    this.ui.last.textContent = fmt(msg.first_audio_out_ms);
    this.ui.median.textContent = fmt(median(this.latencies));
    this.ui.breakdown.textContent = timingParts(msg).slice(1).join(" · ");
  }

  rtt(ms) {
    this.ui.rtt.textContent = fmt(ms);
  }
}
