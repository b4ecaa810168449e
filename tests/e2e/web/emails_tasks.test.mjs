// A tracked email, Tasks and Home in a real browser: the hostile corpus as the email's HTML
// body runs nothing in its sandboxed frame (nor in the page), remote images wait for "Show
// remote images", a task is marked done from the list, the source email is one click away,
// and axe-core passes on every one of these pages, with the pages' CSP on.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';

import { HOSTILE_STRINGS, PWN_CHECK } from '../lib/hostile-corpus.mjs';
import { api } from '../lib/threadline-server.mjs';
import { axeViolations, newPage, setUpOwner, startWeb } from './lib.mjs';

let web;
let page;
let client;
let emailId;
before(async () => {
  web = await startWeb();
  page = await newPage(web.context);
  await setUpOwner(page, web.server);
  client = api(web.server.url, web.server.token);
});
after(async () => { await web?.close(); });

/** Every frame of the page: none ran a payload. */
async function nothingRan() {
  for (const frame of page.frames()) {
    // The body frame is sandboxed without scripts: evaluating in it through DevTools still
    // works, and tells whether a payload ran there.
    assert.equal(await frame.evaluate(PWN_CHECK), false, `a payload ran in ${frame.url()}`);
  }
}

test('a tracked email: its hostile body is inert in the frame, remote images on demand', async () => {
  const contact = await client.post('/contacts', { first_name: 'Pat', emails: ['pat@client.example'] });
  assert.equal(contact.status, 201, JSON.stringify(contact.body));
  const html = `<p id="hello">Hello</p><img src="https://tracker.invalid/pixel.gif" alt="pixel">${HOSTILE_STRINGS.filter((s) => s.isWellFormed()).join("<br>")}`;
  const tracked = await client.post('/tracked-emails', {
    gmail_message_id: '18c0ffee0000e2e1',
    direction: 'incoming',
    from: { address: 'pat@client.example', name: 'Pat' },
    subject: 'Quote <img src=x onerror=alert(1)>',
    html_body: html.slice(0, 200_000),
    body_text: 'Hello',
    contact_ids: [contact.body.id],
  });
  assert.equal(tracked.status, 201, JSON.stringify(tracked.body));
  const id = tracked.body.tracked_email.id;
  emailId = id;

  await page.goto(`${web.server.url}/emails/${id}`);
  assert.match(await page.getByRole('heading', { level: 1 }).textContent(), /^Quote <img src=x onerror=alert\(1\)>$/);
  const frame = page.frameLocator('iframe.body-frame');
  await assert.doesNotReject(frame.locator('p', { hasText: 'Hello' }).first().waitFor());
  assert.equal(await frame.locator('img[src^="https:"]').count(), 0, 'the remote image waits');
  assert.equal(await frame.locator('script, iframe, form, object, embed, svg, math').count(), 0);
  await nothingRan();
  assert.deepEqual(await axeViolations(page), [], 'the email page');

  await page.getByRole('link', { name: 'Show remote images' }).click();
  await page.waitForURL(`${web.server.url}/emails/${id}?images=1`);
  await assert.doesNotReject(frame.locator('img[src="https://tracker.invalid/pixel.gif"]').waitFor({ state: 'attached' }));
  await nothingRan();
  assert.deepEqual(await axeViolations(page), [], 'the email page with images');
  assert.deepEqual(page.problems(), [], 'no CSP refusal or script error');
});

