// Notices: dismissable lines under the status (#notices). DOM only.

/** What the server's `notice` codes mean for the user (others show the server's message). */
const NOTICE_TEXT = {
  tts_fallback: "The online voice could not be reached: the offline voice spoke instead.",
  audio_dropped: "Some microphone audio was dropped: the server could not keep up.",
  recognition_behind: "Recognition fell behind: the next phrases are merged and come later. “Skip backlog” drops what waits to be spoken.",
};

/** The most lines shown at once: older ones go. */
const MAX_NOTICES = 4;

/**
 * `show(text, {code, ttl, action, error})` adds a line until it is dismissed (×), for `ttl`
 * ms if given; a line with the same `code` (its `data-code`) replaces the old one. `action`
 * ({label, run}) adds a button that runs it. `dismiss(code)` removes the lines of `code`;
 * `server(msg)` shows a server `notice`.
 */
export class Notices {
  constructor(list = document.getElementById("notices")) {
    this.list = list;
  }

  show(text, { code = null, ttl = 0, action = null, error = false } = {}) {
    if (code) this.dismiss(code);
    const li = document.createElement("li");
    li.classList.toggle("error", error);
    if (code) li.dataset.code = code;
    const span = document.createElement("span");
    span.textContent = text;
    li.append(span);
    if (action) {
      const act = document.createElement("button");
      act.type = "button"; act.textContent = action.label;
      act.addEventListener("click", () => { li.remove(); action.run(); });
      li.append(act);
    }
    const close = document.createElement("button");
    close.type = "button"; close.className = "dismiss"; close.textContent = "×";
    close.setAttribute("aria-label", "Dismiss");
    close.addEventListener("click", () => li.remove());
    li.append(close);
    this.list.append(li);
    while (this.list.children.length > MAX_NOTICES) this.list.firstElementChild.remove();
    if (ttl) setTimeout(() => li.remove(), ttl);
    return li;
  }

  dismiss(code) {
    for (const li of this.list.querySelectorAll(`li[data-code="${code}"]`)) li.remove();
  }

  server(msg) {
    this.show(NOTICE_TEXT[msg.code] || msg.message, { code: `notice-${msg.code}` });
  }
}
