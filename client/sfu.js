// SFU rooms (docs/sfu.md): the page talks to Janus (VideoRoom) instead of LingoLive's own
// peer connection. It publishes the microphone as "<name> [<lang>]" and subscribes to the
// node's feed in the language it hears ("LingoLive · es") plus the original voices of the
// speakers of that language; captions keep coming over LingoLive's WebSocket (signaling.js).
// The session's side of it (asking, retrying) is sfu_link.js.
//
// janus.js is Debian's libjs-janus-gateway, served by the server as /vendor/janus.js and
// loaded only here, in SFU rooms. It wants webrtc-adapter only for `browserDetails`
// (which Debian does not ship with it): a small stand-in is given instead.

const JANUS_JS = "/vendor/janus.js";

/**
 * An error the page shows as is (status line). `kind` says what the page can do about it:
 * "refused" (Janus said no: trying again cannot help), "lost" (Janus, or the way to it, went
 * away after the page got in: the room comes back when Janus does), "unreachable" (Janus could
 * not be reached at all).
 */
export class SfuError extends Error {
  constructor(message, kind = "refused") {
    super(message);
    this.kind = kind;
  }
}

/** VideoRoom's "no such room": the room is not (yet, again) on this Janus. */
const NO_SUCH_ROOM = 426;

let loading = null;

/** Load and initialise janus.js once; rejects with an SfuError saying what is missing. */
function loadJanus() {
  if (loading) return loading;
  loading = new Promise((resolve, reject) => {
    const ready = () => {
      const Janus = window.Janus;
      if (!Janus) {
        reject(new SfuError(`${JANUS_JS} did not define Janus: is it janus.js?`));
        return;
      }
      Janus.init({
        debug: false,
        dependencies: Janus.useDefaultDependencies({ adapter: adapterStandIn() }),
        callback: () => resolve(Janus),
      });
    };
    if (window.Janus) { ready(); return; }
    const script = document.createElement("script");
    script.src = JANUS_JS;
    script.onload = ready;
    script.onerror = () => reject(new SfuError(
      "This room needs Janus's janus.js, and the server does not have it: its operator must " +
      "install the Debian package libjs-janus-gateway (scripts/setup.sh --dev)."));
    document.head.append(script);
  });
  loading.catch(() => { loading = null; });  // try again on the next join
  return loading;
}

/** What janus.js reads of webrtc-adapter: the browser and its version. */
function adapterStandIn() {
  const ua = navigator.userAgent;
  let m;
  if ((m = ua.match(/Firefox\/(\d+)/))) return { browserDetails: { browser: "firefox", version: +m[1] } };
  if ((m = ua.match(/Chrom(?:e|ium)\/(\d+)/))) return { browserDetails: { browser: "chrome", version: +m[1] } };
  if ((m = ua.match(/AppleWebKit\/(\d+)/)) && /Safari/.test(ua)) {
    return { browserDetails: { browser: "safari", version: +m[1] } };
  }
  return { browserDetails: { browser: "chrome", version: 0 } };
}

const why = (e) => (e && e.message) || (typeof e === "string" ? e : JSON.stringify(e));

/**
 * One page in one Janus room. `ready` is LingoLive's `sfu_ready` message; `track` the
 * microphone (null: listen only: the page joins as a participant, which is what gets the
 * room's events, and never publishes). Callbacks: `onUp()` once the microphone reaches Janus
 * (or, listening only, once audio comes), `onFail(text, kind)` when this session cannot go on
 * (`kind` as in SfuError), `onNotice(text)`, `onPeople(list)` with who publishes in the room
 * (`{id, display}`, the page itself included while it publishes). Each feed heard plays in an
 * <audio data-mid data-feed> of its own (`data-feed`: the feed's Janus display).
 */
