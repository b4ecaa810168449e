// The offline queue of actions (track, task, contact). Every action goes through it: it is
// persisted before its first attempt, sent with its key as the Idempotency-Key on every
// attempt, and removed only after a 2xx, so an action is delivered exactly once even when
// the service worker stops mid-request.

import { isTransient } from "./http.js";
import { StoredList } from "./stored-list.js";

export const QUEUE_KEY = "threadlineQueue";
export const MIN_BACKOFF_MS = 1000;
export const MAX_BACKOFF_MS = 5 * 60 * 1000;
export const MAX_ITEMS = 1000;
export const MAX_FAILED = 50;
/** Stays well inside chrome.storage.local's 10 MB quota (the extension has no unlimitedStorage). */
export const MAX_QUEUE_CHARS = 4 * 1024 * 1024;
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Exponential backoff with jitter for the `attempts`-th failure: 1 s … 5 min. */
export function backoffMs(attempts, random) {
  const base = Math.min(MAX_BACKOFF_MS, MIN_BACKOFF_MS * 2 ** Math.max(0, attempts - 1));
  return Math.max(MIN_BACKOFF_MS, Math.round(base * (0.5 + 0.5 * random())));
}

function isDue(item, now, holdUntil) {
  return !item.blocked && item.notBefore <= now && item.nextAttemptAt <= now && holdUntil <= now;
}

function summary(item) {
  return {
    key: item.key,
    kind: item.kind,
    messageIds: item.messageIds,
    createdAt: item.createdAt,
    notBefore: item.notBefore,
    attempts: item.attempts,
    nextAttemptAt: item.nextAttemptAt,
    lastError: item.lastError,
    blocked: item.blocked,
  };
}

export class ActionQueue {
  /**
   * @param {object} deps
   * @param {object} deps.storage chrome.storage.local
   * @param {() => number} deps.now
   * @param {() => number} deps.random
   * @param {Function} deps.setTimeout
   * @param {Function} deps.clearTimeout
   * @param {object} deps.errors makeErrors(...)
   * @param {(item) => Promise<object>} deps.deliver sends one item; resolves to an
   *   apiRequest outcome, or `{ kind: "skip" }` when nothing can be sent now (not configured)
   * @param {(item, data, awaited: boolean) => void} deps.onDelivered
   * @param {(item, error, awaited: boolean) => void} deps.onFailed
   */
  constructor(deps) {
    this.deps = deps;
    this.stored = new StoredList(deps.storage, QUEUE_KEY, console, "the queue");
    this.inFlight = new Set();
    this.awaited = new Map(); // key -> outcome of its attempt, or null while none
    this.holdUntil = 0;
    this.timer = null;
    this.nextPass = null;
    this.running = Promise.resolve();
    this.disposed = false;
  }

  /** The stored items (`{ items, failed }`), as last read or changed. */
  get state() {
    return this.stored.state;
  }

  /** Runs `fn(state)` after every earlier change has been written; writes if it returns true. */
  change(fn) {
    return this.stored.change(fn);
  }

  load() {
    return this.stored.load();
  }

  newItem(fields) {
    const now = this.deps.now();
    return {
      key: fields.key,
      kind: fields.kind,
      request: fields.request,
      messageIds: fields.messageIds || [],
      tabId: fields.tabId ?? null,
      createdAt: now,
      notBefore: fields.notBefore ?? now,
      attempts: 0,
      nextAttemptAt: now,
      lastError: null,
      blocked: false,
    };
  }

  static checkRoom(state, item) {
    if (state.items.length >= MAX_ITEMS || JSON.stringify(state).length + JSON.stringify(item).length > MAX_QUEUE_CHARS) {
      throw { code: "queue_full", message: "Too many Threadline actions are waiting for the server." };
    }
  }

  /**
   * Adds an item. With `awaited`, the caller will read the outcome of its first attempt with
   * `takeOutcome` after `flush()`, and is answered instead of notified.
   */
  async enqueue(fields, { awaited = false } = {}) {
    const item = this.newItem(fields);
    await this.change((state) => {
      ActionQueue.checkRoom(state, item);
      state.items.push(item);
      return true;
    });
    if (awaited) this.awaited.set(item.key, null);
    this.scheduleTimer();
    return item;
  }

  /**
   * Adds an item under the caller's key, or replaces the one with that key if it has not
   * been attempted yet (an Idempotency-Key must always carry the same request). Resolves to
   * the stored item.
   */
  async schedule(fields) {
    let stored = null;
    await this.change((state) => {
      const existing = state.items.find((i) => i.key === fields.key);
      if (existing) {
        stored = existing;
        if (existing.attempts > 0 || this.inFlight.has(fields.key)) return false;
        Object.assign(existing, { request: fields.request, messageIds: fields.messageIds, notBefore: fields.notBefore });
        return true;
      }
      const item = this.newItem(fields);
      ActionQueue.checkRoom(state, item);
      stored = item;
      state.items.push(item);
      return true;
    });
    this.scheduleTimer();
    return stored;
  }

  /** The outcome of an awaited item's attempt: `{ data }`, `{ error }` or null (queued). */
  takeOutcome(key) {
    const outcome = this.awaited.get(key) || null;
    this.awaited.delete(key);
    return outcome;
  }

  find(key) {
    return this.state.items.find((item) => item.key === key) || null;
  }

  /** Removes an item that is not being sent right now. Resolves to whether it was removed. */
  async cancel(key) {
    const removed = await this.change((state) => {
      if (this.inFlight.has(key)) return false;
      const index = state.items.findIndex((item) => item.key === key);
      if (index < 0) return false;
      state.items.splice(index, 1);
      return true;
    });
    this.awaited.delete(key);
    this.scheduleTimer();
    return removed;
  }

