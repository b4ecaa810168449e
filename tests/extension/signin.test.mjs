// The extension's sign-in through the web app: the PKCE helpers and the redirect's reading
// (extension/background/signin.js), and the service worker's `signIn` message, which trades
// the code for a device token and stores it as a pasted token is stored.

import assert from "node:assert/strict";
import { webcrypto } from "node:crypto";
import { test } from "node:test";

import { challengeOf, connectUrl, deviceName, randomSecret, readRedirect } from "../../extension/background/signin.js";
import { GOOD_TOKEN, SIGNIN_CODE, SIGNIN_VERIFIER } from "./helpers/fake-server.mjs";
import { ok, useWorkers } from "./helpers/harness.mjs";

const worker = useWorkers();
const REDIRECT = "https://abcdefghijklmnopabcdefghijklmnop.chromiumapp.org/";

test("the challenge is RFC 7636's S256 and secrets are 43 random base64url characters", async () => {
  assert.equal(
    await challengeOf(webcrypto, "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
    "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
  );
  const a = randomSecret(webcrypto);
  assert.match(a, /^[A-Za-z0-9_-]{43}$/);
  assert.notEqual(a, randomSecret(webcrypto));
});

test("the connect URL carries the redirect, state, challenge and device, encoded", () => {
  const url = new URL(
    connectUrl("http://127.0.0.1:8787", { redirectUri: REDIRECT, state: "s&t", challenge: "c", device: "Chrome on Linux" }),
  );
  assert.equal(url.origin + url.pathname, "http://127.0.0.1:8787/connect/extension");
  assert.equal(url.searchParams.get("redirect_uri"), REDIRECT);
  assert.equal(url.searchParams.get("state"), "s&t");
  assert.equal(url.searchParams.get("code_challenge"), "c");
  assert.equal(url.searchParams.get("device"), "Chrome on Linux");
});

test("the redirect gives the code only for this redirect URL and state", () => {
  const code = `tlc_${"0".repeat(64)}`;
  assert.deepEqual(readRedirect(`${REDIRECT}#code=${code}&state=st`, REDIRECT, "st"), { code });
  assert.deepEqual(readRedirect(`${REDIRECT}#error=access_denied&state=st`, REDIRECT, "st"), { error: "denied" });
  for (const bad of [
    `${REDIRECT}#code=${code}&state=other`,
    `https://evil.example/#code=${code}&state=st`,
    `${REDIRECT}x#code=${code}&state=st`,
    `${REDIRECT}#code=tlc_<script>&state=st`,
    `${REDIRECT}#state=st`,
    "not a url",
  ]) {
    assert.deepEqual(readRedirect(bad, REDIRECT, "st"), { error: "invalid" }, bad);
  }
});

test("the device is named after the browser and system", () => {
  const chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
  const firefox = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:140.0) Gecko/20100101 Firefox/140.0";
  const edge = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0";
  assert.equal(deviceName(chrome), "Chrome on Linux");
  assert.equal(deviceName(firefox), "Firefox on Windows");
  assert.equal(deviceName(edge), "Edge on macOS");
  assert.equal(deviceName(""), "Browser");
});

test("signIn trades the code without a bearer token and stores the device token", async () => {
  const w = await worker({ configure: false });
  const fromGmail = await w.send({ type: "signIn", serverUrl: w.server.url, code: SIGNIN_CODE, codeVerifier: SIGNIN_VERIFIER, redirectUri: REDIRECT });
  assert.equal(fromGmail.error.code, "invalid", "only the options page may sign in");

  const wrong = await w.sendFromOptions({ type: "signIn", serverUrl: w.server.url, code: SIGNIN_CODE, codeVerifier: "w".repeat(43), redirectUri: REDIRECT });
  assert.equal(wrong.error.code, "invalid");
  assert.equal(wrong.error.serverCode, "invalid_code");
  assert.equal((await w.chrome.storage.local.get("apiToken")).apiToken, undefined, "nothing stored");

  w.server.codeSpent = false;
  const signed = await ok(w.sendFromOptions({ type: "signIn", serverUrl: w.server.url + "/", code: SIGNIN_CODE, codeVerifier: SIGNIN_VERIFIER, redirectUri: REDIRECT }));
  assert.equal(signed.device, "Chrome on Linux");
  const sent = w.server.requestsTo("/api/v1/extension/token");
  assert.equal(sent.length, 2);
  assert.equal(sent[1].headers.authorization, undefined);
  assert.deepEqual(sent[1].body, { code: SIGNIN_CODE, code_verifier: SIGNIN_VERIFIER, redirect_uri: REDIRECT });
  const stored = await w.chrome.storage.local.get(["serverUrl", "apiToken"]);
  assert.equal(stored.apiToken, GOOD_TOKEN);
  assert.equal(stored.serverUrl, w.server.url);
  // The worker now works with it.
  const status = await ok(w.send({ type: "status" }));
  assert.equal(status.configured, true);
  assert.equal(status.user.email, "ada@example.com");
});
