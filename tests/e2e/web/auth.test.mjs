// Signing in to the web app in a real browser: the first start's setup link, sign out and
// in, a wrong password, the three languages, phone width, and axe-core on every page.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';

import { HOSTILE_STRINGS, PWN_CHECK } from '../lib/hostile-corpus.mjs';
import { api } from '../lib/threadline-server.mjs';
import { axeViolations, newPage, PASSWORD, setUpOwner, startWeb } from './lib.mjs';

let web;
before(async () => { web = await startWeb(); });
after(async () => { await web?.close(); });

test('the owner sets up with the printed link, signs out and in again; every page passes axe', async () => {
  const page = await newPage(web.context);
  await page.goto(web.server.setupUrl);
  assert.deepEqual(await axeViolations(page), [], 'setup page');
  await setUpOwner(page, web.server, { name: 'Olivia Owner' });
  await assert.doesNotReject(page.getByRole('heading', { name: 'Home' }).waitFor());
  assert.match(await page.locator('.who-name').textContent(), /Olivia Owner/);
  assert.deepEqual(await axeViolations(page), [], 'home');

  // The link worked once.
  const again = await page.goto(web.server.setupUrl);
  assert.equal(again.status(), 410);
  assert.deepEqual(await axeViolations(page), [], 'used link page');

  await page.goto(`${web.server.url}/`);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(/\/sign-in\?signed_out=1$/);
  assert.match(await page.getByRole('status').textContent(), /signed out/);
  assert.deepEqual(await axeViolations(page), [], 'sign-in page');

  // A wrong password: said, the address kept, focus can go straight back to the password.
  await page.getByLabel('Email address').fill('owner@example.com');
  await page.getByLabel('Password').fill('not the password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  assert.match(await page.getByRole('alert').textContent(), /do not match/);
  assert.equal(await page.getByLabel('Email address').inputValue(), 'owner@example.com');
  assert.deepEqual(await axeViolations(page), [], 'sign-in page with its error');

  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByLabel('Password').press('Enter');
  await page.waitForURL(`${web.server.url}/`);
  assert.deepEqual(page.problems(), [], 'no CSP refusal or script error on any page');
  await page.close();
});

test('a page asked while signed out comes back after signing in', async () => {
  await web.context.clearCookies();
  const page = await newPage(web.context);
  await page.goto(`${web.server.url}/?from=mail`);
  await page.waitForURL(/\/sign-in\?next=/);
  await page.getByLabel('Email address').fill('owner@example.com');
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${web.server.url}/?from=mail`);
  await page.close();
});

for (const [language, signIn, htmlLang] of [['nl-NL,nl;q=0.9', 'Aanmelden', 'nl'], ['de-DE,de;q=0.9', 'Anmelden', 'de']]) {
  test(`the sign-in page in ${htmlLang}, and axe`, async () => {
    await web.context.clearCookies();
    const page = await newPage(web.context, { language });
    await page.goto(`${web.server.url}/sign-in`);
    assert.equal(await page.locator('html').getAttribute('lang'), htmlLang);
    await assert.doesNotReject(page.getByRole('button', { name: signIn }).waitFor());
    assert.deepEqual(await axeViolations(page), []);
    await page.close();
  });
}

test('at phone width nothing scrolls sideways', async () => {
  const page = await newPage(web.context);
  await page.setViewportSize({ width: 360, height: 740 });
  await page.goto(`${web.server.url}/sign-in`);
  await page.getByLabel('Email address').fill('owner@example.com');
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${web.server.url}/`);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page is ${overflow}px wider than the screen`);
  await page.close();
});

test('the hostile corpus as task titles is inert on Home and the layout holds', async () => {
  const client = api(web.server.url, web.server.token);
  let accepted = 0;
  for (const title of HOSTILE_STRINGS) {
    const answer = await client.post('/tasks', { title: title.slice(0, 200) });
    if (answer.status === 201) accepted += 1;
    // Refused by the API's text rule (422), or not even JSON (400: a lone surrogate).
    else assert.ok([400, 422].includes(answer.status), `${JSON.stringify(title)}: ${JSON.stringify(answer.body)}`);
  }
  assert.ok(accepted >= 20, `only ${accepted} hostile titles were accepted`);
  const page = await newPage(web.context);
  await page.goto(`${web.server.url}/sign-in`);
  await page.getByLabel('Email address').fill('owner@example.com');
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${web.server.url}/`);
  const shown = await page.locator('#open-tasks > li').count();
  assert.ok(shown >= Math.min(accepted, 20), `Home shows ${shown} tasks`);
  assert.equal(await page.evaluate(PWN_CHECK), false, 'a hostile title ran script');
  assert.equal(await page.locator('#open-tasks img, #open-tasks script, #open-tasks iframe').count(), 0);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page is ${overflow}px wider than the window`);
  assert.deepEqual(page.problems(), []);
  await page.close();
});
