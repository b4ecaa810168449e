// The offline queue: actions survive an unreachable server and a restarted worker, and are
// delivered exactly once with the same Idempotency-Key on every attempt.

import assert from "node:assert/strict";
import { test } from "node:test";

import { backoffMs, MAX_BACKOFF_MS, QUEUE_KEY } from "../../extension/background/queue.js";
import { GOOD_TOKEN } from "./helpers/fake-server.mjs";
import { ok, useWorkers, trackRequest } from "./helpers/harness.mjs";

const worker = useWorkers();

const TRACK = "/api/v1/tracked-emails";

test("an action with the server up is done at once and sent with an Idempotency-Key", async () => {
  const w = await worker();
  const data = await ok(w.send({ type: "track", request: trackRequest() }));
  assert.equal(data.status, "done");
  assert.equal(data.result.created, true);
  assert.deepEqual(data.result.tracked_email.message_ids, ["18c0ffee00000001"]);
  const [sent] = w.server.requestsTo(TRACK);
  assert.match(sent.headers["idempotency-key"], /^[0-9a-f-]{36}$/);
  assert.equal(sent.headers.authorization, `Bearer ${GOOD_TOKEN}`);
  assert.deepEqual((await ok(w.send({ type: "queue" }))).items, []);
  assert.deepEqual(w.sentToTabs, [], "an answered action is not notified again");
});

test("server down: the action is queued, then delivered exactly once when it is back", async () => {
  const w = await worker();
  await w.server.down();
  const queued = await ok(w.send({ type: "track", request: trackRequest() }));
  assert.equal(queued.status, "queued");
  assert.match(queued.key, /^[0-9a-f-]{36}$/);

  const { items } = await ok(w.send({ type: "queue" }));
  assert.equal(items.length, 1);
  assert.equal(items[0].key, queued.key);
  assert.equal(items[0].kind, "track");
  assert.equal(items[0].attempts, 1);
  assert.equal(items[0].lastError.code, "offline");
  assert.deepEqual(items[0].messageIds, ["18c0ffee00000001"]);

  // Still down: a retry after the backoff fails again and keeps the item.
  w.advance(1000);
  await ok(w.send({ type: "flush" }));
  assert.equal((await ok(w.send({ type: "queue" }))).items[0].attempts, 2);

  await w.server.up();
  w.advance(MAX_BACKOFF_MS);
  const after = await ok(w.send({ type: "flush" }));
  assert.deepEqual(after.items, []);
  assert.equal(w.server.tracked.length, 1, "tracked exactly once");
  const sent = w.server.requestsTo(TRACK);
  assert.equal(sent.length, 1, "the server saw one request (the others were refused)");
  assert.equal(sent[0].headers["idempotency-key"], queued.key);

  // The tab that queued it is told, with the server's answer.
  assert.equal(w.sentToTabs.length, 1);
  const note = w.sentToTabs[0];
  assert.equal(note.tabId, 7);
  assert.equal(note.message.type, "queueDelivered");
  assert.equal(note.message.key, queued.key);
  assert.equal(note.message.kind, "track");
  assert.deepEqual(note.message.messageIds, ["18c0ffee00000001"]);
  assert.equal(note.message.result.tracked_email.id, w.server.tracked[0].id);

  // Nothing is sent again later.
  w.advance(MAX_BACKOFF_MS);
  await ok(w.send({ type: "flush" }));
  assert.equal(w.server.requestsTo(TRACK).length, 1);
});

test("a lost answer is retried with the same key and the server's replay ends it", async () => {
  const w = await worker();
  // The server creates the task, but the answer is a 503.
  w.server.failures.push({ status: 503, afterEffect: true });
  const queued = await ok(w.send({ type: "createTask", request: { title: "Call Bob", source_message_id: "m1" } }));
  assert.equal(queued.status, "queued");
  w.advance(1000);
  await ok(w.send({ type: "flush" }));
  const sent = w.server.requestsTo("/api/v1/tasks");
  assert.equal(sent.length, 2);
  assert.equal(sent[0].headers["idempotency-key"], queued.key);
  assert.equal(sent[1].headers["idempotency-key"], queued.key);
  assert.equal(w.server.tasks.length, 1, "one task despite two requests");
  assert.deepEqual((await ok(w.send({ type: "queue" }))).items, []);
  assert.equal(w.sentToTabs[0].message.result.id, w.server.tasks[0].id);
});

