// The extension in a real browser on the Gmail simulator, against a real threadline-server:
// the incoming side (message bars) and the failure paths (offline queue, expired token,
// hostile content, a page that forbids WebAssembly).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import {
  startWorld, readBars, waitForBars, messageBarSelector, waitFor, configure, statusByAddress,
} from '../lib/threadline.mjs';
import { PWN_CHECK } from '../lib/hostile-corpus.mjs';

let world;
let threads;

before(async () => {
  world = await startWorld();
  threads = await world.threads(['t3', 't8', 't100', 'solo']);
});

after(async () => {
  await world?.close();
});

const route = (key) => `#inbox/${threads[key].legacyThreadId}`;
const expandedIds = (key) => threads[key].messages.filter((m) => m.state === 'expanded').map((m) => m.legacyId);
const byAddress = statusByAddress;

test('a bar under every expanded message, with CRM matches', async () => {
  const { page, errors } = await world.open(route('t3'));
  const bars = await waitForBars(page, (b) => b.length === 1 && b[0].state === 'ready');
  assert.deepEqual(bars.map((b) => b.messageId), expandedIds('t3'));
  const status = byAddress(bars[0]);
  assert.equal(status['ann.lee@acme.example'], 'known');
  assert.equal(status['bob@globex.example'], 'known');
  assert.equal(status['owner@example.com'], 'own');
  const ann = bars[0].parties.find((p) => p.address === 'ann.lee@acme.example');
  assert.match(ann.text, /Ann Lee/);
  assert.match(ann.text, /Acme/);
  // Own addresses are never offered as "add contact".
  const ownAdd = await page.locator('[data-threadline="message-bar"]').locator('[data-address="owner@example.com"] [data-tl=add-contact]').count();
  assert.equal(ownAdd, 0);
  // The host sits inside the message, before the spacer .hi.
  const placed = await page.evaluate(() => {
    const host = document.querySelector('[data-threadline="message-bar"]');
    return host.closest('.adn') !== null && host.nextElementSibling?.classList.contains('hi');
  });
  assert.ok(placed, 'bar inserted before .hi inside the message');
  assert.deepEqual(errors.map(String), []);
  await page.close();
});

test('expanding a collapsed message adds its bar once; collapsing and re-expanding keeps one', async () => {
  const { page } = await world.open(route('t3'));
  await waitForBars(page, (b) => b.length === 1);
  const first = threads.t3.messages[0];
  await page.locator(`[role=listitem]:has([data-legacy-message-id="${first.legacyId}"]), [role=listitem].kv`).first().click();
  let bars = await waitForBars(page, (b) => b.length === 2 && b.every((x) => x.state === 'ready'));
  assert.ok(bars.some((b) => b.messageId === first.legacyId));
  // Collapse it again (click its header) and re-expand: still exactly one bar for it.
  await page.locator(`.adn[data-legacy-message-id="${first.legacyId}"] .gE`).first().click();
  await waitForBars(page, (b) => b.length === 1);
  await page.locator('[role=listitem].kv').first().click();
  bars = await waitForBars(page, (b) => b.length === 2);
  await page.waitForTimeout(300);
  bars = await readBars(page);
  assert.equal(bars.filter((b) => b.messageId === first.legacyId).length, 1);
  await page.close();
});

test('the "older messages" fold, then expand all: one bar per message', async () => {
  const { page } = await world.open(route('t8'));
  await waitForBars(page, (b) => b.length === 1);
  await page.evaluate(() => { window.__gmailSim.unfold(); window.__gmailSim.expandAll(); });
  const bars = await waitForBars(page, (b) => b.length === 8 && b.every((x) => x.state === 'ready'));
  assert.deepEqual(new Set(bars.map((b) => b.messageId)), new Set(threads.t8.messages.map((m) => m.legacyId)));
  const all = Object.assign({}, ...bars.map(byAddress));
  // Gmail ignores dots: jane.q.doe@gmail.com is the contact stored as janeqdoe@gmail.com.
  assert.equal(all['jane.q.doe@gmail.com'], 'known');
  // Two contacts share this address: shown as ambiguous, not guessed.
  assert.equal(all['siobhan.obrien@globex.example'], 'ambiguous');
  // A +tag on another domain is not the same address.
  assert.equal(all['carlos+crm@initech.example'], 'unknown');
  await page.close();
});

