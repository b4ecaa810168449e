// The address-lookup cache: per-address TTL, shared in-flight requests, batches of at most
// 500, invalidation after a contact is created or the options change, and the
// storage.session mirror that outlives a restarted worker.

import assert from "node:assert/strict";
import { test } from "node:test";

import { LOOKUP_TTL_MS } from "../../extension/background/lookup.js";
import { ok, useWorkers } from "./helpers/harness.mjs";

const worker = useWorkers();

const LOOKUP = "/api/v1/lookup";
const sentAddresses = (w) => w.server.requestsTo(LOOKUP).map((r) => r.body.addresses);

test("results come back in request order with the caller's spelling", async () => {
  const w = await worker();
  const bob = w.server.addContact("Bob", "Builder", ["bob@acme.test"]);
  const { results } = await ok(w.send({ type: "lookup", addresses: [" Bob@Acme.test", "nobody@acme.test", "ada@example.com", "junk", "bob@acme.test"] }));
  assert.deepEqual(
    results.map((r) => [r.address, r.status]),
    [
      [" Bob@Acme.test", "known"],
      ["nobody@acme.test", "unknown"],
      ["ada@example.com", "own"],
      ["junk", "invalid"],
      ["bob@acme.test", "known"],
    ],
  );
  assert.equal(results[0].contacts[0].id, bob.id);
  assert.equal(results[1].suggested_company.domain, "acme.test");
  // One request; the two spellings of Bob's address were asked for once.
  assert.deepEqual(sentAddresses(w), [["bob@acme.test", "nobody@acme.test", "ada@example.com", "junk"]]);
});

test("a cached address is not asked again until the TTL ends", async () => {
  const w = await worker();
  await ok(w.send({ type: "lookup", addresses: ["a@acme.test", "b@acme.test"] }));
  await ok(w.send({ type: "lookup", addresses: ["B@acme.test", "c@acme.test"] }));
  assert.deepEqual(sentAddresses(w), [["a@acme.test", "b@acme.test"], ["c@acme.test"]]);

  w.advance(LOOKUP_TTL_MS - 1);
  await ok(w.send({ type: "lookup", addresses: ["a@acme.test"] }));
  assert.equal(sentAddresses(w).length, 2, "still fresh");
  w.advance(1);
  await ok(w.send({ type: "lookup", addresses: ["a@acme.test"] }));
  assert.deepEqual(sentAddresses(w).at(-1), ["a@acme.test"], "expired: asked again");
});

test("concurrent lookups share one in-flight request for their common addresses", async () => {
  const w = await worker();
  const release = w.server.hold(LOOKUP); // answers wait until both lookups are in flight
  const firstArrived = w.server.nextRequest(LOOKUP);
  const first = w.send({ type: "lookup", addresses: ["a@acme.test", "shared@acme.test"] });
  assert.deepEqual((await firstArrived).body.addresses, ["a@acme.test", "shared@acme.test"]);
  const secondArrived = w.server.nextRequest(LOOKUP);
  const second = w.send({ type: "lookup", addresses: ["shared@acme.test", "z@acme.test"] });
  assert.deepEqual((await secondArrived).body.addresses, ["z@acme.test"], "the shared address is not asked twice");
  release();
  const [one, two] = await Promise.all([ok(first), ok(second)]);
  assert.deepEqual(one.results.map((r) => r.address), ["a@acme.test", "shared@acme.test"]);
  assert.deepEqual(two.results.map((r) => [r.address, r.status]), [["shared@acme.test", "unknown"], ["z@acme.test", "unknown"]]);
  assert.equal(sentAddresses(w).length, 2);
});

test("more than 500 misses go out in chunks of at most 500", async () => {
  const w = await worker();
  const addresses = Array.from({ length: 1201 }, (_, i) => `person${i}@acme.test`);
  const { results } = await ok(w.send({ type: "lookup", addresses }));
  assert.equal(results.length, 1201);
  assert.deepEqual(results.map((r) => r.address), addresses);
  assert.deepEqual(sentAddresses(w).map((a) => a.length), [500, 500, 201]);
});

test("creating a contact invalidates every cached address", async () => {
  const w = await worker();
  w.server.addContact("Bob", "One", ["team@acme.test"]);
  const before = await ok(w.send({ type: "lookup", addresses: ["team@acme.test", "new@acme.test"] }));
  assert.deepEqual(before.results.map((r) => r.status), ["known", "unknown"]);

  const created = await ok(w.send({ type: "createContact", request: { first_name: "Bob", last_name: "Two", emails: ["team@acme.test"] } }));
  assert.equal(created.status, "done");
  assert.deepEqual(created.result.emails, ["team@acme.test"]);

  const after = await ok(w.send({ type: "lookup", addresses: ["team@acme.test", "new@acme.test"] }));
  assert.deepEqual(after.results.map((r) => r.status), ["ambiguous", "unknown"], "other addresses were refetched too");
  assert.equal(after.results[0].contacts.length, 2);
  assert.equal(sentAddresses(w).length, 2);
});

test("an answer in flight during an invalidation is not cached", async () => {
  const w = await worker();
  const release = w.server.hold(LOOKUP);
  const arrived = w.server.nextRequest(LOOKUP);
  const pending = w.send({ type: "lookup", addresses: ["x@acme.test"] });
  await arrived;
  await w.chrome.storage.local.set({ trackOnSendDefault: false }); // options change mid-flight
  release();
  assert.equal((await ok(pending)).results[0].status, "unknown", "the caller still gets its answer");
  await ok(w.send({ type: "lookup", addresses: ["x@acme.test"] }));
  assert.equal(sentAddresses(w).length, 2);
});

