// The captions: a log of what was said and its translation, kept across reloads. DOM only.

import { CaptionStore, FORMATS, toTXT } from "./captions.js";
import { copyText, downloadText } from "./clipboard.js";
import { timingParts } from "./latency_view.js";

/** Captions kept in the page (older ones stay in storage and in the exports). */
const MAX_DOM_CAPTIONS = 500;

const $ = (id) => document.getElementById(id);
/** The parts' texts of a line, joined with spaces. */
const joined = (parts, field) => parts.map((part) => part[field]).filter(Boolean).join(" ");

const clockTime = (ms) => new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });

/**
 * #captions, one <li> per line (`data-key`, `data-speaker`, `data-segment`, `data-side` in a
 * conversation): who, when (<time>), what was said (`.said`, one `.src` per segment,
 * `.partial` until final), its translation (`.heard`, one `.dst` per segment), its timings
 * (`.meta`), a failure (`.err`). A line is a sentence: a segment whose final transcript says
 * `continues` (a clause of a sentence that goes on) is followed on the same line by the
 * speaker's next segment, so interpreting clause by clause does not make the record choppy
 * while each clause's translation still shows as it comes. Only final text is an addition
 * the log announces. Segments are keyed by connection (`newConnection()`), speaker and
 * segment; final lines go to the CaptionStore (localStorage) that Copy and Export read.
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
    this.segments = new Map();  // segment key -> {line, src, dst, srcText, dstText}
    this.going = new Map();     // speaker id -> the line a sentence goes on in
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
    this.follow(this.ui.list);
  }

  /** Keep the newest line in view while the reader is at the bottom of the log; one who
   * scrolled up to read stays where they are until they scroll back down. */
  follow(list) {
    let pinned = true;
    list.addEventListener("scroll", () => {
      pinned = list.scrollHeight - list.scrollTop - list.clientHeight < 48;
    }, { passive: true });
    new MutationObserver(() => {
      if (pinned) list.scrollTop = list.scrollHeight;
    }).observe(list, { childList: true, subtree: true, characterData: true });
  }

  /** A new connection: its segments are numbered from 1 again. */
  newConnection() {
    this.tag = Date.now().toString(36);
    this.going.clear();
  }

  /** Build one line's <li> (empty, appended to the log, then filled: so that only final
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
    const said = document.createElement("div"); said.className = "said";
    const heard = document.createElement("div"); heard.className = "heard";
    const meta = document.createElement("div"); meta.className = "meta"; meta.setAttribute("aria-live", "off");
    li.append(head, said, heard, meta);
    const list = this.ui.list;
    list.append(li);
    while (list.children.length > MAX_DOM_CAPTIONS) {
      const old = list.firstElementChild;
      for (const [key, seg] of this.segments) if (seg.line.li === old) this.segments.delete(key);
      old.remove();
    }
    this.ui.empty.hidden = true;
    name.textContent = phrase.who || "";
    ts.dateTime = new Date(phrase.at).toISOString();
    ts.textContent = clockTime(phrase.at);
    return { li, said, heard, meta, phrase, parts: [] };
  }

  /** A segment's place on a line: its own `.src` (partial until final) and `.dst`. */
  part(line) {
    const src = document.createElement("span"); src.className = "src partial"; src.setAttribute("aria-live", "off");
    const dst = document.createElement("span"); dst.className = "dst";
    if (line.parts.length) { line.said.append(" "); line.heard.append(" "); }
    line.said.append(src);
    line.heard.append(dst);
    const seg = { line, src, dst, srcText: "", dstText: "" };
    line.parts.push(seg);
    return seg;
  }

  /** The final text replaces the partial element: a node added to the log, so announced. */
  setSource(seg, text, lang, final) {
    if (final && seg.src.classList.contains("partial")) {
      const node = document.createElement("span");
      node.className = "src";
      node.lang = lang || "";
      node.textContent = text;
      seg.src.replaceWith(node);
      seg.src = node;
    } else {
      seg.src.textContent = text;
      if (lang) seg.src.lang = lang;
    }
    seg.srcText = text;
    const p = seg.line.phrase;
    p.src = joined(seg.line.parts, "srcText");
    p.srcLang = lang || p.srcLang;
  }

  setTranslation(seg, text, lang) {
    seg.dst.textContent = text;
    if (lang) seg.dst.lang = lang;
    seg.dstText = text;
    const p = seg.line.phrase;
    p.dst = joined(seg.line.parts, "dstText");
    p.dstLang = lang || p.dstLang;
  }

  /** The stored captions (after a reload): a line each. */
  restore() {
    this.ui.list.setAttribute("aria-busy", "true");
    for (const p of this.store.phrases.slice(-MAX_DOM_CAPTIONS)) {
      const seg = this.part(this.item(p));
      this.setSource(seg, p.src, p.srcLang, true);
      this.setTranslation(seg, p.dst, p.dstLang);
    }
    this.ui.list.setAttribute("aria-busy", "false");
  }

  // Segments are keyed by connection, speaker (rooms) and segment: every speaker numbers
  // their own, and a new session (a reconnection) starts again at 1.
  segment(msg) {
    const speakerId = msg.speaker ? msg.speaker.id : "me";
    const key = `${this.tag}:${speakerId}:${msg.segment_id}`;
    let seg = this.segments.get(key);
    if (!seg) {
      const going = this.going.get(speakerId);
      let line;
      // (in the same language: two people may share a device, each numbered alike)
      if (going && msg.segment_id > going.after && (!msg.lang || msg.lang === going.line.phrase.srcLang)) {
        line = going.line;  // the sentence the speaker's last segment left open goes on
        this.going.delete(speakerId);
        line.phrase.final = false;
      } else {
        const now = Date.now();
        const store = this.store;
        store.begin(now);
        const who = msg.speaker ? (msg.speaker.id === this.me() ? "You" : msg.speaker.display_name) : "";
        const phrase = { id: key, at: now, start: now - store.start, end: now - store.start,
          who, speakerId, segmentId: msg.segment_id, src: "", srcLang: "", dst: "", dstLang: "", final: false };
        line = this.item(phrase);
      }
      seg = this.part(line);
      this.segments.set(key, seg);
    }
    return seg;
  }

  /** Keep a phrase's end time and, once it is final, store it (for reloads and exports). */
  touch(seg, endWall = Date.now()) {
    const p = seg.line.phrase;
    p.end = Math.max(p.end, endWall - this.store.start);
    if (p.final) this.store.put(p);
  }

  transcript(msg) {
    const seg = this.segment(msg);
    this.setSource(seg, msg.text, msg.lang, msg.final);
    const line = seg.line;
    const p = line.phrase;
    // A line is final once its latest segment is (a segment that went on reopens it).
    if (line.parts.at(-1) === seg) p.final = p.final || msg.final;
    if (msg.final && msg.continues) {
      this.going.set(p.speakerId || "me", { line, after: msg.segment_id });
    }
    const c = this.conversation();
    if (c) {
      p.side = msg.lang === c.source ? "left" : "right";
      line.li.dataset.side = p.side;
    }
    this.touch(seg);
  }

  translation(msg) {
    if (msg.speaker && msg.lang !== this.hearing()) return;  // another listener's language
    const seg = this.segment(msg);
    this.setTranslation(seg, msg.text, msg.lang);
    this.touch(seg);
  }

  /** A phrase's timings; returns whether it is one the page shows. */
  timing(msg) {
    // In a room, one phrase is voiced once per listener language: keep the one I hear.
    if (msg.speaker && msg.lang && msg.lang !== this.hearing()) return false;
    const seg = this.segment(msg);
    seg.line.meta.textContent = timingParts(msg).join(" · ");
    // The line's subtitle runs from when it was spoken to when its translation has played.
    const now = Date.now();
    const p = seg.line.phrase;
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
    seg.line.li.append(err);
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
    this.going.clear();
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
