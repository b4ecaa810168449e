// A list of entries kept in chrome.storage.local under one key, `{ items, failed }`, changed
// one change at a time: each change runs after every earlier one has been written, on the
// state read once from storage. The offline queue (queue.js) and the whole-email capture
// (source.js) keep their entries so, and survive the service worker's stops.

export class StoredList {
  /**
   * @param {object} storage chrome.storage.local (or a fake)
   * @param {string} key the storage key
   * @param {object} log where a failed read is reported (`warn`)
   * @param {string} what what the list holds, for that report
   */
  constructor(storage, key, log, what) {
    this.storage = storage;
    this.key = key;
    this.log = log;
    this.what = what;
    this.state = { items: [], failed: [] };
    this.loaded = null;
    this.chain = Promise.resolve();
  }

  /** Reads the stored state once; later calls wait for that read. */
  load() {
    if (!this.loaded) {
      this.loaded = (async () => {
        let stored = null;
        try {
          stored = (await this.storage.get(this.key))[this.key];
        } catch (e) {
          this.log.warn(`Threadline: could not read ${this.what}`, String(e));
        }
        if (stored && Array.isArray(stored.items)) {
          this.state = { items: stored.items, failed: Array.isArray(stored.failed) ? stored.failed : [] };
        }
      })();
    }
    return this.loaded;
  }

  /** Runs `fn(state)` after every earlier change has been written; writes if it returns true. */
  change(fn) {
    const run = this.chain.then(async () => {
      await this.load();
      const changed = await fn(this.state);
      if (changed) await this.storage.set({ [this.key]: this.state });
      return changed;
    });
    this.chain = run.catch(() => {});
    return run;
  }
}