test("the queue survives a restarted service worker", async () => {
  const first = await worker();
  await first.server.down();
  const queued = await ok(first.send({ type: "createTask", request: { title: "Follow up", source_message_id: "m9" } }));
  assert.equal(queued.status, "queued");
  await first.stop();
  assert.ok(first.backing.local.get(QUEUE_KEY).items.some((i) => i.key === queued.key), "persisted in storage.local");

  await first.server.up();
  first.clock.now += 5000;
  // A new worker over the same storage delivers it on start, without any message.
  const second = await worker({ backing: first.backing, server: first.server, clock: first.clock });
  assert.equal(first.server.tasks.length, 1);
  assert.equal(first.server.requestsTo("/api/v1/tasks")[0].headers["idempotency-key"], queued.key);
  assert.deepEqual((await ok(second.send({ type: "queue" }))).items, []);
  assert.equal(second.sentToTabs[0].message.key, queued.key);
});

test("5xx and 429 queue the action; Retry-After is honoured", async () => {
  const w = await worker();
  w.server.failures.push({ status: 503, headers: { "Retry-After": "120" } });
  const queued = await ok(w.send({ type: "createTask", request: { title: "Later" } }));
  assert.equal(queued.status, "queued");
  const [item] = (await ok(w.send({ type: "queue" }))).items;
  assert.equal(item.nextAttemptAt, w.clock.now + 120000);
  assert.equal(item.lastError.code, "server_error");
  assert.match(item.lastError.message, /HTTP 503/);

  w.advance(119000);
  await ok(w.send({ type: "flush" }));
  assert.equal(w.server.requestsTo("/api/v1/tasks").length, 1, "not retried before Retry-After");
  assert.ok(w.timers.dueTimes().includes(w.clock.now + 1000), "a timer is armed for the retry");
  w.advance(1000);
  w.timers.runDue();
  await w.core.flush();
  assert.equal(w.server.tasks.length, 1);

  w.server.failures.push({ status: 429, headers: { "Retry-After": "30" } });
  assert.equal((await ok(w.send({ type: "createTask", request: { title: "Busy" } }))).status, "queued");
  const held = w.clock.now + 30000;
  w.server.failures.push({ status: 409, body: { error: { code: "idempotency_key_in_progress", message: "In progress." } } });
  // A 429 holds every item, a new one too, until its Retry-After.
  assert.equal((await ok(w.send({ type: "createTask", request: { title: "Held" } }))).status, "queued");
  assert.equal(w.server.requestsTo("/api/v1/tasks").length, 3, "the held item was not sent");
  w.clock.now = held;
  await ok(w.send({ type: "flush" }));
  assert.deepEqual(w.server.tasks.map((t) => t.title), ["Later", "Held"], "Busy got the 409 and waits");
  const [busy] = (await ok(w.send({ type: "queue" }))).items;
  assert.equal(busy.lastError.status, 409);
  w.advance(MAX_BACKOFF_MS);
  await ok(w.send({ type: "flush" }));
  assert.deepEqual(w.server.tasks.map((t) => t.title), ["Later", "Held", "Busy"]);
});

test("backoff grows exponentially with jitter from 1 s up to 5 min", () => {
  assert.equal(backoffMs(1, () => 1), 1000);
  assert.equal(backoffMs(2, () => 1), 2000);
  assert.equal(backoffMs(3, () => 1), 4000);
  assert.equal(backoffMs(2, () => 0), 1000);
  assert.equal(backoffMs(4, () => 0), 4000);
  assert.equal(backoffMs(30, () => 1), MAX_BACKOFF_MS);
  for (let attempts = 1; attempts < 40; attempts++) {
    const ms = backoffMs(attempts, Math.random);
    assert.ok(ms >= 1000 && ms <= MAX_BACKOFF_MS, `${attempts}: ${ms}`);
  }
});

test("a 4xx is not queued: the error is passed through with its field", async () => {
  const w = await worker();
  const answer = await w.send({ type: "track", request: trackRequest({ contact_ids: [] }) });
  assert.equal(answer.ok, false);
  assert.equal(answer.error.code, "invalid");
  assert.equal(answer.error.message, "Pick at least one contact.");
  assert.equal(answer.error.field, "contact_ids");
  const { items, failed } = await ok(w.send({ type: "queue" }));
  assert.deepEqual(items, []);
  assert.deepEqual(failed, [], "the user saw the error: not a background failure");
});

test("a queued item that later gets a 4xx is dropped and reported", async () => {
  const w = await worker();
  await w.server.down();
  const queued = await ok(w.send({ type: "createContact", request: { first_name: "X", emails: ["not-an-address"] } }));
  assert.equal(queued.status, "queued");
  await w.server.up();
  w.advance(1000);
  const { items, failed } = await ok(w.send({ type: "flush" }));
  assert.deepEqual(items, []);
  assert.equal(failed.length, 1);
  assert.equal(failed[0].key, queued.key);
  assert.equal(failed[0].error.code, "invalid");
  assert.equal(failed[0].error.field, "emails[0]");
  assert.equal(w.sentToTabs[0].message.type, "queueFailed");
  assert.equal(w.sentToTabs[0].message.key, queued.key);

  const cleared = await ok(w.send({ type: "clearFailed", keys: [queued.key] }));
  assert.deepEqual(cleared.failed, []);
});

