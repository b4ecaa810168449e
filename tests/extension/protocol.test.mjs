// The message protocol: status, trackedState, senders, testConnection, reportError.

import assert from "node:assert/strict";
import { test } from "node:test";

import { EXTENSION_ID } from "./helpers/fake-chrome.mjs";
import { GOOD_TOKEN, USER } from "./helpers/fake-server.mjs";
import { ok, useWorkers, trackRequest } from "./helpers/harness.mjs";

const worker = useWorkers();

test("status when not configured", async () => {
  const w = await worker({ configure: false });
  const status = await ok(w.send({ type: "status" }));
  assert.equal(status.configured, false);
  assert.equal(status.serverOrigin, "http://127.0.0.1:8787");
  assert.equal(status.user, null);
  assert.deepEqual(status.ownAddresses, []);
  assert.equal(status.trackOnSendDefault, true);
  assert.equal(status.sendUndoSeconds, 10);
  assert.equal(status.error.code, "not_configured");
  assert.equal(w.server.requests.length, 0);
});

test("status fetches /me once and again after the options change", async () => {
  const w = await worker();
  const status = await ok(w.send({ type: "status" }));
  assert.deepEqual(status, {
    configured: true,
    serverOrigin: w.server.url,
    user: USER,
    ownAddresses: ["ada@example.com"],
    trackOnSendDefault: true,
    sendUndoSeconds: 10,
  });
  await ok(w.send({ type: "status" }));
  assert.equal(w.server.requestsTo("/api/v1/me", "GET").length, 1, "cached");

  await w.chrome.storage.local.set({ trackOnSendDefault: false, sendUndoSeconds: 30 });
  const changed = await ok(w.send({ type: "status" }));
  assert.equal(changed.trackOnSendDefault, false);
  assert.equal(changed.sendUndoSeconds, 30);
  assert.equal(w.server.requestsTo("/api/v1/me", "GET").length, 2);
});

test("status with the server down or the token revoked is an answer, not a failure", async () => {
  const w = await worker();
  await w.server.down();
  const offline = await ok(w.send({ type: "status" }));
  assert.equal(offline.configured, true);
  assert.equal(offline.user, null);
  assert.equal(offline.error.code, "offline");
  await w.server.up();
  w.server.mode = "401";
  const revoked = await ok(w.send({ type: "status" }));
  assert.equal(revoked.user, null);
  assert.equal(revoked.error.code, "unauthorized");
  w.server.mode = "ok";
  assert.deepEqual((await ok(w.send({ type: "status" }))).user, USER, "a failure is not cached");
});

test("trackedState returns the server's state plus pending actions", async () => {
  const w = await worker();
  await ok(w.send({ type: "track", request: trackRequest({ gmail_message_id: "m-tracked" }) }));
  await w.server.down();
  const queued = await ok(w.send({ type: "createTask", request: { title: "Reply", source_message_id: "m-task" } }));
  await ok(w.send({ type: "createTask", request: { title: "Unrelated", source_message_id: "m-other" } }));
  const failed = await w.send({ type: "trackedState", messages: [{ ids: ["m-task"] }] });
  assert.equal(failed.ok, false);
  assert.equal(failed.error.code, "offline");
  assert.deepEqual(failed.error.pending, [{ key: queued.key, kind: "task", messageIds: ["m-task"] }]);

  await w.server.up();
  // The clock has not moved: the queued tasks wait out their backoff and stay pending.
  const state = await ok(w.send({ type: "trackedState", messages: [{ ids: ["m-tracked", "x"] }, { ids: ["m-task"] }, { ids: ["m-none"] }] }));
  assert.equal(state.messages.length, 3);
  assert.equal(state.messages[0].tracked_email.gmail_message_id, "m-tracked");
  assert.equal(state.messages[1].tracked_email, undefined);
  assert.deepEqual(state.messages[2], { tasks: [] });
  assert.deepEqual(state.pending, [{ key: queued.key, kind: "task", messageIds: ["m-task"] }]);
});

test("trackedState splits more than 500 messages into several requests", async () => {
  const w = await worker();
  const messages = Array.from({ length: 750 }, (_, i) => ({ ids: [`m${i}`] }));
  const state = await ok(w.send({ type: "trackedState", messages }));
  assert.equal(state.messages.length, 750);
  assert.deepEqual(
    w.server.requestsTo("/api/v1/tracked-emails/state").map((r) => r.body.messages.length),
    [500, 250],
  );
});

