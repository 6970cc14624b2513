// The microphone's level, from a WebAudio AnalyserNode on the track being sent: 0 (−60 dBFS
// or less) … 1 (full scale), ten times a second. A disabled (muted) track reads 0, as it
// sends silence (Chromium's WebAudio still hears a disabled track).

export class LevelMeter {
  constructor(onLevel) {
    this.onLevel = onLevel;
    this.ctx = null;
    this.source = null;
    this.analyser = null;
    this.timer = null;
    this.level = 0;
  }

  /** Measure `track` (a MediaStreamTrack) from now on; replaces what was measured before. */
  attach(track) {
    this.detachSource();
    if (!track) return;
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return;
    if (!this.ctx) this.ctx = new Ctx();
    this.ctx.resume().catch(() => {});
    this.source = this.ctx.createMediaStreamSource(new MediaStream([track]));
    this.analyser = this.ctx.createAnalyser();
    this.analyser.fftSize = 1024;
    this.source.connect(this.analyser);  // not to the destination: nothing is played
    const buf = new Float32Array(this.analyser.fftSize);
    this.timer = setInterval(() => {
      this.analyser.getFloatTimeDomainData(buf);
      let sum = 0;
      for (const x of buf) sum += x * x;
      const db = 10 * Math.log10(sum / buf.length + 1e-12);
      const now = track.enabled ? Math.min(1, Math.max(0, (db + 60) / 60)) : 0;
      // Fast attack, slow release: readable, not jittery.
      this.level = now > this.level ? now : Math.max(now, this.level * 0.8);
      this.onLevel(this.level);
    }, 100);
  }

  detachSource() {
    clearInterval(this.timer);
    this.timer = null;
    if (this.source) this.source.disconnect();
    this.source = this.analyser = null;
    this.level = 0;
    this.onLevel(0);
  }

  close() {
    this.detachSource();
    if (this.ctx) this.ctx.close().catch(() => {});
    this.ctx = null;
  }
}
