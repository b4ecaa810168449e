// The contact panel's cards: one request per card, cached for the lookup TTL, shared while in
// flight, dropped when an action is delivered or the options change, and a contact id is
// the only thing that reaches the card's path.

import assert from "node:assert/strict";
import { test } from "node:test";

import { CARD_TTL_MS, MAX_CARDS } from "../../extension/background/cards.js";
import { ok, trackRequest, useWorkers } from "./helpers/harness.mjs";

const worker = useWorkers();

const cardPath = (id) => `/api/v1/contacts/${id}/card`;
const cardRequests = (w) => w.server.requests.filter((r) => r.method === "GET" && r.path.endsWith("/card"));

test("a card is asked once, then answered from the cache until the TTL ends", async () => {
  const w = await worker();
  const bob = w.server.addContact("Bob", "Builder", ["bob@acme.test"]);
  const card = await ok(w.send({ type: "contactCard", contactId: bob.id }));
  assert.equal(card.contact.id, bob.id);
  assert.equal(card.contact.first_name, "Bob");
  await ok(w.send({ type: "contactCard", contactId: bob.id.toUpperCase() }));
  assert.equal(cardRequests(w).length, 1, "cached (ids compared case-insensitively)");
  w.advance(CARD_TTL_MS);
  await ok(w.send({ type: "contactCard", contactId: bob.id }));
  assert.equal(cardRequests(w).length, 2, "expired: asked again");
});

test("concurrent requests for one card share one server request", async () => {
  const w = await worker();
  const bob = w.server.addContact("Bob", "", ["bob@acme.test"]);
  const release = w.server.hold(cardPath(bob.id));
  const arrived = w.server.nextRequest(cardPath(bob.id));
  const first = w.send({ type: "contactCard", contactId: bob.id });
  await arrived;
  const second = w.send({ type: "contactCard", contactId: bob.id });
  release();
  const [a, b] = await Promise.all([ok(first), ok(second)]);
  assert.deepEqual(a, b);
  assert.equal(cardRequests(w).length, 1);
});

test("a delivered action and an options change drop every card", async () => {
  const w = await worker();
  const bob = w.server.addContact("Bob", "", ["bob@acme.test"]);
  const before = await ok(w.send({ type: "contactCard", contactId: bob.id }));
  assert.equal(before.emails.length, 0);
  await ok(w.send({ type: "track", request: trackRequest({ contact_ids: [bob.id] }) }));
  const after = await ok(w.send({ type: "contactCard", contactId: bob.id }));
  assert.equal(after.emails.length, 1, "the card was asked again after the tracking");
  assert.equal(cardRequests(w).length, 2);

  await w.chrome.storage.local.set({ trackOnSendDefault: false });
  await ok(w.send({ type: "contactCard", contactId: bob.id }));
  assert.equal(cardRequests(w).length, 3, "asked again after the options changed");
});

test("only the most recently used cards are kept", async () => {
  const w = await worker();
  const contacts = Array.from({ length: MAX_CARDS + 1 }, (_, i) => w.server.addContact(`P${i}`, "", [`p${i}@acme.test`]));
  for (const c of contacts) await ok(w.send({ type: "contactCard", contactId: c.id }));
  await ok(w.send({ type: "contactCard", contactId: contacts.at(-1).id }));
  assert.equal(cardRequests(w).length, MAX_CARDS + 1, "the newest is still cached");
  await ok(w.send({ type: "contactCard", contactId: contacts[0].id }));
  assert.equal(cardRequests(w).length, MAX_CARDS + 2, "the oldest was let go");
});

test("anything but a contact id is refused before any request; a missing contact is the server's 404", async () => {
  const w = await worker();
  for (const contactId of [undefined, 7, "", "../../me", "x".repeat(36), "00000000-0000-0000-0000-000000000000/x"]) {
    const answer = await w.send({ type: "contactCard", contactId });
    assert.equal(answer.ok, false);
    assert.equal(answer.error.code, "invalid");
    assert.equal(answer.error.field, "contactId");
  }
  assert.equal(cardRequests(w).length, 0);
  const missing = await w.send({ type: "contactCard", contactId: "00000000-0000-4000-8000-000000000000" });
  assert.equal(missing.ok, false);
  assert.equal(missing.error.status, 404);
});