test('navigation between threads and back keeps one bar per expanded message', async () => {
  const { page } = await world.open(route('t3'));
  await waitForBars(page, (b) => b.length === 1);
  await page.evaluate((h) => { location.hash = h; }, '#inbox');
  await waitForBars(page, (b) => b.length === 0);
  await page.evaluate((h) => { location.hash = h; }, route('solo'));
  let bars = await waitForBars(page, (b) => b.length === 1 && b[0].messageId === expandedIds('solo')[0]);
  await page.goBack();
  await page.goBack();
  bars = await waitForBars(page, (b) => b.length === 1 && b[0].messageId === expandedIds('t3')[0] && b[0].state === 'ready');
  assert.equal(bars.length, 1);
  await page.close();
});

for (const layout of ['legacy', 'preview']) {
  test(`the ${layout} layout gets bars too`, async () => {
    const { page } = await world.open(route('t3'), `?layout=${layout}`);
    const bars = await waitForBars(page, (b) => b.length === 1 && b[0].state === 'ready');
    assert.equal(bars[0].messageId, expandedIds('t3')[0]);
    await page.close();
  });
}

test('Track logs the email on the picked contacts and their companies; reopening shows it', async () => {
  const { page } = await world.open(route('t3'));
  const id = expandedIds('t3')[0];
  await waitForBars(page, (b) => b.length === 1 && b[0].state === 'ready');
  // Untick Bob: only Ann (and Acme) get the email.
  await page.locator(messageBarSelector(id)).locator(`[data-tl=pick][data-contact-id="${world.contacts.bob.id}"]`).uncheck();
  await page.locator(messageBarSelector(id)).locator('[data-tl=track]').click();
  await waitForBars(page, (b) => b[0].tracked === 'true');
  const state = await world.client.trackedState([{ ids: [id] }]);
  const email = state.body.messages[0].tracked_email;
  assert.ok(email, 'server has the tracked email');
  const linked = email.links.map((l) => `${l.record_kind}:${l.record_name}`).sort();
  assert.deepEqual(linked, ['company:Acme', 'contact:Ann Lee']);
  assert.equal(email.direction, 'incoming');
  await page.close();

  const again = await world.open(route('t3'));
  const bars = await waitForBars(again.page, (b) => b.length === 1 && b[0].tracked === 'true');
  assert.equal(bars[0].messageId, id);
  // Tracking again with Bob ticked adds Bob, and does not duplicate the email.
  await again.page.locator(messageBarSelector(id)).locator('[data-tl=track]').click();
  await waitFor(async () => {
    const s = await world.client.trackedState([{ ids: [id] }]);
    return s.body.messages[0].tracked_email.links.length === 4;
  }, { what: 'Bob and Globex linked' });
  await again.page.close();
});

test('Convert to task creates a task linked to the email, with a due date', async () => {
  const { page } = await world.open(route('solo'));
  const id = expandedIds('solo')[0];
  await waitForBars(page, (b) => b.length === 1 && b[0].state === 'ready');
  const bar = page.locator(messageBarSelector(id));
  await bar.locator('[data-tl=task]').click();
  const title = bar.locator('[data-tl-field=title]');
  assert.equal(await title.inputValue(), 'Intro: Dana from Acme');
  await bar.locator('[data-tl-field=due_date]').fill('2026-12-01');
  await bar.locator('[data-tl=submit-task]').click();
  await waitForBars(page, (b) => b[0].tasks === '1');
  const state = await world.client.trackedState([{ ids: [id] }]);
  const [task] = state.body.messages[0].tasks;
  assert.equal(task.title, 'Intro: Dana from Acme');
  assert.equal(task.due_date, '2026-12-01');
  assert.equal(task.assignee.email, 'owner@example.com');
  assert.equal(task.done, false);
  await page.close();
});

