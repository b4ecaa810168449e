// The extension in Firefox ESR (Debian), for real: the dist build installed as a temporary
// add-on through geckodriver, on the Gmail simulator served as https://mail.google.com with
// Gmail's CSP (through a CONNECT proxy: ../lib/connect-proxy.mjs), against a real
// threadline-server process. What the Chromium suite (../tests/) proves in depth, proved here
// once per area: the options page, the message bar, Track, the compose bar and track on send.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import { startFirefoxWorld, run, runAsync, By } from './world.mjs';
import { messageBarSelector, waitFor, EXTENSION_DIR, statusByAddress } from '../lib/threadline.mjs';

const manifest = JSON.parse(fs.readFileSync(path.join(EXTENSION_DIR, 'manifest.json'), 'utf8'));

/** The options used here: the smallest undo window the options page offers. */
const UNDO_S = 5;
const ANN = 'ann.lee@acme.example';
const BOB = 'bob@globex.example';

let world;
let threads;

before(async () => {
  world = await startFirefoxWorld();
  await world.configure({
    serverUrl: world.server.url, apiToken: world.server.token, sendUndoSeconds: UNDO_S, trackOnSendDefault: true,
  });
  await world.open('#inbox');
  threads = await run(world.driver, () => Object.fromEntries(['t3', 'solo'].map((k) => [k, window.__gmailSim.thread(k)])));
});

after(async () => {
  await world?.close();
});

const route = (key) => `#inbox/${threads[key].legacyThreadId}`;
const expandedIds = (key) => threads[key].messages.filter((m) => m.state === 'expanded').map((m) => m.legacyId);
const byAddress = statusByAddress;

const trackedEntry = (id) => world.trackedEntry(id);

test('the host permissions of the manifest are granted at install, the optional ones are not', async () => {
  // The Firefox under test is one the manifest admits.
  const version = (await world.driver.getCapabilities()).get('browserVersion');
  assert.ok(parseFloat(version) >= parseFloat(manifest.browser_specific_settings.gecko.strict_min_version), version);
  await world.openOptions();
  const granted = await runAsync(world.driver, () => chrome.permissions.contains({
    origins: ['https://mail.google.com/*', 'http://127.0.0.1/*', 'http://localhost/*'],
  }));
  assert.equal(granted, true);
  // The optional ones are not: another server is asked for when it is saved.
  assert.equal(await runAsync(world.driver, () => chrome.permissions.contains({ origins: ['https://*/*'] })), false);
});

test('the options page saves the server and the token, and Test connection reaches the server', async () => {
  await world.openOptions();
  await runAsync(world.driver, () => chrome.storage.local.remove(['serverUrl', 'apiToken', 'sendUndoSeconds', 'trackOnSendDefault']));
  await world.openOptions();
  const { driver, server } = world;
  const url = await driver.findElement(By.id('serverUrl'));
  await url.clear();
  await url.sendKeys(server.url);
  await driver.findElement(By.id('apiToken')).sendKeys(server.token);
  await driver.findElement(By.css(`#sendUndoSeconds option[value="${UNDO_S}"]`)).click();
  const trackOnSend = await driver.findElement(By.id('trackOnSendDefault'));
  if (!(await trackOnSend.isSelected())) await trackOnSend.click();
  await driver.findElement(By.css('button[type=submit]')).click();
  await waitFor(() => run(driver, () => document.querySelector('.status.ok')?.textContent), { what: 'saved' });

  const stored = await runAsync(driver, () => chrome.storage.local.get(null));
  assert.equal(stored.serverUrl, server.url);
  assert.equal(stored.apiToken, server.token);
  assert.equal(stored.sendUndoSeconds, UNDO_S);
  assert.equal(stored.trackOnSendDefault, true);
  // The token is never put back into the page.
  assert.equal(await driver.findElement(By.id('apiToken')).getAttribute('value'), '');
  assert.ok(!(await driver.getPageSource()).includes(server.token), 'the token is not in the page');

  // Test connection: the page asks the background (an event page in Firefox), which calls
  // /api/v1/me with the saved token.
  await driver.findElement(By.css('.actions button:not(.primary)')).click();
  const status = await waitFor(() => run(driver, () => {
    const el = document.querySelector('.status.ok');
    return el && /owner@example\.com/.test(el.textContent) ? el.textContent : null;
  }), { what: 'connected as the owner' });
  assert.match(status, /owner@example\.com/);
});

test('a bar under the expanded message, with CRM matches', async () => {
  await world.open(route('t3'));
  const bars = await world.waitForBars((b) => b.length === 1 && b[0].state === 'ready');
  assert.deepEqual(bars.map((b) => b.messageId), expandedIds('t3'));
  const status = byAddress(bars[0]);
  assert.equal(status[ANN], 'known');
  assert.equal(status[BOB], 'known');
  assert.equal(status['owner@example.com'], 'own');
  const ann = bars[0].parties.find((p) => p.address === ANN);
  assert.match(ann.text, /Ann Lee/);
  assert.match(ann.text, /Acme/);
  const placed = await run(world.driver, () => {
    const host = document.querySelector('[data-threadline="message-bar"]');
    return host.closest('.adn') !== null && host.nextElementSibling?.classList.contains('hi');
  });
  assert.ok(placed, 'bar inserted before .hi inside the message');
});

