// The whole email: after a message is tracked (from the bar, from the offline queue, or on
// send), its raw RFC 822 source is fetched from Gmail by a Gmail tab's content script and
// uploaded to the server (`PUT /api/v1/tracked-emails/{id}/source`).
//
// Tracking never waits for it: the entry is made from what the page shows (the DOM capture),
// and the source completes it when it comes. What is remembered across restarts is only which
// entries still need their source (a few ids each, in chrome.storage.local); the bytes live in
// this worker's memory for the length of one upload, never in storage. A capture that fails
// (Gmail offline or signed out, no Gmail tab, the server unreachable) is asked again later,
// with backoff, of whichever Gmail tab is open then.
//
// A capture, one at a time: `captureSource { requestId, legacyId }` to a Gmail tab; the tab
// opens a Port named `threadline-source` and sends begin / chunk (base64, in order) / end, or
// fail (src/capture.rs). A message known only by its client id (`msg-a:r…`, a reply just
// sent) waits until a tab reports its legacy id (the `trackedState` requests of its bar).

import { backoffMs, MAX_BACKOFF_MS } from "./queue.js";
import { isTransient } from "./http.js";
import { StoredList } from "./stored-list.js";

export const SOURCES_KEY = "threadlineSources";
export const PORT_NAME = "threadline-source";
export const MAX_SOURCE_ITEMS = 500;
export const MAX_SOURCE_FAILED = 50;
/** How long a tab may take to stream a source (a 27 MB message takes a few seconds). */
export const CAPTURE_TIMEOUT_MS = 2 * 60 * 1000;
/** The server's limit (crates/crm email_source MAX_SOURCE_BYTES: 51 MiB). */
export const MAX_SOURCE_BYTES = 51 * 1024 * 1024;
/** How long an entry known only by a client id (`msg-a:r…`) waits for its legacy id. */
export const MAX_WAIT_FOR_ID_MS = 7 * 24 * 60 * 60 * 1000;
const GMAIL_TABS = "https://mail.google.com/*";
const LEGACY_ID = /^[0-9a-f]{1,16}$/;

/** The legacy (hex) id among a message's ids: the one Gmail's "Show original" takes. */
export function legacyIdOf(ids) {
  return (ids || []).find((id) => typeof id === "string" && LEGACY_ID.test(id)) || null;
}

/** base64 → bytes (Uint8Array.fromBase64 where the runtime has it). */
export function fromBase64(text) {
  if (typeof Uint8Array.fromBase64 === "function") return Uint8Array.fromBase64(text);
  const binary = atob(text);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i += 1) out[i] = binary.charCodeAt(i);
  return out;
}

export class SourceCapture {
  /**
   * @param {object} deps
   * @param {object} deps.storage chrome.storage.local
   * @param {object} deps.tabs chrome.tabs (sendMessage, query)
   * @param {() => number} deps.now
   * @param {() => number} deps.random
   * @param {Function} deps.setTimeout
   * @param {Function} deps.clearTimeout
   * @param {(key: string) => string} deps.t localised strings
   * @param {(trackedEmailId: string, body: Blob) => Promise<object>} deps.upload an apiRequest
   *   outcome, or `{ kind: "skip" }` when the extension is not configured
   * @param {object} [deps.log]
   * @param {number} [deps.maxBytes] the largest source accepted (MAX_SOURCE_BYTES)
   */
  constructor(deps) {
    this.deps = deps;
    this.stored = new StoredList(deps.storage, SOURCES_KEY, deps.log || console, "the sources to capture");
    this.active = null; // { requestId, chunks, seq, bytes, settle }
    this.running = null;
    this.timer = null;
    this.counter = 0;
    this.disposed = false;
  }

  /** The stored entries (`{ items, failed }`), as last read or changed. */
  get state() {
    return this.stored.state;
  }

  load() {
    return this.stored.load();
  }

  /** Runs `fn(state)` after earlier changes; writes when it returns true. */
  change(fn) {
    return this.stored.change(fn);
  }

  /**
   * A message was tracked: remember that its entry needs the source, and capture it now.
   * `ids` are every id the request and the answer name for it; `tabId` the tab that tracked.
   */
  async need(trackedEmail, ids, tabId) {
    if (!trackedEmail || typeof trackedEmail.id !== "string") return;
    const all = [...new Set([...(ids || []), ...(trackedEmail.message_ids || []), trackedEmail.gmail_message_id].filter((x) => typeof x === "string" && x))];
    const now = this.deps.now();
    await this.change((state) => {
      const existing = state.items.find((i) => i.trackedEmailId === trackedEmail.id);
      if (existing) {
        existing.messageIds = [...new Set([...existing.messageIds, ...all])];
        existing.legacyId = existing.legacyId || legacyIdOf(all);
        existing.tabId = tabId ?? existing.tabId;
        existing.nextAttemptAt = now;
        return true;
      }
      if (state.items.length >= MAX_SOURCE_ITEMS) state.items.shift(); // the oldest gives way
      state.items.push({
        trackedEmailId: trackedEmail.id,
        messageIds: all,
        legacyId: legacyIdOf(all),
        tabId: tabId ?? null,
        createdAt: now,
        attempts: 0,
        nextAttemptAt: now,
        lastError: null,
      });
      return true;
    });
    this.pump();
  }