test("messages from other senders are refused; testConnection only from the options page", async () => {
  const w = await worker();
  const stranger = await w.sendFrom({ id: "another-extension", url: "https://mail.google.com/" }, { type: "status" });
  assert.equal(stranger.error.code, "forbidden");
  const otherPage = await w.sendFrom({ id: EXTENSION_ID, url: "https://evil.test/" }, { type: "status" });
  assert.equal(otherPage.error.code, "forbidden");
  const fromGmail = await w.send({ type: "testConnection", serverUrl: w.server.url, apiToken: "x" });
  assert.equal(fromGmail.error.code, "invalid");
  assert.equal(fromGmail.error.field, "type");
  const unknown = await w.send({ type: "nope" });
  assert.equal(unknown.error.code, "invalid");
});

test("testConnection reports the user, or the error with its field", async () => {
  const w = await worker({ configure: false });
  const connected = await ok(w.sendFromOptions({ type: "testConnection", serverUrl: w.server.url + "/", apiToken: ` ${GOOD_TOKEN} ` }));
  assert.deepEqual(connected.user, USER);
  assert.equal(connected.serverOrigin, w.server.url);

  const wrong = await w.sendFromOptions({ type: "testConnection", serverUrl: w.server.url, apiToken: "wrong" });
  assert.equal(wrong.error.code, "unauthorized");

  const noToken = await w.sendFromOptions({ type: "testConnection", serverUrl: w.server.url, apiToken: "" });
  assert.equal(noToken.error.field, "apiToken");

  const badUrl = await w.sendFromOptions({ type: "testConnection", serverUrl: "ftp://x", apiToken: GOOD_TOKEN });
  assert.equal(badUrl.error.field, "serverUrl");

  // An empty token field means "the saved token", for the server it was saved for only.
  await w.chrome.storage.local.set({ apiToken: GOOD_TOKEN });
  const otherServer = await w.sendFromOptions({ type: "testConnection", serverUrl: w.server.url });
  assert.equal(otherServer.error.field, "apiToken", "the default server's token is not sent elsewhere");
  assert.equal(w.server.requests.length, 2);
  await w.chrome.storage.local.set({ serverUrl: w.server.url });
  assert.deepEqual((await ok(w.sendFromOptions({ type: "testConnection", serverUrl: w.server.url }))).user, USER);

  await w.server.down();
  const down = await w.sendFromOptions({ type: "testConnection", serverUrl: w.server.url, apiToken: GOOD_TOKEN });
  assert.equal(down.error.code, "offline");
});

test("reportError logs a warning without tokens", async () => {
  const w = await worker();
  await ok(w.send({ type: "reportError", message: "boom", detail: { header: `Bearer ${GOOD_TOKEN}` } }));
  const line = w.warnings.find((l) => l.includes("boom"));
  assert.ok(line, w.warnings.join("\n"));
  assert.ok(!line.includes(GOOD_TOKEN));
  assert.ok(w.warnings.every((l) => !l.includes(GOOD_TOKEN)));
});

test("the token never reaches a message answer", async () => {
  const w = await worker();
  const answers = [
    await w.send({ type: "status" }),
    await w.send({ type: "queue" }),
    await w.send({ type: "lookup", addresses: ["a@acme.test"] }),
  ];
  w.server.mode = "401";
  answers.push(await w.send({ type: "createTask", request: { title: "x" } }));
  for (const answer of answers) assert.ok(!JSON.stringify(answer).includes(GOOD_TOKEN));
});

test("a tab that is gone does not break delivery", async () => {
  const w = await worker();
  await w.server.down();
  const queued = await ok(
    w.sendFrom({ id: EXTENSION_ID, url: "https://mail.google.com/mail/u/1/", tab: { id: 99 } }, { type: "createTask", request: { title: "Gone" } }),
  );
  await w.server.up();
  w.advance(1000);
  const { items } = await ok(w.send({ type: "flush" }));
  assert.deepEqual(items, []);
  assert.equal(w.server.tasks.length, 1);
  assert.equal(w.sentToTabs.length, 0);
  assert.ok(queued.key);
});
