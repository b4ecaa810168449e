// The outgoing side, end to end: the real extension (dist build), the real threadline-server
// and the Gmail simulator served as https://mail.google.com with Gmail's CSP.
//
// - a compose bar in every compose kind (pop-up, full screen, inline, standalone pop-out),
//   with both recipient UIs, exactly one per compose;
// - the recipients' verdicts follow the chips; Add contact from the compose bar;
// - Track on send: logged once to the picked contacts after a real send (click or
//   Ctrl+Enter); never for a discarded, closed, minimised, undone or refused compose.
//
// One world (fixture server, server, browser) for the whole file; a fresh page and fresh
// compose windows per test. Every draft gets an id of its own (the simulator numbers drafts
// per page load, so two pages would otherwise reuse ids against the one server).
//
// "Nothing tracked" is asserted behind a barrier, not a sleep: each negative test also sends
// a sentinel compose *after* its scenario and waits until the server has it. Anything the
// scenario had wrongly scheduled was due earlier than the sentinel, so it would be on the
// server by then. "Once" is counted in the server's request log (RUST_LOG=info): every
// POST /api/v1/tracked-emails answered during a test, 201 (new entry) or 200 (existing).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import {
  startWorld, configure, readBars, waitForBars, waitFor, composeBarsIn, SEND_BUTTON, statusByAddress,
} from '../lib/threadline.mjs';
import { openGmail } from '../lib/browser.mjs';

/** sendUndoSeconds in the options, and the simulator's undo window: the same, and small. */
const UNDO_S = 4;
/** What the content script adds to the undo window before the background delivers. */
const DELIVERY_SLACK_MS = 2_000;
/** The content script's still-open check after Send (send.rs STILL_OPEN_CHECK_MS). */
const STILL_OPEN_CHECK_MS = 2_500;
/** Longest wait for a scheduled send to reach the server. */
const DELIVERY_TIMEOUT = UNDO_S * 1000 + DELIVERY_SLACK_MS + 8_000;

const ANN = 'ann.lee@acme.example';
const BOB = 'bob@globex.example';
const SIOBHAN = 'siobhan.obrien@globex.example';
const JANE = 'jane.q.doe@gmail.com';
const OWNER = 'owner@example.com';

let world;
let draftSeq = 0n;
const runTag = BigInt(Date.now()) * 1000n;

