// The whole email: after a track, the background asks a Gmail tab for the message's raw
// source, receives it over a Port in pieces, and uploads it byte for byte; failures leave the
// entry tracked from the page and are retried later, and storage never holds the bytes.

import assert from "node:assert/strict";
import { test } from "node:test";
import { createHash } from "node:crypto";

import { SourceCapture, SOURCES_KEY, legacyIdOf, fromBase64, PORT_NAME, MAX_WAIT_FOR_ID_MS } from "../../extension/background/source.js";
import { createFakeChrome } from "./helpers/fake-chrome.mjs";
import { ok, useWorkers, trackRequest } from "./helpers/harness.mjs";

const worker = useWorkers();
const sha = (bytes) => createHash("sha256").update(bytes).digest("hex");
const tick = () => new Promise((resolve) => setImmediate(resolve));
async function settle(n = 30) {
  for (let i = 0; i < n; i += 1) await tick();
}

/** A content script that answers captureSource with `bytes` in pieces of `piece` bytes. */
function contentScript(fake, { bytes, piece = 1000, fail, tamper } = {}) {
  fake.onCapture = (message) => {
    const port = fake.connect(PORT_NAME);
    port.postMessage({ type: "begin", requestId: message.requestId });
    if (fail) {
      port.postMessage({ type: "fail", requestId: message.requestId, code: fail, detail: "x" });
    } else {
      let seq = 0;
      for (let at = 0; at < bytes.length; at += piece) {
        const data = Buffer.from(bytes.subarray(at, at + piece)).toString("base64");
        port.postMessage({ type: "chunk", requestId: message.requestId, seq: tamper === "seq" && seq === 1 ? 5 : seq, data });
        seq += 1;
      }
      const total = tamper === "bytes" ? bytes.length + 1 : bytes.length;
      port.postMessage({ type: "end", requestId: message.requestId, chunks: seq, bytes: total });
    }
    port.disconnect();
  };
}

/** A SourceCapture over a fake chrome, with a recording upload and a manual clock. */
function standalone({ answer = () => ({ kind: "ok", status: 200, data: {} }), maxBytes } = {}) {
  const fake = createFakeChrome();
  const clock = { now: 1_000_000 };
  const uploads = [];
  const timers = [];
  const capture = new SourceCapture({
    storage: fake.chrome.storage.local,
    tabs: fake.chrome.tabs,
    now: () => clock.now,
    random: () => 0,
    setTimeout: (fn, ms) => timers.push({ fn, at: clock.now + ms }) - 1,
    clearTimeout: () => {},
    t: (key, subs) => fake.chrome.i18n.getMessage(key, subs) || key,
    log: { warn: () => {} },
    maxBytes,
    upload: async (id, blob) => {
      uploads.push({ id, bytes: new Uint8Array(await blob.arrayBuffer()), type: blob.type });
      return answer(uploads.length);
    },
  });
  fake.chrome.runtime.onConnect.addListener((port) => capture.onPort(port));
  return { fake, capture, uploads, clock };
}

const ENTRY = { id: "7d0c1e2a-0000-4000-8000-000000000001", gmail_message_id: "163d03bfda277ec1", message_ids: ["163d03bfda277ec1"] };
const BYTES = Uint8Array.from({ length: 5000 }, (_, i) => (i * 7 + 3) & 0xff);

test("legacy ids are the hex ids; base64 decodes to the same bytes", () => {
  assert.equal(legacyIdOf(["msg-a:r-12", "msg-f:1602441164947422913", "163d03bfda277ec1"]), "163d03bfda277ec1");
  assert.equal(legacyIdOf(["msg-a:r-12", "<a@b>"]), null);
  assert.equal(sha(fromBase64(Buffer.from(BYTES).toString("base64"))), sha(BYTES));
});