  /**
   * Makes an item due now; `update(item)` may amend an item that is not being sent. Resolves
   * to whether it exists.
   */
  async confirm(key, update) {
    const found = await this.change((state) => {
      const item = state.items.find((i) => i.key === key);
      if (!item) return false;
      const now = this.deps.now();
      item.notBefore = Math.min(item.notBefore, now);
      item.nextAttemptAt = Math.min(item.nextAttemptAt, now);
      if (update && !this.inFlight.has(key)) update(item);
      return true;
    });
    this.scheduleTimer();
    return found;
  }

  /** Unblocks items stopped by a 401 and forgets a Retry-After hold (options changed). */
  async unblock() {
    this.holdUntil = 0;
    await this.change((state) => {
      let changed = false;
      for (const item of state.items) {
        if (item.blocked) {
          item.blocked = false;
          item.nextAttemptAt = this.deps.now();
          changed = true;
        }
      }
      return changed;
    });
  }

  async clearFailed(keys) {
    await this.change((state) => {
      const before = state.failed.length;
      state.failed = keys ? state.failed.filter((f) => !keys.includes(f.key)) : [];
      return state.failed.length !== before;
    });
  }

  async snapshot() {
    await this.stored.chain;
    await this.load();
    return {
      items: this.state.items.map(summary),
      failed: this.state.failed.map((f) => ({ ...f })),
    };
  }

  /** Undelivered items concerning any of `ids`. */
  async pendingFor(ids) {
    await this.stored.chain;
    await this.load();
    const wanted = new Set(ids);
    return this.state.items
      .filter((item) => item.messageIds.some((id) => wanted.has(id)))
      .map((item) => ({ key: item.key, kind: item.kind, messageIds: item.messageIds }));
  }

  /**
   * Runs a delivery pass that starts after this call (passes run one at a time; calls made
   * while a pass waits to start share it). Resolves when that pass is over.
   */
  flush() {
    if (this.disposed) return Promise.resolve();
    if (!this.nextPass) {
      const pass = this.running.then(() => {
        this.nextPass = null;
        return this.runPass();
      });
      this.nextPass = pass;
      this.running = pass.catch((e) => console.warn("Threadline: delivery pass failed", String(e)));
    }
    return this.nextPass;
  }

  async runPass() {
    await this.stored.chain;
    await this.load();
    const start = this.deps.now();
    const due = this.state.items.filter((item) => isDue(item, start, this.holdUntil)).map((i) => i.key);
    for (const key of due) {
      if (this.disposed) return;
      const item = this.find(key);
      if (!item || !isDue(item, this.deps.now(), this.holdUntil)) continue;
      this.inFlight.add(key);
      let outcome;
      try {
        outcome = await this.deps.deliver(item);
      } catch (e) {
        outcome = { kind: "network", message: String(e) };
      } finally {
        this.inFlight.delete(key);
      }
      if (outcome.kind === "skip") {
        // Not configured: nothing can go out until the options change (which flushes).
        this.deps.clearTimeout(this.timer);
        this.timer = null;
        return;
      }
      await this.record(key, outcome);
    }
    this.scheduleTimer();
  }

  /** Applies the result of one attempt to the stored queue. */
  async record(key, outcome) {
    const errors = this.deps.errors;
    const awaited = this.awaited.has(key);
    let report = null;
    await this.change((state) => {
      const index = state.items.findIndex((i) => i.key === key);
      if (index < 0) return false;
      const item = state.items[index];
      const now = this.deps.now();
      if (outcome.kind === "ok") {
        state.items.splice(index, 1);
        report = () => this.deps.onDelivered(item, outcome.data, awaited);
        if (awaited) this.awaited.set(key, { data: outcome.data });
        return true;
      }
      const error = errors.fromOutcome(outcome);
      item.attempts += 1;
      item.lastError = error;
      if (isTransient(outcome)) {
        // Retry-After, when the server sent one, overrides the backoff (never below 1 s).
        const wait = Math.max(MIN_BACKOFF_MS, outcome.retryAfterMs ?? backoffMs(item.attempts, this.deps.random));
        item.nextAttemptAt = now + wait;
        // A 429 is about the whole client: hold every item.
        if (outcome.status === 429 && outcome.retryAfterMs != null) this.holdUntil = now + wait;
        return true;
      }
      if (outcome.status === 401 && !awaited) {
        item.blocked = true; // until the options change
        return true;
      }
      // A 401 for a fresh action, or a 4xx that sending again cannot fix: drop it. A fresh
      // action's caller shows the error; an older one goes to the `failed` list.
      state.items.splice(index, 1);
      if (awaited) {
        this.awaited.set(key, { error });
      } else {
        state.failed.push({
          key: item.key,
          kind: item.kind,
          messageIds: item.messageIds,
          request: item.request,
          error,
          failedAt: now,
        });
        if (state.failed.length > MAX_FAILED) state.failed.splice(0, state.failed.length - MAX_FAILED);
        report = () => this.deps.onFailed(item, error, awaited);
      }
      return true;
    });
    if (report) report();
  }

  /** Arms one timer for the earliest moment an item becomes due. */
  scheduleTimer() {
    if (this.timer !== null) {
      this.deps.clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.disposed) return;
    let earliest = Infinity;
    for (const item of this.state.items) {
      if (!item.blocked) earliest = Math.min(earliest, Math.max(item.notBefore, item.nextAttemptAt, this.holdUntil));
    }
    if (earliest === Infinity) return;
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, earliest - this.deps.now()));
    this.timer = this.deps.setTimeout(() => {
      this.timer = null;
      this.flush();
    }, delay);
  }

  dispose() {
    this.disposed = true;
    if (this.timer !== null) this.deps.clearTimeout(this.timer);
    this.timer = null;
  }
}
