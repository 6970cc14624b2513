// The keyboard shortcuts listed on the page: m mutes, Space talks (push to talk on).

/** Typing into this element: shortcuts are off. */
const typing = (el) => el instanceof HTMLElement && (el.isContentEditable || el.tagName === "TEXTAREA" ||
  el.tagName === "SELECT" || (el.tagName === "INPUT" && !["checkbox", "radio", "button"].includes(el.type)));

/**
 * m (no modifier) toggles Mute and Space, held, talks with push to talk on; both only while a
 * session with a microphone runs and not while typing. Leaving the window lets go of Space.
 * `session`: the Session (session.js), whose Microphone is `session.mic`.
 */
export function installShortcuts(session) {
  const mic = session.mic;
  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey || typing(e.target)) return;
    if (e.key.toLowerCase() === "m" && !e.repeat && session.wanted && mic.track) mic.toggleMute();
    else if (e.code === "Space" && mic.ptt && session.wanted && mic.track) {
      e.preventDefault();
      if (!e.repeat) session.hold(true);
    }
  });
  document.addEventListener("keyup", (e) => {
    if (e.code === "Space" && mic.ptt && session.wanted && !typing(e.target)) { e.preventDefault(); session.hold(false); }
  });
  window.addEventListener("blur", () => session.hold(false));
}