/** A draft id no other compose of this run has: `#msg-a:r-<digits>`, as Gmail's. */
function freshDraftId() {
  draftSeq += 1n;
  return `#msg-a:r-${runTag + draftSeq}`;
}
const bare = (draftId) => draftId.replace(/^#/, '');

before(async () => {
  world = await startWorld({ serverEnv: { RUST_LOG: 'info' } });
  await configure(world.browser, world.server, { sendUndoSeconds: UNDO_S, trackOnSendDefault: true });
});

after(async () => {
  await world?.close();
});

// ----- helpers ------------------------------------------------------------------------------

/** Opens a Gmail page with the simulator's undo window matching the options. */
async function openPage(route = '#inbox', query = '') {
  const { page, errors } = await world.open(route, query);
  await page.evaluate((ms) => { window.__gmailSim.config.undoWindow = ms; }, UNDO_S * 1000);
  return { page, errors };
}

/** The standalone pop-out compose window (`/mail/?view=cm…`). */
async function openStandalone(query = '') {
  const { page, errors } = await openGmail(world.browser.context, `/mail/?view=cm&fs=1&tf=1${query}`);
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  await page.evaluate(() => window.__gmailSim.ready);
  await page.evaluate((ms) => { window.__gmailSim.config.undoWindow = ms; }, UNDO_S * 1000);
  return { page, errors };
}

/** Opens a compose through the simulator; resolves to { root (handle), draftId, composeId }. */
async function openCompose(page, opts = {}) {
  const draftId = opts.draftId ?? freshDraftId();
  const root = await page.evaluateHandle((o) => window.__gmailSim.openCompose(o), { ...opts, draftId });
  const info = await page.evaluate((el) => window.__gmailSim.composeInfo(el), root);
  assert.equal(info.draftId, draftId);
  return { root, draftId: bare(draftId), composeId: info.composeId };
}

const barHost = (compose) => `[data-threadline="compose-bar"][data-compose-id="${compose.composeId}"]`;

/** The compose bar(s) inside one compose window, read through their open shadow roots. */
function readComposeBars(page, root) {
  return page.evaluate(composeBarsIn, root);
}

/** Waits for the one bar of a compose to satisfy `predicate`; returns it. */
async function waitForComposeBar(page, compose, predicate = () => true, { timeout = 10_000 } = {}) {
  let last = null;
  try {
    return await waitFor(async () => {
      const bars = await readComposeBars(page, compose.root);
      last = bars;
      return bars.length === 1 && predicate(bars[0]) ? bars[0] : null;
    }, { timeout, interval: 50, what: 'the compose bar' });
  } catch (e) {
    throw new Error(`compose bar never matched; last seen: ${JSON.stringify(last)}`);
  }
}

const statuses = statusByAddress;

/** Waits until the bar shows exactly these recipients with these statuses. */
function waitForStatuses(page, compose, expected, opts) {
  return waitForComposeBar(page, compose, (bar) => bar.state === 'ready'
    && JSON.stringify(statuses(bar)) === JSON.stringify(expected), opts);
}

async function clickSend(page, compose) {
  const button = await compose.root.$(SEND_BUTTON);
  assert.ok(button, 'the compose has a Send button');
  await button.click();
}

/** The server's tracked entry for a message id, or null. */
async function trackedEntry(id) {
  const r = await world.client.trackedState([{ ids: [id] }]);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.messages[0].tracked_email ?? null;
}

function waitTracked(id, timeout = DELIVERY_TIMEOUT) {
  return waitFor(() => trackedEntry(id), { timeout, interval: 200, what: `${id} tracked on the server` });
}

/**
 * Statuses of every POST /api/v1/tracked-emails the server answered, in order, from its
 * request log (RUST_LOG=info): 201 a new entry, 200 an entry that existed. Only the
 * extension posts there (this file's client only reads), one page at a time.
 */
function trackPosts() {
  return [...world.server.log().matchAll(/request\{method=POST path=\/api\/v1\/tracked-emails\}[^\n]*status=(\d+)/g)]
    .map((m) => Number(m[1]));
}

/** Waits for the track POSTs since `mark` to reach `expected.length`, then asserts them. */
async function expectPosts(mark, expected, what) {
  await waitFor(() => trackPosts().length - mark >= expected.length, { what: `${expected.length} track POSTs (${what})` });
  assert.deepEqual(trackPosts().slice(mark), expected, `track POSTs: ${what}`);
}

/** Contact ids an entry is linked to, sorted. */
const linkedContacts = (entry) => entry.links.filter((l) => l.record_kind === 'contact').map((l) => l.record_id).sort();

/** The items of the background's queue (chrome.storage.local). */
async function queuedKeys() {
  return world.browser.serviceWorker.evaluate(async () => {
    const { threadlineQueue } = await chrome.storage.local.get('threadlineQueue');
    return (threadlineQueue?.items ?? []).map((i) => i.key);
  });
}

/**
 * The barrier behind every "nothing tracked": a pop-up compose to Ann, sent after the
 * scenario; resolves once the server has it.
 */
async function sentinelSend(page) {
  const sentinel = await openCompose(page, { kind: 'popup', to: [ANN], subject: 'Sentinel', body: 'Barrier.' });
  await waitForStatuses(page, sentinel, { [ANN]: 'known' });
  await clickSend(page, sentinel);
  await waitTracked(sentinel.draftId);
}

async function assertNotTracked(...ids) {
  for (const id of ids) assert.equal(await trackedEntry(id), null, `${id} must not be tracked`);
  const queued = await queuedKeys();
  for (const id of ids) assert.ok(!queued.includes(id), `${id} must not wait in the queue (${queued})`);
}

async function withPage(open, fn) {
  const { page, errors } = await open();
  try {
    await fn(page, errors);
  } finally {
    await page.close();
  }
}

// ----- a bar in every compose ------------------------------------------------------------------

for (const ui of ['chips', 'classic']) {
  test(`one compose bar in each compose kind (${ui} recipients)`, async () => {
    await withPage(() => openPage('#inbox/163d03bfda277ec1', ui === 'classic' ? '?recipients=classic' : ''), async (page, errors) => {
      const popup = await openCompose(page, { kind: 'popup', to: [ANN] });
      const full = await openCompose(page, { kind: 'fullscreen', to: [BOB] });
      const inline = await openCompose(page, { kind: 'inline', mode: 'reply' });
      const composes = [[popup, 'popup'], [full, 'fullscreen'], [inline, 'inline']];
      for (const [compose, kind] of composes) {
        const info = await page.evaluate((el) => window.__gmailSim.composeInfo(el), compose.root);
        assert.equal(info.ui, ui);
        const bar = await waitForComposeBar(page, compose, (b) => b.state === 'ready');
        assert.equal(bar.kind, kind);
        assert.equal(bar.composeId, compose.composeId);
        assert.equal(bar.trackOnSend, true, 'track on send defaults to the option (on)');
      }
      assert.deepEqual(statuses(await waitForComposeBar(page, popup)), { [ANN]: 'known' });
      assert.deepEqual(statuses(await waitForComposeBar(page, full)), { [BOB]: 'known' });
      // The inline reply goes to the last message's sender (Ann's thread).
      assert.ok(Object.keys(statuses(await waitForComposeBar(page, inline))).length >= 1);
      // Exactly one bar per compose on the whole page, none anywhere else.
      const hosts = await page.evaluate(() => document.querySelectorAll('[data-threadline="compose-bar"]').length);
      assert.equal(hosts, 3);
      // The full-screen button moves the same compose into the pop-up dock: still one bar.
      await page.evaluate((el) => window.__gmailSim.toggleFullscreen(el), full.root);
      const moved = await waitForComposeBar(page, full, (b) => b.kind === 'popup');
      assert.deepEqual(statuses(moved), { [BOB]: 'known' });
      assert.equal(await page.evaluate(() => document.querySelectorAll('[data-threadline="compose-bar"]').length), 3);
      assert.deepEqual(errors, []);
    });
  });

  test(`one compose bar in the standalone pop-out (${ui} recipients)`, async () => {
    const query = `&to=${encodeURIComponent(ANN)}&su=Standalone${ui === 'classic' ? '&recipients=classic' : ''}`;
    await withPage(() => openStandalone(query), async (page, errors) => {
      const root = await page.evaluateHandle(() => window.__gmailSim.composes()[0]);
      const info = await page.evaluate((el) => window.__gmailSim.composeInfo(el), root);
      assert.equal(info.kind, 'standalone');
      assert.equal(info.ui, ui);
      const compose = { root, draftId: bare(info.draftId), composeId: info.composeId };
      const bar = await waitForStatuses(page, compose, { [ANN]: 'known' });
      assert.equal(bar.kind, 'standalone');
      assert.equal(await page.evaluate(() => document.querySelectorAll('[data-threadline="compose-bar"]').length), 1);
      assert.deepEqual(errors, []);
    });
  });
}

test('the old recipients UI through openCompose({kind: "old"})', async () => {
  await withPage(() => openPage(), async (page, errors) => {
    const compose = await openCompose(page, { kind: 'old', to: [BOB], cc: [ANN] });
    const info = await page.evaluate((el) => window.__gmailSim.composeInfo(el), compose.root);
    assert.equal(info.ui, 'classic');
    const bar = await waitForStatuses(page, compose, { [BOB]: 'known', [ANN]: 'known' });
    assert.equal(bar.kind, 'popup');
    assert.deepEqual(errors, []);
  });
});

// ----- recipients' verdicts -----------------------------------------------------------------

for (const ui of ['chips', 'classic']) {
  test(`recipients' verdicts follow the chips as they are added and removed (${ui})`, async () => {
    await withPage(() => openPage(), async (page, errors) => {
      const compose = await openCompose(page, { kind: 'popup', ui });
      await waitForStatuses(page, compose, {});
      const add = (address, field = 'to') => page.evaluate(({ el, address, field }) => window.__gmailSim.addRecipient(el, address, field), { el: compose.root, address, field });
      const remove = (address, field = 'to') => page.evaluate(({ el, address, field }) => window.__gmailSim.removeRecipient(el, address, field), { el: compose.root, address, field });

      await add(ANN);
      await waitForStatuses(page, compose, { [ANN]: 'known' });
      await add(SIOBHAN, 'cc');
      await add('Nobody Yet <nobody.yet@initech.example>');
      await add(OWNER, 'bcc');
      await add(JANE); // stored as janeqdoe@gmail.com: Gmail ignores the dots
      await add('broken@@example');
      const bar = await waitForStatuses(page, compose, {
        [ANN]: 'known', 'nobody.yet@initech.example': 'unknown', [JANE]: 'known', 'broken@@example': 'invalid',
        [SIOBHAN]: 'ambiguous', [OWNER]: 'own',
      });
      const party = (address) => bar.parties.find((p) => p.address === address);
      // Known contacts are picked; the two contacts of the ambiguous address are offered, not picked.
      assert.deepEqual(party(ANN).picks, [{ id: world.contacts.ann.id, checked: true }]);
      assert.deepEqual(party(SIOBHAN).picks.map((p) => p.checked), [false, false]);
      assert.deepEqual(party(SIOBHAN).picks.map((p) => p.id).sort(), [world.contacts.siobhan1.id, world.contacts.siobhan2.id].sort());
      assert.equal(await page.locator(barHost(compose)).locator('[data-address="nobody.yet@initech.example"] [data-tl=add-contact]').count(), 1);

      assert.equal(await remove(ANN), true);
      assert.equal(await remove(SIOBHAN, 'cc'), true);
      await waitForStatuses(page, compose, {
        'nobody.yet@initech.example': 'unknown', [JANE]: 'known', 'broken@@example': 'invalid', [OWNER]: 'own',
      });
      assert.deepEqual(errors, []);
    });
  });
}

test('Add contact from the compose bar creates the contact and the chip turns known', async () => {
  const address = `new.person.${Date.now()}@initech.example`;
  await withPage(() => openPage(), async (page, errors) => {
    const compose = await openCompose(page, { kind: 'popup', to: [`Nina Novak <${address}>`, ANN] });
    await waitForStatuses(page, compose, { [address]: 'unknown', [ANN]: 'known' });
    const bar = page.locator(barHost(compose));
    await bar.locator(`[data-tl-party][data-address="${address}"] [data-tl=add-contact]`).click();
    const form = bar.locator('[data-tl=contact-form]');
    // Prefilled from the chip's name and address.
    assert.equal(await form.locator('[data-tl-field=first_name]').inputValue(), 'Nina');
    assert.equal(await form.locator('[data-tl-field=last_name]').inputValue(), 'Novak');
    assert.equal(await form.locator('[data-tl-field=email]').inputValue(), address);
    await form.locator('[data-tl-field=company]').fill('Initech');
    await form.locator('[data-tl=submit-contact]').click();

    const after = await waitForStatuses(page, compose, { [address]: 'known', [ANN]: 'known' });
    const server = await world.client.lookup([address]);
    assert.equal(server.status, 200);
    const [verdict] = server.body.results;
    assert.equal(verdict.status, 'known');
    assert.equal(verdict.contacts.length, 1);
    const contact = verdict.contacts[0];
    assert.deepEqual([contact.first_name, contact.last_name, contact.primary_email, contact.company?.name], ['Nina', 'Novak', address, 'Initech']);
    // The new contact is picked for track on send, like any known one.
    assert.deepEqual(after.parties.find((p) => p.address === address).picks, [{ id: contact.id, checked: true }]);
    assert.equal(await bar.locator('[data-tl=contact-form]').count(), 0, 'the form closes');
    assert.deepEqual(errors, []);
  });
});

// ----- track on send ------------------------------------------------------------------------

/** Asserts what the server holds for a sent draft; returns the entry. */
async function assertTracked(draftId, { contacts, subject }, { timeout = DELIVERY_TIMEOUT } = {}) {
  const entry = await waitTracked(draftId, timeout);
  assert.deepEqual(linkedContacts(entry), contacts.map((c) => c.id).sort(), 'linked to exactly the picked contacts');
  assert.equal(entry.direction, 'outgoing');
  assert.ok(entry.message_ids.includes(draftId), `${JSON.stringify(entry.message_ids)} has the draft id`);
  if (subject !== undefined) assert.equal(entry.subject, subject);
  // The server answers before the background has rewritten its stored queue: the item
  // leaves it right after (a plain check here failed once on a loaded machine).
  await waitFor(async () => !(await queuedKeys()).includes(draftId), { what: `${draftId} out of the queue once delivered` });
  return entry;
}

async function setTrackOnSend(page, compose, on) {
  const toggle = page.locator(barHost(compose)).locator('input[data-tl=track-on-send]');
  if (on) await toggle.check(); else await toggle.uncheck();
  await waitForComposeBar(page, compose, (b) => b.trackOnSend === on);
}

async function clickUndo(page) {
  const undo = page.locator('#link_undo');
  await undo.waitFor({ state: 'visible', timeout: 5_000 });
  await undo.click();
}

/** The compose the simulator re-opened for `draftId` (after Undo). */
async function reopened(page, draftId) {
  const root = await waitFor(async () => {
    const handle = await page.evaluateHandle((id) => window.__gmailSim.composes()
      .find((el) => window.__gmailSim.composeInfo(el).draftId === id) ?? null, `#${draftId}`);
    return (await handle.evaluate((el) => el !== null)) ? handle : null;
  }, { what: `the re-opened compose of ${draftId}` });
  const info = await page.evaluate((el) => window.__gmailSim.composeInfo(el), root);
  return { root, draftId, composeId: info.composeId };
}

const sentDrafts = (page) => page.evaluate(() => window.__gmailSim.sent().map((s) => [s.draftId.replace(/^#/, ''), s.undone]));

test('sending a pop-up compose tracks it once, to the picked contacts', async () => {
  const mark = trackPosts().length;
  await withPage(() => openPage(), async (page, errors) => {
    const compose = await openCompose(page, { kind: 'popup', to: [ANN], cc: [BOB], subject: 'Quote for Q3', body: 'Here it is.' });
    const bar = await waitForStatuses(page, compose, { [ANN]: 'known', [BOB]: 'known' });
    assert.equal(bar.trackOnSend, true);
    await clickSend(page, compose);
    assert.deepEqual(await sentDrafts(page), [[compose.draftId, false]], 'the simulator sent it');
    const entry = await assertTracked(compose.draftId, { contacts: [world.contacts.ann, world.contacts.bob], subject: 'Quote for Q3' });
    assert.deepEqual(entry.links.filter((l) => l.record_kind === 'company').map((l) => l.record_name).sort(), ['Acme', 'Globex']);
    await expectPosts(mark, [201], 'one send, one POST');
    assert.deepEqual(errors, []);
  });
});

test('unticked contacts are left out, a ticked candidate of an ambiguous address is in', async () => {
  const mark = trackPosts().length;
  await withPage(() => openPage(), async (page, errors) => {
    const compose = await openCompose(page, { kind: 'popup', to: [ANN, BOB], cc: [SIOBHAN], subject: 'Picks' });
    await waitForStatuses(page, compose, { [ANN]: 'known', [BOB]: 'known', [SIOBHAN]: 'ambiguous' });
    const bar = page.locator(barHost(compose));
    await bar.locator(`input[data-tl=pick][data-contact-id="${world.contacts.bob.id}"]`).uncheck();
    await bar.locator(`input[data-tl=pick][data-contact-id="${world.contacts.siobhan1.id}"]`).check();
    await clickSend(page, compose);
    await assertTracked(compose.draftId, { contacts: [world.contacts.ann, world.contacts.siobhan1], subject: 'Picks' });
    await expectPosts(mark, [201], 'one send, one POST');
    assert.deepEqual(errors, []);
  });
});

test('Ctrl+Enter sends and tracks like the Send button', async () => {
  const mark = trackPosts().length;
  await withPage(() => openPage(), async (page, errors) => {
    const compose = await openCompose(page, { kind: 'popup', to: [BOB], subject: 'Keyboard' });
    await waitForStatuses(page, compose, { [BOB]: 'known' });
    await (await compose.root.$('[g_editable=true]')).click();
    await page.keyboard.type('Sent from the keyboard.');
    await page.keyboard.press('Control+Enter');
    assert.deepEqual(await sentDrafts(page), [[compose.draftId, false]]);
    await assertTracked(compose.draftId, { contacts: [world.contacts.bob], subject: 'Keyboard' });
    await expectPosts(mark, [201], 'one send, one POST');
    assert.deepEqual(errors, []);
  });
});

test('full-screen and old-UI composes are tracked on send too', async () => {
  const mark = trackPosts().length;
  await withPage(() => openPage(), async (page, errors) => {
    const full = await openCompose(page, { kind: 'fullscreen', to: [BOB], subject: 'Full screen' });
    const old = await openCompose(page, { kind: 'old', to: [`Ann Lee <${ANN}>`], cc: [JANE], subject: 'Old UI' });
    await waitForStatuses(page, full, { [BOB]: 'known' });
    await waitForStatuses(page, old, { [ANN]: 'known', [JANE]: 'known' });
    await clickSend(page, full);
    await clickSend(page, old);
    assert.deepEqual((await sentDrafts(page)).map(([id]) => id), [full.draftId, old.draftId]);
    await assertTracked(full.draftId, { contacts: [world.contacts.bob], subject: 'Full screen' });
    await assertTracked(old.draftId, { contacts: [world.contacts.ann, world.contacts.jane], subject: 'Old UI' });
    await expectPosts(mark, [201, 201], 'two sends, two POSTs');
    assert.deepEqual(errors, []);
  });
});

test("a draft id Gmail assigns after the compose opened (its first save) is the one tracked", async () => {
  const mark = trackPosts().length;
  await withPage(() => openPage(), async (page, errors) => {
    // Before its first save a new compose's draft input holds "undefined", as Gmail's does.
    const root = await page.evaluateHandle((to) => window.__gmailSim.openCompose({ kind: 'popup', to: [to], subject: 'First save', draftId: 'undefined' }), ANN);
    const info = await page.evaluate((el) => window.__gmailSim.composeInfo(el), root);
    const compose = { root, composeId: info.composeId, draftId: bare(freshDraftId()) };
    await waitForStatuses(page, compose, { [ANN]: 'known' });
    // The save writes the id into the input (an attribute change, no element added), and
    // the user sends at once.
    await page.evaluate(({ el, id }) => { el.querySelector('input[name=draft]').value = `#${id}`; }, { el: root, id: compose.draftId });
    await clickSend(page, compose);
    await assertTracked(compose.draftId, { contacts: [world.contacts.ann], subject: 'First save' });
    await expectPosts(mark, [201], 'one send, one POST');
    assert.deepEqual(errors, []);
  });
});

test('Track on send off: nothing tracked; the option sets the default of new composes', async () => {
  const mark = trackPosts().length;
  let unticked;
  await withPage(() => openPage(), async (page, errors) => {
    unticked = await openCompose(page, { kind: 'popup', to: [ANN], subject: 'Not logged' });
    await waitForStatuses(page, unticked, { [ANN]: 'known' });
    await setTrackOnSend(page, unticked, false);
    await clickSend(page, unticked);
    assert.deepEqual(await sentDrafts(page), [[unticked.draftId, false]]);
    assert.deepEqual(errors, []);
  });
  await configure(world.browser, world.server, { sendUndoSeconds: UNDO_S, trackOnSendDefault: false });
  try {
    await withPage(() => openPage(), async (page, errors) => {
      const byDefault = await openCompose(page, { kind: 'popup', to: [ANN], subject: 'Default off' });
      const ticked = await openCompose(page, { kind: 'popup', to: [BOB], subject: 'Ticked' });
      for (const [c, address] of [[byDefault, ANN], [ticked, BOB]]) {
        const bar = await waitForStatuses(page, c, { [address]: 'known' });
        assert.equal(bar.trackOnSend, false, 'trackOnSendDefault: false');
      }
      await clickSend(page, byDefault);
      // Ticking it for one mail tracks that mail; sent last, it is the others' sentinel.
      await setTrackOnSend(page, ticked, true);
      await clickSend(page, ticked);
      await assertTracked(ticked.draftId, { contacts: [world.contacts.bob], subject: 'Ticked' });
      await assertNotTracked(unticked.draftId, byDefault.draftId);
      await expectPosts(mark, [201], 'the ticked one only');
      assert.deepEqual(errors, []);
    });
  } finally {
    await configure(world.browser, world.server, { sendUndoSeconds: UNDO_S, trackOnSendDefault: true });
  }
});

/**
 * A pass-through to the server that holds GET /api/v1/me back for `delayMs`: the background
 * answers the content script's `status` (the options) only once /me has answered.
 */
async function slowMeProxy(target, delayMs) {
  const server = http.createServer(async (req, res) => {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    if (req.url.endsWith('/api/v1/me')) await new Promise((r) => setTimeout(r, delayMs));
    const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => !['host', 'connection', 'content-length'].includes(k)));
    const upstream = await fetch(`${target}${req.url}`, { method: req.method, headers, body: chunks.length ? Buffer.concat(chunks) : undefined });
    res.writeHead(upstream.status, Object.fromEntries([...upstream.headers].filter(([k]) => !['content-length', 'content-encoding', 'transfer-encoding', 'connection'].includes(k))));
    res.end(Buffer.from(await upstream.arrayBuffer()));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${server.address().port}`, close: () => new Promise((r) => server.close(r)) };
}

test('a compose on the page before the options arrive follows them (pop-out window)', async () => {
  const STATUS_DELAY_MS = 2_000;
  const proxy = await slowMeProxy(world.server.url, STATUS_DELAY_MS);
  // The defaults (track on send: on), through a server whose /me is slow.
  await configure(world.browser, { url: proxy.url, token: world.server.token }, { sendUndoSeconds: UNDO_S, trackOnSendDefault: true });
  try {
    const mark = trackPosts().length;
    await withPage(() => openStandalone(`&to=${ANN}&su=Early`), async (page, errors) => {
      const root = await page.evaluateHandle(() => window.__gmailSim.composes()[0]);
      const info = await page.evaluate((el) => window.__gmailSim.composeInfo(el), root);
      const compose = { root, draftId: bare(info.draftId), composeId: info.composeId };
      // The bar and its verdicts are there well before the options (/me is held back) ...
      await waitForStatuses(page, compose, { [ANN]: 'known' }, { timeout: STATUS_DELAY_MS });
      // ... and once they arrive, the toggle shows the user's default.
      await waitForComposeBar(page, compose, (b) => b.trackOnSend === true, { timeout: STATUS_DELAY_MS + 5_000 });
      await clickSend(page, compose);
      await assertTracked(compose.draftId, { contacts: [world.contacts.ann], subject: 'Early' });
      await expectPosts(mark, [201], 'one send, one POST');
      assert.deepEqual(errors, []);
    });
  } finally {
    await configure(world.browser, world.server, { sendUndoSeconds: UNDO_S, trackOnSendDefault: true });
    await proxy.close();
  }
});

test('Discard, Close (save & close) and Minimise track nothing', async () => {
  const mark = trackPosts().length;
  await withPage(() => openPage(), async (page, errors) => {
    const discarded = await openCompose(page, { kind: 'popup', to: [ANN], subject: 'Discarded' });
    const closed = await openCompose(page, { kind: 'fullscreen', to: [ANN], subject: 'Closed' });
    const minimised = await openCompose(page, { kind: 'popup', to: [BOB], subject: 'Minimised' });
    for (const c of [discarded, closed]) await waitForStatuses(page, c, { [ANN]: 'known' });
    await waitForStatuses(page, minimised, { [BOB]: 'known' });
    // The simulator's helpers click Gmail's own buttons (.gU .oh, .Hm .Ha, .Hm .Hl).
    await page.evaluate((el) => window.__gmailSim.discard(el), discarded.root);
    await page.evaluate((el) => window.__gmailSim.close(el), closed.root);
    await page.evaluate((el) => window.__gmailSim.minimize(el), minimised.root);
    assert.equal(await page.evaluate((el) => el.isConnected, minimised.root), true);
    assert.equal(await page.evaluate((el) => el.isConnected, discarded.root), false);
    assert.deepEqual(await sentDrafts(page), [], 'nothing was sent');
    await assertNothingTracked(page, mark, discarded.draftId, closed.draftId, minimised.draftId);
    // The minimised window keeps its one bar.
    await waitForStatuses(page, minimised, { [BOB]: 'known' });
    assert.deepEqual(errors, []);
  });
});

/**
 * Opens a pop-up compose to Ann, sends it and clicks Undo: at once, or (late) once the
 * content script's still-open check has seen the compose gone, still inside the undo window.
 * Resolves to the draft id and the compose the simulator re-opened for it.
 */
async function sendThenUndo(page, subject, { late = false } = {}) {
  const compose = await openCompose(page, { kind: 'popup', to: [ANN], subject });
  await waitForStatuses(page, compose, { [ANN]: 'known' });
  await clickSend(page, compose);
  if (late) {
    // The scenario's timing (when the user clicks), not a wait for the extension.
    assert.ok(STILL_OPEN_CHECK_MS + 500 < UNDO_S * 1000 - 500);
    await page.waitForTimeout(STILL_OPEN_CHECK_MS + 500);
  }
  await clickUndo(page);
  const again = await reopened(page, compose.draftId);
  await waitForStatuses(page, again, { [ANN]: 'known' });
  return { draftId: compose.draftId, again };
}

/** The negative tests' ending: a sentinel, then none of `draftIds` tracked or queued. */
async function assertNothingTracked(page, mark, ...draftIds) {
  await sentinelSend(page);
  await assertNotTracked(...draftIds);
  await expectPosts(mark, [201], 'the sentinel only');
}

for (const late of [false, true]) {
  const when = late ? 'late in the undo window' : 'right after Send';
  test(`Undo ${when}, not sent again: nothing tracked`, async () => {
    const mark = trackPosts().length;
    await withPage(() => openPage(), async (page, errors) => {
      const { draftId } = await sendThenUndo(page, `Undone ${when}`, { late });
      await assertNothingTracked(page, mark, draftId);
      assert.deepEqual((await sentDrafts(page))[0], [draftId, true]);
      assert.deepEqual(errors, []);
    });
  });

  test(`Undo ${when}, then Send again: tracked once, as finally sent`, async () => {
    const mark = trackPosts().length;
    await withPage(() => openPage(), async (page, errors) => {
      const { draftId, again } = await sendThenUndo(page, 'Second thoughts', { late });
      await page.evaluate(({ el, bob }) => window.__gmailSim.addRecipient(el, bob, 'cc'), { el: again.root, bob: BOB });
      await waitForStatuses(page, again, { [ANN]: 'known', [BOB]: 'known' });
      await clickSend(page, again);
      assert.deepEqual(await sentDrafts(page), [[draftId, true], [draftId, false]]);
      await assertTracked(draftId, { contacts: [world.contacts.ann, world.contacts.bob], subject: 'Second thoughts' });
      await expectPosts(mark, [201], 'one send, one POST');
      assert.deepEqual(errors, []);
    });
  });
}

test('Undo, Track on send turned off, Send again: nothing tracked', async () => {
  const mark = trackPosts().length;
  await withPage(() => openPage(), async (page, errors) => {
    const { draftId, again } = await sendThenUndo(page, 'Changed my mind');
    await setTrackOnSend(page, again, false);
    await clickSend(page, again);
    assert.deepEqual(await sentDrafts(page), [[draftId, true], [draftId, false]]);
    await assertNothingTracked(page, mark, draftId);
    assert.deepEqual(errors, []);
  });
});

test('Gmail refusing the send (no recipients): error dialog, nothing tracked; fixed and sent: tracked once', async () => {
  const mark = trackPosts().length;
  await withPage(() => openPage(), async (page, errors) => {
    const compose = await openCompose(page, { kind: 'popup', subject: 'Nobody to send to' });
    await waitForStatuses(page, compose, {});
    await clickSend(page, compose);
    await page.locator('[role=alertdialog]').waitFor({ state: 'visible' });
    assert.equal(await page.evaluate((el) => el.isConnected, compose.root), true, 'the compose stays open');
    assert.deepEqual(await sentDrafts(page), []);
    await page.locator('[role=alertdialog] button[name=ok]').click();
    // The user adds the recipient Gmail asked for and sends again.
    await page.evaluate(({ el, ann }) => window.__gmailSim.addRecipient(el, ann), { el: compose.root, ann: ANN });
    await waitForStatuses(page, compose, { [ANN]: 'known' });
    await clickSend(page, compose);
    await assertTracked(compose.draftId, { contacts: [world.contacts.ann], subject: 'Nobody to send to' });
    await expectPosts(mark, [201], 'one send, one POST');
    assert.deepEqual(errors, []);
  });
});

test('Gmail keeping the compose open after Send (send refused) tracks nothing', async () => {
  const mark = trackPosts().length;
  await withPage(() => openPage(), async (page, errors) => {
    const compose = await openCompose(page, { kind: 'popup', to: [ANN], subject: 'Still uploading' });
    await waitForStatuses(page, compose, { [ANN]: 'known' });
    // Gmail declines to send (an attachment still uploading, say): the click reaches the
    // extension's capture listener, but Gmail's handler does nothing and the window stays.
    await page.evaluate(({ el, selector }) => {
      el.querySelector(selector).addEventListener('click', (e) => e.preventDefault(), { once: true });
    }, { el: compose.root, selector: SEND_BUTTON });
    await clickSend(page, compose);
    assert.deepEqual(await sentDrafts(page), []);
    await assertNothingTracked(page, mark, compose.draftId);
    assert.equal(await page.evaluate((el) => el.isConnected, compose.root), true);
    assert.deepEqual(errors, []);
  });
});

test('an inline reply, sent: its message gets a tracked bar, and the server learns the legacy id', async () => {
  const mark = trackPosts().length;
  await withPage(() => openPage('#inbox/163d03bfda277ec1'), async (page, errors) => {
    const compose = await openCompose(page, { kind: 'inline', mode: 'replyAll', body: 'July works for us.' });
    await waitForStatuses(page, compose, { [ANN]: 'known', [BOB]: 'known' });
    await clickSend(page, compose);
    // The reply appears under its draft id (a bar at once), then Gmail resolves its legacy
    // id (~1 s). Being in the thread, it is tracked without waiting for the undo window.
    const bars = await waitForBars(page, (all) => all.some((b) => b.messageId === compose.draftId));
    assert.equal(bars.filter((b) => b.messageId === compose.draftId).length, 1);
    const entry = await assertTracked(compose.draftId, {
      contacts: [world.contacts.ann, world.contacts.bob], subject: 'Re: Proposal for Q3 rollout',
    }, { timeout: UNDO_S * 1000 });
    const record = await waitFor(async () => {
      const [r] = await page.evaluate(() => window.__gmailSim.sent());
      return r.legacyId ? r : null;
    }, { what: 'the legacy id of the sent reply' });
    // The slow finder (every 5 s) sees the new id at the latest.
    await waitForBars(page, (all) => all.some((b) => b.messageId === record.legacyId && b.tracked === 'true'), { timeout: 12_000 })
      .catch((e) => { throw new Error(`the sent reply's bar, under its legacy id ${record.legacyId}, never showed it tracked: ${e.message}`); });
    const byLegacy = await waitFor(async () => {
      const e = await trackedEntry(record.legacyId);
      return e?.id === entry.id ? e : null;
    }, { what: 'the legacy id added to the tracked entry' });
    assert.ok(byLegacy.message_ids.includes(compose.draftId));
    assert.equal((await readBars(page)).filter((b) => b.messageId === record.legacyId).length, 1, 'one bar on the sent reply');
    // The send (201), then the legacy id added to the same entry (200).
    await expectPosts(mark, [201, 200], 'the send, then the alias');
    assert.deepEqual(errors, []);
  });
});

test('no track POST comes late (behind one more sentinel)', async () => {
  const mark = trackPosts().length;
  await withPage(() => openPage(), async (page) => {
    await sentinelSend(page);
  });
  await expectPosts(mark, [201], 'the sentinel only');
});
