// The page's preferences (localStorage "lingolive.prefs.v1"), and the ones that change the view.

const PREFS_KEY = "lingolive.prefs.v1";
const DEFAULTS = { fontScale: 1, showTimings: false, listenOnly: false };

const $ = (id) => document.getElementById(id);

/**
 * `values`: fontScale, showTimings, listenOnly, micId, speakerId (those two once picked);
 * `set(key, value)` changes one and saves. Storage that is blocked or unreadable: defaults,
 * and nothing saved.
 */
export class Prefs {
  constructor(storage = globalThis.localStorage) {
    this.storage = storage;
    try { this.values = { ...DEFAULTS, ...JSON.parse(storage.getItem(PREFS_KEY) || "{}") }; }
    catch { this.values = { ...DEFAULTS }; }
  }

  set(key, value) {
    this.values[key] = value;
    try { this.storage.setItem(PREFS_KEY, JSON.stringify(this.values)); } catch { /* storage blocked */ }
  }
}

/** The caption size (A−/A+) and Show timings: shown now, and wired to their controls. */
export function showDisplayPrefs(prefs) {
  const apply = () => {
    const v = prefs.values;
    document.documentElement.style.setProperty("--caption-scale", String(v.fontScale));
    $("show-timings").checked = !!v.showTimings;
    $("listen-only").checked = !!v.listenOnly;
    document.body.classList.toggle("show-timings", !!v.showTimings);
    $("latency").hidden = !v.showTimings;
  };
  const scale = (step) => {
    prefs.set("fontScale", Math.min(2.5, Math.max(0.75, Math.round((prefs.values.fontScale + step) * 8) / 8)));
    apply();
  };
  $("font-down").addEventListener("click", () => scale(-0.125));
  $("font-up").addEventListener("click", () => scale(0.125));
  $("show-timings").addEventListener("change", () => { prefs.set("showTimings", $("show-timings").checked); apply(); });
  apply();
}
