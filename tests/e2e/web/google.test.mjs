// The path of the "done when", in Chromium against the local Google
// (crates/fake-providers): connect Google from the Integrations page (the consent flow bound
// to the web session), the first sync, "Sync now" with its progress polled by app.js, the
// busy times in the planning (a private one only "Busy", a hostile title inert), one made a
// meeting; axe-core on the pages.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';

import { PWN_CHECK } from '../lib/hostile-corpus.mjs';
import { axeViolations, newPage, setUpOwner, startWeb } from './lib.mjs';
import { freePort, googleEnv, startFake } from './fake-google.mjs';

let web;
let fake;
before(async () => {
  const port = await freePort();
  fake = await startFake(port);
  const base = fake.base;
  web = await startWeb({
    port,
    env: googleEnv(base),
  });
});
after(async () => {
  await web?.close();
  await fake?.stop();
});

/** Monday of this week, UTC (the planning's zone until the user chooses one). */
function thisMonday() {
  const now = new Date();
  const day = (now.getUTCDay() + 6) % 7;
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() - day));
}

async function addEvent(body) {
  const res = await fetch(`${fake.base}/calendar/v3/calendars/primary/events`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${fake.token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  assert.equal(res.status, 200, await res.text());
}

/** Reloads `page` until `text` is in `selector`, at most `ms`. */
async function until(page, selector, text, ms = 30_000) {
  const end = Date.now() + ms;
  for (;;) {
    const now = await page.locator(selector).first().textContent();
    if (now.includes(text)) return;
    if (Date.now() > end) throw new Error(`no ${JSON.stringify(text)} in ${selector}: ${now}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
    await page.reload();
  }
}

test('connect Google from Integrations, sync now, the busy times in the planning, one made a meeting', async () => {
  const monday = thisMonday();
  const at = (days, hour) => new Date(monday.getTime() + days * 86_400_000 + hour * 3_600_000).toISOString();
  const hostile = 'Dentist <img src=x onerror=alert(1)>';
  await addEvent({ summary: hostile, start: { dateTime: at(1, 14) }, end: { dateTime: at(1, 15) } });
  await addEvent({
    summary: 'Therapy', visibility: 'private', start: { dateTime: at(3, 10) }, end: { dateTime: at(3, 11) },
  });

  const page = await newPage(web.context);
  await setUpOwner(page, web.server);
  await page.getByRole('link', { name: 'Integrations' }).click();
  const card = page.locator('section[data-integration="google_calendar"]');
  assert.match(await card.textContent(), /Not connected/);
  assert.deepEqual(await axeViolations(page), [], 'integrations, not connected');

  // Connect: the start link, the (local) consent screen, the callback's page.
  await card.getByRole('button', { name: 'Connect Google' }).click();
  await page.waitForURL(/\/oauth\/google\/callback/);
  assert.match(await page.locator('body').textContent(), /onnected/);

  // The first run comes by itself; then Sync now, in the background, and the page reloads
  // with its result.
  await page.goto(`${web.server.url}/integrations`);
  await until(page, 'section[data-integration="google_calendar"] .runs', 'Done');
  assert.match(await card.textContent(), /Connected as me@example\.com/);
  assert.deepEqual(await axeViolations(page), [], 'integrations, connected');
  const runs = await card.locator('.runs tbody tr').count();
  await card.getByRole('button', { name: /Sync now/ }).click();
  await page.waitForFunction(
    (n) => document.querySelectorAll('section[data-integration="google_calendar"] .runs tbody tr').length > n,
    runs,
    { timeout: 30_000 },
  );
  assert.match(await card.locator('.runs tbody tr').first().textContent(), /Done/);

  // The planning: the grey busy times of this week.
  await page.getByRole('link', { name: 'Planning' }).click();
  const day = (offset) => page.locator(
    `section[aria-labelledby="d-${new Date(monday.getTime() + offset * 86_400_000).toISOString().slice(0, 10)}"]`,
  );
  const tuesday = day(1);
  assert.match(await tuesday.locator('li.busy').textContent(), /14:00–15:00[\s\S]*Dentist <img src=x onerror=alert\(1\)>/);
  assert.equal(await page.locator('.week img').count(), 0);
  assert.match(await day(3).locator('li.busy').textContent(), /10:00–11:00[\s\S]*Busy/);
  assert.doesNotMatch(await page.locator('main').textContent(), /Therapy/);
  assert.deepEqual(await axeViolations(page), [], 'planning with busy times');

  // One made a meeting: it stays on Tuesday, now a meeting.
  await tuesday.getByRole('button', { name: 'Make it a meeting' }).click();
  await page.waitForURL(/done=converted/);
  assert.match(await page.getByRole('status').textContent(), /meeting now/);
  assert.match(await day(1).locator('li.meeting').textContent(), /14:00–15:00[\s\S]*Dentist/);
  assert.equal(await day(1).locator('li.busy').count(), 0);
  assert.equal(await page.evaluate(PWN_CHECK), false, 'a hostile title ran script');
  assert.deepEqual(page.problems(), [], 'no CSP refusal or script error');
  await page.close();
});
