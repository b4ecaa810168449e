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
// a sentinel compose *after* its scenario and waits until the server has it. The background
// delivers scheduled sends in order of their due time, so anything the scenario had wrongly
// scheduled would be on the server by then.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';

import { startWorld, configure, readBars, waitFor } from '../lib/threadline.mjs';
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
const SEND_BUTTON = '.IZ .Up div > div[role=button]:not(.Uo):not([aria-haspopup=true])';

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
  world = await startWorld();
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
  return page.evaluate((root) => [...root.querySelectorAll('[data-threadline="compose-bar"]')].map((host) => {
    const shadow = host.shadowRoot;
    const toggle = shadow.querySelector('input[data-tl=track-on-send]');
    return {
      kind: host.getAttribute('data-compose-kind'),
      composeId: host.getAttribute('data-compose-id'),
      state: shadow.querySelector('[data-tl=bar]').getAttribute('data-state'),
      trackOnSend: toggle ? toggle.checked : null,
      status: shadow.querySelector('[data-tl=status]').textContent,
      parties: [...shadow.querySelectorAll('[data-tl-party]')].map((li) => ({
        address: li.getAttribute('data-address'),
        status: li.getAttribute('data-status'),
        picks: [...li.querySelectorAll('input[data-tl=pick]')].map((i) => ({ id: i.getAttribute('data-contact-id'), checked: i.checked })),
      })),
    };
  }), root);
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

/** `{ address: status }` of a bar's parties. */
const statuses = (bar) => Object.fromEntries(bar.parties.map((p) => [p.address, p.status]));

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

/** Rows of the server's idempotency record: every keyed POST /tracked-emails it answered. */
function trackPostsFor(trackedEmailId) {
  const db = path.join(world.server.dataDir, 'threadline.db');
  const out = execFileSync('sqlite3', ['-readonly', '-json', db,
    `SELECT idem_key AS key, status FROM idempotency_keys WHERE method_path LIKE '%tracked-emails' AND response_body LIKE '%${trackedEmailId}%' ORDER BY created_at`,
  ], { encoding: 'utf8' });
  return out.trim() ? JSON.parse(out) : [];
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
