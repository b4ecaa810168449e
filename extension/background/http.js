// Talking to the Threadline server: one function that performs a request and classifies
// the answer, and the mapping from a failed answer to the protocol's error object.

const REQUEST_TIMEOUT_MS = 20000;
/** An upload of up to 51 MiB (a whole email) gets longer. */
const RAW_REQUEST_TIMEOUT_MS = 5 * 60 * 1000;
const MAX_RETRY_AFTER_MS = 60 * 60 * 1000;

/**
 * Performs `method path` against the server at `base` with the user's token. `body` is sent
 * as JSON, or as it is when it is a Blob (with the Blob's type).
 *
 * Resolves (never rejects) to one of:
 * - `{ kind: "ok", status, data }` for a 2xx (data: parsed JSON or null);
 * - `{ kind: "http", status, body, retryAfterMs }` for any other status (body: the
 *   server's ErrorBody when it sent one, else null);
 * - `{ kind: "network", message }` when no answer came (refused, DNS, timeout, CORS).
 */
export async function apiRequest({ fetch, setTimeout, clearTimeout, now }, base, token, method, path, body, idempotencyKey) {
  const headers = { Accept: "application/json" };
  // No token: a route that needs none (the extension's sign-in).
  if (token) headers.Authorization = `Bearer ${token}`;
  // A Blob is sent as it is (a raw email source); anything else as JSON.
  const raw = typeof Blob !== "undefined" && body instanceof Blob;
  if (body !== undefined) headers["Content-Type"] = raw ? body.type || "application/octet-stream" : "application/json";
  if (idempotencyKey) headers["Idempotency-Key"] = idempotencyKey;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), raw ? RAW_REQUEST_TIMEOUT_MS : REQUEST_TIMEOUT_MS);
  let response;
  let text;
  try {
    response = await fetch(base + path, {
      method,
      headers,
      body: body === undefined ? undefined : raw ? body : JSON.stringify(body),
      signal: controller.signal,
      credentials: "omit",
      cache: "no-store",
      redirect: "error",
    });
    text = await response.text();
  } catch (e) {
    return { kind: "network", message: controller.signal.aborted ? "timeout" : String((e && e.message) || e) };
  } finally {
    clearTimeout(timer);
  }
  let parsed = null;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = null;
    }
  }
  if (response.status >= 200 && response.status < 300) {
    return { kind: "ok", status: response.status, data: parsed };
  }
  return {
    kind: "http",
    status: response.status,
    body: parsed && typeof parsed === "object" && parsed.error ? parsed : null,
    retryAfterMs: parseRetryAfter(response.headers.get("Retry-After"), now()),
  };
}

/** `Retry-After` as milliseconds from now (seconds or an HTTP date), or null. */
export function parseRetryAfter(value, nowMs) {
  if (value == null || value === "") return null;
  const trimmed = String(value).trim();
  let ms;
  if (/^\d+$/.test(trimmed)) {
    ms = Number(trimmed) * 1000;
  } else {
    const at = Date.parse(trimmed);
    if (Number.isNaN(at)) return null;
    ms = at - nowMs;
  }
  return Math.min(Math.max(ms, 0), MAX_RETRY_AFTER_MS);
}

/**
 * Statuses after which the same request may succeed later: 408 timeout, 409 (the server is
 * still processing this Idempotency-Key), 429 too many requests, and every 5xx.
 */
function isTransientStatus(status) {
  return status >= 500 || status === 408 || status === 409 || status === 429;
}

/** Answers after which a request may succeed if simply sent again later. */
export function isTransient(outcome) {
  return outcome.kind === "network" || (outcome.kind === "http" && isTransientStatus(outcome.status));
}

/**
 * Builds the protocol's error objects. `t(key, substitutions)` returns the localised message
 * (chrome.i18n in the extension).
 */
export function makeErrors(t) {
  const make = (code, message, extra) => ({ code, message, ...(extra || {}) });
  return {
    notConfigured: () => make("not_configured", t("errorNotConfigured")),
    unauthorized: () => make("unauthorized", t("errorUnauthorized")),
    invalid: (message, field) => make("invalid", message, field ? { field } : undefined),
    forbidden: () => make("forbidden", "This message is not accepted from this sender."),
    /** The error for a request that got no 2xx answer. */
    fromOutcome(outcome) {
      if (outcome.kind === "network") return make("offline", t("errorOffline"));
      const status = outcome.status;
      if (status === 401) return make("unauthorized", t("errorUnauthorized"));
      if (isTransientStatus(status)) {
        return make("server_error", t("errorServer", [`HTTP ${status}`]), { status });
      }
      const detail = outcome.body && outcome.body.error;
      const message =
        detail && typeof detail.message === "string" && detail.message
          ? detail.message
          : `The Threadline server refused the request (HTTP ${status}).`;
      const extra = { status };
      if (detail && typeof detail.field === "string") extra.field = detail.field;
      if (detail && typeof detail.code === "string") extra.serverCode = detail.code;
      return make("invalid", message, extra);
    },
  };
}
