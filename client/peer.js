// The WebRTC connection to the server, for direct sessions and LingoLive's own rooms.

/** Resolve once ICE gathering completes, or after `ms`: a complete offer when gathering is
 * quick (LAN); after `ms`, the offer goes with what there is and the rest is trickled. */
function waitForIce(pc, ms) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => { pc.removeEventListener("icegatheringstatechange", check); resolve(); };
    const check = () => { if (pc.iceGatheringState === "complete") done(); };
    pc.addEventListener("icegatheringstatechange", check);
    setTimeout(done, ms);
  });
}

/**
 * One RTCPeerConnection: sends the microphone `track`, plays what comes back in `audio` (an
 * <audio> element, so that the echo canceller knows what plays). It has no signaling of its
 * own: `offer()` resolves the offer's SDP, which the caller sends, then calls `offerSent()`
 * (later candidates go out through `send(msg)` as `candidate` messages), and hands the
 * server's answer to `answer(sdp)`.
 *
 * Callbacks: `onConnected()` (ICE and DTLS up), `onFailed()`, `onPlayBlocked()` (the browser
 * wants a click before playing), `onRtt(ms)` (the network round trip, every second).
 */
export class Peer {
  constructor({ iceServers, track, stream, audio, send, onConnected, onFailed, onPlayBlocked, onRtt }) {
    const pc = new RTCPeerConnection({ iceServers });
    this.pc = pc;
    this.send = send;
    this.onRtt = onRtt;
    this.closed = false;
    this.pending = [];  // candidates found before the offer went
    this.sentOffer = false;
    this.statsTimer = null;
    pc.addTrack(track, stream);
    pc.ontrack = (ev) => {
      if (this.closed) return;
      audio.srcObject = ev.streams[0] || new MediaStream([ev.track]);
      audio.play().catch(() => onPlayBlocked());
    };
    pc.onconnectionstatechange = () => {
      if (this.closed) return;
      if (pc.connectionState === "failed") onFailed();
      if (pc.connectionState === "connected") onConnected();
    };
    pc.onicecandidate = (ev) => {
      const c = ev.candidate;
      if (!c || this.closed) return;
      const msg = { type: "candidate", candidate: c.candidate, sdpMid: c.sdpMid, sdpMLineIndex: c.sdpMLineIndex };
      if (this.sentOffer) this.send(msg); else this.pending.push(msg);
    };
  }

  get connected() {
    return this.pc.connectionState === "connected";
  }

  async offer() {
    await this.pc.setLocalDescription(await this.pc.createOffer());
    await waitForIce(this.pc, 2000);
    return this.pc.localDescription.sdp;
  }

  /** The offer went: send the candidates it lacks, and measure the round trip from now on. */
  offerSent() {
    this.sentOffer = true;
    // Candidates already inside the offer need not be sent again.
    for (const msg of this.pending) if (!this.pc.localDescription.sdp.includes(msg.candidate)) this.send(msg);
    this.pending = [];
    clearInterval(this.statsTimer);
    this.statsTimer = setInterval(() => this.readStats(), 1000);
  }

  answer(sdp) {
    return this.pc.setRemoteDescription({ type: "answer", sdp });
  }

  /** Send another microphone track on the same connection (Devices). */
  async replaceTrack(track) {
    const sender = this.pc.getSenders().find((s) => !s.track || s.track.kind === "audio");
    if (sender) await sender.replaceTrack(track);
  }

  async readStats() {
    if (this.closed) return;
    const report = await this.pc.getStats();
    report.forEach((s) => {
      if (s.type === "candidate-pair" && s.state === "succeeded" && s.currentRoundTripTime !== undefined) {
        this.onRtt(s.currentRoundTripTime * 1000);
      }
    });
  }

  close() {
    this.closed = true;
    clearInterval(this.statsTimer);
    this.pc.close();
  }
}
