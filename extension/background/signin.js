// Signing the extension in through the web app (no token to copy). The options page makes a
// PKCE verifier and a state, opens the server's /connect/extension with the browser's
// identity API (`identity.launchWebAuthFlow`, Chrome and Firefox), and the user allows the
// device there. The server redirects to the identity redirect URL with `#code=…&state=…`;
// the service worker trades the code and verifier for a device token
// (POST /api/v1/extension/token) and stores it as a pasted token is stored.
//
// Pure helpers (crypto and the user agent are passed in), unit-tested in
// tests/extension/signin.test.mjs.

export const CONNECT_PATH = "/connect/extension";
export const TOKEN_PATH = "/api/v1/extension/token";

function base64url(bytes) {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** 32 random bytes as base64url: a PKCE verifier (43 characters), or a state. */
export function randomSecret(crypto) {
  return base64url(crypto.getRandomValues(new Uint8Array(32)));
}

/** The S256 challenge of `verifier` (RFC 7636). */
export async function challengeOf(crypto, verifier) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}

/** "Firefox on Linux", "Chrome on Windows", … : how the Devices list names this browser. */
export function deviceName(userAgent) {
  const ua = String(userAgent || "");
  const browser = /Firefox\//.test(ua) ? "Firefox" : /Edg\//.test(ua) ? "Edge" : /Chrome\//.test(ua) ? "Chrome" : "Browser";
  const os = /Android/.test(ua)
    ? "Android"
    : /CrOS/.test(ua)
      ? "ChromeOS"
      : /Windows/.test(ua)
        ? "Windows"
        : /Mac OS X|Macintosh/.test(ua)
          ? "macOS"
          : /Linux/.test(ua)
            ? "Linux"
            : "";
  return os ? `${browser} on ${os}` : browser;
}

/** The server's page that asks the user to allow this device. */
export function connectUrl(base, { redirectUri, state, challenge, device }) {
  const query = new URLSearchParams({ redirect_uri: redirectUri, state, code_challenge: challenge, device });
  return `${base}${CONNECT_PATH}?${query}`;
}

/**
 * Reads the URL the flow ended on: `{ code }` when it is the redirect URL with this `state`
 * and a code, `{ error: "denied" }` when the user denied, else `{ error: "invalid" }`.
 */
export function readRedirect(responseUrl, redirectUri, state) {
  let url;
  try {
    url = new URL(responseUrl);
  } catch {
    return { error: "invalid" };
  }
  if (`${url.origin}${url.pathname}` !== redirectUri) return { error: "invalid" };
  const fragment = new URLSearchParams(url.hash.replace(/^#/, ""));
  if (fragment.get("state") !== state) return { error: "invalid" };
  if (fragment.get("error") === "access_denied") return { error: "denied" };
  const code = fragment.get("code");
  return code && /^tlc_[0-9a-f]{64}$/.test(code) ? { code } : { error: "invalid" };
}
