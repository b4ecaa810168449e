// The Integrations and Planning pages in a real browser with their CSP on: empty states that
// say what to do, the week / day / month of the planning with meetings made over the API
// (hostile titles inert), keyboard-reachable navigation, axe-core at 1280 px and on a phone.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';

import { HOSTILE_STRINGS, PWN_CHECK } from '../lib/hostile-corpus.mjs';
import { api } from '../lib/threadline-server.mjs';
import { axeViolations, newPage, setUpOwner, startWeb } from './lib.mjs';

let web;
before(async () => { web = await startWeb(); });
after(async () => { await web?.close(); });

/** Monday of this week (UTC: the planning's zone until the user chooses one). */
function thisMonday() {
  const now = new Date();
  const day = (now.getUTCDay() + 6) % 7;
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() - day));
}

test('integrations and planning: empty states, meetings on their days, hostile titles inert, axe', async () => {
  const page = await newPage(web.context);
  await setUpOwner(page, web.server);

  // No Google client on this server: the Integrations page says what to do.
  await page.getByRole('link', { name: 'Integrations' }).click();
  await page.getByRole('heading', { name: 'Integrations', level: 1 }).waitFor();
  assert.match(await page.locator('main').textContent(), /runs no integrations yet/);
  assert.deepEqual(await axeViolations(page), [], 'integrations');

  // Meetings over the API: one on Tuesday 09:00–10:00 UTC, hostile titles on Wednesday.
  const client = api(web.server.url, web.server.token);
  const monday = thisMonday();
  const at = (days, hour) => new Date(monday.getTime() + days * 86_400_000 + hour * 3_600_000).toISOString();
  const made = await client.post('/meetings', {
    title: 'Kick-off', start_at: at(1, 9), end_at: at(1, 10), time_zone: 'UTC',
  });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  let accepted = 0;
  for (const title of HOSTILE_STRINGS.slice(0, 60)) {
    const answer = await client.post('/meetings', {
      title: title.slice(0, 200), start_at: at(2, 11), end_at: at(2, 12), time_zone: 'UTC',
    });
    if (answer.status === 201) accepted += 1;
  }
  assert.ok(accepted >= 10, `only ${accepted} hostile titles were accepted`);

  await page.getByRole('link', { name: 'Planning' }).click();
  await page.getByRole('heading', { name: 'Planning', level: 1 }).waitFor();
  const tuesday = monday.getTime() + 86_400_000;
  const tuesdayId = new Date(tuesday).toISOString().slice(0, 10);
  const day = page.locator(`section[aria-labelledby="d-${tuesdayId}"]`);
  assert.match(await day.textContent(), /09:00–10:00[\s\S]*Kick-off/);
  assert.equal(await page.evaluate(PWN_CHECK), false, 'a hostile title ran script');
  assert.equal(await page.locator('.week img, .week script, .week iframe').count(), 0);
  assert.match(await page.locator('main').textContent(), /No calendar is connected/);
  assert.deepEqual(await axeViolations(page), [], 'planning, week');

  // The keyboard reaches the next week and back.
  await page.getByRole('link', { name: /Next/ }).focus();
  await page.keyboard.press('Enter');
  await page.waitForURL(/view=week&week=/);
  assert.doesNotMatch(await page.locator('.week').textContent(), /Kick-off/);
  await page.getByRole('link', { name: 'Today' }).click();
  await page.getByRole('link', { name: 'Month', exact: true }).click();
  await page.waitForURL(/view=month/);
  assert.match(await page.locator('.week').textContent(), /Kick-off/);
  assert.deepEqual(await axeViolations(page), [], 'planning, month');
  await page.getByRole('link', { name: 'Day', exact: true }).click();
  await page.waitForURL(/view=day/);
  assert.deepEqual(await axeViolations(page), [], 'planning, day');

  // On a phone: one list per day, nothing wider than the screen.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${web.server.url}/planning`);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the planning is ${overflow}px wider than the screen`);
  assert.deepEqual(await axeViolations(page), [], 'planning on a phone');
  await page.goto(`${web.server.url}/integrations`);
  assert.deepEqual(await axeViolations(page), [], 'integrations on a phone');
  assert.deepEqual(page.problems(), [], 'no CSP refusal or script error');
  await page.close();
});