export class SfuSession {
  constructor({ ready, name, speaks, track, onUp, onFail, onNotice, onPeople }) {
    this.url = ready.sfu.url;
    this.token = ready.janus_token || null;  // Janus token_auth: this listener's own
    this.room = ready.sfu.room;
    this.feedDisplay = ready.feed_display;
    this.hears = ready.language;
    this.display = `${name || "Guest"} [${speaks}]`;
    this.track = track;
    this.onUp = onUp || (() => {});
    this.onFail = onFail || (() => {});
    this.onNotice = onNotice || (() => {});
    this.onPeople = onPeople || (() => {});
    this.janus = null;
    this.publisher = null;       // publisher-type handle: room events, and my microphone
    this.subscriber = null;      // one multistream subscription for every feed I hear
    this.myId = null;            // my feed id in the Janus room (= `speaker.id` of my captions)
    this.publishers = new Map(); // feed id -> display, everyone publishing in the room
    this.wanted = new Set();     // feed ids I should hear
    this.subscribed = new Set(); // feed ids asked of Janus
    this.streams = [];           // the subscription's streams (mid, feed_id, feed_display, active)
    this.audios = new Map();     // mid -> <audio> playing it
    this.busy = false;           // a subscription change is being negotiated
    this.publishing = false;     // Janus took my microphone (`configured`)
    this.closed = false;
    this.up = false;
  }

  /** Connect, join, publish, subscribe; rejects (SfuError) when Janus cannot be used. */
  async start() {
    const Janus = await loadJanus();
    if (this.closed) return;
    await new Promise((resolve, reject) => {
      let connected = false;
      this.janus = new Janus({
        server: this.url,
        token: this.token,
        success: () => { connected = true; resolve(); },
        error: (e) => {
          if (!connected && /unauthorized/i.test(why(e))) {
            // 403: the server's token (sfu_ready) was refused: Janus and LingoLive disagree
            // on token_auth_secret, or the clocks on the token's expiry.
            reject(new SfuError(`The room's audio server (Janus) refused this page's pass: ${why(e)}. ` +
              "Its operator must give LingoLive (LL_JANUS_TOKEN_SECRET) Janus's token_auth_secret."));
          } else if (!connected) {
            reject(new SfuError(`Could not reach the room's audio server (Janus) at ${this.url}: ${why(e)}`,
              "unreachable"));
          } else this.fail(`Lost the connection to the room's audio server (Janus): ${why(e)}`, "lost");
        },
        // Only when the session ends without close(): destroyed under the page.
        destroyed: () => this.fail("The room's audio server (Janus) ended this page's session.", "lost"),
      });
    });
    if (this.closed) { this.endJanus(); return; }  // closed while connecting
    this.publisher = await this.attach({
      onmessage: (msg, jsep) => this.onPublisherMessage(msg, jsep),
      webrtcState: (on) => { if (on && this.track) this.markUp(); },
      iceState: (s) => this.onIceState(s, "sending the microphone"),
      ondetached: () => this.fail("The room's audio server (Janus) let go of this page.", "lost"),
    });
    this.publisher.send({ message: { request: "join", room: this.room, ptype: "publisher", display: this.display } });
  }

  attach(callbacks) {
    return new Promise((resolve, reject) => {
      this.janus.attach({
        plugin: "janus.plugin.videoroom",
        success: resolve,
        error: (e) => reject(this.janus.isConnected()
          ? new SfuError(`Janus refused the VideoRoom plugin: ${why(e)}`)
          : new SfuError(`Lost the connection to the room's audio server (Janus): ${why(e)}`, "lost")),
        ...callbacks,
      });
    });
  }

  /** A media path to Janus that ICE gave up on (a network change): as good as lost. */
  onIceState(iceState, what) {
    if (iceState === "failed") this.fail(`The connection to the room's audio server failed (${what}).`, "lost");
  }

  markUp() {
    if (this.up || this.closed) return;
    this.up = true;
    this.onUp();
  }

  fail(text, kind = "refused") {
    if (this.closed) return;
    this.close();
    this.onFail(text, kind);
  }

