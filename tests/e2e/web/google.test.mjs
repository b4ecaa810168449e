// The path of the "done when", in Chromium against the local Google
// (crates/fake-providers): connect Google from the Integrations page (the consent flow bound
// to the web session), the first sync, "Sync now" with its progress polled by app.js, the
// busy times in the planning (a private one only "Busy", a hostile title inert), one made a
// meeting; axe-core on the pages.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';

import { PWN_CHECK } from '../lib/hostile-corpus.mjs';
import { axeViolations, newPage, setUpOwner, startWeb } from './lib.mjs';
import { freePort, startLocalGoogle } from './local-google.mjs';

const TEAM = 'Team <img src=x onerror=alert(2)>';

let web;
let fake;
before(async () => {
  const port = await freePort();
  fake = await startLocalGoogle(port, { calendars: [TEAM] });
  web = await startWeb({ port, env: fake.env });
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

async function addEvent(body, calendar) {
  await fake.addEvent(body, calendar);
}

/** Sync now on the Google Calendar `card`, until its run is in the history. */
async function syncNow(page, card) {
  const runs = await card.locator('.runs tbody tr').count();
  await card.getByRole('button', { name: /Sync now/ }).click();
  await page.waitForFunction(
    (n) => document.querySelectorAll('section[data-integration="google_calendar"] .runs tbody tr').length > n,
    runs,
    { timeout: 30_000 },
  );
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
  await syncNow(page, card);
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

test('choose calendars, a weekly series at its occurrences, one occurrence made a meeting', async () => {
  // Signed in and connected by the test above (the same browser context).
  const monday = thisMonday();
  const at = (days, hour) => new Date(monday.getTime() + days * 86_400_000 + hour * 3_600_000).toISOString();
  const date = (days) => new Date(monday.getTime() + days * 86_400_000).toISOString().slice(0, 10);
  // Mondays, Wednesdays and Fridays at 09:00 UTC, six times (this week and next).
  await addEvent({
    summary: 'Stand-up', start: { dateTime: at(0, 9), timeZone: 'UTC' }, end: { dateTime: at(0, 9.5), timeZone: 'UTC' },
    recurrence: ['RRULE:FREQ=WEEKLY;BYDAY=MO,WE,FR;COUNT=6'],
  });
  await addEvent(
    { summary: 'Team lunch', start: { dateTime: at(3, 12) }, end: { dateTime: at(3, 13) } },
    fake.calendars[TEAM],
  );

  // Integrations → Choose calendars: the primary first and imported; the team calendar not.
  const page = await newPage(web.context);
  await page.goto(`${web.server.url}/integrations`);
  const card = page.locator('section[data-integration="google_calendar"]');
  await card.getByRole('link', { name: 'Choose calendars' }).click();
  await page.waitForURL(/\/choices\/google_calendar$/);
  const imported = page.getByRole('group', { name: 'Shown as busy blocks' });
  const boxes = imported.getByRole('checkbox');
  assert.equal(await boxes.count(), 2);
  assert.equal(await boxes.nth(0).isChecked(), true, 'the primary, imported since the first run');
  const team = imported.getByRole('checkbox', { name: /^Team <img/ });
  assert.equal(await team.isChecked(), false);
  assert.match(await imported.textContent(), /colour: teal; primary/);
  assert.equal(await page.locator('main img').count(), 0, 'a hostile calendar name is text');
  const exportTo = page.getByRole('group', { name: 'CRM meetings go to' });
  assert.equal(await exportTo.getByRole('radio').count(), 3, 'two calendars and "nowhere"');
  assert.equal(await exportTo.getByRole('radio').first().isChecked(), true);
  assert.deepEqual(await axeViolations(page), [], 'choose calendars');
  await team.check();
  await page.getByRole('button', { name: 'Save choices' }).click();
  await page.waitForURL(/done=chosen/);
  assert.match(await page.getByRole('status').textContent(), /Saved/);

  // Sync now brings the team calendar's event and the series.
  await syncNow(page, card);

  // The planning: the series on Monday, Wednesday and Friday, grey, each marked as
  // repeating; the team lunch on Thursday.
  await page.goto(`${web.server.url}/planning?week=${date(0)}`);
  const day = (offset) => page.locator(`section[aria-labelledby="d-${date(offset)}"]`);
  for (const offset of [0, 2, 4]) {
    const standup = day(offset).locator('li.busy', { hasText: 'Stand-up' });
    assert.match(await standup.textContent(), /09:00–09:30[\s\S]*Stand-up[\s\S]*↻ repeating/, date(offset));
  }
  for (const offset of [1, 3, 5, 6]) {
    assert.equal(await day(offset).locator('li', { hasText: 'Stand-up' }).count(), 0, date(offset));
  }
  assert.match(await day(3).locator('li.busy', { hasText: 'Team lunch' }).textContent(), /12:00–13:00/);
  assert.deepEqual(await axeViolations(page), [], 'planning with a series');

  // Wednesday's occurrence made a meeting: a meeting on Wednesday, Monday's and Friday's stay.
  await day(2).locator('li.busy', { hasText: 'Stand-up' }).getByRole('button', { name: 'Make it a meeting' }).click();
  await page.waitForURL(/done=converted/);
  assert.match(await day(2).locator('li.meeting').textContent(), /09:00–09:30[\s\S]*Stand-up/);
  assert.equal(await day(2).locator('li.busy', { hasText: 'Stand-up' }).count(), 0);
  for (const offset of [0, 4]) {
    assert.equal(await day(offset).locator('li.busy', { hasText: 'Stand-up' }).count(), 1, date(offset));
  }
  // Next week still has its three.
  await page.getByRole('link', { name: /Next/ }).click();
  assert.equal(await page.locator('li.busy', { hasText: 'Stand-up' }).count(), 3);
  assert.equal(await page.evaluate(PWN_CHECK), false, 'a hostile name ran script');
  assert.deepEqual(page.problems(), [], 'no CSP refusal or script error');
  await page.close();
});
