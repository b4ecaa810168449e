// The service worker's logic: the message protocol between the content script (and the
// options page) and the Threadline server. Built by a factory that takes the chrome API and
// fetch, so that tests can run it in Node against fakes and a real local HTTP server.
//
// Every answer is `{ ok: true, data }` or `{ ok: false, error: { code, message, field? } }`.
// The API token never leaves this worker except in the Authorization header to the server.
//
// Error codes: not_configured, unauthorized (401), server_error (5xx/408/409/429; `status`),
// invalid (other 4xx: the server's message, `field`, `status`, `serverCode`; or a malformed
// message), offline (no answer), forbidden (unknown sender), queue_full, internal.
//
// Messages (data shown after →):
//   status                                   → { configured, serverOrigin, user|null, ownAddresses,
//                                                trackOnSendDefault, sendUndoSeconds, error? }
//   lookup { addresses }                     → { results: AddressLookup[] } (request order)
//   searchContacts { q }                     → { contacts: ContactSummary[] } (at most 8)
//   contactCard { contactId }                → ContactCard (GET /contacts/{id}/card; cached: cards.js)
//   trackedState { messages: [{ ids }] }     → { messages: MessageState[], pending: [{ key, kind,
//                                                messageIds }] }; on failure error.pending too
//   track|createTask|createContact { request } → { status: "done", result } | { status: "queued", key }
//   scheduleSendTracking { key, deliverAfterMs?, request } → { status: "scheduled", key, notBefore }
//   cancelSendTracking { key }               → { cancelled }
//   confirmSendTracking { key, altMessageIds? } → { confirmed }
//   queue / flush                            → { items: [{ key, kind, messageIds, createdAt, notBefore,
//                                                attempts, nextAttemptAt, lastError, blocked }], failed }
//   clearFailed { keys? }                    → as queue
//   sources                                  → { items: [{ trackedEmailId, messageIds, legacyId, attempts,
//                                                nextAttemptAt, lastError }], failed } (sources to capture)
//   reportError { message, detail }          → {}
//   openOptions                              → {}
//   testConnection { serverUrl, apiToken? }  → { serverOrigin, user, ownAddresses } (options page only)
//   signIn { serverUrl, code, codeVerifier, redirectUri } → { device } (options page only): the
//                                                code of the web app's sign-in traded for a device
//                                                token (background/signin.js), stored as a pasted one
// After a track is delivered, the raw source is captured from a Gmail tab and uploaded
// (background/source.js): pushed { type: "captureSource", requestId, legacyId }, answered over a
// Port named "threadline-source".
// Then { type: "sourceStatus", messageIds, stored, text } tells the tab that tracked whether the
// source is stored or still awaited (text: a localised sentence for its bar).
// Pushed to the tab that queued an action: { type: "queueDelivered", key, kind, messageIds, result }
// and { type: "queueFailed", key, kind, messageIds, error }.

import { apiRequest, makeErrors } from "./http.js";
import { CardCache, CONTACT_ID_PATTERN } from "./cards.js";
import { LookupCache } from "./lookup.js";
import { ActionQueue } from "./queue.js";
import { PORT_NAME, SourceCapture } from "./source.js";
import { OPTION_KEYS, parseServerUrl, readSettings } from "./settings.js";
import { TOKEN_PATH } from "./signin.js";

const PATHS = {
  me: "/api/v1/me",
  lookup: "/api/v1/lookup",
  state: "/api/v1/tracked-emails/state",
  track: "/api/v1/tracked-emails",
  task: "/api/v1/tasks",
  contact: "/api/v1/contacts",
  source: (id) => `/api/v1/tracked-emails/${encodeURIComponent(id)}/source`,
  card: (id) => `/api/v1/contacts/${id}/card`,
};
/** api.rs MAX_STATE_MESSAGES. */
const MAX_STATE_MESSAGES = 500;
const MAX_ADDRESSES_PER_MESSAGE = 5000;
/** The contact search's longest query and most results. */
const MAX_SEARCH_CHARS = 200;
const SEARCH_LIMIT = 8;
const MAX_SEND_DELAY_MS = 60 * 60 * 1000;
/** An Idempotency-Key as the server accepts it: 1 to 255 visible ASCII characters. */
const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;
const GMAIL_ORIGIN = "https://mail.google.com/";

/** A rejection of a message: thrown inside handlers, turned into `{ ok: false, error }`. */
class ProtocolError extends Error {
  constructor(error) {
    super(error.message);
    this.error = error;
  }
}