test("a tracked message's source is streamed from the tab and uploaded byte for byte", async () => {
  const { fake, capture, uploads } = standalone();
  contentScript(fake, { bytes: BYTES, piece: 777 });
  await capture.need(ENTRY, ["163d03bfda277ec1", "msg-f:1602441164947422913"], 7);
  await capture.pump();
  await settle();
  await capture.pump();
  assert.equal(fake.captureRequests.length, 1);
  assert.equal(fake.captureRequests[0].message.legacyId, "163d03bfda277ec1");
  assert.equal(uploads.length, 1);
  assert.equal(uploads[0].id, ENTRY.id);
  assert.equal(uploads[0].type, "message/rfc822");
  assert.equal(sha(uploads[0].bytes), sha(BYTES));
  const snap = await capture.snapshot();
  assert.deepEqual(snap.items, [], "done: nothing left to capture");
  assert.ok(JSON.stringify([...fake.backing.local.values()]).length < 2000, "the bytes never reach storage");
  // The tab that tracked is told, in words for its bar.
  await settle();
  const told = fake.sentToTabs.filter((m) => m.message.type === "sourceStatus");
  assert.equal(told.length, 1);
  assert.equal(told[0].tabId, 7);
  assert.equal(told[0].message.stored, true);
  assert.match(told[0].message.text, /whole email, with its attachments, is in Threadline/);
  assert.ok(told[0].message.messageIds.includes("163d03bfda277ec1"));
});

test("Gmail failing: the entry waits with a sentence for people, and is completed later", async () => {
  const { fake, capture, uploads, clock } = standalone();
  contentScript(fake, { fail: "network" });
  await capture.need(ENTRY, [], 7);
  await settle();
  await capture.pump();
  let snap = await capture.snapshot();
  assert.equal(uploads.length, 0);
  assert.equal(snap.items.length, 1);
  assert.equal(snap.items[0].attempts, 1);
  assert.match(snap.items[0].lastError, /Gmail could not be reached/);
  assert.ok(snap.items[0].nextAttemptAt > clock.now, "backed off");
  await settle();
  const told = fake.sentToTabs.filter((m) => m.message.type === "sourceStatus");
  assert.deepEqual(told.map((m) => [m.message.stored, m.message.text]), [[false, snap.items[0].lastError]]);

  contentScript(fake, { bytes: BYTES });
  clock.now = snap.items[0].nextAttemptAt;
  await capture.pump();
  await settle();
  await capture.pump();
  snap = await capture.snapshot();
  assert.deepEqual(snap.items, []);
  assert.equal(sha(uploads[0].bytes), sha(BYTES));
});

test("a stream with a missing piece or a wrong length is not uploaded", async () => {
  for (const tamper of ["seq", "bytes"]) {
    const { fake, capture, uploads } = standalone();
    contentScript(fake, { bytes: BYTES, tamper });
    await capture.need(ENTRY, [], 7);
    await settle();
    await capture.pump();
    assert.equal(uploads.length, 0, tamper);
    assert.match((await capture.snapshot()).items[0].lastError, /Gmail did not give the original/, tamper);
  }
});

test("no Gmail tab: the entry waits; a message known only by its client id waits for its legacy id", async () => {
  const { fake, capture, uploads } = standalone();
  fake.openTabs.clear();
  await capture.need(ENTRY, [], 7);
  await settle();
  await capture.pump();
  assert.match((await capture.snapshot()).items[0].lastError, /next time Gmail is open/);

  const sent = { id: "7d0c1e2a-0000-4000-8000-000000000002", gmail_message_id: "msg-a:r-77", message_ids: ["msg-a:r-77"] };
  fake.openTabs.add(7);
  contentScript(fake, { bytes: BYTES });
  await capture.need(sent, ["msg-a:r-77"], 7);
  await settle();
  assert.equal(fake.captureRequests.filter((r) => r.message.requestId.startsWith(sent.id)).length, 0, "no id to ask Gmail with yet");
  await capture.noteIds([{ ids: ["msg-a:r-77"] }, { ids: ["18d00000000000aa", "msg-a:r-77"] }], 7);
  await settle();
  await capture.pump();
  await settle();
  await capture.pump();
  const asked = fake.captureRequests.filter((r) => r.message.requestId.startsWith(sent.id));
  assert.equal(asked.length, 1);
  assert.equal(asked[0].message.legacyId, "18d00000000000aa");
  assert.ok(uploads.some((u) => u.id === sent.id));
});

