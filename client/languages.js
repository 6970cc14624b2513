// The languages the server serves, from GET /api/config. Pure: no DOM.

/**
 * `config` is the server's `/api/config` (`pairs` of {source, target, source_name,
 * target_name}, `default_source`, `default_target`). `name(code)` names a language;
 * `sources()` lists what can be spoken; `targets(source, {room, conversation})` what can be
 * heard speaking `source`.
 */
export class Languages {
  /** `locales`: the viewer's languages, in which languages are named (the browser's). */
  constructor(config, locales = globalThis.navigator?.languages) {
    this.pairs = config.pairs;
    this.defaultSource = config.default_source;
    this.defaultTarget = config.default_target;
    try {
      this.display = new Intl.DisplayNames(locales || [], { type: "language" });
    } catch {
      this.display = null;  // no Intl.DisplayNames: the server's English names
    }
  }

  /** A language's name in the viewer's language ("Spanish", "español", "Spanisch"). */
  name(code) {
    if (code === "auto") return "Detect automatically";
    const own = this.display?.of(code);
    if (own && own !== code) return own.charAt(0).toLocaleUpperCase() + own.slice(1);
    for (const p of this.pairs) {
      if (p.source === code) return p.source_name;
      if (p.target === code) return p.target_name;
    }
    return code;
  }

  sources() {
    return [...new Set(this.pairs.map((p) => p.source))];
  }

  served(source, target) {
    return this.pairs.some((p) => p.source === source && p.target === target);
  }

  // Only targets the server can actually reach from the source (both ways in a
  // conversation). In a room, what I hear comes from the others, whatever they speak: any
  // language the server speaks (or mine).
  targets(source, { room = false, conversation = false } = {}) {
    if (room) return [...new Set([source, ...this.pairs.map((p) => p.target)])];
    const targets = [...new Set(this.pairs.filter((p) => source === "auto" || p.source === source).map((p) => p.target))];
    return conversation ? targets.filter((t) => this.served(t, source)) : targets;
  }
}
