// The contact panel on the Gmail simulator, against a real threadline-server: the matched
// contact's card (its tracked emails and open tasks from the server), switching between a
// thread's contacts, following navigation without a flash, the keyboard, German, and hostile
// names and subjects kept inert.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { startWorld, configure, waitFor, EXTENSION_DIR } from '../lib/threadline.mjs';
import { launchWithExtension, openGmail } from '../lib/browser.mjs';
import { HOSTILE_PAYLOADS, PWN_CHECK } from '../lib/hostile-corpus.mjs';

let world;
let threads;

before(async () => {
  world = await startWorld();
  threads = await world.threads(['t3', 't8', 'solo']);
  const { client, contacts } = world;
  // Ann's card has a tracked email and an open task; Bob's has neither.
  const tracked = await client.post('/tracked-emails', {
    gmail_message_id: 'aaaa000000000001',
    direction: 'incoming',
    from: { address: 'ann.lee@acme.example', name: 'Ann Lee' },
    to: [{ address: 'owner@example.com' }],
    subject: 'Signed order form',
    sent_at: '2026-11-30T10:00:00Z',
    contact_ids: [contacts.ann.id],
    visibility: 'shared',
  });
  assert.equal(tracked.status, 201, JSON.stringify(tracked.body));
  const task = await client.post('/tasks', { title: 'Send the countersigned copy', due_date: '2026-12-24', contact_id: contacts.ann.id });
  assert.equal(task.status, 201, JSON.stringify(task.body));
});

after(async () => {
  await world?.close();
});

const route = (key) => `#inbox/${threads[key].legacyThreadId}`;
const PANEL = '[data-threadline="contact-panel"]';

/** The panel as the page shows it (its open shadow root), or null when it is not on the page. */
function readPanel(page) {
  return page.evaluate((sel) => {
    const host = document.querySelector(sel);
    if (!host || !host.isConnected) return null;
    const root = host.shadowRoot;
    const card = root.querySelector('[data-tl=contact-panel]');
    const toggle = root.querySelector('[data-tl=panel-toggle]');
    const body = root.querySelector('#tl-card-body');
    return {
      place: host.getAttribute('data-place'),
      // Under the first bar (after Gmail's spacer .hi, which stays right under the bar).
      afterBar: host.previousElementSibling?.matches('.hi')
        && host.previousElementSibling.previousElementSibling?.getAttribute('data-threadline') === 'message-bar',
      contactId: card.getAttribute('data-contact-id'),
      state: card.getAttribute('data-state'),
      name: toggle.querySelector('.name')?.textContent ?? '',
      sub: toggle.querySelector('.sub')?.textContent ?? '',
      expanded: toggle.getAttribute('aria-expanded'),
      controls: toggle.getAttribute('aria-controls'),
      toggleTitle: toggle.getAttribute('title'),
      bodyHidden: body.hidden,
      body: body.textContent,
      headings: [...body.querySelectorAll('h3')].map((h) => h.textContent),
      links: [...body.querySelectorAll('a')].map((a) => a.getAttribute('href')),
      switcher: [...root.querySelectorAll('[data-tl=panel-pick]')].map((b) => ({ name: b.textContent, pressed: b.getAttribute('aria-pressed') })),
      focused: root.activeElement?.textContent ?? null,
    };
  }, PANEL);
}

async function waitForPanel(page, predicate, what) {
  return waitFor(async () => {
    const panel = await readPanel(page);
    return panel && predicate(panel) ? panel : null;
  }, { what, interval: 50 });
}

