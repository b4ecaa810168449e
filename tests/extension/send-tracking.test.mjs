// Track-on-send: an item scheduled when the user clicks Send waits out Gmail's undo window,
// is dropped by an undo, and is sent at once when the sent message shows up in the thread.

import assert from "node:assert/strict";
import { test } from "node:test";

import { ok, useWorkers, trackRequest } from "./helpers/harness.mjs";

const worker = useWorkers();

const TRACK = "/api/v1/tracked-emails";
const sentRequest = (overrides) => trackRequest({ gmail_message_id: "msg-a:r123", direction: "outgoing", ...overrides });

test("a scheduled item is not delivered before deliverAfter, then is", async () => {
  const w = await worker();
  const scheduled = await ok(w.send({ type: "scheduleSendTracking", key: "send-1", deliverAfterMs: 10000, request: sentRequest() }));
  assert.deepEqual(scheduled, { status: "scheduled", key: "send-1", notBefore: w.clock.now + 10000 });
  assert.ok(w.timers.dueTimes().includes(w.clock.now + 10000), "a timer is armed for the end of the undo window");

  await ok(w.send({ type: "flush" }));
  w.advance(9999);
  await ok(w.send({ type: "flush" }));
  assert.equal(w.server.requestsTo(TRACK).length, 0, "nothing sent inside the undo window");
  const pending = await ok(w.send({ type: "trackedState", messages: [{ ids: ["msg-a:r123"] }] }));
  assert.deepEqual(pending.pending, [{ key: "send-1", kind: "track", messageIds: ["msg-a:r123"] }]);
  assert.equal(pending.messages[0].tracked_email, undefined);

  w.advance(1);
  assert.equal(w.timers.runDue() > 0, true, "the timer fires");
  await w.core.flush();
  const sent = w.server.requestsTo(TRACK);
  assert.equal(sent.length, 1);
  assert.equal(sent[0].headers["idempotency-key"], "send-1");
  assert.equal(w.server.tracked[0].direction, "outgoing");
  assert.equal(w.sentToTabs[0].message.type, "queueDelivered");
  assert.equal(w.sentToTabs[0].message.key, "send-1");

  const state = await ok(w.send({ type: "trackedState", messages: [{ ids: ["msg-a:r123"] }] }));
  assert.equal(state.messages[0].tracked_email.id, w.server.tracked[0].id);
  assert.deepEqual(state.pending, []);
});

test("cancel before delivery removes it; after delivery it reports false", async () => {
  const w = await worker();
  await ok(w.send({ type: "scheduleSendTracking", key: "undo-me", deliverAfterMs: 5000, request: sentRequest() }));
  assert.deepEqual(await ok(w.send({ type: "cancelSendTracking", key: "undo-me" })), { cancelled: true });
  assert.deepEqual((await ok(w.send({ type: "queue" }))).items, []);
  w.advance(60000);
  w.timers.runDue();
  await ok(w.send({ type: "flush" }));
  assert.equal(w.server.requestsTo(TRACK).length, 0, "an undone send is never tracked");
  assert.deepEqual(await ok(w.send({ type: "cancelSendTracking", key: "undo-me" })), { cancelled: false });

  await ok(w.send({ type: "scheduleSendTracking", key: "too-late", deliverAfterMs: 0, request: sentRequest({ gmail_message_id: "m2" }) }));
  await ok(w.send({ type: "flush" }));
  assert.equal(w.server.tracked.length, 1);
  assert.deepEqual(await ok(w.send({ type: "cancelSendTracking", key: "too-late" })), { cancelled: false });
});

test("confirm makes it due at once and adds the ids seen in the thread", async () => {
  const w = await worker();
  await ok(w.send({ type: "scheduleSendTracking", key: "send-2", deliverAfterMs: 30000, request: sentRequest() }));
  const confirmed = await ok(w.send({ type: "confirmSendTracking", key: "send-2", altMessageIds: ["18d00000000000aa", "msg-a:r123"] }));
  assert.deepEqual(confirmed, { confirmed: true });
  await ok(w.send({ type: "flush" }));
  const [sent] = w.server.requestsTo(TRACK);
  assert.ok(sent, "sent before the 30 s window ended");
  assert.equal(sent.body.gmail_message_id, "msg-a:r123");
  assert.deepEqual(sent.body.alt_message_ids, ["18d00000000000aa"]);
  assert.deepEqual(w.server.tracked[0].message_ids, ["msg-a:r123", "18d00000000000aa"]);
  assert.deepEqual(w.sentToTabs[0].message.messageIds, ["msg-a:r123", "18d00000000000aa"]);
  assert.deepEqual(await ok(w.send({ type: "confirmSendTracking", key: "send-2" })), { confirmed: false });
});

test("scheduling again under the same key replaces the request; default delay is the undo period", async () => {
  const w = await worker();
  await w.chrome.storage.local.set({ sendUndoSeconds: 20 });
  const first = await ok(w.send({ type: "scheduleSendTracking", key: "draft-9", request: sentRequest({ subject: "v1" }) }));
  assert.equal(first.notBefore, w.clock.now + 20000);
  await ok(w.send({ type: "scheduleSendTracking", key: "draft-9", deliverAfterMs: 1000, request: sentRequest({ subject: "v2" }) }));
  const { items } = await ok(w.send({ type: "queue" }));
  assert.equal(items.length, 1);
  assert.equal(items[0].notBefore, w.clock.now + 1000);
  w.advance(1000);
  await ok(w.send({ type: "flush" }));
  assert.equal(w.server.tracked.length, 1);
  assert.equal(w.server.tracked[0].subject, "v2");
});

test("a scheduled item whose server is down stays queued and survives a restart", async () => {
  const first = await worker();
  await ok(first.send({ type: "scheduleSendTracking", key: "send-3", deliverAfterMs: 10000, request: sentRequest() }));
  await first.server.down();
  first.advance(10000);
  const { items } = await ok(first.send({ type: "flush" }));
  assert.equal(items[0].attempts, 1);
  assert.equal(items[0].lastError.code, "offline");
  assert.deepEqual((await first.send({ type: "cancelSendTracking", key: "bad key!" })).error.field, "key");
  await first.stop();

  await first.server.up();
  first.clock.now += 60000;
  const second = await worker({ backing: first.backing, server: first.server, clock: first.clock });
  assert.equal(first.server.tracked.length, 1);
  assert.equal(first.server.requestsTo(TRACK)[0].headers["idempotency-key"], "send-3");
  assert.deepEqual((await ok(second.send({ type: "queue" }))).items, []);
});

test("confirm after a lost answer keeps the request the server already recorded", async () => {
  const w = await worker();
  await ok(w.send({ type: "scheduleSendTracking", key: "msg-a:r-42", deliverAfterMs: 10000, request: sentRequest() }));
  w.server.failures.push({ status: 502, afterEffect: true }); // tracked, but the answer is lost
  w.advance(10000);
  await ok(w.send({ type: "flush" }));
  assert.equal(w.server.tracked.length, 1);
  assert.deepEqual(await ok(w.send({ type: "confirmSendTracking", key: "msg-a:r-42", altMessageIds: ["18d00000000000bb"] })), {
    confirmed: true,
  });
  const { items, failed } = await ok(w.send({ type: "flush" }));
  assert.deepEqual(items, []);
  assert.deepEqual(failed, [], "not refused as a reused key with another body");
  const sent = w.server.requestsTo(TRACK);
  assert.equal(sent.length, 2);
  assert.deepEqual(sent[1].body, sent[0].body);
  assert.equal(w.server.tracked.length, 1);
});
