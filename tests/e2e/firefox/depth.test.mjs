// Issue 14's Gmail depth in Firefox ESR, once per area, as the Chromium suite proves it in
// depth (../tests/extension.test.mjs, panel.test.mjs, privacy.test.mjs): Convert to task,
// the contact panel with the server's card, a never-logged sender, and the hostile thread
// kept inert in Firefox's content-script compartment.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { startFirefoxWorld, run } from './world.mjs';
import { messageBarSelector, waitFor } from '../lib/threadline.mjs';
import { PWN_CHECK } from '../lib/hostile-corpus.mjs';

let world;
let threads;

before(async () => {
  world = await startFirefoxWorld();
  await world.configure({ serverUrl: world.server.url, apiToken: world.server.token });
  await world.open('#inbox');
  threads = await run(world.driver, () => Object.fromEntries(['t3', 'solo'].map((k) => [k, window.__gmailSim.thread(k)])));
  // Ann's card has an open task from the server.
  const task = await world.client.post('/tasks', { title: 'Send the countersigned copy', due_date: '2026-12-24', contact_id: world.contacts.ann.id });
  assert.equal(task.status, 201, JSON.stringify(task.body));
});

after(async () => {
  await world?.close();
});

const route = (key) => `#inbox/${threads[key].legacyThreadId}`;
const expandedId = (key) => threads[key].messages.find((m) => m.state === 'expanded').legacyId;

test('Convert to task: prefilled from the email, due date set, linked to the email on the server', async () => {
  await world.open(route('solo'));
  const id = expandedId('solo');
  await world.waitForBars((b) => b.length === 1 && b[0].state === 'ready');
  const host = messageBarSelector(id);
  await (await world.inBar(host, '[data-tl=task]')).click();
  const title = await world.inBar(host, '[data-tl-field=title]');
  assert.equal(await title.getAttribute('value'), 'Intro: Dana from Acme');
  const due = await world.inBar(host, '[data-tl-field=due_date]');
  // A date field takes the date as the page sets it (WebDriver typing follows the locale).
  await run(world.driver, (sel) => {
    const field = document.querySelector(sel).shadowRoot.querySelector('[data-tl-field=due_date]');
    field.value = '2026-12-01';
    field.dispatchEvent(new Event('input', { bubbles: true }));
  }, host);
  assert.equal(await due.getProperty('value'), '2026-12-01');
  await (await world.inBar(host, '[data-tl=submit-task]')).click();
  await world.waitForBars((b) => b[0].tasks === '1');
  const state = await world.client.trackedState([{ ids: [id] }]);
  const [task] = state.body.messages[0].tasks;
  assert.equal(task.title, 'Intro: Dana from Acme');
  assert.equal(task.due_date, '2026-12-01');
  assert.equal(task.done, false);
});

test('the contact panel: Ann\'s card under the first bar, opened, with her open task from the server', async () => {
  await world.open(route('t3'));
  const panel = () => run(world.driver, () => {
    const host = document.querySelector('[data-threadline="contact-panel"]');
    if (!host) return null;
    const root = host.shadowRoot;
    const toggle = root.querySelector('[data-tl=panel-toggle]');
    return {
      name: toggle.querySelector('.name')?.textContent ?? '',
      sub: toggle.querySelector('.sub')?.textContent ?? '',
      contactId: root.querySelector('[data-tl=contact-panel]').getAttribute('data-contact-id'),
      expanded: toggle.getAttribute('aria-expanded'),
      body: root.querySelector('#tl-card-body').textContent,
      bodyHidden: root.querySelector('#tl-card-body').hidden,
    };
  });
  let card = await waitFor(async () => { const p = await panel(); return p?.name === 'Ann Lee' ? p : null; }, { what: "Ann's card" });
  assert.equal(card.contactId, world.contacts.ann.id);
  assert.equal(card.sub, 'Acme');
  assert.equal(card.expanded, 'false');
  await (await world.inBar('[data-threadline="contact-panel"]', '[data-tl=panel-toggle]')).click();
  card = await waitFor(async () => { const p = await panel(); return p?.expanded === 'true' ? p : null; }, { what: 'the card opened' });
  assert.equal(card.bodyHidden, false);
  assert.match(card.body, /Send the countersigned copy/);
});

test('a never-logged sender: Track is off and the bar names the rule; nothing reaches the server', async () => {
  const added = await world.client.post('/privacy/never-log', { value: 'secret-counsel.example' });
  assert.equal(added.status, 201, JSON.stringify(added.body));
  await world.open(route('solo'));
  await world.waitForBars((b) => b.length >= 1 && b[0].state === 'ready');
  const { legacyId: id } = await run(world.driver, (m) => window.__gmailSim.appendReply(m), {
    from: 'Mallory <mallory@secret-counsel.example>', to: ['owner'], cc: ['ann.lee@acme.example'],
  });
  const bars = await world.waitForBars((b) => b.some((x) => x.messageId === id && x.state === 'ready'));
  const statuses = Object.fromEntries(bars.find((x) => x.messageId === id).parties.map((p) => [p.address, p.status]));
  assert.equal(statuses['mallory@secret-counsel.example'], 'never_log');
  assert.equal(statuses['ann.lee@acme.example'], 'known');
  const host = messageBarSelector(id);
  const note = await world.inBar(host, '[data-tl-privacy]');
  assert.equal(await note.getAttribute('data-tl-privacy'), 'never_log');
  assert.match(await note.getText(), /your never-log list \(secret-counsel\.example\)/);
  assert.equal(await (await world.inBar(host, '[data-tl=track]')).isEnabled(), false);
  assert.equal(await world.trackedEntry(id), null, 'nothing tracked');
});

test('the hostile thread: nothing executes, every bar renders, nothing foreign in the bars', async () => {
  // Without a CSP, so that a payload wrongly parsed as HTML would really run.
  await world.open('#inbox', '?csp=off');
  const count = await run(world.driver, () => {
    window.__gmailSim.openThread('hostile');
    return window.__gmailSim.thread('hostile').messages.length;
  });
  assert.ok(count >= 200, `hostile corpus size ${count}`);
  await world.waitForBars((b) => b.length === count && b.every((x) => x.state === 'ready' || x.state === 'error'), { timeout: 60_000 });
  assert.equal(await run(world.driver, PWN_CHECK), false, 'no payload executed');
  const report = await run(world.driver, () => {
    const allowed = new Set(['STYLE', 'DIV', 'SPAN', 'UL', 'LI', 'BUTTON', 'LABEL', 'INPUT']);
    let foreign = 0;
    for (const host of document.querySelectorAll('[data-threadline="message-bar"]')) {
      for (const el of host.shadowRoot.querySelectorAll('*')) if (!allowed.has(el.tagName)) foreign += 1;
    }
    return { foreign };
  });
  assert.deepEqual(report, { foreign: 0 });
});

test('no uncaught error in the extension during this file', () => {
  const errors = world.browser.jsErrors.filter((line) => line.startsWith(`JavaScript error: ${world.browser.extensionBase}/`));
  assert.deepEqual(errors, []);
});