  /** A tab listed the ids of its messages: a waiting entry may now have its legacy id. */
  async noteIds(messages, tabId) {
    let found = false;
    await this.change((state) => {
      for (const item of state.items) {
        if (item.legacyId) continue;
        const match = messages.find((m) => legacyIdOf(m.ids) && m.ids.some((id) => item.messageIds.includes(id)));
        const legacy = match && legacyIdOf(match.ids);
        if (legacy) {
          item.legacyId = legacy;
          item.messageIds = [...new Set([...item.messageIds, ...match.ids])];
          item.tabId = tabId ?? item.tabId;
          item.nextAttemptAt = this.deps.now();
          found = true;
        }
      }
      return found;
    });
    if (found) this.pump();
  }

  /** Starts a pass unless one runs; resolves when it ends. */
  pump() {
    if (this.disposed) return Promise.resolve();
    if (!this.running) {
      this.running = this.pass()
        .catch((e) => (this.deps.log || console).warn("Threadline: source capture failed", String(e)))
        .finally(() => {
          this.running = null;
        });
    }
    return this.running;
  }

  async pass() {
    await this.change((state) => {
      // A message whose legacy id never showed (sent from a compose window and never opened
      // in a thread here) is given up after a week: it stays tracked from the page.
      const cutoff = this.deps.now() - MAX_WAIT_FOR_ID_MS;
      const stale = state.items.filter((i) => !i.legacyId && i.createdAt < cutoff);
      if (!stale.length) return false;
      state.items = state.items.filter((i) => !stale.includes(i));
      for (const i of stale) state.failed.push({ trackedEmailId: i.trackedEmailId, messageIds: i.messageIds, error: this.deps.t("sourceErrorNoId"), at: this.deps.now() });
      state.failed.splice(0, Math.max(0, state.failed.length - MAX_SOURCE_FAILED));
      return true;
    });
    for (;;) {
      await this.load();
      const now = this.deps.now();
      const item = this.state.items.find((i) => i.legacyId && i.nextAttemptAt <= now);
      if (!item) break;
      await this.attempt(item);
    }
    this.arm();
  }

  /** A timer for the next waiting entry that has a legacy id. */
  arm() {
    if (this.timer !== null) this.deps.clearTimeout(this.timer);
    this.timer = null;
    const due = this.state.items.filter((i) => i.legacyId).map((i) => i.nextAttemptAt);
    if (!due.length || this.disposed) return;
    const wait = Math.min(Math.max(0, Math.min(...due) - this.deps.now()), MAX_BACKOFF_MS);
    this.timer = this.deps.setTimeout(() => {
      this.timer = null;
      this.pump();
    }, wait);
  }

  async attempt(item) {
    const captured = await this.capture(item);
    let outcome;
    if (captured.error) {
      // Too big is final: the same message will be as big next time.
      outcome = captured.final ? { drop: true, error: captured.error } : { retry: true, error: captured.error };
    } else {
      const answer = await this.deps.upload(item.trackedEmailId, captured.body);
      if (answer.kind === "ok") outcome = { done: true };
      else if (answer.kind === "skip") outcome = { retry: true, error: this.deps.t("errorNotConfigured") };
      else if (this.isMismatch(answer)) outcome = { drop: true, error: this.deps.t("sourceErrorMismatch") };
      else if (isTransient(answer)) outcome = { retry: true, error: this.deps.t("sourceErrorServer") };
      else outcome = { drop: true, error: this.dropReason(answer) };
    }
    this.tell(item, outcome.done ? { stored: true, text: this.deps.t("sourceStored") } : { stored: false, text: outcome.error });
    await this.change((state) => {
      const live = state.items.find((i) => i.trackedEmailId === item.trackedEmailId);
      if (!live) return false;
      if (outcome.retry) {
        live.attempts += 1;
        live.lastError = outcome.error;
        live.nextAttemptAt = this.deps.now() + backoffMs(live.attempts, this.deps.random);
        return true;
      }
      state.items = state.items.filter((i) => i !== live);
      if (outcome.drop) {
        state.failed.push({ trackedEmailId: live.trackedEmailId, messageIds: live.messageIds, error: outcome.error, at: this.deps.now() });
        if (state.failed.length > MAX_SOURCE_FAILED) state.failed.shift();
      }
      return true;
    });
  }

