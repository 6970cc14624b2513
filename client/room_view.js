// The room panel: create a room, the invite, who is there and who speaks now. DOM only.

import { Emitter } from "./emitter.js";

const $ = (id) => document.getElementById(id);

/** Janus displays are "Name [en]": the name and the language spoken. */
const DISPLAY = /^(.*?)\s*\[\s*([A-Za-z]{2,3}(?:-[A-Za-z0-9]+)?)\s*\]\s*$/;

/**
 * #room-panel: #name (read by `name`), Create a room, the invite box, the room line
 * (#room-info) and the participants (#participants: `data-participant`, `.speaking`, `.muted`).
 * `me()` is my participant id ("(you)"), `langName(code)` names languages.
 *
 * Feed it the server's `participant_*` messages (`update`), Janus's publishers in an SFU room
 * (`sfuPeople`) and `speaking` messages (`speaking`); `quiet()` forgets who speaks.
 * Emits "create" and "copy" (the buttons).
 */
export class RoomView extends Emitter {
  constructor({ me, langName }) {
    super();
    Object.assign(this, { me, langName });
    this.people = [];
    this.speakingNow = new Set();  // ids of who speaks now ("me" in loopback)
    this.ui = { name: $("name"), create: $("create-room"), inviteBox: $("invite-box"), invite: $("invite"),
      copy: $("copy-invite"), info: $("room-info"), participants: $("participants") };
    this.ui.create.addEventListener("click", () => this.emit("create"));
    this.ui.copy.addEventListener("click", () => this.emit("copy"));
  }

  get name() { return this.ui.name.value.trim(); }
  set name(text) { this.ui.name.value = text; }
  get invite() { return this.ui.invite.value; }
  set creating(on) { this.ui.create.disabled = on; }

  showInvite(url) {
    this.ui.invite.value = url;
    this.ui.inviteBox.hidden = false;
  }

  /** The page is for room `room` now (Join the room). */
  enter(room, token) {
    document.body.classList.add("in-room");
    this.ui.info.hidden = false;
    this.ui.info.textContent = `Room ${room}: press “Join the room” to join.`;
    this.ui.create.hidden = true;
    if (!this.ui.invite.value) {
      this.showInvite(`${location.origin}/?${new URLSearchParams({ room })}#${new URLSearchParams({ token })}`);
    }
  }

  /** Show `list` ({id, display_name, source_lang?, target_lang?, muted?}) as who is there. */
  show(list = this.people) {
    this.people = list;
    const ul = this.ui.participants;
    ul.innerHTML = "";
    for (const p of list) {
      const li = document.createElement("li");
      const me = p.id === this.me() ? " (you)" : "";
      const name = document.createElement("span");
      // SFU rooms: what a speaker hears is not known (Janus only has "Name [en]").
      const langs = [p.source_lang ? `speaks ${this.langName(p.source_lang)}` : "",
        p.target_lang ? `hears ${this.langName(p.target_lang)}` : ""].filter(Boolean).join(", ");
      name.textContent = `${p.display_name}${me}${langs ? `: ${langs}` : ""}`;
      const flags = document.createElement("span"); flags.className = "flags";
      const speaking = this.speakingNow.has(p.id);
      flags.textContent = [p.muted ? "muted" : "", speaking ? "speaking" : ""].filter(Boolean).join(", ");
      li.append(name, flags);
      li.dataset.participant = p.id;
      li.classList.toggle("speaking", speaking);
      li.classList.toggle("muted", !!p.muted);
      ul.append(li);
    }
    ul.hidden = list.length === 0;
  }

  /** `participant_joined`, `participant_left`, `participant_updated`. */
  update(msg) {
    this.show(msg.participants);
    this.ui.info.hidden = false;
    const who = msg.participant.display_name;
    const what = { participant_joined: ` (${who} joined)`, participant_left: ` (${who} left)`, participant_updated: "" }[msg.type];
    this.ui.info.textContent = `Room ${msg.room}: ${msg.participants.length} here${what}`;
  }

  /** SFU room: who publishes in the Janus room (their `"Name [en]"` displays). LingoLive's own
   * feeds are not people; listening-only pages never publish, so Janus shows them to nobody. */
  sfuPeople(list, room) {
    const people = list.filter((p) => !(p.display || "").startsWith("LingoLive")).map((p) => {
      const m = DISPLAY.exec(p.display || "");
      return { id: String(p.id), display_name: (m ? m[1] : p.display) || "Guest", source_lang: m ? m[2].toLowerCase() : null };
    });
    this.show(people);
    this.ui.info.hidden = false;
    const n = people.length;
    this.ui.info.textContent = `Room ${room}: ${n ? `${n} speaker${n === 1 ? "" : "s"}` : "nobody speaks yet"}`;
  }

  /** A `speaking` message. */
  speaking(msg) {
    const id = msg.speaker ? msg.speaker.id : "me";
    if (msg.speaking) this.speakingNow.add(id); else this.speakingNow.delete(id);
    if (this.people.length) this.show();
  }

  quiet() {
    this.speakingNow.clear();
  }
}
