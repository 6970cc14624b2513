// Captions kept for the session (and across a reload), and their export formats.
// Pure functions and a small store over localStorage; no DOM here.

/** Phrases kept in localStorage (and exported): about 4 hours of steady speech. */
export const MAX_STORED = 5000;
const KEY = "lingolive.captions.v1";

/** One phrase: times in ms after the session start (`store.start`, a wall-clock ms). */
// {id, at (wall ms), start, end, who, src, srcLang, dst, dstLang}

export class CaptionStore {
  constructor(storage = globalThis.localStorage, max = MAX_STORED) {
    this.storage = storage;
    this.max = max;
    this.start = null;   // wall-clock ms of the first session of this transcript
    this.phrases = [];
    this.saveTimer = null;
    this.load();
  }

  load() {
    try {
      const data = JSON.parse(this.storage.getItem(KEY) || "null");
      if (data && Array.isArray(data.phrases)) {
        this.start = typeof data.start === "number" ? data.start : null;
        this.phrases = data.phrases.slice(-this.max);
      }
    } catch { /* unreadable or blocked storage: start empty */ }
  }

  /** Start the clock if this transcript has none (the first session after a clear). */
  begin(now = Date.now()) {
    if (this.start === null) this.start = now;
  }

  /** Add or replace a phrase (by id); saved soon after. */
  put(phrase) {
    const i = this.phrases.findLastIndex((p) => p.id === phrase.id);
    if (i >= 0) this.phrases[i] = phrase; else this.phrases.push(phrase);
    if (this.phrases.length > this.max) this.phrases.splice(0, this.phrases.length - this.max);
    this.saveSoon();
  }

  clear() {
    this.phrases = [];
    this.start = null;
    this.save();
  }

  saveSoon() {
    if (this.saveTimer) return;
    this.saveTimer = setTimeout(() => this.save(), 500);
  }

  save() {
    clearTimeout(this.saveTimer);
    this.saveTimer = null;
    for (;;) {
      try {
        this.storage.setItem(KEY, JSON.stringify({ start: this.start, phrases: this.phrases }));
        return;
      } catch {
        // Over the quota (or storage blocked): keep the newer half and try again.
        if (this.phrases.length < 2) return;
        this.phrases.splice(0, Math.ceil(this.phrases.length / 2));
      }
    }
  }
}

// --- formats ------------------------------------------------------------------------------

function pad(n, width = 2) { return String(Math.floor(n)).padStart(width, "0"); }

/** 3723400 ms → "01:02:03" + sep + "400" (SRT uses ",", WebVTT "."). */
export function clock(ms, sep) {
  const t = Math.max(0, Math.round(ms));
  const h = t / 3_600_000, m = (t / 60_000) % 60, s = (t / 1000) % 60;
  return `${pad(h)}:${pad(m)}:${pad(s)}${sep}${pad(t % 1000, 3)}`;
}

const oneLine = (text) => String(text || "").replace(/\s+/g, " ").replace(/-->/g, "->").trim();

/** The phrases worth exporting (something was said), in time order, each with end > start. */
function cues(phrases) {
  return phrases
    .filter((p) => oneLine(p.src) || oneLine(p.dst))
    .map((p) => {
      const start = Math.max(0, Math.round(p.start));
      return { ...p, start, end: Math.max(Math.round(p.end), start + 500) };
    })
    .sort((a, b) => a.start - b.start);
}

/** Subtitles are read: as `lingolive translate --subtitles` does (subtitles.py), a cue stays
 * up for its translation's reading time (17 characters/s, at least 1 s), never into the
 * next cue. */
export const READ_CHARS_PER_S = 17;
export const MIN_CUE_MS = 1000;

export function subtitleCues(phrases) {
  const kept = phrases
    .filter((p) => oneLine(p.src) || oneLine(p.dst))
    .map((p) => ({ ...p, start: Math.max(0, Math.round(p.start)), end: Math.round(p.end) }))
    .sort((a, b) => a.start - b.start);
  return kept.map((p, n) => {
    const text = oneLine(p.dst) || oneLine(p.src);
    const read = Math.max(MIN_CUE_MS, (text.length / READ_CHARS_PER_S) * 1000);
    const limit = n + 1 < kept.length ? kept[n + 1].start : Infinity;
    return { ...p, end: Math.round(Math.max(p.start, Math.min(Math.max(p.end, p.start + read), limit))) };
  });
}

/** A cue's text: who said it and what (one line), then its translation (one line). */
function lines(p, escape = (t) => t, voice = (who) => `${who}: `) {
  const out = [];
  const src = oneLine(p.src), dst = oneLine(p.dst);
  if (src) out.push((p.who ? voice(p.who) : "") + escape(src));
  if (dst) out.push(escape(dst));
  return out;
}

export function toTXT(phrases, start) {
  return cues(phrases).map((p) => {
    const at = start === null ? clock(p.start, ".").slice(0, 8) : new Date(start + p.start).toLocaleTimeString();
    return `[${at}] ${lines(p).join("\n    ")}`;
  }).join("\n") + "\n";
}

export function toSRT(phrases) {
  return subtitleCues(phrases).map((p, i) =>
    `${i + 1}\n${clock(p.start, ",")} --> ${clock(p.end, ",")}\n${lines(p).join("\n")}\n`,
  ).join("\n");
}

const vttEscape = (text) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

export function toVTT(phrases) {
  const body = subtitleCues(phrases).map((p, i) => {
    const text = lines(p, vttEscape, (who) => `<v ${vttEscape(who)}>`);
    return `${i + 1}\n${clock(p.start, ".")} --> ${clock(p.end, ".")}\n${text.join("\n")}\n`;
  });
  return ["WEBVTT\n", ...body].join("\n");
}

export function toJSON(phrases, start) {
  return JSON.stringify({
    started_at: start === null ? null : new Date(start).toISOString(),
    phrases: cues(phrases).map((p) => ({
      start_s: p.start / 1000, end_s: p.end / 1000, speaker: p.who || null,
      source_lang: p.srcLang || null, source: oneLine(p.src),
      target_lang: p.dstLang || null, translation: oneLine(p.dst),
    })),
  }, null, 2) + "\n";
}

export const FORMATS = {
  txt: { make: toTXT, mime: "text/plain" },
  srt: { make: toSRT, mime: "application/x-subrip" },
  vtt: { make: toVTT, mime: "text/vtt" },
  json: { make: toJSON, mime: "application/json" },
};