test('the matched contact\'s card under the first bar, operated from the keyboard', async () => {
  const { page, errors } = await world.open(route('t3'));
  // t3's expanded message is from Ann, Bob in cc: Ann first, Bob to switch to.
  let panel = await waitForPanel(page, (p) => p.name === 'Ann Lee', 'Ann\'s card');
  assert.equal(panel.contactId, world.contacts.ann.id);
  assert.equal(panel.sub, 'Acme');
  assert.equal(panel.state, 'ready');
  assert.equal(panel.place, 'section', 'no side column in the 2023 layout');
  assert.ok(panel.afterBar, 'right under the first bar');
  assert.equal(panel.expanded, 'false', 'collapsed where Gmail leaves no room');
  assert.equal(panel.bodyHidden, true);
  assert.equal(panel.controls, 'tl-card-body');
  assert.deepEqual(panel.switcher, [{ name: 'Ann Lee', pressed: 'true' }, { name: 'Bob Stone', pressed: 'false' }]);

  // Enter on the toggle opens the card: the server's email and task are there.
  await page.locator(PANEL).locator('[data-tl=panel-toggle]').focus();
  await page.keyboard.press('Enter');
  panel = await waitForPanel(page, (p) => p.expanded === 'true', 'the card opened');
  assert.equal(panel.bodyHidden, false);
  assert.match(panel.body, /Signed order form/);
  assert.match(panel.body, /Send the countersigned copy/);
  assert.deepEqual(panel.headings, ['Last tracked emails', 'Open tasks', 'Documents (0)']);
  assert.match(panel.body, /No documents/);
  assert.deepEqual(panel.links, [`${world.server.url}/contacts/${world.contacts.ann.id}`], '"Open in Threadline": the contact\'s page in the web app');

  // Focus order: the toggle, then the contacts to switch to; Enter switches.
  await page.keyboard.press('Tab');
  assert.equal((await readPanel(page)).focused, 'Ann Lee');
  await page.keyboard.press('Tab');
  assert.equal((await readPanel(page)).focused, 'Bob Stone');
  await page.keyboard.press('Enter');
  panel = await waitForPanel(page, (p) => p.name === 'Bob Stone', 'Bob\'s card');
  assert.equal(panel.contactId, world.contacts.bob.id);
  assert.deepEqual(panel.switcher.map((s) => s.pressed), ['false', 'true']);
  assert.equal(panel.focused, 'Bob Stone', 'the focus stays on the contact picked');
  assert.match(panel.body, /No tracked emails yet/);
  assert.match(panel.body, /No open tasks/);
  assert.equal(panel.expanded, 'true', 'the open card stays open');

  // Space on the toggle closes it again.
  await page.locator(PANEL).locator('[data-tl=panel-toggle]').focus();
  await page.keyboard.press(' ');
  panel = await waitForPanel(page, (p) => p.expanded === 'false', 'the card closed');
  assert.equal(panel.bodyHidden, true);
  assert.deepEqual(errors.map(String), []);
  await page.close();
});

test('beside the thread where Gmail has a side column', async () => {
  const { page } = await world.open(route('t3'), '?layout=legacy');
  const panel = await waitForPanel(page, (p) => p.name === 'Ann Lee', 'Ann\'s card');
  assert.equal(panel.place, 'side');
  assert.equal(await page.evaluate((sel) => document.querySelector(sel).parentElement.matches('td.Bu.y3'), PANEL), true);
  assert.equal(panel.expanded, 'true', 'open beside the thread');
  await page.close();
});

test('switching threads swaps the card without a flash', async () => {
  const { page } = await world.open(route('t3'));
  await waitForPanel(page, (p) => p.name === 'Ann Lee', 'Ann\'s card');
  // Record what the panel shows at every mutation and every frame until Bob's card is in.
  await page.evaluate((sel) => {
    const log = [];
    window.__panelLog = log;
    const snap = (why) => {
      const host = document.querySelector(sel);
      const root = host?.isConnected ? host.shadowRoot : null;
      log.push({
        why,
        name: root ? root.querySelector('[data-tl=panel-toggle] .name')?.textContent ?? '' : null,
        state: root ? root.querySelector('[data-tl=contact-panel]').getAttribute('data-state') : null,
        contact: root ? root.querySelector('[data-tl=contact-panel]').getAttribute('data-contact-id') : null,
      });
    };
    const options = { subtree: true, childList: true, attributes: true, characterData: true };
    new MutationObserver(() => snap('page')).observe(document.body, options);
    new MutationObserver(() => snap('panel')).observe(document.querySelector(sel).shadowRoot, options);
    const frame = () => {
      snap('frame');
      if (!window.__panelStop) requestAnimationFrame(frame);
    };
    requestAnimationFrame(frame);
  }, PANEL);
  await page.evaluate((hash) => window.__gmailSim.navigate(hash), route('t8'));
  // t8's expanded message is from Bob (Jane and the ambiguous Siobhán in cc).
  const panel = await waitForPanel(page, (p) => p.name === 'Bob Stone' && p.switcher.length === 2, 'Bob\'s card');
  assert.deepEqual(panel.switcher.map((s) => s.name), ['Bob Stone', 'Jane Doe']);
  const log = await page.evaluate(() => {
    window.__panelStop = true;
    return window.__panelLog;
  });
  assert.ok(log.some((s) => s.why === 'frame'), 'frames were sampled');
  const names = log.map((s) => s.name);
  const bad = log.filter((s) => !['Ann Lee', 'Bob Stone'].includes(s.name) || s.state !== 'ready');
  assert.deepEqual(bad, [], 'never an empty, missing or loading panel');
  const firstBob = names.indexOf('Bob Stone');
  assert.ok(firstBob > 0, 'Ann\'s card stayed until Bob\'s was ready');
  assert.ok(names.slice(firstBob).every((n) => n === 'Bob Stone'), 'no going back');
  // The panel moved into the new thread, under its first bar.
  const moved = await page.evaluate((sel) => {
    const host = document.querySelector(sel);
    return host.closest('.adn')?.getAttribute('data-legacy-message-id');
  }, PANEL);
  assert.equal(moved, threads.t8.messages.at(-1).legacyId);
  await page.close();
});

