// A record's documents panel in a real browser: a 50 MB file chosen and uploaded with its
// progress bar, a file over 50 MB refused before anything is sent, a file dropped onto the
// panel; the 50 MB file downloaded and compared byte for byte (size and SHA-256); rename,
// move to the trash and restore; axe-core on the panel and the trash.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { api } from '../lib/threadline-server.mjs';
import { axeViolations, newPage, setUpOwner, startWeb } from './lib.mjs';

const LIMIT = 50 * 1024 * 1024;

let web;
let dir;
before(async () => {
  web = await startWeb();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'threadline-documents-'));
});
after(async () => {
  await web?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/** A file of `size` bytes of random content in the temporary folder: its path and SHA-256. */
function makeFile(name, size) {
  const file = path.join(dir, name);
  const hash = crypto.createHash('sha256');
  const fd = fs.openSync(file, 'w');
  const chunk = 4 * 1024 * 1024;
  for (let written = 0; written < size; written += chunk) {
    const part = crypto.randomBytes(Math.min(chunk, size - written));
    hash.update(part);
    fs.writeSync(fd, part);
  }
  fs.closeSync(fd);
  return { file, sha256: hash.digest('hex') };
}

test('a 50 MB file is uploaded with progress and downloaded intact; rename, trash and restore', async () => {
  const page = await newPage(web.context);
  await setUpOwner(page, web.server);
  const client = api(web.server.url, web.server.token);
  const company = await client.post('/companies', { name: 'Acme Trading' });
  assert.equal(company.status, 201, JSON.stringify(company.body));

  await page.goto(`${web.server.url}/companies/${company.body.id}`);
  await page.getByRole('link', { name: 'Documents', exact: true }).click();
  await page.waitForURL(`${web.server.url}/companies/${company.body.id}/documents`);
  assert.match(await page.locator('#docs-empty').textContent(), /upload files or make a folder/);
  assert.match(await page.locator('#docs-limit').textContent(), /Up to 50 MB per file/);
  assert.deepEqual(await axeViolations(page), [], 'the empty panel');

  const big = makeFile('big.dat', LIMIT);
  const over = makeFile('over.dat', LIMIT + 1);
  const posts = [];
  page.on('request', (r) => { if (r.method() === 'POST') posts.push(r.url()); });
  await page.getByLabel('Files to upload').setInputFiles([over.file, big.file]);
  await page.getByRole('button', { name: 'Upload', exact: true }).click();
  const uploads = page.locator('#docs-uploads li');
  // The file over the limit is refused at once, with the reason, and never sent.
  await uploads.filter({ hasText: 'over.dat' }).locator('.upload-failed').waitFor();
  assert.match(await uploads.filter({ hasText: 'over.dat' }).textContent(), /larger than 50 MB/);
  // The 50 MB one shows its progress bar, full once it is stored.
  const bar = uploads.filter({ hasText: 'big.dat' }).locator('progress');
  await bar.waitFor();
  await uploads.filter({ hasText: 'big.dat' }).getByText('Uploaded').waitFor({ timeout: 60_000 });
  assert.equal(await bar.evaluate((b) => b.value === b.max && b.max >= 50 * 1024 * 1024), true);
  assert.equal(posts.length, 1, 'one request: the file over the limit was not sent');
  // The list refreshed in place.
  const row = page.locator('#docs tbody tr', { hasText: 'big.dat' });
  await row.waitFor();
  assert.match(await row.textContent(), /52\.4 MB/);
  assert.equal(await page.locator('#docs tbody tr', { hasText: 'over.dat' }).count(), 0);

  // Downloaded: the same bytes, under its name.
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    row.getByRole('link', { name: 'big.dat' }).click(),
  ]);
  assert.equal(download.suggestedFilename(), 'big.dat');
  const saved = path.join(dir, 'downloaded.dat');
  await download.saveAs(saved);
  assert.equal(fs.statSync(saved).size, LIMIT);
  assert.equal(crypto.createHash('sha256').update(fs.readFileSync(saved)).digest('hex'), big.sha256);
  fs.rmSync(saved);

  // A file dropped onto the panel is uploaded too.
  await page.evaluate(() => {
    const data = new DataTransfer();
    data.items.add(new File(['dropped here'], 'dropped.txt', { type: 'text/plain' }));
    const docs = document.querySelector('.docs');
    docs.dispatchEvent(new DragEvent('dragover', { dataTransfer: data, bubbles: true, cancelable: true }));
    docs.dispatchEvent(new DragEvent('drop', { dataTransfer: data, bubbles: true, cancelable: true }));
  });
  await page.locator('#docs tbody tr', { hasText: 'dropped.txt' }).waitFor();
  assert.deepEqual(await axeViolations(page), [], 'the panel with files');

  // Rename.
  await row.locator('summary').click();
  await row.getByLabel('New name').fill('Offer 2026.dat');
  await row.getByRole('button', { name: 'Rename', exact: true }).click();
  await page.waitForURL(/\?done=renamed$/);
  assert.match(await page.getByRole('status').textContent(), /Renamed/);
  const renamed = page.locator('#docs tbody tr', { hasText: 'Offer 2026.dat' });
  await renamed.waitFor();

  // To the trash, then restored from it.
  await renamed.locator('summary').click();
  await renamed.getByRole('button', { name: 'Move to the trash' }).click();
  await page.waitForURL(/\?done=trashed$/);
  assert.equal(await page.locator('#docs tbody tr', { hasText: 'Offer 2026.dat' }).count(), 0);
  await page.getByRole('link', { name: 'Trash', exact: true }).click();
  await page.waitForURL(/\/documents\/trash$/);
  assert.deepEqual(await axeViolations(page), [], 'the trash');
  await page.getByRole('button', { name: 'Restore Offer 2026.dat' }).click();
  await page.waitForURL(/\?done=restored$/);
  assert.match(await page.getByRole('status').textContent(), /Restored where it was/);
  await page.locator('#docs tbody tr', { hasText: 'Offer 2026.dat' }).waitFor();
  assert.deepEqual(page.problems(), [], 'no CSP refusal or script error');
  await page.close();
});
