// The assembled extension in a real headless Chromium: the manifest loads, the module service
// worker starts, the options page talks to it, and the worker talks to a real local server.
// Skipped when no Chromium is installed (set CHROMIUM to its path, else /usr/bin/chromium).
// Uses the DevTools protocol over a pipe, so it needs no npm package.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";

import { stopBrowserGroup } from "../lib/chromium-process.mjs";
import { FakeThreadlineServer, GOOD_TOKEN, USER } from "./helpers/fake-server.mjs";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const skip = existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM}`;

/** A minimal DevTools-protocol client over --remote-debugging-pipe (fd 3 in, fd 4 out). */
class Cdp {
  constructor(child) {
    this.child = child;
    this.nextId = 1;
    this.pending = new Map();
    this.buffer = "";
    child.stdio[4].on("data", (chunk) => {
      this.buffer += chunk.toString("utf8");
      let end;
      while ((end = this.buffer.indexOf("\0")) >= 0) {
        const message = JSON.parse(this.buffer.slice(0, end));
        this.buffer = this.buffer.slice(end + 1);
        const waiter = this.pending.get(message.id);
        if (waiter) {
          this.pending.delete(message.id);
          if (message.error) waiter.reject(new Error(`${waiter.method}: ${message.error.message}`));
          else waiter.resolve(message.result);
        }
      }
    });
  }

  send(method, params = {}, sessionId) {
    const id = this.nextId++;
    const message = { id, method, params, ...(sessionId ? { sessionId } : {}) };
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, method });
      this.child.stdio[3].write(JSON.stringify(message) + "\0");
    });
  }

  /** Evaluates `expression` (may be async) in a session; returns its JSON value. */
  async evaluate(sessionId, expression) {
    const result = await this.send("Runtime.evaluate", { expression, awaitPromise: true, returnByValue: true }, sessionId);
    if (result.exceptionDetails) throw new Error(result.exceptionDetails.exception?.description || result.exceptionDetails.text);
    return result.result.value;
  }
}

async function waitFor(check, what, timeoutMs = 15000) {
  const start = Date.now();
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

let server;
let chromium;
let cdp;
let workDir;
let extensionId;

before(async () => {
  if (skip) return;
  server = await new FakeThreadlineServer().start();
  workDir = mkdtempSync(join(tmpdir(), "threadline-chromium-"));
  // Assemble like the build: manifest.json next to the extension folder's contents.
  const ext = join(workDir, "extension");
  cpSync(join(ROOT, "extension"), ext, { recursive: true });
  cpSync(join(ROOT, "manifest.json"), join(ext, "manifest.json"));
  if (!existsSync(join(ext, "content.js"))) writeFileSync(join(ext, "content.js"), "// stand-in\n");
  mkdirSync(join(ext, "wasm"), { recursive: true });
  // Its own process group, so that teardown can wait for every process it starts.
  chromium = spawn(
    CHROMIUM,
    [
      "--headless=new",
      "--no-sandbox",
      "--disable-gpu",
      "--no-first-run",
      "--remote-debugging-pipe",
      "--enable-unsafe-extension-debugging",
      `--user-data-dir=${join(workDir, "profile")}`,
      "about:blank",
    ],
    { stdio: ["ignore", "ignore", "ignore", "pipe", "pipe"], detached: true },
  );
  cdp = new Cdp(chromium);
  ({ id: extensionId } = await cdp.send("Extensions.loadUnpacked", { path: ext }));
});

after(async () => {
  if (skip) return;
  // The profile goes only once no process of the browser is left to write into it: its
  // main process exits before some of its helpers do.
  if (chromium) await stopBrowserGroup(chromium);
  await server.stop();
  rmSync(workDir, { recursive: true, force: true });
});

async function openOptionsPage() {
  const { targetId } = await cdp.send("Target.createTarget", { url: `chrome-extension://${extensionId}/options.html` });
  const { sessionId } = await cdp.send("Target.attachToTarget", { targetId, flatten: true });
  await waitFor(() => cdp.evaluate(sessionId, "Boolean(document.querySelector('#serverUrl'))"), "the options form");
  return sessionId;
}