test('Add contact for an unknown sender: prefilled, validated, created, then known', async () => {
  const { page } = await world.open(route('solo'));
  const id = expandedIds('solo')[0];
  await waitForBars(page, (b) => b.length === 1 && b[0].state === 'ready');
  const bar = page.locator(messageBarSelector(id));
  assert.equal(byAddress((await readBars(page))[0])['dana@sub.acme.example'], 'unknown');
  await bar.locator('[data-address="dana@sub.acme.example"] [data-tl=add-contact]').click();
  const form = bar.locator('[data-tl=contact-form]');
  assert.equal(await form.locator('[data-tl-field=email]').inputValue(), 'dana@sub.acme.example');
  // Company suggested from the domain: the existing Acme (acme.example).
  assert.equal(await form.locator('[data-tl-field=company]').inputValue(), 'Acme');
  const first = await form.locator('[data-tl-field=first_name]').inputValue();
  assert.ok(first.length > 0, 'first name prefilled from the display name');

  // An invalid address is refused with a clear message, nothing is sent.
  await form.locator('[data-tl-field=email]').fill('dana@@sub');
  await form.locator('[data-tl=submit-contact]').click();
  const invalid = (await readBars(page))[0];
  assert.equal(invalid.statusKind, 'error');
  assert.ok(invalid.status.length > 10, `clear error: ${invalid.status}`);
  assert.equal((await world.client.lookup(['dana@sub.acme.example'])).body.results[0].status, 'unknown');

  await form.locator('[data-tl-field=email]').fill('dana@sub.acme.example');
  await form.locator('[data-tl=submit-contact]').click();
  await waitForBars(page, (b) => byAddress(b[0])['dana@sub.acme.example'] === 'known');
  const lookup = await world.client.lookup(['dana@sub.acme.example']);
  assert.equal(lookup.body.results[0].status, 'known');
  assert.equal(lookup.body.results[0].contacts[0].company.name, 'Acme');
  await page.close();
});

test('expanding 99 messages at once costs one batched lookup, not 99', async () => {
  const requests = [];
  const onRequest = (r) => { if (r.url().includes('/api/v1/lookup')) requests.push(r.url()); };
  const { page } = await world.open(route('t100'));
  await waitForBars(page, (b) => b.length === 1 && b[0].state === 'ready');
  // The service worker's requests are visible to the context.
  world.browser.context.on('request', onRequest);
  await page.evaluate(() => { window.__gmailSim.unfold(); window.__gmailSim.expandAll(); });
  await waitForBars(page, (b) => b.length === 100 && b.every((x) => x.state === 'ready'), { timeout: 20_000 });
  world.browser.context.off('request', onRequest);
  // At most one lookup for the addresses not cached yet (earlier tests may have cached all).
  assert.ok(requests.length <= 1, `lookup requests: ${requests.length}`);
  await page.close();
});

test('server down: Track is queued, shown pending, delivered once when it is back', async () => {
  const { page } = await world.open(route('t8'));
  const id = expandedIds('t8')[0];
  await waitForBars(page, (b) => b.length === 1 && b[0].state === 'ready');
  await world.server.halt();
  try {
    await page.locator(messageBarSelector(id)).locator('[data-tl=track]').click();
    await waitForBars(page, (b) => b[0].tracked === 'pending');
  } finally {
    await world.server.restart();
  }
  // The worker retries with backoff (and on every message, and the content script asks it
  // to flush every 30 s); when it delivers, it tells the tab, whose bar turns tracked.
  await waitForBars(page, (b) => b[0].tracked === 'true', { timeout: 40_000 });
  const state = await world.client.trackedState([{ ids: [id] }]);
  assert.ok(state.body.messages[0].tracked_email);
  await page.close();
});

