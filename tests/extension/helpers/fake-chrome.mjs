// An in-memory stand-in for the parts of the extension API that the background uses, with
// the real semantics that matter: storage calls are asynchronous and copy values (like the
// browser's serialisation), storage.onChanged fires after a write with { oldValue, newValue },
// runtime.onMessage listeners answer through sendResponse when they return true, and
// tabs.sendMessage rejects for a tab that is gone. A `captureSource` request (the background
// asking a Gmail tab for a message's raw source) is kept apart in `captureRequests` and handed
// to `fake.onCapture` when a test installs one (it plays the content script, answering through
// `fake.connect`, a runtime Port).

import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const EXTENSION_ID = "threadlinetestextensionid";
const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

const nextTick = () => new Promise((resolve) => setImmediate(resolve));
const clone = (value) => (value === undefined ? undefined : JSON.parse(JSON.stringify(value)));

class Event {
  constructor() {
    this.listeners = [];
  }
  addListener(fn) {
    this.listeners.push(fn);
  }
  removeListener(fn) {
    this.listeners = this.listeners.filter((l) => l !== fn);
  }
  hasListeners() {
    return this.listeners.length > 0;
  }
}

/** One storage area over a backing Map that outlives a "restarted" worker. */
class StorageArea {
  constructor(name, data, onChanged) {
    this.name = name;
    this.data = data;
    this.onChanged = onChanged;
    this.writes = 0;
  }

  async get(keys) {
    await nextTick();
    const out = {};
    if (keys === null || keys === undefined) {
      for (const [k, v] of this.data) out[k] = clone(v);
    } else if (typeof keys === "string") {
      if (this.data.has(keys)) out[keys] = clone(this.data.get(keys));
    } else if (Array.isArray(keys)) {
      for (const k of keys) if (this.data.has(k)) out[k] = clone(this.data.get(k));
    } else {
      for (const [k, fallback] of Object.entries(keys)) out[k] = this.data.has(k) ? clone(this.data.get(k)) : fallback;
    }
    return out;
  }

  async set(items) {
    const changes = {};
    for (const [k, v] of Object.entries(items)) {
      changes[k] = { oldValue: clone(this.data.get(k)), newValue: clone(v) };
      this.data.set(k, clone(v));
    }
    this.writes += 1;
    await nextTick();
    this.fire(changes);
  }

  async remove(keys) {
    const changes = {};
    for (const k of typeof keys === "string" ? [keys] : keys) {
      if (this.data.has(k)) {
        changes[k] = { oldValue: clone(this.data.get(k)) };
        this.data.delete(k);
      }
    }
    await nextTick();
    if (Object.keys(changes).length) this.fire(changes);
  }

  fire(changes) {
    for (const listener of this.onChanged.listeners) listener(clone(changes), this.name);
  }
}

/** Substitutes like chrome.i18n: $NAME$ placeholders whose content may hold $1…$9. */
function format(entry, substitutions) {
  const subs = substitutions === undefined ? [] : [].concat(substitutions).map(String);
  const positional = (text) => text.replace(/\$(\d)/g, (_, n) => subs[Number(n) - 1] ?? "");
  const placeholders = entry.placeholders || {};
  const named = entry.message.replace(/\$([A-Za-z0-9_@]+)\$/g, (whole, name) => {
    const placeholder = placeholders[name.toLowerCase()];
    return placeholder ? positional(placeholder.content) : whole;
  });
  return positional(named).replace(/\$\$/g, "$");
}

/**
 * A fake `chrome` for one service-worker lifetime. Pass the same `backing` to a second one to
 * model a restart: storage.local and storage.session survive, in-memory state does not.
 */
export function createFakeChrome({ backing = newBacking(), locale = "en" } = {}) {
  const messages = JSON.parse(readFileSync(`${ROOT}extension/_locales/${locale}/messages.json`, "utf8"));
  const onChanged = new Event();
  const onMessage = new Event();
  const onConnect = new Event();
  const sentToTabs = [];
  const captureRequests = [];
  const fake = { onCapture: null };
  const openTabs = new Set(backing.openTabs);
  const chrome = {
    storage: {
      local: new StorageArea("local", backing.local, onChanged),
      session: new StorageArea("session", backing.session, onChanged),
      onChanged,
    },
    runtime: {
      id: EXTENSION_ID,
      getURL: (path) => `chrome-extension://${EXTENSION_ID}/${path.replace(/^\//, "")}`,
      onMessage,
      onConnect,
      onStartup: new Event(),
      onInstalled: new Event(),
      optionsOpened: 0,
      async openOptionsPage() {
        chrome.runtime.optionsOpened += 1;
      },
    },
    tabs: {
      async sendMessage(tabId, message) {
        const delivered = openTabs.has(tabId);
        const capture = message && message.type === "captureSource";
        if (delivered) (capture ? captureRequests : sentToTabs).push({ tabId, message: clone(message) }); // recorded when sent
        await nextTick();
        if (!delivered) throw new Error("Could not establish connection. Receiving end does not exist.");
        if (capture && fake.onCapture) setImmediate(() => fake.onCapture(clone(message), tabId));
        return undefined;
      },
    },
    i18n: {
      getMessage(key, substitutions) {
        const entry = messages[key];
        return entry ? format(entry, substitutions) : "";
      },
      getUILanguage: () => locale,
    },
  };

  /** Sends a message as the runtime would, resolving to the answer given via sendResponse. */
  function sendMessage(message, sender) {
    return new Promise((resolve, reject) => {
      let async = false;
      for (const listener of onMessage.listeners) {
        if (listener(clone(message), sender, (answer) => resolve(clone(answer))) === true) async = true;
      }
      if (!async) reject(new Error("No listener answered asynchronously"));
    });
  }

  /**
   * Opens a runtime Port from tab `tabId`'s content script, as chrome.runtime.connect does:
   * returns the content script's end ({ postMessage, disconnect }); messages are copied and
   * delivered asynchronously, in order.
   */
  function connect(name, tabId = 7) {
    const toWorker = new Event();
    const workerDisconnect = new Event();
    let open = true;
    const workerEnd = {
      name,
      sender: { id: EXTENSION_ID, url: "https://mail.google.com/mail/u/0/#inbox", tab: { id: tabId, url: "https://mail.google.com/mail/u/0/#inbox" } },
      onMessage: toWorker,
      onDisconnect: workerDisconnect,
      postMessage() {},
      disconnect() {
        open = false;
      },
    };
    for (const listener of onConnect.listeners) listener(workerEnd);
    let queue = Promise.resolve();
    return {
      postMessage(message) {
        const copy = clone(message);
        queue = queue.then(nextTick).then(() => {
          if (open) for (const l of toWorker.listeners) l(copy, workerEnd);
        });
      },
      disconnect() {
        queue = queue.then(nextTick).then(() => {
          if (!open) return;
          open = false;
          for (const l of workerDisconnect.listeners) l(workerEnd);
        });
      },
      get open() {
        return open;
      },
    };
  }

  return Object.assign(fake, { chrome, backing, sendMessage, sentToTabs, captureRequests, openTabs, connect });
}

export function newBacking() {
  return { local: new Map(), session: new Map(), openTabs: [7] };
}

export const GMAIL_SENDER = Object.freeze({
  id: EXTENSION_ID,
  url: "https://mail.google.com/mail/u/0/#inbox",
  tab: { id: 7, url: "https://mail.google.com/mail/u/0/#inbox" },
});

export const OPTIONS_SENDER = Object.freeze({
  id: EXTENSION_ID,
  url: `chrome-extension://${EXTENSION_ID}/options.html`,
});