test('Track logs the email on the picked contacts and their companies', async () => {
  await world.open(route('t3'));
  const id = expandedIds('t3')[0];
  await world.waitForBars((b) => b.length === 1 && b[0].state === 'ready');
  const bob = await world.inBar(messageBarSelector(id), `[data-tl=pick][data-contact-id="${world.contacts.bob.id}"]`);
  assert.equal(await bob.isSelected(), true);
  await bob.click();
  assert.equal(await bob.isSelected(), false);
  await (await world.inBar(messageBarSelector(id), '[data-tl=track]')).click();
  await world.waitForBars((b) => b[0].tracked === 'true');
  const email = await trackedEntry(id);
  assert.ok(email, 'the server has the tracked email');
  assert.deepEqual(email.links.map((l) => `${l.record_kind}:${l.record_name}`).sort(), ['company:Acme', 'contact:Ann Lee']);
  assert.equal(email.direction, 'incoming');
  // The whole email follows: Firefox's content script fetches Gmail's "Download original"
  // with the user's session (the simulator refuses it without the cookie), as Chromium's.
  const whole = await waitFor(async () => {
    const r = await world.client.get(`/tracked-emails/${email.id}`);
    return r.body?.source?.status === 'parsed' ? r.body : null;
  }, { timeout: 20_000, what: 'the tracked email\'s source' });
  assert.ok(whole.source.sha256, 'the raw source reached the server');
  // Reopened, the bar shows it tracked.
  await world.open(route('t3'));
  await world.waitForBars((b) => b.length === 1 && b[0].tracked === 'true');
});

test('the compose bar matches the recipients, and Send tracks the email once delivered', async () => {
  await world.open('#inbox');
  await run(world.driver, (ms) => { window.__gmailSim.config.undoWindow = ms; }, UNDO_S * 1000);
  const { root, draftId, bar } = await world.openCompose({ kind: 'popup', to: [ANN], cc: [BOB], subject: 'Quote for Q3', body: 'Here it is.' });
  assert.equal(bar.kind, 'popup');
  assert.equal(bar.trackOnSend, true, 'track on send defaults to the option (on)');
  assert.deepEqual(byAddress(bar), { [ANN]: 'known', [BOB]: 'known' });

  await world.send(root);
  const sent = await run(world.driver, () => window.__gmailSim.sent().map((s) => [s.draftId.replace(/^#/, ''), s.undone]));
  assert.deepEqual(sent, [[draftId, false]], 'the simulator sent it');
  // Not before the undo window has passed (then the content script's slack), but then.
  assert.equal(await world.trackedEntry(draftId), null, 'not tracked within the undo window');
  const entry = await waitFor(() => world.trackedEntry(draftId), { timeout: UNDO_S * 1000 + 15_000, interval: 200, what: 'tracked on send' });
  assert.equal(entry.direction, 'outgoing');
  assert.equal(entry.subject, 'Quote for Q3');
  assert.deepEqual(entry.links.filter((l) => l.record_kind === 'contact').map((l) => l.record_id).sort(),
    [world.contacts.ann.id, world.contacts.bob.id].sort());
  assert.deepEqual(entry.links.filter((l) => l.record_kind === 'company').map((l) => l.record_name).sort(), ['Acme', 'Globex']);
});

test('Add contact for an unknown sender: prefilled from the page, created, then known', async () => {
  await world.open(route('solo'));
  const id = expandedIds('solo')[0];
  const address = 'dana@sub.acme.example';
  const [bar] = await world.waitForBars((b) => b.length === 1 && b[0].state === 'ready');
  assert.equal(byAddress(bar)[address], 'unknown');
  const host = messageBarSelector(id);
  await (await world.inBar(host, `[data-address="${address}"] [data-tl=add-contact]`)).click();
  const field = (name) => world.inBar(host, `[data-tl=contact-form] [data-tl-field=${name}]`);
  assert.equal(await (await field('email')).getAttribute('value'), address);
  // The company is suggested from the domain: the existing Acme (acme.example).
  assert.equal(await (await field('company')).getAttribute('value'), 'Acme');
  assert.ok((await (await field('first_name')).getAttribute('value')).length > 0, 'first name prefilled');
  await (await world.inBar(host, '[data-tl=submit-contact]')).click();
  await world.waitForBars((b) => byAddress(b[0])[address] === 'known');
  const lookup = await world.client.lookup([address]);
  assert.equal(lookup.body.results[0].status, 'known');
  assert.equal(lookup.body.results[0].contacts[0].company.name, 'Acme');
});

test('server down: Track is queued in the background, shown pending, delivered once it is back', async () => {
  await world.open(route('solo'));
  const id = expandedIds('solo')[0];
  await world.waitForBars((b) => b.length === 1 && b[0].state === 'ready');
  await world.server.halt();
  try {
    await (await world.inBar(messageBarSelector(id), '[data-tl=track]')).click();
    await world.waitForBars((b) => b[0].tracked === 'pending');
  } finally {
    await world.server.restart();
  }
  // The background retries with backoff; when it delivers, it tells the tab.
  await world.waitForBars((b) => b[0].tracked === 'true', { timeout: 40_000 });
  assert.ok(await trackedEntry(id));
});

test('no uncaught error in the extension (background, options, content script) during this file', () => {
  // Firefox prints uncaught errors of moz-extension:// code as "JavaScript error: <url>, line
  // <n>: <message>" on its output, which geckodriver passes on (seen with a thrown probe).
  const errors = world.browser.jsErrors.filter((line) => line.startsWith(`JavaScript error: ${world.browser.extensionBase}/`));
  assert.deepEqual(errors, []);
});
