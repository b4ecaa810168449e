// The extension signs in through the web app in Firefox ESR, as in Chromium
// (../tests/signin.test.mjs): the options page's "Sign in with Threadline" opens the
// server's page in Firefox's identity flow (identity.launchWebAuthFlow: a window of its own,
// the redirect to https://<id>.extensions.allizom.org/ caught by Firefox), the signed-in owner
// allows this browser, the options page says it is signed in, a lookup works with the new
// device token, and the web app's Settings lists the device as "Firefox on Linux".

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { startFirefoxWorld, run, runAsync, By } from './world.mjs';
import { waitFor } from '../lib/threadline.mjs';
import { PASSWORD } from '../web/lib.mjs';

let world;

before(async () => {
  world = await startFirefoxWorld();
});

after(async () => {
  await world?.close();
});

/** Types `text` into the field `id` of the current page, replacing what it holds. */
async function fill(driver, id, text) {
  const field = await driver.findElement(By.id(id));
  await field.clear();
  await field.sendKeys(text);
}

test('Sign in with Threadline in Firefox: allow in the identity window, then lookups work and Settings lists the device', async () => {
  const { driver, server } = world;

  // The owner sets a password in this Firefox: the identity window shares its cookies.
  await driver.get(server.setupUrl);
  await fill(driver, 'email', 'owner@example.com');
  await fill(driver, 'name', 'Olivia Owner');
  await fill(driver, 'password', PASSWORD);
  await driver.findElement(By.css('button[type=submit]')).click();
  await waitFor(async () => (await driver.getCurrentUrl()) === `${server.url}/`, { what: 'Home after the setup' });

  await world.openOptions();
  await fill(driver, 'serverUrl', server.url);
  const optionsWindow = await driver.getWindowHandle();
  const before = new Set(await driver.getAllWindowHandles());
  await driver.findElement(By.xpath("//button[normalize-space()='Sign in with Threadline']")).click();

  // Firefox opens the server's page in a window of its own.
  const flowWindow = await waitFor(async () => {
    const handles = await driver.getAllWindowHandles();
    return handles.find((h) => !before.has(h)) ?? null;
  }, { what: "the identity flow's window" });
  await driver.switchTo().window(flowWindow);
  const question = await waitFor(
    () => run(driver, () => document.querySelector('#connect-question')?.textContent ?? null),
    { what: 'the connect page' },
  ).catch(async (e) => {
    throw new Error(`${e.message}; the window shows ${await driver.getCurrentUrl()}: ${(await driver.getPageSource()).slice(0, 3000)}`);
  });
  assert.equal(question, 'Allow Firefox on Linux to use Threadline as Olivia Owner <owner@example.com>?');
  assert.match(await driver.getCurrentUrl(), /redirect_uri=https%3A%2F%2F[0-9a-f]+\.extensions\.allizom\.org%2F/);
  await driver.findElement(By.xpath("//button[normalize-space()='Allow']")).click();

  // Firefox catches the redirect, closes the window and hands the code to the options page.
  await waitFor(async () => !(await driver.getAllWindowHandles()).includes(flowWindow), { what: 'the flow window closed' });
  await driver.switchTo().window(optionsWindow);
  const said = await waitFor(
    () => run(driver, () => document.querySelector('.status.ok, .status.error')?.textContent || null),
    { timeout: 15_000, what: 'the sign-in result' },
  );
  assert.match(said, /^Signed in\. This browser shows as “Firefox on Linux”/);
  assert.equal(await driver.findElement(By.id('apiToken')).getAttribute('value'), '', 'no token to paste, none shown');
  const stored = await runAsync(driver, () => chrome.storage.local.get(['serverUrl', 'apiToken']));
  assert.equal(stored.serverUrl, server.url);
  assert.match(stored.apiToken, /^tl_[0-9a-f]{64}$/, 'a device token of its own');
  assert.notEqual(stored.apiToken, server.token);

  // The background uses the device token: a lookup answers.
  const looked = await runAsync(driver, () => chrome.runtime.sendMessage({ type: 'lookup', addresses: ['nobody@example.org'] }));
  assert.equal(looked.ok, true, JSON.stringify(looked));
  assert.equal(looked.data.results[0].status, 'unknown');

  // The web app lists the device.
  await driver.get(`${server.url}/settings`);
  const devices = await run(driver, () => [...document.querySelectorAll('#device-list tbody tr th')].map((th) => th.textContent));
  assert.deepEqual(devices, ['Firefox on Linux']);
});
