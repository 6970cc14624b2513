// What the user picks before starting: I speak, I hear, Conversation, Listen only. DOM only.

import { Emitter } from "./emitter.js";

const $ = (id) => document.getElementById(id);

/**
 * The language pickers (#source, #target, #swap) and the session's options (#conversation,
 * #listen-only, remembered in `prefs`). `setLanguages(languages)` fills them (languages.js);
 * in a room (`enterRoom()`) the conversation option goes, listening only comes, and any
 * language the server speaks can be heard. Reads: `source`, `target` (also settable),
 * `conversation`, `listenOnly`. Emits "target" (code) when the user changes I hear.
 */
export class LanguagePickers extends Emitter {
  constructor(prefs) {
    super();
    this.prefs = prefs;
    this.languages = null;
    this.room = false;
    this.ui = {
      source: $("source"), target: $("target"), swap: $("swap"),
      conversation: $("conversation"), conversationBox: $("conversation-box"),
      listenOnly: $("listen-only"), listenOnlyBox: $("listen-only-box"),
    };
    const ui = this.ui;
    ui.source.addEventListener("change", () => this.fillTargets());
    ui.target.addEventListener("change", () => this.emit("target", ui.target.value));
    ui.conversation.addEventListener("change", () => this.fill());
    ui.listenOnly.addEventListener("change", () => prefs.set("listenOnly", ui.listenOnly.checked));
    ui.swap.addEventListener("click", () => {
      const s = ui.source.value, t = ui.target.value;
      if (s === "auto") return;
      ui.source.value = t;
      this.fillTargets(s);
    });
  }

  get source() { return this.ui.source.value; }
  get target() { return this.ui.target.value; }
  set target(code) { this.ui.target.value = code; }
  get conversation() { return this.ui.conversation.checked; }
  get listenOnly() { return this.ui.listenOnly.checked; }

  setLanguages(languages) {
    this.languages = languages;
    this.fill();
  }

  /** Both pickers, keeping what is picked where it can stay. */
  fill() {
    const { ui, languages } = this;
    const sources = languages.sources();
    const keep = ui.source.value;
    ui.source.innerHTML = "";
    for (const code of sources) ui.source.add(new Option(languages.name(code), code));
    if (!this.room && !ui.conversation.checked) ui.source.add(new Option("Detect automatically", "auto"));
    const want = keep || languages.defaultSource;
    ui.source.value = [...ui.source.options].some((o) => o.value === want) ? want
      : sources.includes(languages.defaultSource) ? languages.defaultSource : sources[0];
    this.fillTargets(ui.target.value || languages.defaultTarget);
  }

  /** What can be heard from the source picked now; `preferred` (or what was picked) stays if it can. */
  fillTargets(preferred) {
    const { ui, languages } = this;
    const targets = languages.targets(ui.source.value, { room: this.room, conversation: ui.conversation.checked });
    const keep = preferred || ui.target.value;
    ui.target.innerHTML = "";
    for (const code of targets) ui.target.add(new Option(languages.name(code), code));
    if (targets.includes(keep)) ui.target.value = keep;
  }

  enterRoom() {
    const ui = this.ui;
    this.room = true;
    ui.conversation.checked = false;
    ui.conversationBox.hidden = true;
    ui.listenOnlyBox.hidden = false;
    const keep = ui.target.value;
    this.fill();
    this.fillTargets(keep);
  }

  /** The languages a link asks for (`?source=…&target=…`), where they can be picked. */
  applyLink(params) {
    for (const [key, el] of [["source", this.ui.source], ["target", this.ui.target]]) {
      const want = params.get(key);
      if (want && [...el.options].some((o) => o.value === want)) {
        el.value = want;
        if (key === "source") this.fillTargets();
      }
    }
  }
}
