// The hostile corpus (lib/hostile-corpus.mjs, 200+ entries) through every page of the web
// app: as contact names, a company's name, tracked emails' subjects and senders, task titles
// and meeting titles, put in over the API as a client or an email would, then every page
// that shows them visited at 1280 px and on a phone. Nothing may run (the marker, a CSP
// refusal or a script error would show), no element may come from the data, and the layout
// holds (no page wider than the window).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';

import { HOSTILE_STRINGS, PWN_CHECK } from '../lib/hostile-corpus.mjs';
import { api } from '../lib/threadline-server.mjs';
import { newPage, setUpOwner, startWeb } from './lib.mjs';

let web;
let client;
const seeded = { contacts: [], emails: [], company: null, accepted: {} };

/** Posts `body(value)` for every hostile string; keeps the created ids; counts what the API accepted. */
async function seed(what, path, body) {
  const ids = [];
  let refused = null;
  for (const [n, value] of HOSTILE_STRINGS.entries()) {
    const answer = await client.post(path, body(value.slice(0, 200), n));
    if (answer.status === 201) ids.push(answer.body.tracked_email?.id ?? answer.body.id);
    else {
      refused ??= answer.body;
      // Refused by the API's text rule (422), or not even JSON (400: a lone surrogate).
      assert.ok([400, 422].includes(answer.status), `${what} ${JSON.stringify(value)}: ${answer.status} ${JSON.stringify(answer.body)}`);
    }
  }
  seeded.accepted[what] = ids.length;
  assert.ok(ids.length >= 100, `only ${ids.length} hostile ${what} were accepted; refused: ${JSON.stringify(refused)}`);
  return ids;
}

before(async () => {
  // The corpus goes in as fast as the API takes it: a seeding client, not a user.
  web = await startWeb({ env: { THREADLINE_RATE_LIMIT_PER_SECOND: '10000', THREADLINE_RATE_LIMIT_BURST: '10000' } });
  client = api(web.server.url, web.server.token);
  const company = await client.post('/companies', { name: HOSTILE_STRINGS[0].slice(0, 200), domains: ['hostile.example'] });
  assert.equal(company.status, 201, JSON.stringify(company.body));
  seeded.company = company.body.id;
  seeded.contacts = await seed('contacts', '/contacts', (value, n) => ({
    first_name: value,
    last_name: 'Hostile',
    emails: [`h${n}@hostile.example`],
    company: { kind: 'existing', id: seeded.company },
  }));
  seeded.emails = await seed('emails', '/tracked-emails', (value, n) => ({
    gmail_message_id: (0xa000000000000000n + BigInt(n)).toString(16),
    direction: 'incoming',
    from: { address: 'h0@hostile.example', name: value },
    to: [{ address: 'owner@example.com', name: value }],
    subject: value,
    sent_at: new Date(Date.UTC(2026, 11, 1, 8, 0, n)).toISOString(),
    contact_ids: [seeded.contacts[0]],
    visibility: 'shared',
  }));
  await seed('tasks', '/tasks', (value) => ({ title: value, due_date: '2026-12-24', contact_id: seeded.contacts[0] }));
  const monday = new Date();
  monday.setUTCDate(monday.getUTCDate() - ((monday.getUTCDay() + 6) % 7));
  await seed('meetings', '/meetings', (value, n) => {
    const start = new Date(Date.UTC(monday.getUTCFullYear(), monday.getUTCMonth(), monday.getUTCDate() + (n % 5), 8 + (n % 9)));
    return { title: value, start_at: start.toISOString(), end_at: new Date(start.getTime() + 30 * 60_000).toISOString(), time_zone: 'UTC' };
  });
});

after(async () => { await web?.close(); });

/** Every page that shows the corpus. */
function pages() {
  const [contact] = seeded.contacts;
  return [
    '/',
    '/contacts',
    `/contacts?q=${encodeURIComponent(HOSTILE_STRINGS[3].slice(0, 20))}`,
    '/contacts?sort=newest',
    `/contacts/${contact}`,
    `/contacts/${seeded.contacts[seeded.contacts.length - 1]}`,
    '/companies',
    `/companies/${seeded.company}`,
    `/emails/${seeded.emails[0]}`,
    `/emails/${seeded.emails[seeded.emails.length - 1]}`,
    '/tasks',
    '/tasks?whose=everyone',
    '/meetings',
    '/planning',
    '/planning?view=month',
  ];
}

for (const [label, viewport] of [['1280 px', { width: 1280, height: 900 }], ['a phone', { width: 390, height: 844 }]]) {
  test(`the hostile corpus on every page, at ${label}: nothing runs, nothing foreign, the layout holds`, async () => {
    const page = await newPage(web.context);
    await page.setViewportSize(viewport);
    if (label === '1280 px') await setUpOwner(page, web.server);
    for (const path of pages()) {
      const answer = await page.goto(`${web.server.url}${path}`);
      assert.equal(answer.status(), 200, path);
      const report = await page.evaluate(() => {
        const main = document.querySelector('main');
        return {
          // The app's own markup has no <img> in main but its icons, no frame but the
          // email's sandboxed body, no inline handlers and no javascript: links.
          foreign: [...main.querySelectorAll('img, script, object, embed, svg, math, style, link, meta, base, form[action^="javascript"], a[href^="javascript"]')]
            .map((el) => el.outerHTML.slice(0, 120)),
          handlers: [...main.querySelectorAll('*')].filter((el) => [...el.attributes].some((a) => a.name.startsWith('on'))).length,
          frames: [...main.querySelectorAll('iframe')].map((f) => f.getAttribute('sandbox')),
          overflow: document.documentElement.scrollWidth - window.innerWidth,
          // The corpus is there, as text.
          asText: /<script>window\.__pwned=1/i.test(main.textContent),
        };
      });
      assert.equal(await page.evaluate(PWN_CHECK), false, `${path}: a hostile value ran script`);
      assert.deepEqual(report.foreign, [], `${path}: elements from the data`);
      assert.equal(report.handlers, 0, `${path}: inline event handlers`);
      for (const sandbox of report.frames) assert.equal(sandbox, 'allow-popups allow-popups-to-escape-sandbox', `${path}: a frame`);
      if (!path.includes('?q=')) assert.ok(report.asText, `${path}: the hostile values are not on the page as text`);
      assert.ok(report.overflow <= 0, `${path}: the page is ${report.overflow}px wider than the window at ${label}`);
    }
    assert.deepEqual(page.problems(), [], 'no CSP refusal, no script error');
    await page.close();
  });
}
