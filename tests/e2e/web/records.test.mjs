// The record pages in a real browser: a company created, found, edited (and a stale edit
// shown), deleted with its confirmation; the hostile corpus as company names, inert on the
// list and a page; axe-core on the list, the new form and a record's page.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';

import { HOSTILE_STRINGS, PWN_CHECK } from '../lib/hostile-corpus.mjs';
import { api } from '../lib/threadline-server.mjs';
import { axeViolations, newPage, setUpOwner, startWeb } from './lib.mjs';

let web;
let page;
before(async () => {
  web = await startWeb();
  page = await newPage(web.context);
  await setUpOwner(page, web.server);
});
after(async () => { await web?.close(); });

test('a company is created, found, edited, and deleted after a confirmation; every page passes axe', async () => {
  await page.getByRole('link', { name: 'Companies' }).click();
  await page.waitForURL(`${web.server.url}/companies`);
  assert.match(await page.locator('#empty').textContent(), /New company/);
  assert.deepEqual(await axeViolations(page), [], 'the empty list');

  await page.getByRole('link', { name: 'New company' }).click();
  assert.deepEqual(await axeViolations(page), [], 'the new form');
  await page.getByLabel('Name').fill('Acme Trading');
  await page.getByLabel('Domains').fill('acme.example');
  await page.getByRole('button', { name: 'Create' }).click();
  await page.waitForURL(/\/companies\/[0-9a-f-]+\?done=created$/);
  assert.match(await page.getByRole('status').textContent(), /Created/);
  assert.deepEqual(await axeViolations(page), [], 'a company page');

  // A refused value: said at its field, which names the message.
  await page.locator('#f-website').fill('ftp://not a site');
  await page.getByRole('button', { name: 'Save' }).click();
  assert.equal(await page.locator('#f-website').getAttribute('aria-invalid'), 'true');
  assert.match(await page.locator('#f-website').getAttribute('aria-describedby'), /f-website-error/);
  assert.deepEqual(await axeViolations(page), [], 'a refused edit');

  // Someone else saves meanwhile: my save is not written, both versions are shown.
  const url = page.url().split('?')[0];
  await page.goto(url);
  const id = url.split('/').pop();
  const client = api(web.server.url, web.server.token);
  const current = await client.get(`/companies/${id}`);
  const theirs = await client.patch(`/companies/${id}`, { name: 'Acme Renamed' }, { headers: { 'If-Match': current.headers.get('etag') } });
  assert.equal(theirs.status, 200, JSON.stringify(theirs.body));
  await page.locator('#f-name').fill('Acme Mine');
  await page.getByRole('button', { name: 'Save' }).click();
  assert.match(await page.getByRole('alert').textContent(), /Someone else changed this record/);
  assert.match(await page.locator('#stale').textContent(), /Acme Renamed[\s\S]*Acme Mine/);
  assert.equal(await page.locator('h1').textContent(), 'Acme Renamed');
  assert.deepEqual(await axeViolations(page), [], 'a stale edit');

  // Search finds it; delete asks first.
  await page.goto(`${web.server.url}/companies?q=acme.example`);
  await page.getByRole('link', { name: 'Acme Renamed' }).click();
  let asked = '';
  page.once('dialog', async (dialog) => { asked = dialog.message(); await dialog.dismiss(); });
  await page.getByRole('button', { name: 'Delete' }).click();
  assert.match(asked, /Delete this record/);
  assert.equal(page.url(), url, 'dismissed: still there');
  page.once('dialog', (dialog) => dialog.accept());
  await page.getByRole('button', { name: 'Delete' }).click();
  await page.waitForURL(`${web.server.url}/companies?done=deleted`);
  assert.deepEqual(page.problems(), [], 'no CSP refusal or script error on any page');
});

test('the hostile corpus as company names is inert on the list and a page, and the layout holds', async () => {
  const client = api(web.server.url, web.server.token);
  let accepted = 0;
  let last;
  for (const name of HOSTILE_STRINGS) {
    const answer = await client.post('/companies', { name: name.slice(0, 200) });
    if (answer.status === 201) {
      accepted += 1;
      last = answer.body.id;
    } else {
      assert.ok([400, 422].includes(answer.status), `${JSON.stringify(name)}: ${JSON.stringify(answer.body)}`);
    }
  }
  assert.ok(accepted >= 20, `only ${accepted} hostile names were accepted`);
  for (const path of ['/companies', '/companies?sort=newest', `/companies/${last}`]) {
    await page.goto(`${web.server.url}${path}`);
    assert.equal(await page.evaluate(PWN_CHECK), false, `${path}: a hostile name ran script`);
    assert.equal(await page.locator('main img, main script, main iframe').count(), 0, path);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `${path}: the page is ${overflow}px wider than the window`);
  }
  assert.deepEqual(await axeViolations(page), [], 'a hostile page');
  assert.deepEqual(page.problems(), []);
});