test("the cache survives a restarted worker through storage.session", async () => {
  const first = await worker();
  await ok(first.send({ type: "lookup", addresses: ["kept@acme.test"] }));
  await first.stop();
  const second = await worker({ backing: first.backing, server: first.server, clock: first.clock });
  const { results } = await ok(second.send({ type: "lookup", addresses: ["Kept@acme.test"] }));
  assert.equal(results[0].status, "unknown");
  assert.equal(results[0].address, "Kept@acme.test");
  assert.equal(sentAddresses(second).length, 1, "answered from the session mirror");
});

test("the session mirror is not used for another token", async () => {
  const first = await worker();
  await ok(first.send({ type: "lookup", addresses: ["kept@acme.test"] }));
  await first.stop();
  // While no worker runs, the user switches to another account's token on the same server.
  first.backing.local.set("apiToken", "tl_other_token");
  first.server.mode = "ok";
  const second = await worker({ backing: first.backing, server: first.server, clock: first.clock });
  const answer = await second.send({ type: "lookup", addresses: ["kept@acme.test"] });
  assert.equal(answer.error.code, "unauthorized", "asked the server with the new token instead of using the cache");
});

test("lookup errors: not configured, offline, unauthorized, bad input", async () => {
  const unconfigured = await worker({ configure: false });
  const notConfigured = await unconfigured.send({ type: "lookup", addresses: ["a@acme.test"] });
  assert.equal(notConfigured.ok, false);
  assert.equal(notConfigured.error.code, "not_configured");
  assert.match(notConfigured.error.message, /options/);

  const w = await worker();
  const bad = await w.send({ type: "lookup", addresses: "a@acme.test" });
  assert.equal(bad.error.code, "invalid");
  assert.equal(bad.error.field, "addresses");
  assert.deepEqual(await ok(w.send({ type: "lookup", addresses: [] })), { results: [] });

  w.server.mode = "500";
  const broken = await w.send({ type: "lookup", addresses: ["a@acme.test"] });
  assert.equal(broken.error.code, "server_error");
  assert.equal(broken.error.message, "The Threadline server had a problem (HTTP 500). Try again later.");

  await w.server.down();
  const offline = await w.send({ type: "lookup", addresses: ["a@acme.test"] });
  assert.equal(offline.error.code, "offline");
  await w.server.up();
  w.server.mode = "ok";
  assert.equal((await ok(w.send({ type: "lookup", addresses: ["a@acme.test"] }))).results[0].status, "unknown", "failures are not cached");
});

test("searchContacts: the contacts list searched, read as summaries; bad queries refused", async () => {
  const w = await worker();
  const ann = w.server.addContact("Ann", "Lee", ["ann@acme.test"], { id: "00000000-0000-4000-8000-0000000000aa", name: "Acme" });
  w.server.addContact("Bob", "Stone", ["bob@globex.test"]);
  const { contacts } = await ok(w.send({ type: "searchContacts", q: " Ann & co " }));
  assert.deepEqual(w.server.requests.at(-1).path, "/api/v1/contacts?limit=8&q=Ann%20%26%20co");
  assert.deepEqual(contacts, []);
  const found = await ok(w.send({ type: "searchContacts", q: "ann" }));
  assert.deepEqual(found.contacts, [
    { id: ann.id, first_name: "Ann", last_name: "Lee", primary_email: "ann@acme.test", company: { id: "00000000-0000-4000-8000-0000000000aa", name: "Acme" } },
  ]);
  for (const q of ["", "   ", "x".repeat(201), 7, undefined]) {
    const refused = await w.send({ type: "searchContacts", q });
    assert.equal(refused.error.code, "invalid", String(q));
    assert.equal(refused.error.field, "q");
  }
  assert.equal(w.server.requests.filter((r) => r.path.startsWith("/api/v1/contacts?")).length, 2);
});

test("a privacy refusal of a track drops the cached verdicts: the rules changed", async () => {
  const w = await worker();
  const bob = w.server.addContact("Bob", "Stone", ["bob@globex.test"]);
  await ok(w.send({ type: "lookup", addresses: ["bob@globex.test", "eve@later.test"] }));
  w.server.failures.push({ status: 422, body: { error: { code: "never_log", message: "this email is not tracked: eve@later.test is never logged, by your never-log entry later.test (id 1)" } } });
  const request = { gmail_message_id: "18c0ffee00000001", direction: "incoming", contact_ids: [bob.id], to: [], subject: "x", body_text: "" };
  const refused = await w.send({ type: "track", request });
  assert.equal(refused.ok, false);
  assert.equal(refused.error.code, "invalid");
  assert.equal(refused.error.serverCode, "never_log");
  assert.equal(refused.error.status, 422);
  await ok(w.send({ type: "lookup", addresses: ["bob@globex.test"] }));
  assert.equal(sentAddresses(w).length, 2, "asked the server again");

  // Another refusal (a bad field) keeps the cache.
  w.server.failures.push({ status: 422, body: { error: { code: "invalid_field", message: "no", field: "subject" } } });
  assert.equal((await w.send({ type: "track", request: { ...request, gmail_message_id: "18c0ffee00000002" } })).ok, false);
  await ok(w.send({ type: "lookup", addresses: ["bob@globex.test"] }));
  assert.equal(sentAddresses(w).length, 2, "still cached");
});
