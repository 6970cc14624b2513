// Measurement page of bench/browser_latency.py. One session as the product page opens it
// (client/: the same getUserMedia constraints as microphone.js, a real RTCPeerConnection as
// peer.js, the remote track played by an <audio> element), plus two AudioWorklet taps on ONE
// AudioContext: the local microphone track and the remote (translated) track. Every time recorded here is on that
// context's sample clock (seconds), so mic and remote instants are directly comparable.

const QUANTUM_FIELDS = 5;  // t, rms, peak, first, last (see tap.js)

const bench = {
  opts: null,
  marks: {},        // name -> context time
  events: [],       // server messages, each with `_at` (context time of arrival)
  mic: [],          // flat quanta of the microphone track
  remote: [],       // flat quanta of the remote track
  stats: null,      // getStats() summary at the end
  error: null,
  ctx: null, pc: null, ws: null, track: null,
};
window.bench = bench;

const now = () => (bench.ctx ? bench.ctx.currentTime : -1);
const mark = (name) => { if (!(name in bench.marks)) bench.marks[name] = now(); };
const status = (text) => { document.getElementById("status").textContent = text; };

function send(msg) {
  if (bench.ws && bench.ws.readyState === WebSocket.OPEN) bench.ws.send(JSON.stringify(msg));
}

function waitForIce(pc, ms) {  // as client/peer.js: complete offer on a LAN, else trickle
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => { pc.removeEventListener("icegatheringstatechange", check); resolve(); };
    const check = () => { if (pc.iceGatheringState === "complete") done(); };
    pc.addEventListener("icegatheringstatechange", check);
    setTimeout(done, ms);
  });
}

function tap(ctx, sink, track, into) {
  const source = ctx.createMediaStreamSource(new MediaStream([track]));
  const node = new AudioWorkletNode(ctx, "tap", {
    numberOfInputs: 1, numberOfOutputs: 1,
    processorOptions: { level: bench.opts.onsetLevel },
  });
  node.port.onmessage = (ev) => { for (const v of ev.data) into.push(v); };
  source.connect(node);
  node.connect(sink);  // a silent path to the destination keeps the node rendered
  return node;
}

/** Start the session. opts: {source, target, onsetLevel, loudLevel, apm}. */
bench.start = async (opts) => {
  bench.opts = opts;
  try {
    const ctx = new AudioContext({ latencyHint: "interactive" });
    bench.ctx = ctx;
    // The script puts tap.js in the page (see page_html); a worklet module from a blob.
    const code = document.getElementById("tap-source").textContent;
    await ctx.audioWorklet.addModule(URL.createObjectURL(new Blob([code], { type: "text/javascript" })));
    await ctx.resume();
    const sink = ctx.createGain();
    sink.gain.value = 0;
    sink.connect(ctx.destination);
    mark("context");

    const apm = opts.apm !== false;
    const stream = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: apm, noiseSuppression: apm, autoGainControl: apm, channelCount: 1 },
    });
    mark("microphone");
    const track = stream.getAudioTracks()[0];
    bench.track = track;
    tap(ctx, sink, track, bench.mic);

    const pc = new RTCPeerConnection({ iceServers: [] });
    bench.pc = pc;
    pc.addTrack(track, stream);
    const audio = document.getElementById("remote");
    pc.ontrack = (ev) => {
      mark("remote_track");
      // Chromium decodes a remote track only when a media element plays it; the element is
      // also what a user hears. The tap reads the same decoded (jitter-buffered) audio.
      audio.srcObject = ev.streams[0] || new MediaStream([ev.track]);
      audio.play().catch((e) => { bench.error = `play: ${e}`; });
      tap(ctx, sink, ev.track, bench.remote);
    };
    pc.onconnectionstatechange = () => mark(`pc_${pc.connectionState}`);

    const ws = new WebSocket(`ws://${location.host}/ws`);
    bench.ws = ws;
    ws.onmessage = (ev) => {
      const msg = JSON.parse(ev.data);
      msg._at = now();
      bench.events.push(msg);
      if (msg.type === "answer") {
        pc.setRemoteDescription({ type: "answer", sdp: msg.sdp }).catch((e) => { bench.error = `answer: ${e}`; });
      } else if (msg.type === "ready") mark("ready");
      else if (msg.type === "error" && !bench.error && msg.segment_id == null) bench.error = `${msg.code}: ${msg.message}`;
    };
    ws.onclose = () => mark("ws_closed");
    await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = () => reject(new Error("websocket")); });

    const pending = [];
    let offerSent = false;
    pc.onicecandidate = (ev) => {
      const c = ev.candidate;
      if (!c) return;
      const msg = { type: "candidate", candidate: c.candidate, sdpMid: c.sdpMid, sdpMLineIndex: c.sdpMLineIndex };
      if (offerSent) send(msg); else pending.push(msg);
    };
    await pc.setLocalDescription(await pc.createOffer());
    await waitForIce(pc, 2000);
    send({ type: "offer", sdp: pc.localDescription.sdp, source_lang: opts.source, target_lang: opts.target });
    offerSent = true;
    for (const msg of pending) if (!pc.localDescription.sdp.includes(msg.candidate)) send(msg);
    mark("offer_sent");
    status("running");
  } catch (e) {
    bench.error = `${e && e.stack ? e.stack : e}`;
    status(`error: ${bench.error}`);
  }
};