  onPublisherMessage(msg, jsep) {
    if (this.closed) return;
    if (jsep) this.publisher.handleRemoteJsep({ jsep });
    if (msg.error) {
      // No such room: Janus restarted and LingoLive has not built the room again yet.
      if (!this.myId && msg.error_code === NO_SUCH_ROOM) this.fail(`The room is not on its audio server (Janus): ${msg.error}`, "lost");
      else if (!this.myId) this.fail(`Janus refused to let this page into the room: ${msg.error}`);
      else this.onNotice(`Janus: ${msg.error}`);
      return;
    }
    if (msg.videoroom === "joined") {
      this.myId = msg.id;
      this.seePublishers(msg.publishers);
      if (this.track) this.publish();
      else if (!this.wanted.size) this.onNotice("Nobody speaks in this room yet.");
    } else if (msg.videoroom === "event") {
      if (msg.configured === "ok" && this.track && !this.publishing) {
        this.publishing = true;
        this.tellPeople();
      }
      this.seePublishers(msg.publishers);
      for (const gone of [msg.unpublished, msg.leaving]) {
        if (gone !== undefined && gone !== "ok") this.forget(gone);
      }
    } else if (msg.videoroom === "destroyed") {
      // LingoLive builds the room again (same number) and says so with a new `sfu_ready`.
      this.fail("The room's Janus room was closed.", "lost");
    }
  }

  publish() {
    this.publisher.createOffer({
      // The page's own track (mute disables it); janus.js must not stop it when it cleans up.
      tracks: [{ type: "audio", capture: this.track, recv: false, dontStop: true }],
      success: (jsep) => this.publisher.send({ message: { request: "publish", audiocodec: "opus" }, jsep }),
      error: (e) => this.fail(`Could not publish the microphone to Janus: ${why(e)}`),
    });
  }

  /** Use another microphone track (Devices). */
  async replaceTrack(track) {
    this.track = track;
    const pc = this.publisher && this.publisher.webrtcStuff && this.publisher.webrtcStuff.pc;
    const sender = pc && pc.getSenders().find((s) => !s.track || s.track.kind === "audio");
    if (sender) await sender.replaceTrack(track);
  }

  /** Whether I hear this publisher: LingoLive's feed in my language, and the original voice
   * of speakers of my language (not mine). */
  hearsFeed(id, display) {
    if (id === this.myId || !display) return false;
    return display === this.feedDisplay || display.endsWith(`[${this.hears}]`);
  }

  seePublishers(list) {
    if (!Array.isArray(list)) return;
    for (const p of list) {
      this.publishers.set(p.id, p.display || "");
      if (this.hearsFeed(p.id, p.display)) this.wanted.add(p.id);
    }
    this.tellPeople();
    this.sync();
  }

  forget(id) {
    const known = this.publishers.delete(id);
    this.wanted.delete(id);
    if (known) this.tellPeople();
    this.sync();
  }

  /** Who publishes in the room, me first while I do. */
  people() {
    const list = [...this.publishers].map(([id, display]) => ({ id, display }));
    if (this.publishing && this.myId) list.unshift({ id: this.myId, display: this.display });
    return list;
  }

  tellPeople() {
    if (!this.closed) this.onPeople(this.people());
  }

  /** Bring the subscription in line with `wanted`, one change at a time. */
  async sync() {
    if (this.closed || this.busy) return;
    const add = [...this.wanted].filter((id) => !this.subscribed.has(id));
    const drop = [...this.subscribed].filter((id) => !this.wanted.has(id));
    if (!add.length && !drop.length) return;
    this.busy = true;
    if (!this.subscriber) {
      try {
        this.subscriber = await this.attach({
          onmessage: (msg, jsep) => this.onSubscriberMessage(msg, jsep),
          onremotetrack: (track, mid, on) => this.onRemoteTrack(track, mid, on),
          webrtcState: (on) => { if (on && !this.track) this.markUp(); },
          iceState: (s) => this.onIceState(s, "receiving the room's audio"),
        });
      } catch (e) {
        this.fail(e.message, e.kind);
        return;
      }
      if (this.closed) return;
      add.forEach((id) => this.subscribed.add(id));
      this.subscriber.send({
        message: {
          request: "join", room: this.room, ptype: "subscriber",
          streams: add.map((feed) => ({ feed })),
        },
      });
    } else if (add.length) {
      add.forEach((id) => this.subscribed.add(id));
      this.subscriber.send({ message: { request: "subscribe", streams: add.map((feed) => ({ feed })) } });
    } else {
      drop.forEach((id) => this.subscribed.delete(id));
      this.subscriber.send({ message: { request: "unsubscribe", streams: drop.map((feed) => ({ feed })) } });
    }
  }

