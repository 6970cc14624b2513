// AudioWorklet processor of bench/browser_latency.py: per render quantum (128 frames) of the
// track it listens to, on the AudioContext's own sample clock:
//   [t, rms, peak, first, last]
// t = currentFrame / sampleRate of the quantum's first frame (s), rms and peak over its frames
// (all channels), first/last = index in the quantum of the first/last sample whose |x| passes
// `level` (-1: none), so that onsets are located to the sample. Sent in batches (~85 ms).
class Tap extends AudioWorkletProcessor {
  constructor(options) {
    super();
    this.level = options.processorOptions.level;
    this.batch = [];
  }

  process(inputs) {
    const channels = inputs[0] || [];
    const n = channels.length ? channels[0].length : 128;
    let sum = 0, peak = 0, first = -1, last = -1;
    for (let i = 0; i < n; i++) {
      let m = 0;
      for (const ch of channels) {
        const x = ch[i];
        sum += x * x;
        const a = x < 0 ? -x : x;
        if (a > m) m = a;
      }
      if (m > peak) peak = m;
      if (m > this.level) { if (first < 0) first = i; last = i; }
    }
    const rms = channels.length ? Math.sqrt(sum / (n * channels.length)) : 0;
    this.batch.push(currentFrame / sampleRate, rms, peak, first, last);
    if (this.batch.length >= 32 * 5) {
      this.port.postMessage(this.batch);
      this.batch = [];
    }
    return true;
  }
}
registerProcessor("tap", Tap);
