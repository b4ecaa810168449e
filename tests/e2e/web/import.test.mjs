// Importing contacts in a real browser: choose a file, see the check, start, watch it
// finish (app.js refreshes the progress), download the rejected rows; axe on each page.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { axeViolations, newPage, setUpOwner, startWeb } from './lib.mjs';

let web;
let dir;
before(async () => {
  web = await startWeb();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'threadline-import-'));
});
after(async () => {
  await web?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test('a CSV is checked, imported with visible progress, and its rejected rows downloaded', async () => {
  const rows = ['first_name,last_name,email,company,Notes about <b>them</b>'];
  for (let i = 0; i < 3000; i += 1) rows.push(`Person,${i},person${i}@example.org,Firm ${i % 40},x`);
  rows.push('Broken,Row,not-an-address,Firm 1,x');
  const file = path.join(dir, 'people.csv');
  fs.writeFileSync(file, rows.join('\n') + '\n');

  const page = await newPage(web.context);
  await setUpOwner(page, web.server);
  await page.goto(`${web.server.url}/import`);
  assert.deepEqual(await axeViolations(page), [], 'the import page');
  await page.getByLabel('CSV file').setInputFiles(file);
  await page.getByRole('button', { name: 'Check the file' }).click();
  await page.waitForURL(/\/import\/[0-9a-f-]+$/);
  assert.match(await page.locator('#import-job').textContent(), /3000 contacts would be created/);
  assert.match(await page.locator('#import-job').textContent(), /1 row rejected/);
  assert.match(await page.locator('main').textContent(), /Notes about <b>them<\/b>/, 'the header is shown as text');
  assert.deepEqual(await axeViolations(page), [], 'the preview');

  await page.getByRole('button', { name: 'Import 3000 contacts' }).click();
  // The page refreshes its progress part by itself until the import is done.
  await page.locator('#import-job h2', { hasText: 'Imported' }).waitFor({ timeout: 60_000 });
  assert.match(await page.locator('#import-job').textContent(), /3000 contacts created/);
  assert.equal(await page.locator('#import-job progress').getAttribute('value'), '100');
  assert.deepEqual(await axeViolations(page), [], 'the result');

  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('link', { name: /rejected rows/ }).click(),
  ]);
  assert.equal(download.suggestedFilename(), 'people-rejected.csv');
  const saved = path.join(dir, 'rejected.csv');
  await download.saveAs(saved);
  assert.match(fs.readFileSync(saved, 'utf8'), /^row,reason,first_name.*\n.*not-an-address/s);

  const contacts = await (await fetch(`${web.server.url}/api/v1/contacts?limit=1`, {
    headers: { Authorization: `Bearer ${web.server.token}` },
  })).json();
  assert.equal(contacts.items.length, 1);
  assert.deepEqual(page.problems(), []);
  await page.close();
});