test("a sent email whose legacy id never shows is given up after a week, with its reason", async () => {
  const { capture, clock } = standalone();
  const sent = { id: "7d0c1e2a-0000-4000-8000-000000000003", gmail_message_id: "msg-a:r-99", message_ids: ["msg-a:r-99"] };
  await capture.need(sent, [], 7);
  await capture.pump();
  assert.equal((await capture.snapshot()).items.length, 1, "waits for its id");
  clock.now += MAX_WAIT_FOR_ID_MS + 1;
  await capture.pump();
  const snap = await capture.snapshot();
  assert.deepEqual(snap.items, []);
  assert.match(snap.failed[0].error, /never showed this sent email's id/);
});

test("a source over the limit is not uploaded and not asked again: its reason is kept", async () => {
  const { fake, capture, uploads, clock } = standalone({ maxBytes: 3000 });
  contentScript(fake, { bytes: BYTES, piece: 1000 });
  await capture.need(ENTRY, [], 7);
  await settle();
  await capture.pump();
  const snap = await capture.snapshot();
  assert.equal(uploads.length, 0);
  assert.deepEqual(snap.items, []);
  assert.match(snap.failed[0].error, /too large for Threadline to keep whole/);
  clock.now += 60 * 60 * 1000;
  await capture.pump();
  assert.equal(fake.captureRequests.length, 1, "not asked again");
});

test("the server refusing the source drops it with its reason; a server error retries", async () => {
  const mismatch = { kind: "http", status: 409, body: { error: { code: "source_mismatch", message: "x" } } };
  let s = standalone({ answer: () => mismatch });
  contentScript(s.fake, { bytes: BYTES });
  await s.capture.need(ENTRY, [], 7);
  await settle();
  await s.capture.pump();
  let snap = await s.capture.snapshot();
  assert.deepEqual(snap.items, []);
  assert.equal(snap.failed.length, 1);
  assert.match(snap.failed[0].error, /another message/);

  s = standalone({ answer: (n) => (n === 1 ? { kind: "http", status: 503, body: null } : { kind: "ok", status: 200 }) });
  contentScript(s.fake, { bytes: BYTES });
  await s.capture.need(ENTRY, [], 7);
  await settle();
  await s.capture.pump();
  snap = await s.capture.snapshot();
  assert.equal(snap.items.length, 1);
  assert.match(snap.items[0].lastError, /could not be sent to the Threadline server yet/);
  s.clock.now = snap.items[0].nextAttemptAt;
  await s.capture.pump();
  await settle();
  await s.capture.pump();
  assert.deepEqual((await s.capture.snapshot()).items, []);
  assert.equal(s.uploads.length, 2);
});

test("errors are localised in nl and de", async () => {
  for (const locale of ["nl", "de"]) {
    const fake = createFakeChrome({ locale });
    for (const key of ["sourceErrorServer", "sourceErrorOffline", "sourceErrorSignedOut", "sourceErrorGmail", "sourceErrorNoTab", "sourceErrorTimeout", "sourceErrorMismatch", "sourceErrorTooBig", "sourceErrorNoId", "sourceStored"]) {
      const text = fake.chrome.i18n.getMessage(key);
      assert.ok(text && text !== createFakeChrome().chrome.i18n.getMessage(key), `${locale} ${key}`);
    }
    assert.match(fake.chrome.i18n.getMessage("sourceErrorRefused", ["HTTP 413"]), /HTTP 413/);
  }
});

test("through the worker: a track from the bar asks the tab for the source and PUTs it", async () => {
  const w = await worker();
  contentScript(w.fake, { bytes: BYTES, piece: 1024 });
  const data = await ok(w.send({ type: "track", request: trackRequest() }));
  assert.equal(data.status, "done");
  for (let i = 0; i < 50 && !w.server.requests.some((r) => r.method === "PUT"); i += 1) await settle(5);
  const put = w.server.requests.find((r) => r.method === "PUT");
  assert.ok(put, "the source was uploaded");
  assert.equal(put.path, `/api/v1/tracked-emails/${data.result.tracked_email.id}/source`);
  assert.equal(put.headers["content-type"], "message/rfc822");
  assert.equal(sha(put.raw), sha(BYTES));
  assert.equal(w.fake.captureRequests[0].message.legacyId, "18c0ffee00000001");
  const snap = await ok(w.send({ type: "sources" }));
  assert.deepEqual(snap.items, []);
  assert.ok(!JSON.stringify([...w.backing.local.entries()]).includes(Buffer.from(BYTES.subarray(0, 30)).toString("base64")));
  assert.equal(w.backing.local.get(SOURCES_KEY).items.length, 0);
});
