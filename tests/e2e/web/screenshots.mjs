// The README's screenshots of the web app (not a test): a server on a temporary database
// with the local Google (crates/fake-providers) as its Google, some records made over the
// API, a week of Google events (one a weekly series), each page at 1280 × 800 in Chromium.
//
//   cd tests/e2e && THREADLINE_SERVER_BIN=… THREADLINE_FAKE_PROVIDERS_BIN=… node web/screenshots.mjs
//   # → docs/screenshots/

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { api } from '../lib/threadline-server.mjs';
import { newPage, setUpOwner, startWeb } from './lib.mjs';
import { freePort, startLocalGoogle } from './local-google.mjs';

const out = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../docs/screenshots');
fs.mkdirSync(out, { recursive: true });

const port = await freePort();
const google = await startLocalGoogle(port, { calendars: ['Team'] });
const web = await startWeb({ port, env: google.env });
try {
  const client = api(web.server.url, web.server.token);
  const acme = await client.createContact({
    first_name: 'Ann', last_name: 'Lee', emails: ['ann@acme.example'],
    company: { kind: 'new', name: 'Acme Corporation', domain: 'acme.example' },
  });
  await client.createContact({
    first_name: 'Bob', last_name: 'Ray', emails: ['bob@acme.example'],
    company: { kind: 'existing', id: acme.body.company?.id },
  });
  const tracked = await client.post('/tracked-emails', {
    gmail_message_id: '18c2f0a1b2c3d4e5', direction: 'incoming', subject: 'Quote for the Q1 order',
    from: { address: 'ann@acme.example', name: 'Ann Lee' }, sent_at: '2026-12-04T09:30:00Z',
    body_text: 'Hi Olivia, here is the quote we discussed.', contact_ids: [acme.body.id],
  });
  if (tracked.status !== 201) throw new Error(JSON.stringify(tracked.body));
  for (const [title, due] of [['Send the signed quote to Acme', '2026-12-08'], ['Call Bob about the delivery date', '2026-12-10']]) {
    await client.post('/tasks', { title, due_date: due });
  }
  const page = await newPage(web.context);
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.goto(web.server.setupUrl);
  await page.locator('#name').fill('Olivia Owner');
  await page.screenshot({ path: path.join(out, '1-setup.png') });
  await setUpOwner(page, web.server);
  await page.screenshot({ path: path.join(out, '2-home.png') });
  await page.goto(`${web.server.url}/contacts`);
  await page.getByRole('link', { name: /Ann Lee/ }).first().click();
  await page.waitForLoadState('load');
  await page.screenshot({ path: path.join(out, '3-contact.png') });
  // This week's Google events: a weekly stand-up (a series), a dentist, a private one.
  const now = new Date();
  const monday = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() - ((now.getUTCDay() + 6) % 7));
  const at = (days, hour) => new Date(monday + days * 86_400_000 + hour * 3_600_000).toISOString();
  await google.addEvent({
    summary: 'Stand-up', start: { dateTime: at(0, 9), timeZone: 'UTC' }, end: { dateTime: at(0, 9.25), timeZone: 'UTC' },
    recurrence: ['RRULE:FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR'],
  });
  await google.addEvent({ summary: 'Dentist', start: { dateTime: at(1, 14) }, end: { dateTime: at(1, 15) } });
  await google.addEvent({ summary: 'Therapy', visibility: 'private', start: { dateTime: at(3, 16) }, end: { dateTime: at(3, 17) } });
  await google.addEvent({ summary: 'Team lunch', start: { dateTime: at(2, 12) }, end: { dateTime: at(2, 13) } }, google.calendars.Team);
  const meeting = await client.post('/meetings', {
    title: 'Acme: Q1 order review', start_at: at(2, 10), end_at: at(2, 11), time_zone: 'UTC',
  });
  if (meeting.status !== 201) throw new Error(JSON.stringify(meeting.body));
  await page.goto(`${web.server.url}/integrations`);
  await page.locator('section[data-integration="google_calendar"]').getByRole('button', { name: /Connect Google/ }).click();
  await page.waitForURL(/\/oauth\/google\/callback/);
  await page.goto(`${web.server.url}/integrations`);
  for (let i = 0; i < 60 && !/Done/.test(await page.locator('section[data-integration="google_calendar"] .runs').first().textContent().catch(() => '')); i++) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    await page.reload();
  }
  await page.screenshot({ path: path.join(out, '4-integrations.png') });
  await page.goto(`${web.server.url}/planning`);
  await page.screenshot({ path: path.join(out, '5-planning.png') });
  console.log(`screenshots in ${out}`);
} finally {
  await web.close();
  await google.stop();
}
