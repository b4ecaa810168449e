// The extension signs in through the web app, in Chromium with the unpacked extension and a
// real server: the options page's "Sign in with Threadline" opens the server's page in the
// browser's identity flow (chrome.identity.launchWebAuthFlow), the signed-in owner allows
// this browser, the options page says it is signed in, a lookup works with the new device
// token, Settings lists the device, and once it is revoked the options page says to sign in
// again.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';

import { launchWithExtension } from '../lib/browser.mjs';
import { EXTENSION_DIR } from '../lib/threadline.mjs';
import { startServer } from '../lib/threadline-server.mjs';
import { axeViolations, newPage, setUpOwner } from '../web/lib.mjs';

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launchWithExtension({ extensionDir: EXTENSION_DIR });
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('Sign in with Threadline: allow on the server page, then lookups work; a revoked device is told to sign in again', async () => {
  const { context, extensionId } = browser;
  const web = await newPage(context);
  await setUpOwner(web, server, { name: 'Olivia Owner' });

  const options = await context.newPage();
  await options.goto(`chrome-extension://${extensionId}/options.html`);
  await options.locator('#serverUrl').fill(server.url);
  const flow = context.waitForEvent('page', { predicate: (p) => p.url().includes('/connect/extension') });
  await options.getByRole('button', { name: 'Sign in with Threadline' }).click();
  const ask = await flow;
  await ask.waitForLoadState();
  assert.match(await ask.locator('#connect-question').textContent(), /^Allow Chrome on Linux to use Threadline as Olivia Owner <owner@example\.com>\?$/);
  assert.deepEqual(await axeViolations(ask), [], 'the connect page');
  await ask.getByRole('button', { name: 'Allow' }).click();

  const said = await options.locator('.status.ok, .status.error').textContent({ timeout: 15_000 });
  assert.match(said, /^Signed in\. This browser shows as “Chrome on Linux”/);
  assert.equal(await options.locator('#apiToken').inputValue(), '', 'no token to paste, none shown');

  // The worker uses the device token: a lookup answers.
  const looked = await options.evaluate(() => chrome.runtime.sendMessage({ type: 'lookup', addresses: ['nobody@example.org'] }));
  assert.equal(looked.ok, true, JSON.stringify(looked));
  assert.equal(looked.data.results[0].status, 'unknown');

  // Settings lists the device; revoking it makes the options page say to sign in again.
  await web.goto(`${server.url}/settings`);
  assert.deepEqual(await axeViolations(web), [], 'the settings page');
  const device = web.locator('#device-list tbody tr');
  assert.equal(await device.count(), 1);
  assert.match(await device.locator('th').textContent(), /^Chrome on Linux$/);
  await device.getByRole('button', { name: 'Revoke' }).click();
  await web.waitForURL(/done=revoked/);
  assert.equal(await web.locator('#device-list').count(), 0);

  // Pasting stays possible for scripts: a token made under API tokens, shown once, to copy.
  await web.getByLabel('Name', { exact: true }).fill('backup script');
  await web.getByRole('button', { name: 'Create token' }).click();
  assert.match(await web.locator('#new-token').inputValue(), /^tl_[0-9a-f]{64}$/);
  assert.equal(await web.locator('#new-token + button').textContent(), 'Copy');

  await options.reload();
  const again = await options.locator('.status.error').textContent({ timeout: 15_000 });
  assert.match(again, /Sign in again\.$/);
  assert.deepEqual(web.problems(), []);
});
