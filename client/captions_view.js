// The captions: a log of what was said and its translation, kept across reloads. DOM only.

import { CaptionStore, FORMATS, toTXT } from "./captions.js";
import { copyText, downloadText } from "./clipboard.js";
import { timingParts } from "./latency_view.js";

/** Captions kept in the page (older ones stay in storage and in the exports). */
const MAX_DOM_CAPTIONS = 500;

const $ = (id) => document.getElementById(id);
const clockTime = (ms) => new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });

/**
 * #captions, one <li> per phrase (`data-key`, `data-speaker`, `data-segment`, `data-side` in a
 * conversation): who, when (<time>), what was said (`.src`, `.partial` until final), its
 * translation (`.dst`), its timings (`.meta`), a failure (`.err`). Only final text is an
 * addition the log announces. Phrases are keyed by connection (`newConnection()`), speaker
 * and segment; final ones go to the CaptionStore (localStorage) that Copy and Export read.
 *
 * `me()`: my speaker id (my phrases say "You"); `hearing()`: the language I hear (a room's
 * other translations are not mine); `conversation()`: {source, target} of a conversation, or
 * null; `active()`: whether a session runs. Feed it `transcript`, `translation`, `timing`
 * and phrase `error` messages.
 */
export class CaptionsView {
  constructor({ me, hearing, conversation, active, notices }) {
    Object.assign(this, { me, hearing, conversation, active });
    this.store = new CaptionStore();
    this.segments = new Map();  // caption key -> {li, src, dst, meta, phrase}
    this.tag = "";              // this connection's id in caption keys
    this.ui = { list: $("captions"), empty: $("captions-empty"), box: $("captions-box"),
      head: $("conv-head"), left: $("conv-left"), right: $("conv-right") };
    $("copy").addEventListener("click", async () => {
      if (await copyText(toTXT(this.store.phrases, this.store.start))) notices.show("Captions copied.", { code: "copied", ttl: 3000 });
    });
    for (const button of document.querySelectorAll("button[data-format]")) {
      button.addEventListener("click", () => this.export(button.dataset.format));
    }
    $("clear").addEventListener("click", () => this.clear());
  }

  /** A new connection: its segments are numbered from 1 again. */
  newConnection() {
    this.tag = Date.now().toString(36);
  }

  /** Build one caption's <li> (empty, appended to the log, then filled: so that only final
   * text is an addition the log announces; partial text sits in `aria-live="off"`). */
  item(phrase) {
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
    const list = this.ui.list;
    list.append(li);
    while (list.children.length > MAX_DOM_CAPTIONS) {
      const old = list.firstElementChild;
      this.segments.delete(old.dataset.key);
      old.remove();
    }
    this.ui.empty.hidden = true;
    name.textContent = phrase.who || "";
    ts.dateTime = new Date(phrase.at).toISOString();
    ts.textContent = clockTime(phrase.at);
    return { li, src, dst, meta, phrase };
  }

  /** The final text replaces the partial element: a node added to the log, so announced. */
  setSource(seg, text, lang, final) {
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

  setTranslation(seg, text, lang) {
    seg.dst.textContent = text;
    if (lang) seg.dst.lang = lang;
  }

  /** The stored captions (after a reload). */
  restore() {
    this.ui.list.setAttribute("aria-busy", "true");
    for (const p of this.store.phrases.slice(-MAX_DOM_CAPTIONS)) {
      const seg = this.item(p);
      this.setSource(seg, p.src, p.srcLang, true);
      this.setTranslation(seg, p.dst, p.dstLang);
    }
    this.ui.list.setAttribute("aria-busy", "false");
  }

  // Captions are keyed by connection, speaker (rooms) and segment: every speaker numbers
  // their own, and a new session (a reconnection) starts again at 1.
  segment(msg) {
    const speakerId = msg.speaker ? msg.speaker.id : "me";
    const key = `${this.tag}:${speakerId}:${msg.segment_id}`;
    let seg = this.segments.get(key);
    if (!seg) {
      const now = Date.now();
      const store = this.store;
      store.begin(now);
      const who = msg.speaker ? (msg.speaker.id === this.me() ? "You" : msg.speaker.display_name) : "";
      const phrase = { id: key, at: now, start: now - store.start, end: now - store.start,
        who, speakerId, segmentId: msg.segment_id, src: "", srcLang: "", dst: "", dstLang: "", final: false };
      seg = this.item(phrase);
      this.segments.set(key, seg);
    }
    return seg;
  }

  /** Keep a phrase's end time and, once it is final, store it (for reloads and exports). */
  touch(seg, endWall = Date.now()) {
    const p = seg.phrase;
    p.end = Math.max(p.end, endWall - this.store.start);
    if (p.final) this.store.put(p);
  }

  transcript(msg) {
    const seg = this.segment(msg);
    this.setSource(seg, msg.text, msg.lang, msg.final);
    const p = seg.phrase;
    p.src = msg.text; p.srcLang = msg.lang; p.final = p.final || msg.final;
    const c = this.conversation();
    if (c) {
      p.side = msg.lang === c.source ? "left" : "right";
      seg.li.dataset.side = p.side;
    }
    this.touch(seg);
  }

  translation(msg) {
    if (msg.speaker && msg.lang !== this.hearing()) return;  // another listener's language
    const seg = this.segment(msg);
    this.setTranslation(seg, msg.text, msg.lang);
    seg.phrase.dst = msg.text; seg.phrase.dstLang = msg.lang;
    this.touch(seg);
  }

  /** A phrase's timings; returns whether it is one the page shows. */
  timing(msg) {
    // In a room, one phrase is voiced once per listener language: keep the one I hear.
    if (msg.speaker && msg.lang && msg.lang !== this.hearing()) return false;
    const seg = this.segment(msg);
    seg.meta.textContent = timingParts(msg).join(" · ");
    // The phrase's subtitle runs from when it was spoken to when its translation has played.
    const now = Date.now();
    const p = seg.phrase;
    const start = msg.stages && msg.stages.speech_start;
    if (msg.first_audio_out_ms !== null && typeof start === "number") {
      p.start = Math.max(0, Math.min(p.start, now - msg.first_audio_out_ms + start - this.store.start));
    }
    this.touch(seg, now + (msg.audio_ms || 0));
    return true;
  }

  /** One phrase failed (an `error` with a `segment_id`). */
  error(msg) {
    const seg = this.segment(msg);
    const err = document.createElement("div"); err.className = "err"; err.textContent = msg.message;
    seg.li.append(err);
  }

  /** Conversation: captions in two columns, one per person (by the language they speak). */
  showConversation(langName) {
    const c = this.conversation();
    this.ui.box.classList.toggle("conversation", !!c);
    this.ui.head.hidden = !c;
    if (c) {
      this.ui.left.textContent = `${langName(c.source)} speaker`;
      this.ui.right.textContent = `${langName(c.target)} speaker`;
    }
  }

  /** A session starts: the transcript's clock starts if it has none. */
  begin() {
    this.store.begin();
  }

  save() {
    this.store.save();
  }

  clear() {
    this.store.clear();
    this.segments.clear();
    this.ui.list.innerHTML = "";
    this.ui.empty.hidden = false;
    if (this.active()) this.store.begin();
  }

  export(format) {
    const store = this.store;
    store.save();
    const { make, mime } = FORMATS[format];
    const stamp = new Date(store.start || Date.now()).toISOString().slice(0, 16).replace(/[-:]/g, "").replace("T", "-");
    downloadText(make(store.phrases, store.start), `lingolive-${stamp}.${format}`, mime);
  }
}