const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
const isStringArray = (v) => Array.isArray(v) && v.every((s) => typeof s === "string");
const unique = (values) => [...new Set(values.filter((v) => typeof v === "string" && v))];

/** The message ids a queued action concerns (what the bar marks "pending"). */
export function messageIdsOf(kind, request) {
  if (kind === "track") {
    return unique([request.gmail_message_id, ...(request.alt_message_ids || []), request.rfc_message_id]);
  }
  if (kind === "task") return unique([request.source_message_id]);
  return [];
}

/** Never let a bearer token reach a log line, whatever a caller put in a report. */
function scrub(value) {
  const text = typeof value === "string" ? value : JSON.stringify(value ?? null);
  return String(text)
    .replace(/Bearer\s+[^\s"']+/gi, "Bearer [redacted]")
    .slice(0, 2000);
}

async function sha256Hex(crypto, text) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * @param {object} env
 * @param {object} env.chrome the extension API (or a fake)
 * @param {Function} env.fetch
 * @param {() => number} [env.now]
 * @param {() => number} [env.random]
 * @param {() => string} [env.randomUUID]
 * @param {Function} [env.setTimeout]
 * @param {Function} [env.clearTimeout]
 * @param {object} [env.crypto] WebCrypto, for the cache fingerprint
 * @param {object} [env.console]
 */
export function createCore(env) {
  const chrome = env.chrome;
  const doFetch = env.fetch;
  const setT = env.setTimeout || setTimeout;
  const clearT = env.clearTimeout || clearTimeout;
  const webCrypto = env.crypto || globalThis.crypto;
  const log = env.console || console;
  const deps = {
    fetch: (input, init) => doFetch(input, init),
    setTimeout: (fn, ms) => setT(fn, ms),
    clearTimeout: (id) => clearT(id),
    now: env.now || (() => Date.now()),
    random: env.random || Math.random,
    randomUUID: env.randomUUID || (() => webCrypto.randomUUID()),
  };

  const t = (key, substitutions) => {
    const text = chrome.i18n && chrome.i18n.getMessage(key, substitutions);
    return text || key;
  };
  const errors = makeErrors(t);

  // ----- settings and the server ------------------------------------------------------

  let config = null; // Promise<{ settings, server, configured, fingerprint }>
  let meCache = null; // Promise<{ user, ownAddresses }> of a successful /me
  function currentConfig() {
    if (!config) {
      config = (async () => {
        const settings = await readSettings(chrome.storage.local);
        const server = parseServerUrl(settings.serverUrl);
        const configured = Boolean(settings.apiToken && server.base);
        const fingerprint = configured ? `${server.base}|${(await sha256Hex(webCrypto, settings.apiToken)).slice(0, 32)}` : "";
        return { settings, server, configured, fingerprint };
      })();
      config.catch(() => {
        config = null;
      });
    }
    return config;
  }

  const call = (cfg, method, path, body, key) =>
    apiRequest(deps, cfg.server.base, cfg.settings.apiToken, method, path, body, key);

  async function requireConfig() {
    const cfg = await currentConfig();
    if (!cfg.configured) throw new ProtocolError(errors.notConfigured());
    return cfg;
  }

  /** Performs a read request; resolves to its data or throws the protocol error. */
  async function read(cfg, method, path, body) {
    const outcome = await call(cfg, method, path, body);
    if (outcome.kind !== "ok") throw new ProtocolError(errors.fromOutcome(noteRejection(outcome)));
    return outcome.data;
  }

  /** A 401 means the cached identity is stale: the next status asks /me again. A privacy
   * refusal means the never-log list or the organisation's domains changed since the
   * verdicts were cached: the next lookup asks the server. */
  function noteRejection(outcome) {
    if (outcome.kind === "http" && outcome.status === 401) meCache = null;
    const code = outcome.kind === "http" && outcome.body && outcome.body.error && outcome.body.error.code;
    if (code === "never_log" || code === "only_colleagues") lookupCache.invalidate();
    return outcome;
  }

  // ----- caches ---------------------------------------------------------------------

  const lookupCache = new LookupCache({
    session: (chrome.storage && chrome.storage.session) || null,
    now: deps.now,
    fetchBatch: async (addresses) => {
      const cfg = await requireConfig();
      try {
        const data = await read(cfg, "POST", PATHS.lookup, { addresses });
        return data && data.results;
      } catch (e) {
        throw e instanceof ProtocolError ? e.error : e;
      }
    },
  });

  const cardCache = new CardCache({
    now: deps.now,
    fetchCard: async (id) => {
      const cfg = await requireConfig();
      const data = await read(cfg, "GET", PATHS.card(id));
      if (!isObject(data) || !isObject(data.contact)) {
        throw new ProtocolError({ code: "server_error", message: "The Threadline server sent a malformed answer." });
      }
      return data;
    },
  });

  // ----- the queue ------------------------------------------------------------------

  function notifyTab(tabId, message) {
    if (tabId == null || !chrome.tabs || !chrome.tabs.sendMessage) return;
    try {
      Promise.resolve(chrome.tabs.sendMessage(tabId, message)).catch(() => {});
    } catch {
      // The tab may be gone.
    }
  }

  const queue = new ActionQueue({
    storage: chrome.storage.local,
    now: deps.now,
    random: deps.random,
    setTimeout: deps.setTimeout,
    clearTimeout: deps.clearTimeout,
    errors,
    deliver: async (item) => {
      const cfg = await currentConfig();
      if (!cfg.configured) return { kind: "skip" };
      return noteRejection(await call(cfg, "POST", PATHS[item.kind], item.request, item.key));
    },
    onDelivered: (item, data, awaited) => {
      // A new contact can change the status of other addresses (e.g. to ambiguous).
      if (item.kind === "contact") lookupCache.invalidate();
      // The entry is made from the page; its whole source follows (and may come later).
      if (item.kind === "track" && isObject(data) && isObject(data.tracked_email)) {
        sources.need(data.tracked_email, item.messageIds, item.tabId).catch((e) => log.warn("Threadline: source not remembered", String(e)));
      }
      // Every delivered action can change a card (its emails, tasks, or who is a contact).
      cardCache.invalidate();
      if (!awaited) {
        notifyTab(item.tabId, { type: "queueDelivered", key: item.key, kind: item.kind, messageIds: item.messageIds, result: data });
      }
    },
    onFailed: (item, error) => {
      notifyTab(item.tabId, { type: "queueFailed", key: item.key, kind: item.kind, messageIds: item.messageIds, error });
    },
  });

  const sources = new SourceCapture({
    storage: chrome.storage.local,
    tabs: chrome.tabs,
    now: deps.now,
    random: deps.random,
    setTimeout: deps.setTimeout,
    clearTimeout: deps.clearTimeout,
    t,
    log,
    upload: async (trackedEmailId, body) => {
      const cfg = await currentConfig();
      if (!cfg.configured) return { kind: "skip" };
      return noteRejection(await call(cfg, "PUT", PATHS.source(trackedEmailId), body));
    },
  });

  function flushSoon() {
    queue.flush().catch((e) => log.warn("Threadline: delivery failed", String(e)));
    sources.pump();
  }

  function onOptionsChanged() {
    config = null;
    meCache = null;
    lookupCache.invalidate();
    cardCache.invalidate();
    queue.unblock().then(flushSoon, flushSoon);
  }

  // ----- handlers -------------------------------------------------------------------

  async function status() {
    const cfg = await currentConfig();
    const base = {
      configured: cfg.configured,
      serverOrigin: cfg.server.origin || null,
      user: null,
      ownAddresses: [],
      trackOnSendDefault: cfg.settings.trackOnSendDefault,
      sendUndoSeconds: cfg.settings.sendUndoSeconds,
    };
    if (!cfg.configured) return { ...base, error: errors.notConfigured() };
    if (!meCache) {
      const pending = (async () => {
        const data = await read(cfg, "GET", PATHS.me);
        if (!isObject(data) || !isObject(data.user)) {
          throw new ProtocolError({ code: "server_error", message: "The Threadline server sent a malformed answer." });
        }
        return { user: data.user, ownAddresses: isStringArray(data.own_addresses) ? data.own_addresses : [] };
      })();
      meCache = pending;
      pending.catch(() => {
        if (meCache === pending) meCache = null;
      });
    }
    try {
      return { ...base, ...(await meCache) };
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e;
      return { ...base, error: e.error };
    }
  }

  async function lookup(message) {
    const addresses = message.addresses;
    if (!isStringArray(addresses) || addresses.length > MAX_ADDRESSES_PER_MESSAGE) {
      throw new ProtocolError(errors.invalid("`addresses` must be a list of strings.", "addresses"));
    }
    const cfg = await requireConfig();
    if (addresses.length === 0) return { results: [] };
    await lookupCache.load(cfg.fingerprint);
    try {
      return { results: await lookupCache.lookup(addresses) };
    } catch (e) {
      if (e instanceof ProtocolError) throw e;
      throw new ProtocolError(e && e.code ? e : { code: "server_error", message: String(e) });
    }
  }

  /** The contacts an internal email may be logged on ("Track anyway…"): a search. */
  async function searchContacts(message) {
    const q = typeof message.q === "string" ? message.q.trim() : "";
    if (!q || q.length > MAX_SEARCH_CHARS) {
      throw new ProtocolError(errors.invalid(`\`q\` must be 1 to ${MAX_SEARCH_CHARS} characters.`, "q"));
    }
    const cfg = await requireConfig();
    const path = `${PATHS.contact}?limit=${SEARCH_LIMIT}&q=${encodeURIComponent(q)}`;
    const data = await read(cfg, "GET", path);
    if (!isObject(data) || !Array.isArray(data.items)) {
      throw new ProtocolError({ code: "server_error", message: "The Threadline server sent a malformed answer." });
    }
    const contacts = data.items.filter(isObject).map((c) => ({
      id: c.id,
      first_name: c.first_name || "",
      last_name: c.last_name || "",
      primary_email: c.primary_email || "",
      ...(isObject(c.company) ? { company: c.company } : {}),
    }));
    return { contacts };
  }

  async function contactCard(message) {
    const id = message.contactId;
    if (typeof id !== "string" || !CONTACT_ID_PATTERN.test(id)) {
      throw new ProtocolError(errors.invalid("`contactId` must be a contact's id.", "contactId"));
    }
    const cfg = await requireConfig();
    return cardCache.card(cfg.fingerprint, id.toLowerCase());
  }

  async function trackedState(message) {
    const messages = message.messages;
    if (!Array.isArray(messages) || !messages.every((m) => isObject(m) && isStringArray(m.ids))) {
      throw new ProtocolError(errors.invalid("`messages` must be a list of { ids: [string] }.", "messages"));
    }
    const cfg = await requireConfig();
    const pending = await queue.pendingFor(messages.flatMap((m) => m.ids));
    const states = [];
    try {
      for (let i = 0; i < messages.length; i += MAX_STATE_MESSAGES) {
        const chunk = messages.slice(i, i + MAX_STATE_MESSAGES).map((m) => ({ ids: m.ids }));
        const data = await read(cfg, "POST", PATHS.state, { messages: chunk });
        if (!isObject(data) || !Array.isArray(data.messages) || data.messages.length !== chunk.length) {
          throw new ProtocolError({ code: "server_error", message: "The Threadline server sent a malformed answer." });
        }
        states.push(...data.messages);
      }
    } catch (e) {
      // The queued actions are known without the server: hand them over with the error.
      if (e instanceof ProtocolError) e.error.pending = pending;
      throw e;
    }
    sources.noteIds(messages, null).catch(() => {});
    return { messages: states, pending };
  }

  async function action(kind, request, sender) {
    if (!isObject(request)) throw new ProtocolError(errors.invalid("`request` must be an object.", "request"));
    await requireConfig();
    const key = deps.randomUUID();
    const fields = { key, kind, request, messageIds: messageIdsOf(kind, request), tabId: tabIdOf(sender) };
    await queueOp(queue.enqueue(fields, { awaited: true }));
    await queue.flush();
    const outcome = queue.takeOutcome(key);
    if (!outcome) return { status: "queued", key };
    if (outcome.error) throw new ProtocolError(outcome.error);
    return { status: "done", result: outcome.data };
  }

  /** Awaits a queue operation, turning its coded rejections (queue_full) into answers. */
  async function queueOp(promise) {
    try {
      return await promise;
    } catch (e) {
      throw e && e.code ? new ProtocolError(e) : e;
    }
  }

  const tabIdOf = (sender) => (sender && sender.tab && typeof sender.tab.id === "number" ? sender.tab.id : null);

  function requireKey(message) {
    if (typeof message.key !== "string" || !KEY_PATTERN.test(message.key)) {
      throw new ProtocolError(errors.invalid("`key` must be 1 to 255 visible ASCII characters.", "key"));
    }
    return message.key;
  }

  async function scheduleSendTracking(message, sender) {
    const key = requireKey(message);
    const request = message.request;
    if (!isObject(request)) throw new ProtocolError(errors.invalid("`request` must be an object.", "request"));
    const cfg = await requireConfig();
    const now = deps.now();
    const after = message.deliverAfterMs;
    let notBefore;
    if (after === undefined || after === null) {
      notBefore = now + cfg.settings.sendUndoSeconds * 1000;
    } else if (typeof after !== "number" || !Number.isFinite(after) || after < 0) {
      throw new ProtocolError(errors.invalid("`deliverAfterMs` must be a number of milliseconds.", "deliverAfterMs"));
    } else if (after > 1e12) {
      notBefore = Math.min(after, now + MAX_SEND_DELAY_MS); // an absolute time (epoch ms)
    } else {
      notBefore = now + Math.min(after, MAX_SEND_DELAY_MS);
    }
    const fields = { key, kind: "track", request, messageIds: messageIdsOf("track", request), tabId: tabIdOf(sender), notBefore };
    const item = await queueOp(queue.schedule(fields));
    return { status: "scheduled", key, notBefore: item.notBefore };
  }

  async function cancelSendTracking(message) {
    return { cancelled: await queue.cancel(requireKey(message)) };
  }

  async function confirmSendTracking(message) {
    const key = requireKey(message);
    const extra = message.altMessageIds;
    if (extra !== undefined && !isStringArray(extra)) {
      throw new ProtocolError(errors.invalid("`altMessageIds` must be a list of strings.", "altMessageIds"));
    }
    const confirmed = await queue.confirm(key, (item) => {
      // Once attempted, the request must stay as it was: the server refuses a key sent again
      // with another body (422 idempotency_key_reused).
      if (!extra || item.kind !== "track" || item.attempts > 0) return;
      const request = item.request;
      request.alt_message_ids = unique([...(request.alt_message_ids || []), ...extra]).filter(
        (id) => id !== request.gmail_message_id,
      );
      item.messageIds = messageIdsOf("track", request);
    });
    return { confirmed };
  }

  async function testConnection(message) {
    const server = parseServerUrl(message.serverUrl);
    if (server.error) {
      throw new ProtocolError(errors.invalid(t("optionsErrorServerUrl") || "Invalid server address.", "serverUrl"));
    }
    let token = typeof message.apiToken === "string" ? message.apiToken.trim() : "";
    if (!token) {
      // The saved token, but only for the server it was saved for: never hand it to another.
      const saved = await readSettings(chrome.storage.local);
      if (parseServerUrl(saved.serverUrl).origin === server.origin) token = saved.apiToken;
    }
    if (!token) throw new ProtocolError(errors.invalid(t("optionsErrorNoToken"), "apiToken"));
    const outcome = await apiRequest(deps, server.base, token, "GET", PATHS.me);
    if (outcome.kind !== "ok") throw new ProtocolError(errors.fromOutcome(outcome));
    const data = outcome.data;
    if (!isObject(data) || !isObject(data.user)) {
      throw new ProtocolError({ code: "server_error", message: "The server's answer is not a Threadline answer." });
    }
    return { serverOrigin: server.origin, user: data.user, ownAddresses: data.own_addresses || [] };
  }

  async function signIn(message) {
    const server = parseServerUrl(message.serverUrl);
    if (server.error) {
      throw new ProtocolError(errors.invalid(t("optionsErrorServerUrl") || "Invalid server address.", "serverUrl"));
    }
    for (const key of ["code", "codeVerifier", "redirectUri"]) {
      if (typeof message[key] !== "string" || !message[key]) {
        throw new ProtocolError(errors.invalid(`\`${key}\` must be a string.`, key));
      }
    }
    const outcome = await apiRequest(deps, server.base, null, "POST", TOKEN_PATH, {
      code: message.code,
      code_verifier: message.codeVerifier,
      redirect_uri: message.redirectUri,
    });
    if (outcome.kind !== "ok") throw new ProtocolError(errors.fromOutcome(outcome));
    const data = outcome.data;
    if (!isObject(data) || typeof data.token !== "string" || !data.token.startsWith("tl_")) {
      throw new ProtocolError({ code: "server_error", message: "The server's answer is not a Threadline answer." });
    }
    await chrome.storage.local.set({ serverUrl: server.base, apiToken: data.token });
    return { device: typeof data.device === "string" ? data.device : "" };
  }

  function reportError(message, sender) {
    log.warn("Threadline content script error:", scrub(message.message), scrub(message.detail), `tab ${tabIdOf(sender)}`);
    return {};
  }

  /** Which of our contexts sent a message: "extension" (our pages), "gmail", or null. */
  function senderKind(sender) {
    if (!sender || (chrome.runtime.id && sender.id !== chrome.runtime.id)) return null;
    const url = sender.url || (sender.tab && sender.tab.url) || "";
    const own = chrome.runtime.getURL ? chrome.runtime.getURL("") : null;
    if (own && url.startsWith(own)) return "extension";
    if (url.startsWith(GMAIL_ORIGIN)) return "gmail";
    return null;
  }

  const handlers = {
    status: () => status(),
    lookup: (m) => lookup(m),
    contactCard: (m) => contactCard(m),
    trackedState: (m) => trackedState(m),
    searchContacts: (m) => searchContacts(m),
    track: (m, s) => action("track", m.request, s),
    createTask: (m, s) => action("task", m.request, s),
    createContact: (m, s) => action("contact", m.request, s),
    scheduleSendTracking: (m, s) => scheduleSendTracking(m, s),
    cancelSendTracking: (m) => cancelSendTracking(m),
    confirmSendTracking: (m) => confirmSendTracking(m),
    queue: () => queue.snapshot(),
    flush: async () => {
      await queue.flush();
      return queue.snapshot();
    },
    clearFailed: async (m) => {
      await queue.clearFailed(isStringArray(m.keys) ? m.keys : null);
      return queue.snapshot();
    },
    sources: () => sources.snapshot(),
    reportError: (m, s) => reportError(m, s),
    openOptions: async () => {
      await chrome.runtime.openOptionsPage();
      return {};
    },
  };
  /** Messages only the extension's own pages (the options page) may send. */
  const extensionOnly = {
    testConnection: (m) => testConnection(m),
    signIn: (m) => signIn(m),
  };

  /** Answers one message. Never rejects. */
  async function handleMessage(message, sender) {
    try {
      const kind = senderKind(sender);
      if (!kind) return { ok: false, error: errors.forbidden() };
      if (!isObject(message) || typeof message.type !== "string") {
        throw new ProtocolError(errors.invalid("A message needs a `type`.", "type"));
      }
      const type = message.type;
      const handler =
        (Object.hasOwn(handlers, type) && handlers[type]) ||
        (kind === "extension" && Object.hasOwn(extensionOnly, type) && extensionOnly[type]);
      if (!handler) throw new ProtocolError(errors.invalid(`Unknown message type "${type}".`, "type"));
      // Every message is a chance to deliver what is due ("flush" waits for it itself).
      if (type !== "flush") flushSoon();
      return { ok: true, data: await handler(message, sender) };
    } catch (e) {
      if (e instanceof ProtocolError) return { ok: false, error: e.error };
      log.warn("Threadline: a message failed", scrub(String((e && e.stack) || e)));
      return { ok: false, error: { code: "internal", message: String((e && e.message) || e) } };
    }
  }

  /** Registers the listeners (synchronously, as a service worker must) and starts delivery. */
  function attach() {
    chrome.runtime.onMessage.addListener((message, sender, sendResponse) => {
      handleMessage(message, sender).then(sendResponse);
      return true;
    });
    if (chrome.runtime.onStartup) chrome.runtime.onStartup.addListener(flushSoon);
    if (chrome.runtime.onInstalled) {
      chrome.runtime.onInstalled.addListener(async (details) => {
        if (details && details.reason === "install" && !(await currentConfig()).configured) {
          Promise.resolve(chrome.runtime.openOptionsPage()).catch(() => {});
        }
      });
    }
    if (chrome.runtime.onConnect) {
      chrome.runtime.onConnect.addListener((port) => {
        if (port.name === PORT_NAME && senderKind(port.sender) === "gmail") sources.onPort(port);
        else port.disconnect();
      });
    }
    chrome.storage.onChanged.addListener((changes, area) => {
      if (area === "local" && OPTION_KEYS.some((key) => Object.hasOwn(changes, key))) onOptionsChanged();
    });
    flushSoon();
  }

  return {
    attach,
    handleMessage,
    flush: () => queue.flush(),
    onOptionsChanged,
    /** Stops timers (tests; a real service worker just ends). */
    dispose: () => {
      queue.dispose();
      sources.dispose();
    },
  };
}
