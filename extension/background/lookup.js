// The address-lookup cache: answers per address for a few minutes, shares in-flight
// requests between concurrent lookups, batches misses (at most MAX_LOOKUP_ADDRESSES per
// request), and mirrors itself in chrome.storage.session so that a restarted service worker
// keeps it.

export const LOOKUP_TTL_MS = 5 * 60 * 1000;
/** api.rs MAX_LOOKUP_ADDRESSES. */
export const MAX_LOOKUP_ADDRESSES = 500;
const SESSION_KEY = "threadlineLookupCache";
const MAX_ENTRIES = 5000;

export function lookupKey(address) {
  return String(address).trim().toLowerCase();
}

export class LookupCache {
  /**
   * @param {object} deps
   * @param {object|null} deps.session chrome.storage.session or null
   * @param {() => number} deps.now
   * @param {(addresses: string[]) => Promise<object[]>} deps.fetchBatch POSTs one batch,
   *   resolves to its results in order, rejects with a protocol error object.
   */
  constructor({ session, now, fetchBatch }) {
    this.session = session;
    this.now = now;
    this.fetchBatch = fetchBatch;
    this.entries = new Map(); // key -> { value, expires }
    this.inflight = new Map(); // key -> Promise<AddressLookup>
    this.generation = 0;
    this.fingerprint = null;
    this.loaded = null;
    this.writeChain = Promise.resolve();
  }

  /**
   * Loads the session mirror once. `fingerprint` identifies the server and token: a mirror
   * written for another one is discarded.
   */
  load(fingerprint) {
    if (this.fingerprint !== fingerprint) {
      // Another server or token: nothing cached for the previous one applies.
      if (this.fingerprint !== null) this.invalidate();
      this.fingerprint = fingerprint;
      this.loaded = null;
    }
    if (!this.loaded) {
      const generation = this.generation;
      this.loaded = (async () => {
        if (!this.session) return;
        let stored;
        try {
          stored = (await this.session.get(SESSION_KEY))[SESSION_KEY];
        } catch {
          return;
        }
        if (!stored || stored.fingerprint !== fingerprint || generation !== this.generation) return;
        const now = this.now();
        for (const [key, entry] of Object.entries(stored.entries || {})) {
          if (entry && entry.expires > now && !this.entries.has(key)) this.entries.set(key, entry);
        }
      })();
    }
    return this.loaded;
  }

  /** Forgets everything, including requests still in flight (their answers are not kept). */
  invalidate() {
    this.generation += 1;
    this.entries.clear();
    this.inflight.clear();
    this.persist();
  }

  /** Resolves to one AddressLookup per input address, in order; rejects with an error object. */
  async lookup(addresses) {
    const now = this.now();
    const waits = new Map(); // key -> Promise
    const misses = [];
    for (const address of addresses) {
      const key = lookupKey(address);
      if (waits.has(key) || misses.includes(key)) continue;
      const entry = this.entries.get(key);
      if (entry && entry.expires > now) {
        waits.set(key, Promise.resolve(entry.value));
      } else if (this.inflight.has(key)) {
        waits.set(key, this.inflight.get(key));
      } else {
        if (entry) this.entries.delete(key);
        misses.push(key);
      }
    }
    for (let i = 0; i < misses.length; i += MAX_LOOKUP_ADDRESSES) {
      const perKey = this.startBatch(misses.slice(i, i + MAX_LOOKUP_ADDRESSES));
      for (const [key, promise] of perKey) waits.set(key, promise);
    }
    const keys = [...waits.keys()];
    const values = await Promise.all(keys.map((key) => waits.get(key)));
    const settled = new Map(keys.map((key, index) => [key, values[index]]));
    // "address" is the input as the caller sent it; the cached value may come from another
    // spelling of the same address.
    return addresses.map((address) => ({ ...settled.get(lookupKey(address)), address }));
  }

  /** Sends one batch; returns a promise per key, also registered as in flight. */
  startBatch(keys) {
    const generation = this.generation;
    const batch = this.fetchBatch(keys).then((results) => {
      if (!Array.isArray(results) || results.length !== keys.length) {
        throw { code: "server_error", message: "The Threadline server sent a malformed lookup answer." };
      }
      return results;
    });
    const perKey = new Map();
    keys.forEach((key, index) => {
      const promise = batch.then((results) => results[index]);
      promise.catch(() => {}); // a caller that awaits it sees the rejection
      perKey.set(key, promise);
      this.inflight.set(key, promise);
    });
    const settle = () => {
      for (const [key, promise] of perKey) if (this.inflight.get(key) === promise) this.inflight.delete(key);
    };
    batch.then(
      (results) => {
        settle();
        if (generation !== this.generation) return;
        const expires = this.now() + LOOKUP_TTL_MS;
        keys.forEach((key, index) => this.entries.set(key, { value: results[index], expires }));
        this.persist();
      },
      settle,
    );
    return perKey;
  }

  /** Writes the mirror (serialised: the last write reflects the latest state). */
  persist() {
    if (!this.session) return this.writeChain;
    this.writeChain = this.writeChain.then(async () => {
      const now = this.now();
      for (const [key, entry] of this.entries) if (entry.expires <= now) this.entries.delete(key);
      while (this.entries.size > MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value);
      try {
        if (this.entries.size === 0) {
          await this.session.remove(SESSION_KEY);
        } else {
          await this.session.set({
            [SESSION_KEY]: { fingerprint: this.fingerprint, entries: Object.fromEntries(this.entries) },
          });
        }
      } catch {
        // The mirror is only an optimisation.
      }
    });
    return this.writeChain;
  }
}