/** Cheap progress for the script's polling: context time, last loud instants, event count. */
bench.progress = () => {
  const lastOver = (q, level, field) => {
    for (let i = q.length - QUANTUM_FIELDS; i >= 0; i -= QUANTUM_FIELDS) if (q[i + field] > level) return q[i];
    return null;
  };
  const firstOnset = () => {
    for (let i = 0; i < bench.mic.length; i += QUANTUM_FIELDS) if (bench.mic[i + 3] >= 0) return bench.mic[i];
    return null;
  };
  return {
    now: now(),
    error: bench.error,
    marks: bench.marks,
    events: bench.events.length,
    lastEventAt: bench.events.length ? bench.events[bench.events.length - 1]._at : null,
    micOnset: firstOnset(),
    remoteLastLoud: lastOver(bench.remote, bench.opts ? bench.opts.loudLevel : 0.01, 1),
    remoteQuanta: bench.remote.length / QUANTUM_FIELDS,
  };
};

/** The microphone has played its one pass: send silence from now on (the fake capture loops
 * the file; a disabled track sends digital silence, as the product page's Mute does). */
bench.silenceMic = () => { if (bench.track) bench.track.enabled = false; mark("mic_disabled"); };

async function readStats() {
  const out = { inbound: null, outbound: null, pair: null, remoteInbound: null };
  if (!bench.pc) return out;
  const report = await bench.pc.getStats();
  report.forEach((s) => {
    if (s.type === "inbound-rtp" && s.kind === "audio") out.inbound = s;
    else if (s.type === "outbound-rtp" && s.kind === "audio") out.outbound = s;
    else if (s.type === "remote-inbound-rtp" && s.kind === "audio") out.remoteInbound = s;
    else if (s.type === "candidate-pair" && s.nominated && s.state === "succeeded") out.pair = s;
  });
  return JSON.parse(JSON.stringify(out));
}

/** End the session (bye) and hand everything over. */
bench.finish = async () => {
  bench.stats = await readStats().catch((e) => ({ error: `${e}` }));
  send({ type: "bye" });
  const ctx = bench.ctx;
  const result = {
    marks: bench.marks, events: bench.events, mic: bench.mic, remote: bench.remote,
    stats: bench.stats, error: bench.error,
    sampleRate: ctx ? ctx.sampleRate : null,
    baseLatency: ctx ? ctx.baseLatency : null,
    outputLatency: ctx ? ctx.outputLatency : null,
    userAgent: navigator.userAgent,
  };
  if (bench.pc) bench.pc.close();
  if (bench.ws) bench.ws.close();
  return result;
};

status("ready");