  /** Tells the tab that tracked the message (its bar shows it): `sourceStatus`. */
  tell(item, { stored, text }) {
    const tabId = typeof item.tabId === "number" ? item.tabId : this.askedTab;
    if (typeof tabId !== "number" || !text) return;
    Promise.resolve()
      .then(() => this.deps.tabs.sendMessage(tabId, { type: "sourceStatus", messageIds: item.messageIds, stored, text }))
      .catch(() => {});
  }

  /** 409 is also "still processing" elsewhere; here `source_mismatch` is final. */
  isMismatch(answer) {
    return answer.kind === "http" && answer.status === 409 && Boolean(answer.body && answer.body.error && answer.body.error.code === "source_mismatch");
  }

  dropReason(answer) {
    if (answer.status === 413) return this.deps.t("sourceErrorTooBig");
    return this.deps.t("sourceErrorRefused", [`HTTP ${answer.status}`]);
  }

  /** Asks a Gmail tab for the source; resolves to `{ body: Blob }` or `{ error }`. */
  async capture(item) {
    const tabs = await this.gmailTabs(item.tabId);
    const requestId = `${item.trackedEmailId}/${(this.counter += 1)}`;
    const t = this.deps.t;
    const result = new Promise((resolve) => {
      const timer = this.deps.setTimeout(() => settle({ error: t("sourceErrorTimeout") }), CAPTURE_TIMEOUT_MS);
      const settle = (value) => {
        if (!this.active || this.active.requestId !== requestId) return;
        this.deps.clearTimeout(timer);
        this.active = null;
        resolve(value);
      };
      this.active = { requestId, chunks: [], seq: 0, bytes: 0, begun: false, settle };
    });
    let asked = false;
    for (const tabId of tabs) {
      try {
        await this.deps.tabs.sendMessage(tabId, { type: "captureSource", requestId, legacyId: item.legacyId });
        asked = true;
        this.askedTab = tabId;
        break;
      } catch {
        // That tab has no Threadline (reloaded, closed): the next one.
      }
    }
    if (!asked) this.active?.settle({ error: t("sourceErrorNoTab") });
    return result;
  }

  /** The tab that tracked first, then every other Gmail tab. */
  async gmailTabs(preferred) {
    let others = [];
    try {
      const found = this.deps.tabs.query ? await this.deps.tabs.query({ url: GMAIL_TABS }) : [];
      others = (found || []).map((tab) => tab.id).filter((id) => typeof id === "number");
    } catch {
      others = [];
    }
    return [...new Set([...(typeof preferred === "number" ? [preferred] : []), ...others])];
  }

  /** A Port from a Gmail tab (already checked to be ours and Gmail's). */
  onPort(port) {
    let requestId = null;
    const maxBytes = this.deps.maxBytes ?? MAX_SOURCE_BYTES;
    port.onMessage.addListener((message) => {
      const active = this.active;
      if (!message || typeof message !== "object" || !active) return;
      if (message.type === "begin" && message.requestId === active.requestId) {
        requestId = message.requestId;
        active.begun = true;
        return;
      }
      if (message.requestId !== requestId || requestId !== active.requestId) return;
      const t = this.deps.t;
      if (message.type === "chunk") {
        if (message.seq !== active.seq || typeof message.data !== "string") {
          active.settle({ error: t("sourceErrorGmail") });
          return;
        }
        const bytes = fromBase64(message.data);
        active.seq += 1;
        active.bytes += bytes.length;
        active.chunks.push(bytes);
        if (active.bytes > maxBytes) {
          active.settle({ error: t("sourceErrorTooBig"), final: true });
          port.disconnect(); // the tab stops reading (its next post fails)
        }
      } else if (message.type === "end") {
        if (message.chunks !== active.seq || message.bytes !== active.bytes) {
          active.settle({ error: t("sourceErrorGmail") });
          return;
        }
        active.settle({ body: new Blob(active.chunks, { type: "message/rfc822" }) });
      } else if (message.type === "fail") {
        const key = message.code === "signed_out" ? "sourceErrorSignedOut" : message.code === "network" ? "sourceErrorOffline" : "sourceErrorGmail";
        active.settle({ error: t(key) });
      }
    });
    port.onDisconnect.addListener(() => {
      const active = this.active;
      if (active && requestId === active.requestId) active.settle({ error: this.deps.t("sourceErrorGmail") });
    });
  }

  async snapshot() {
    await this.load();
    const view = (i) => ({ trackedEmailId: i.trackedEmailId, messageIds: i.messageIds, legacyId: i.legacyId, attempts: i.attempts, nextAttemptAt: i.nextAttemptAt, lastError: i.lastError });
    return { items: this.state.items.map(view), failed: this.state.failed.map((f) => ({ ...f })) };
  }

  dispose() {
    this.disposed = true;
    if (this.timer !== null) this.deps.clearTimeout(this.timer);
    this.timer = null;
  }
}