test("401: an action fails with unauthorized and is not queued", async () => {
  const w = await worker();
  w.server.mode = "401";
  const answer = await w.send({ type: "createTask", request: { title: "x" } });
  assert.deepEqual(answer, {
    ok: false,
    error: {
      code: "unauthorized",
      message: "Threadline rejected your token (expired or revoked). Sign in again in Threadline's options.",
    },
  });
  assert.deepEqual((await ok(w.send({ type: "queue" }))).items, []);
});

test("401 on a queued item blocks it until the options change", async () => {
  const w = await worker();
  await w.server.down();
  const queued = await ok(w.send({ type: "createTask", request: { title: "Blocked" } }));
  await w.server.up();
  w.server.mode = "401";
  w.advance(1000);
  let { items } = await ok(w.send({ type: "flush" }));
  assert.equal(items.length, 1, "kept");
  assert.equal(items[0].blocked, true);
  assert.equal(items[0].lastError.code, "unauthorized");
  const tried = w.server.requestsTo("/api/v1/tasks").length;

  w.advance(MAX_BACKOFF_MS * 10);
  await ok(w.send({ type: "flush" }));
  assert.equal(w.server.requestsTo("/api/v1/tasks").length, tried, "a blocked item is not retried");

  // The user pastes a new token: the item is unblocked and delivered.
  w.server.mode = "ok";
  await w.chrome.storage.local.set({ apiToken: GOOD_TOKEN });
  ({ items } = await ok(w.send({ type: "flush" })));
  assert.deepEqual(items, []);
  assert.equal(w.server.tasks.length, 1);
  assert.equal(w.server.requestsTo("/api/v1/tasks").at(-1).headers["idempotency-key"], queued.key);
});

test("a contact created through the queue invalidates the lookup cache", async () => {
  const w = await worker();
  const before = await ok(w.send({ type: "lookup", addresses: ["carol@acme.test"] }));
  assert.equal(before.results[0].status, "unknown");
  await w.server.down();
  const queued = await ok(w.send({ type: "createContact", request: { first_name: "Carol", emails: ["carol@acme.test"] } }));
  assert.equal(queued.status, "queued");
  await w.server.up();
  w.advance(1000);
  await ok(w.send({ type: "flush" }));
  const after = await ok(w.send({ type: "lookup", addresses: ["carol@acme.test"] }));
  assert.equal(after.results[0].status, "known");
  assert.equal(w.server.requestsTo("/api/v1/lookup").length, 2);
});

test("concurrent handlers never lose a queue update", async () => {
  const w = await worker();
  await w.server.down();
  const answers = await Promise.all(
    Array.from({ length: 12 }, (_, i) => w.send({ type: "createTask", request: { title: `T${i}` } })),
  );
  const keys = answers.map((a) => a.data.key);
  assert.equal(new Set(keys).size, 12);
  const stored = w.backing.local.get(QUEUE_KEY).items;
  assert.deepEqual(stored.map((i) => i.key).sort(), [...keys].sort());
  await w.server.up();
  w.advance(MAX_BACKOFF_MS);
  await ok(w.send({ type: "flush" }));
  // Each delivered once, in queue (FIFO) order.
  assert.deepEqual(
    w.server.tasks.map((t) => t.title),
    stored.map((i) => i.request.title),
  );
});

test("items wait without a busy timer while the token is removed", async () => {
  const w = await worker();
  await w.server.down();
  const queued = await ok(w.send({ type: "createTask", request: { title: "Wait" } }));
  await w.server.up();
  await w.chrome.storage.local.remove("apiToken");
  w.advance(MAX_BACKOFF_MS);
  const { items } = await ok(w.send({ type: "flush" }));
  assert.deepEqual(items.map((i) => i.key), [queued.key]);
  assert.equal(w.server.requestsTo("/api/v1/tasks").length, 0);
  assert.deepEqual(w.timers.dueTimes().filter((at) => at <= w.clock.now), [], "no timer spinning on an undeliverable item");
  await w.chrome.storage.local.set({ apiToken: GOOD_TOKEN });
  await ok(w.send({ type: "flush" }));
  assert.equal(w.server.tasks.length, 1);
});

test("a full queue refuses new actions instead of overflowing storage", async () => {
  const w = await worker();
  await w.server.down();
  const big = "x".repeat(1024 * 1024);
  const answers = [];
  for (let i = 0; i < 5; i++) answers.push(await w.send({ type: "createTask", request: { title: `Big ${i}`, description: big } }));
  assert.deepEqual(answers.map((a) => a.ok && a.data.status), ["queued", "queued", "queued", false, false]);
  assert.equal(answers[3].error.code, "queue_full");
  assert.equal(w.backing.local.get(QUEUE_KEY).items.length, 3);
});
