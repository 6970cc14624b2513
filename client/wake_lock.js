// Keep the screen on during a session (Screen Wake Lock, where the browser has it).

/**
 * `request()` asks for the lock while `wanted()` is true (and again when the page comes
 * back into view: browsers release it when it is hidden); `release()` lets it go.
 */
export class ScreenWakeLock {
  constructor(wanted) {
    this.wanted = wanted;
    this.lock = null;
    document.addEventListener("visibilitychange", () => { if (document.visibilityState === "visible") this.request(); });
  }

  async request() {
    if (!("wakeLock" in navigator) || !this.wanted() || this.lock) return;
    try {
      this.lock = await navigator.wakeLock.request("screen");
      this.lock.addEventListener("release", () => { this.lock = null; });
    } catch { /* not allowed now (hidden page, battery saver) */ }
  }

  release() {
    if (this.lock) this.lock.release().catch(() => {});
    this.lock = null;
  }
}
