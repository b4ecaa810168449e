// The README's screenshots of the web app (not a test): a server on a temporary database,
// some records made over the API, each page at 1280 × 800 in Chromium.
//
//   cd tests/e2e && THREADLINE_SERVER_BIN=… node web/screenshots.mjs   # → docs/screenshots/

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { api } from '../lib/threadline-server.mjs';
import { newPage, setUpOwner, startWeb } from './lib.mjs';

const out = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../docs/screenshots');
fs.mkdirSync(out, { recursive: true });

const web = await startWeb();
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
  await page.goto(`${web.server.url}/integrations`);
  await page.screenshot({ path: path.join(out, '4-integrations.png') });
  await page.goto(`${web.server.url}/planning`);
  await page.screenshot({ path: path.join(out, '5-planning.png') });
  console.log(`screenshots in ${out}`);
} finally {
  await web.close();
}