  settled() {
    this.busy = false;
    this.sync();
  }

  onSubscriberMessage(msg, jsep) {
    if (this.closed) return;
    if (Array.isArray(msg.streams)) {
      this.streams = msg.streams;
      for (const [mid, audio] of this.audios) audio.dataset.feed = this.feedOfMid(mid) || "";
    }
    if (msg.error) {
      // A feed that left meanwhile (428 and the like): not fatal, the next sync catches up.
      this.onNotice(`Janus: ${msg.error}`);
      this.settled();
      return;
    }
    if (jsep) {
      this.subscriber.createAnswer({
        jsep,
        tracks: [],  // receive only
        // Janus handles a handle's requests in order: once `start` is taken, the next change may go.
        success: (answer) => this.subscriber.send({
          message: { request: "start", room: this.room }, jsep: answer, success: () => this.settled(),
        }),
        error: (e) => this.fail(`Could not receive the room's audio: ${why(e)}`),
      });
      return;
    }
    // A change that needed no new offer (with one, `start` settles it).
    if (msg.videoroom === "updated") this.settled();
  }

  onRemoteTrack(track, mid, on) {
    const old = this.audios.get(mid);
    if (!on) {
      if (old && old.srcObject && old.srcObject.getTracks()[0] === track) {
        old.remove();
        this.audios.delete(mid);
      }
      return;
    }
    if (track.kind !== "audio") return;
    // One <audio> per feed (not WebAudio): the browser's echo canceller knows what plays.
    const audio = old || document.createElement("audio");
    audio.autoplay = true;
    audio.dataset.mid = mid;
    audio.dataset.feed = this.feedOfMid(mid) || "";
    audio.srcObject = new MediaStream([track]);
    if (!old) {
      audio.hidden = true;
      document.body.append(audio);
      this.audios.set(mid, audio);
    }
    if (this.sinkId && audio.setSinkId) audio.setSinkId(this.sinkId).catch(() => {});
    audio.play().catch(() => this.onNotice("Click anywhere to allow audio playback."));
  }

  /** The speaker (Devices) for every feed. */
  setSink(sinkId) {
    this.sinkId = sinkId;
    for (const audio of this.audios.values()) if (audio.setSinkId) audio.setSinkId(sinkId).catch(() => {});
  }

  /** The display of the feed a subscription `mid` carries (null: not known). */
  feedOfMid(mid) {
    const s = this.streams.find((x) => String(x.mid) === String(mid));
    return s ? s.feed_display || null : null;
  }

  /** Leave the room and end the Janus session; safe to call more than once, and after Janus
   * went away (then only this page's side is cleaned up). */
  close() {
    if (this.closed) return;
    this.closed = true;
    for (const audio of this.audios.values()) audio.remove();
    this.audios.clear();
    if (this.publisher && this.janus.isConnected()) {
      // unpublish first: a bare `leave` skips the subscribers' update (docs/sfu.md).
      if (this.track) try { this.publisher.send({ message: { request: "unpublish" } }); } catch { /* gone */ }
      try { this.publisher.send({ message: { request: "leave" } }); } catch { /* gone */ }
    }
    if (this.janus) this.endJanus();
  }

  /** Destroy the Janus session: that detaches the handles and hangs up their connections. */
  endJanus() {
    const id = this.janus.getSessionId();
    try { this.janus.destroy({ cleanupHandles: true, notifyDestroyed: false }); } catch { /* gone */ }
    // janus.js keeps every session it made in Janus.sessions (for its unload handler), for ever.
    if (id && window.Janus && window.Janus.sessions) delete window.Janus.sessions[id];
  }
}