test('a queued action survives a browser restart and is delivered exactly once', async () => {
  const { page } = await world.open(route('t8'));
  const id = threads.t8.messages[6].legacyId;
  await page.evaluate(() => { window.__gmailSim.unfold(); window.__gmailSim.expandAll(); });
  await waitForBars(page, (b) => b.length === 8 && b.every((x) => x.state === 'ready'));
  await world.server.halt();
  await page.locator(messageBarSelector(id)).locator('[data-tl=track]').click();
  await waitForBars(page, (b) => b.find((x) => x.messageId === id)?.tracked === 'pending');
  await world.relaunch();
  await world.server.restart();
  await configure(world.browser, world.server);
  // The restarted worker delivers its stored queue on start and on any message.
  const { page: reopened } = await world.open(route('t8'));
  await waitFor(async () => {
    const s = await world.client.trackedState([{ ids: [id] }]);
    return s.body.messages[0].tracked_email;
  }, { timeout: 40_000, what: 'queued track delivered after restart' });
  // Exactly once: one tracked email for the id, linked once per record.
  const s = await world.client.trackedState([{ ids: [id] }]);
  const links = s.body.messages[0].tracked_email.links;
  assert.equal(new Set(links.map((l) => l.record_id)).size, links.length);
  await reopened.close();
});

test('an expired or revoked token gets a clear error in the bar', async () => {
  await configure(world.browser, world.server, { apiToken: 'tl_' + '0'.repeat(64) });
  try {
    const { page } = await world.open(route('t3'));
    // Lookups are cached per tab; a new page has none for a different thread.
    await page.evaluate((h) => { location.hash = h; }, route('t100'));
    const bars = await waitForBars(page, (b) => b.length === 1 && b[0].statusKind === 'error');
    assert.equal(bars[0].statusCode, 'unauthorized');
    assert.match(bars[0].status, /token/i);
    await page.close();
  } finally {
    await configure(world.browser, world.server);
  }
});

test('the hostile thread: nothing executes, every bar renders, the layout holds', async () => {
  // Without a CSP, so that a payload wrongly parsed as HTML would really run.
  const { page } = await world.open('#inbox', '?csp=off');
  const count = await page.evaluate(() => window.__gmailSim.thread('hostile').messages.length);
  await page.evaluate(() => window.__gmailSim.openThread('hostile'));
  assert.ok(count >= 200, `hostile corpus size ${count}`);
  const bars = await waitForBars(page, (b) => b.length === count && b.every((x) => x.state === 'ready' || x.state === 'error'), { timeout: 60_000 });
  assert.equal(bars.length, count);
  assert.equal(await page.evaluate(PWN_CHECK), false, 'no payload executed');
  // Nothing but our own elements inside the bars, and no bar wider than its message.
  const report = await page.evaluate(() => {
    const allowed = new Set(['STYLE', 'DIV', 'SPAN', 'UL', 'LI', 'BUTTON', 'LABEL', 'INPUT']);
    let foreign = 0; let overflow = 0;
    for (const host of document.querySelectorAll('[data-threadline="message-bar"]')) {
      for (const el of host.shadowRoot.querySelectorAll('*')) if (!allowed.has(el.tagName)) foreign++;
      const msg = host.closest('.adn').getBoundingClientRect();
      const bar = host.getBoundingClientRect();
      if (bar.width > msg.width + 1 || bar.left < msg.left - 1) overflow++;
    }
    return { foreign, overflow };
  });
  assert.deepEqual(report, { foreign: 0, overflow: 0 });
  await page.close();
});

test('a page that forbids WebAssembly gets a clear notice and stays intact', async () => {
  const { page, errors } = await world.open(route('t3'), '?csp=strict');
  const notice = await waitFor(() => page.evaluate(() => {
    const host = document.querySelector('[data-threadline="notice"]');
    return host?.shadowRoot?.textContent;
  }), { what: 'the notice' });
  assert.match(notice, /WebAssembly/);
  assert.equal((await readBars(page)).length, 0);
  // The page still works: the simulator expands a message on click.
  await page.locator('[role=listitem].kv').first().click();
  await waitFor(() => page.evaluate(() => document.querySelectorAll('[role=listitem].h7').length === 2), { what: 'expand' });
  assert.deepEqual(errors.map(String), []);
  await page.close();
});
