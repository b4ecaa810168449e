// Firefox runs the background as an event page, which it suspends when idle
// (extensions.background.idle.timeout, 30 s by default; Chrome's service worker likewise).
// Track on send is due after the undo window: a background suspended meanwhile loses its
// in-memory timer, so the delivery must come from what is stored. Here the idle timeout is
// 1 s, so the page is suspended well before the send is due; the email still reaches the
// server, once, through the stored queue (the content script asks the background to flush
// every 30 s, which wakes it).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { startFirefoxWorld, run } from './world.mjs';
import { waitFor } from '../lib/threadline.mjs';

const UNDO_S = 5;
/** Up to two of the content script's flush intervals (src/watch.rs FLUSH_MS): one may fall just before the send is due. */
const FLUSH_WAIT_MS = 30_000 + 30_000;
const ANN = 'ann.lee@acme.example';

let world;

before(async () => {
  world = await startFirefoxWorld({
    serverEnv: { RUST_LOG: 'info' },
    prefs: { 'extensions.background.idle.timeout': 1_000 },
  });
  await world.configure({
    serverUrl: world.server.url, apiToken: world.server.token, sendUndoSeconds: UNDO_S, trackOnSendDefault: true,
  });
});

after(async () => {
  await world?.close();
});

/** Statuses of the POST /api/v1/tracked-emails the server answered (its request log). */
const trackPosts = () => [...world.server.log().matchAll(/request\{method=POST path=\/api\/v1\/tracked-emails\}[^\n]*status=(\d+)/g)]
  .map((m) => Number(m[1]));

test('a send is tracked, once, though the event page was suspended before it was due', async () => {
  await world.open('#inbox');
  await run(world.driver, (ms) => { window.__gmailSim.config.undoWindow = ms; }, UNDO_S * 1000);
  const { root, draftId } = await world.openCompose({ kind: 'popup', to: [ANN], subject: 'After a nap' });
  await world.send(root);
  // From a second tab, the extension's own views: Firefox's page for background.scripts goes
  // away when the event page is suspended. That happens before the send is due.
  const { driver } = world;
  const gmail = await driver.getWindowHandle();
  await driver.switchTo().newWindow('tab');
  await driver.get(world.optionsUrl);
  await waitFor(() => run(driver, () => !chrome.extension.getViews()
    .some((view) => view.location.pathname === '/_generated_background_page.html')), { timeout: 15_000, what: 'the event page suspended' });
  assert.equal(await world.trackedEntry(draftId), null, 'suspended before the send was due');
  await driver.close();
  await driver.switchTo().window(gmail);
  const entry = await waitFor(() => world.trackedEntry(draftId), { timeout: UNDO_S * 1000 + FLUSH_WAIT_MS, interval: 250, what: 'tracked on send' });
  assert.equal(entry.subject, 'After a nap');
  assert.ok(entry.message_ids.includes(draftId));
  assert.deepEqual(entry.links.filter((l) => l.record_kind === 'contact').map((l) => l.record_id), [world.contacts.ann.id]);
  assert.deepEqual(trackPosts(), [201]);
});