test('in German', async () => {
  // Chromium on Linux takes its UI language (the extension's strings) from LANGUAGE.
  const browser = await launchWithExtension({
    fixturePort: world.fixtures.port,
    extensionDir: EXTENSION_DIR,
    args: ['--lang=de'],
    env: { ...process.env, LANGUAGE: 'de', LANG: 'de_DE.UTF-8' },
  });
  try {
    await configure(browser, world.server);
    const { page } = await openGmail(browser.context, `/mail/u/0/${route('t3')}`);
    await page.evaluate(() => window.__gmailSim?.ready);
    let panel = await waitForPanel(page, (p) => p.name === 'Ann Lee', 'Ann\'s card');
    assert.equal(panel.toggleTitle, 'Kontaktkarte ein- oder ausblenden');
    await page.locator(PANEL).locator('[data-tl=panel-toggle]').click();
    panel = await waitForPanel(page, (p) => p.expanded === 'true', 'the card opened');
    assert.deepEqual(panel.headings, ['Zuletzt erfasste E-Mails', 'Offene Aufgaben', 'Dokumente (0)']);
    assert.match(panel.body, /Empfangen/);
    assert.match(panel.body, /fällig am 24\.12\.2026/, 'the due date in German');
  } finally {
    await browser.close();
  }
});

test('hostile names and subjects stay text', async () => {
  const { client } = world;
  // Dana (the solo thread's sender) with hostile names; a hostile subject and task title.
  const candidates = HOSTILE_PAYLOADS.filter((p) => p.executes && p.value.length <= 200 && !/[\u0000-\u001f\u007f]/.test(p.value));
  let dana = null;
  for (let i = 0; i + 1 < candidates.length && !dana; i++) {
    const made = await client.createContact({ first_name: candidates[i].value, last_name: candidates[i + 1].value, emails: ['dana@sub.acme.example'] });
    if (made.status === 201) dana = made.body;
  }
  assert.ok(dana, 'a contact with hostile names');
  const subject = candidates.find((p) => p.category === 'script').value;
  const tracked = await client.post('/tracked-emails', {
    gmail_message_id: 'bbbb000000000001',
    direction: 'incoming',
    from: { address: 'dana@sub.acme.example' },
    to: [{ address: 'owner@example.com' }],
    subject,
    contact_ids: [dana.id],
  });
  assert.equal(tracked.status, 201, JSON.stringify(tracked.body));
  const title = candidates.find((p) => p.value.includes('onerror')).value;
  const task = await client.post('/tasks', { title, contact_id: dana.id });
  assert.equal(task.status, 201, JSON.stringify(task.body));

  // Without a CSP, so that a payload wrongly parsed as HTML would really run.
  const { page } = await world.open(route('solo'), '?csp=off');
  await waitForPanel(page, (p) => p.contactId === dana.id, 'Dana\'s card');
  await page.locator(PANEL).locator('[data-tl=panel-toggle]').click();
  const panel = await waitForPanel(page, (p) => p.expanded === 'true', 'the card opened');
  const shown = (s) => s.replace(/\s+/g, ' ').trim().slice(0, 20);
  assert.ok(panel.name.startsWith(shown(dana.first_name)), panel.name);
  assert.ok(panel.body.includes(shown(subject)), 'the subject as text');
  assert.ok(panel.body.includes(shown(title)), 'the task title as text');
  await page.waitForTimeout(300); // an injected handler would have fired by now
  assert.equal(await page.evaluate(PWN_CHECK), false, 'no payload executed');
  const foreign = await page.evaluate((sel) => {
    const allowed = new Set(['SECTION', 'DIV', 'SPAN', 'BUTTON', 'P', 'H3', 'UL', 'LI', 'STYLE', 'A']);
    return [...document.querySelector(sel).shadowRoot.querySelectorAll('*')].filter((el) => !allowed.has(el.tagName)).map((el) => el.tagName);
  }, PANEL);
  assert.deepEqual(foreign, [], 'only the panel\'s own elements');
  assert.deepEqual(panel.links, [`${world.server.url}/contacts/${dana.id}`], 'the one link, whole');
  await page.close();
});

test('tracking from the bar shows the email on the card at once', async () => {
  const { page } = await world.open(route('t3'));
  await waitForPanel(page, (p) => p.name === 'Ann Lee', 'Ann\'s card');
  await page.locator(PANEL).locator('[data-tl=panel-toggle]').click();
  let panel = await waitForPanel(page, (p) => p.expanded === 'true', 'the card opened');
  assert.doesNotMatch(panel.body, /Proposal for Q3 rollout/);
  await page.locator('[data-threadline="message-bar"]').locator('[data-tl=track]').click();
  // The background dropped its cards on delivery; the panel asked again and swapped in place.
  panel = await waitForPanel(page, (p) => /Proposal for Q3 rollout/.test(p.body), 'the tracked email on the card');
  assert.equal(panel.name, 'Ann Lee');
  assert.match(panel.body, /Signed order form/);
  await page.close();
});
