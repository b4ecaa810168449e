// The privacy rules in the bar (issue 14): a never-logged party stops tracking and the bar
// says by which rule; an email only between colleagues is tracked only when the user
// insists, on contacts they search for; a rule added after the bar's lookup is a refusal
// the bar words and then explains.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { startWorld, waitForBars, messageBarSelector, waitFor } from '../lib/threadline.mjs';

let world;
let solo;

before(async () => {
  world = await startWorld();
  const { page } = await world.open('#inbox');
  solo = await page.evaluate(() => window.__gmailSim.thread('solo'));
  await page.close();
});

after(async () => {
  await world?.close();
});

/** Opens the solo thread with one more message in it, and waits for that message's bar. */
async function openWithMessage({ from, to = ['owner'], cc = [] }) {
  const { page, errors } = await world.open(`#inbox/${solo.legacyThreadId}`);
  await waitForBars(page, (b) => b.length >= 1);
  const { legacyId } = await page.evaluate((m) => window.__gmailSim.appendReply(m), { from, to, cc });
  const bars = await waitForBars(page, (b) => b.some((x) => x.messageId === legacyId && x.state === 'ready'));
  return { page, errors, id: legacyId, bar: bars.find((x) => x.messageId === legacyId) };
}

const privacyNote = (page, id) => page.locator(messageBarSelector(id)).locator('[data-tl-privacy]');

test('a never-logged sender: no tracking, and the bar names the rule', async () => {
  const added = await world.client.post('/privacy/never-log', { value: 'secret-counsel.example' });
  assert.equal(added.status, 201, JSON.stringify(added.body));
  const { page, errors, id, bar } = await openWithMessage({ from: 'Mallory <mallory@secret-counsel.example>', cc: ['ann.lee@acme.example'] });
  const statuses = Object.fromEntries(bar.parties.map((p) => [p.address, p.status]));
  assert.equal(statuses['mallory@secret-counsel.example'], 'never_log');
  assert.equal(statuses['ann.lee@acme.example'], 'known');
  const note = privacyNote(page, id);
  assert.equal(await note.getAttribute('data-tl-privacy'), 'never_log');
  const text = await note.textContent();
  assert.match(text, /mallory@secret-counsel\.example/);
  assert.match(text, /your never-log list \(secret-counsel\.example\)/);
  const track = page.locator(messageBarSelector(id)).locator('[data-tl=track]');
  assert.equal(await track.isDisabled(), true);
  // The chip says why too, and offers no "add contact".
  const chip = page.locator(messageBarSelector(id)).locator('[data-address="mallory@secret-counsel.example"]');
  assert.match(await chip.getAttribute('title'), /never-log list \(secret-counsel\.example\)/);
  assert.equal(await chip.locator('[data-tl=add-contact]').count(), 0);
  // Nothing reached the server.
  const state = await world.client.trackedState([{ ids: [id] }]);
  assert.equal(state.body.messages[0].tracked_email ?? null, null, "nothing tracked");
  assert.deepEqual(errors.map(String), []);
  await page.close();
});

test('only colleagues: not tracked, unless the user insists on contacts they search for', async () => {
  const { page, id, bar } = await openWithMessage({ from: 'Cy Colleague <cy@example.com>' });
  assert.deepEqual(bar.parties.map((p) => p.status).sort(), ['colleague', 'own']);
  const host = page.locator(messageBarSelector(id));
  assert.equal(await privacyNote(page, id).getAttribute('data-tl-privacy'), 'only_colleagues');
  assert.equal(await host.locator('[data-tl=track]').count(), 0, 'no plain Track');
  await host.locator('[data-tl=track-anyway]').click();
  const search = host.locator('[data-tl-field=q]');
  await search.fill('zzz-nobody');
  await search.press('Enter');
  await host.locator('.results .empty').waitFor();
  assert.equal(await host.locator('[data-tl=track-insisted]').isDisabled(), true);
  await search.fill('Ann');
  await host.locator('[data-tl=submit-insist-search]').click();
  const pick = host.locator(`.results [data-tl=pick][data-contact-id="${world.contacts.ann.id}"]`);
  await pick.check();
  await host.locator('[data-tl=track-insisted]').click();
  const email = await waitFor(async () => {
    const s = await world.client.trackedState([{ ids: [id] }]);
    return s.body.messages[0].tracked_email;
  }, { what: 'the insisted email on the server' });
  assert.deepEqual(email.links.map((l) => `${l.record_kind}:${l.record_name}`).sort(), ['company:Acme', 'contact:Ann Lee']);
  await waitForBars(page, (b) => b.some((x) => x.messageId === id && x.tracked === 'true'));
  await page.close();
});

test('a rule added after the lookup: the refusal is worded, then the bar explains it', async () => {
  const { page, id } = await openWithMessage({ from: 'Eve <eve@later-rule.example>', cc: ['ann.lee@acme.example'] });
  assert.equal(await privacyNote(page, id).count(), 0);
  const added = await world.client.post('/privacy/never-log', { value: 'eve@later-rule.example' });
  assert.equal(added.status, 201, JSON.stringify(added.body));
  await page.locator(messageBarSelector(id)).locator('[data-tl=track]').click();
  const bars = await waitForBars(page, (b) => b.some((x) => x.messageId === id && x.statusCode === 'invalid'));
  assert.equal(bars.find((x) => x.messageId === id).status, 'Not tracked: someone on this email is never logged.');
  // The verdicts are asked again: the notice names the address and the rule.
  await waitFor(async () => (await privacyNote(page, id).count()) === 1, { what: 'the never-log notice' });
  assert.match(await privacyNote(page, id).textContent(), /eve@later-rule\.example is on your never-log list/);
  const state = await world.client.trackedState([{ ids: [id] }]);
  assert.equal(state.body.messages[0].tracked_email ?? null, null, "nothing tracked");
  await page.close();
});