test("the extension loads in Chromium with its module service worker", { skip }, async () => {
  assert.match(extensionId, /^[a-p]{32}$/);
  const worker = await waitFor(async () => {
    const { targetInfos } = await cdp.send("Target.getTargets");
    return targetInfos.find((t) => t.type === "service_worker" && t.url === `chrome-extension://${extensionId}/background.js`);
  }, "the service worker");
  assert.ok(worker);
});

test("options page: test connection, save, and the worker answers with the saved settings", { skip }, async () => {
  const page = await openOptionsPage();
  const send = (message) => cdp.evaluate(page, `chrome.runtime.sendMessage(${JSON.stringify(message)})`);

  const before = await send({ type: "status" });
  assert.equal(before.ok, true);
  assert.equal(before.data.configured, false);
  assert.equal(before.data.error.code, "not_configured");

  // Type the server and token as a user would, then click "Test connection".
  await cdp.evaluate(
    page,
    `(() => {
      const url = document.querySelector('#serverUrl');
      url.value = ${JSON.stringify(server.url)};
      url.dispatchEvent(new Event('input'));
      document.querySelector('#apiToken').value = ${JSON.stringify(GOOD_TOKEN)};
      document.querySelector('#testConnection').click();
    })()`,
  );
  const tested = await waitFor(
    () => cdp.evaluate(page, "document.querySelector('.status.ok')?.textContent || document.querySelector('.status.error')?.textContent"),
    "the connection test",
  );
  assert.equal(tested, `Connected as ${USER.name} (${USER.email})`);

  await cdp.evaluate(page, "document.querySelector('button[type=submit]').click()");
  await waitFor(() => cdp.evaluate(page, "document.querySelector('.status').textContent === 'Saved.'"), "saving");
  const html = await cdp.evaluate(page, "document.documentElement.outerHTML");
  assert.ok(!html.includes(GOOD_TOKEN), "the token is not in the page after saving");
  assert.equal(await cdp.evaluate(page, "document.querySelector('#apiToken').value"), "");

  // Another server (localhost is a different origin) does not inherit the saved token.
  await cdp.evaluate(
    page,
    `(() => {
      document.querySelector('#serverUrl').value = ${JSON.stringify(server.url.replace("127.0.0.1", "localhost"))};
      document.querySelector('button[type=submit]').click();
    })()`,
  );
  await waitFor(() => cdp.evaluate(page, "document.querySelector('.status.error')?.textContent"), "the refusal");
  assert.equal(await cdp.evaluate(page, "document.querySelector('.status').textContent"), "Paste an API token first.");
  assert.equal(await cdp.evaluate(page, "document.querySelector('#apiToken').getAttribute('aria-invalid')"), "true");

  const status = await waitFor(async () => {
    const answer = await send({ type: "status" });
    return answer.data.user ? answer : null;
  }, "a configured status");
  assert.deepEqual(status.data.user, USER);
  assert.equal(status.data.serverOrigin, server.url);

  server.addContact("Bob", "Builder", ["bob@acme.test"]);
  const lookup = await send({ type: "lookup", addresses: ["Bob@acme.test"] });
  assert.equal(lookup.data.results[0].status, "known");

  await server.down();
  const queued = await send({ type: "createTask", request: { title: "Offline in Chromium" } });
  assert.equal(queued.data.status, "queued");
  await server.up();
  await waitFor(async () => (await send({ type: "flush" })).data.items.length === 0, "delivery after the server is back");
  assert.deepEqual(server.tasks.map((t) => t.title), ["Offline in Chromium"]);
  assert.ok(server.requestsTo("/api/v1/tasks").every((r) => r.headers["idempotency-key"] === queued.data.key));
});