test('the email\'s records: typed, chosen among several, removed; by keyboard, axe on each step', async () => {
  for (const name of ['Initech East', 'Initech West']) {
    const company = await client.post('/companies', { name });
    assert.equal(company.status, 201, JSON.stringify(company.body));
  }
  await page.goto(`${web.server.url}/emails/${emailId}`);
  const field = page.getByLabel('Add to the timeline of a contact or company');
  await field.fill('initech');
  await field.press('Enter');
  const choices = page.getByRole('group', { name: 'Several match. Choose one:' });
  await assert.doesNotReject(choices.waitFor());
  assert.equal(await choices.getByRole('radio').count(), 2);
  assert.deepEqual(await axeViolations(page), [], 'the choice among several');
  await choices.getByRole('radio', { name: /Initech West/ }).check();
  await page.getByRole('button', { name: 'Add', exact: true }).press('Enter');
  await page.waitForURL(`${web.server.url}/emails/${emailId}#records-h`);
  const records = page.locator('#email-records');
  await assert.doesNotReject(records.getByRole('link', { name: 'Initech West' }).waitFor());
  assert.equal(await records.getByRole('link', { name: 'Initech East' }).count(), 0);
  assert.deepEqual(await axeViolations(page), [], 'the email with its owner\'s controls');

  await records.getByRole('button', { name: 'Remove: Initech West' }).click();
  await page.waitForURL(`${web.server.url}/emails/${emailId}#records-h`);
  assert.equal(await records.getByRole('link', { name: 'Initech West' }).count(), 0);
  await assert.doesNotReject(records.getByRole('link', { name: 'Pat' }).waitFor());
  assert.deepEqual(page.problems(), [], 'no CSP refusal or script error');
});

test('tasks: add one, mark it done, the source email one click away; axe on each page', async () => {
  const source = await client.post('/tasks', { title: 'answer Pat', due_date: '2020-01-01', source_message_id: '18c0ffee0000e2e1' });
  assert.equal(source.status, 201, JSON.stringify(source.body));

  await page.goto(`${web.server.url}/tasks`);
  assert.deepEqual(await axeViolations(page), [], 'the task list');
  await page.getByLabel('Title').fill('call the printer');
  await page.getByRole('button', { name: 'Add task' }).click();
  await page.waitForURL(`${web.server.url}/tasks?whose=mine&show=open`);
  const row = page.locator('#tasks tbody tr', { hasText: 'answer Pat' });
  assert.match(await row.textContent(), /Overdue 1 January 2020/);
  assert.ok(await page.locator('#tasks', { hasText: 'call the printer' }).count());

  await row.getByRole('link', { name: 'Open the email' }).click();
  await page.waitForURL(/\/emails\/[0-9a-f-]+$/);
  await page.goBack();

  await row.getByRole('button', { name: /Mark done/ }).click();
  await page.waitForURL(`${web.server.url}/tasks?whose=mine&show=open`);
  assert.equal(await page.locator('#tasks tbody tr', { hasText: 'answer Pat' }).count(), 0);
  await page.getByRole('link', { name: 'Done' }).click();
  await assert.doesNotReject(page.locator('#tasks tbody tr', { hasText: 'answer Pat' }).waitFor());
  assert.deepEqual(await axeViolations(page), [], 'the done tasks');

  await page.getByRole('link', { name: 'answer Pat' }).click();
  await assert.doesNotReject(page.getByRole('heading', { name: 'answer Pat' }).waitFor());
  assert.deepEqual(await axeViolations(page), [], 'a task');
  await page.getByLabel('Title').fill('answer Pat today');
  await page.getByRole('button', { name: 'Save' }).click();
  await assert.doesNotReject(page.getByRole('status').filter({ hasText: 'Saved.' }).waitFor());

  await page.goto(`${web.server.url}/`);
  await assert.doesNotReject(page.locator('#recent-emails a', { hasText: 'Quote' }).waitFor());
  assert.deepEqual(await axeViolations(page), [], 'Home with tracked emails');
  await nothingRan();
  assert.deepEqual(page.problems(), [], 'no CSP refusal or script error');
});

test('at phone width the email and task pages do not scroll sideways', async () => {
  await page.setViewportSize({ width: 360, height: 740 });
  for (const path of ['/tasks', '/tasks?show=done', `/emails/${emailId}`, '/']) {
    await page.goto(`${web.server.url}${path}`);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `${path} is ${overflow}px wider than the screen`);
  }
});
