// The WebSocket to the server (/ws, docs/protocol.md), and the waits between tries. No DOM.

import { Emitter } from "./emitter.js";

const socketUrl = () => `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;

/**
 * One socket at a time to /ws, JSON text messages each way.
 *
 * - `open()` makes a new socket (the current one from then on) and resolves its id once it
 *   is open, or null when it could not open ("dropped" follows);
 * - `isCurrent(id)`: whether that socket is still the current one (not closed by `close()`
 *   nor replaced by another `open()`);
 * - `send(msg)` sends on the current socket if it is open (returns whether it did);
 * - `close(sendBye)` closes the current socket, after a `bye` if asked;
 * - every server message of the current socket is emitted by its `type` (`on("ready",
 *   fn)`), and "dropped" when the current socket closes without `close()`.
 */
export class Signaling extends Emitter {
  constructor(url = socketUrl()) {
    super();
    this.url = url;
    this.ws = null;
    this.id = 0;
  }

  open() {
    const ws = new WebSocket(this.url);
    const id = ++this.id;
    this.ws = ws;
    ws.onmessage = (ev) => {
      if (this.ws !== ws) return;
      const msg = JSON.parse(ev.data);
      this.emit(msg.type, msg);
    };
    ws.onclose = () => { if (this.ws === ws) this.emit("dropped"); };
    return new Promise((resolve) => {
      ws.onopen = () => resolve(id);
      ws.onerror = () => resolve(null);
    });
  }

  isCurrent(id) {
    return this.ws !== null && this.id === id;
  }

  send(msg) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify(msg));
      return true;
    }
    return false;
  }

  close(sendBye = false) {
    const ws = this.ws;
    this.ws = null;
    if (ws && ws.readyState === WebSocket.OPEN) {
      if (sendBye) ws.send(JSON.stringify({ type: "bye" }));
      ws.close();
    } else if (ws) ws.close();
  }
}

/**
 * The wait before try `tries` + 1 (s): min(cap, 2^tries), spread over its last half at
 * random ("equal jitter"), so that pages cut off together (a server restart) do not all come
 * back in the same second.
 */
export function jittered(tries, cap, random = Math.random) {
  const wait = Math.min(cap, 2 ** tries);
  return wait / 2 + (wait / 2) * random();
}

/**
 * Waits between tries that double each time: `schedule(cap, {alive, tick, fire})` waits
 * `jittered(tries, cap)` s, calling `tick(secondsLeft)` on every whole second left, then
 * `fire()`; it gives up as soon as `alive()` is false. `reset()` once a try worked;
 * `cancel()` drops the wait.
 */
export class Backoff {
  constructor(random = Math.random) {
    this.tries = 0;
    this.timer = null;
    this.random = random;
  }

  schedule(cap, { alive, tick, fire }) {
    this.cancel();
    let left = jittered(this.tries, cap, this.random);
    this.tries += 1;
    const step = () => {
      if (!alive()) return;
      if (left <= 0) { fire(); return; }
      tick(Math.ceil(left));
      const next = left - Math.floor(left) || 1;  // on to the next whole second
      left -= next;
      this.timer = setTimeout(step, next * 1000);
    };
    step();
  }

  reset() {
    this.tries = 0;
  }

  cancel() {
    clearTimeout(this.timer);
    this.timer = null;
  }
}
