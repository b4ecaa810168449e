// The user's options, as stored in chrome.storage.local, and the rules about the server
// address. Shared by the service worker and the options page (no chrome globals here: every
// function takes what it needs).

export const DEFAULT_SERVER_URL = "http://127.0.0.1:8787";

/** Gmail's "Undo send" choices, in seconds. */
export const UNDO_SEND_CHOICES = [5, 10, 20, 30];

export const DEFAULTS = Object.freeze({
  serverUrl: DEFAULT_SERVER_URL,
  apiToken: "",
  trackOnSendDefault: true,
  sendUndoSeconds: 10,
});

/** The chrome.storage.local keys that are options; a change to any of them resets caches. */
export const OPTION_KEYS = Object.freeze(Object.keys(DEFAULTS));

/**
 * Parses a server address typed by the user. Returns `{ base, origin }` where `base` is the
 * URL without a trailing slash (a server may live under a path), or `{ error }` with a
 * stable reason: `empty`, `malformed`, `scheme` (not http/https) or `credentials`.
 */
export function parseServerUrl(input) {
  const text = typeof input === "string" ? input.trim() : "";
  if (!text) return { error: "empty" };
  let url;
  try {
    url = new URL(text);
  } catch {
    return { error: "malformed" };
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return { error: "scheme" };
  if (url.username || url.password) return { error: "credentials" };
  const path = url.pathname.replace(/\/+$/, "");
  return { base: url.origin + path, origin: url.origin };
}

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost"]);

/** True for the origins the manifest's `host_permissions` already cover (any port). */
export function isBuiltInOrigin(origin) {
  const url = new URL(origin);
  return url.protocol === "http:" && LOOPBACK_HOSTS.has(url.hostname);
}

/** True when the token would travel unencrypted to another machine. */
export function isInsecureRemote(origin) {
  const url = new URL(origin);
  return url.protocol === "http:" && !LOOPBACK_HOSTS.has(url.hostname) && url.hostname !== "[::1]";
}

/** The match pattern to request as an optional host permission for `origin`. */
export function originPattern(origin) {
  const url = new URL(origin);
  // Match patterns take no port: the pattern covers every port of the host.
  return `${url.protocol}//${url.hostname}/*`;
}

/** Applies defaults and coerces types of the raw storage values. */
export function normalizeSettings(raw) {
  const s = raw || {};
  const undo = Number(s.sendUndoSeconds);
  return {
    serverUrl: typeof s.serverUrl === "string" && s.serverUrl.trim() ? s.serverUrl.trim() : DEFAULTS.serverUrl,
    apiToken: typeof s.apiToken === "string" ? s.apiToken.trim() : "",
    trackOnSendDefault: typeof s.trackOnSendDefault === "boolean" ? s.trackOnSendDefault : DEFAULTS.trackOnSendDefault,
    sendUndoSeconds: Number.isFinite(undo) && undo >= 0 && undo <= 30 ? undo : DEFAULTS.sendUndoSeconds,
  };
}

/** Reads the options from a chrome.storage area. */
export async function readSettings(storageArea) {
  const raw = await storageArea.get(OPTION_KEYS);
  return normalizeSettings(raw);
}
