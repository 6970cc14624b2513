// A minimal event emitter, what the page's modules report with.

/**
 * `on(type, listener)` adds a listener (and returns the emitter, to chain); `emit(type,
 * ...args)` calls the listeners of `type` in the order they were added. Nothing else: no
 * removal, no once, no bubbling.
 */
export class Emitter {
  #listeners = new Map();

  on(type, listener) {
    if (!this.#listeners.has(type)) this.#listeners.set(type, []);
    this.#listeners.get(type).push(listener);
    return this;
  }

  emit(type, ...args) {
    for (const listener of this.#listeners.get(type) || []) listener(...args);
  }
}
