// Sign in with Google in Chromium against the local Google (crates/fake-providers' process):
// the sign-in page offers it beside the password; the owner, whose address is of a Google
// Workspace domain (so Google vouches for it), signs in with Google the first time without a
// password; Settings → Profile shows the linked account and unlinks it. axe-core on the pages.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';

import { axeViolations, newPage, setUpOwner, startWeb } from './lib.mjs';
import { freePort, startLocalGoogle } from './local-google.mjs';

const OWNER = 'owner@example.com';

let web;
let fake;
before(async () => {
  const port = await freePort();
  fake = await startLocalGoogle(port, { email: OWNER, workspaceDomains: ['example.com'] });
  web = await startWeb({ port, env: fake.env });
});
after(async () => {
  await web?.close();
  await fake?.stop();
});

test('the owner signs in with Google, sees the linked account and unlinks it', async () => {
  const page = await newPage(web.context);
  await setUpOwner(page, web.server, { email: OWNER });
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(/\/sign-in/);

  const google = page.getByRole('link', { name: 'Sign in with Google' });
  await assert.doesNotReject(google.waitFor());
  assert.deepEqual(await axeViolations(page), [], 'sign-in page with Google');
  // The keyboard reaches it after the password form.
  await google.focus();
  await page.keyboard.press('Enter');
  await page.waitForURL(`${web.server.url}/`);
  await assert.doesNotReject(page.getByRole('heading', { name: 'Home' }).waitFor());

  await page.goto(`${web.server.url}/settings`);
  const profile = page.locator('#google-account');
  assert.match(await profile.textContent(), /Google account linked:\s*owner@example\.com/);
  assert.deepEqual(await axeViolations(page), [], 'settings with a linked Google account');

  await profile.getByRole('button', { name: 'Unlink' }).click();
  await page.waitForURL(/done=google_unlinked/);
  assert.match(await page.getByRole('status').textContent(), /Google account is unlinked/);
  assert.match(await page.locator('#google-account').textContent(), /No Google account is linked/);
  assert.deepEqual(await axeViolations(page), [], 'settings without a Google account');
  assert.deepEqual(page.problems(), [], 'no CSP refusal or script error on any page');
  await page.close();
});
