// "Open in Threadline" (issues 11 and 14): after tracking, the bar of the tracked email links
// to the email's page in the web app and the contact panel to the contact's page, both
// under the server's public URL (here its listen address, the default), opened in a new tab
// that gets no handle on Gmail's page; reachable from the keyboard; a hostile contact name
// changes nothing of the link.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { startWorld, waitFor, waitForBars, messageBarSelector } from '../lib/threadline.mjs';
import { HOSTILE_PAYLOADS, PWN_CHECK } from '../lib/hostile-corpus.mjs';

let world;
let threads;

before(async () => {
  world = await startWorld();
  threads = await world.threads(['t3', 'solo']);
});

after(async () => {
  await world?.close();
});

const PANEL = '[data-threadline="contact-panel"]';

/** The server's entry of message `id`, as the API answers it. */
async function trackedEntry(id) {
  const state = await world.client.trackedState([{ ids: [id] }]);
  assert.equal(state.status, 200, JSON.stringify(state.body));
  const email = state.body.messages[0].tracked_email;
  assert.ok(email, `message ${id} is tracked`);
  return email;
}

/** The link of the bar of `messageId` and of the panel, as the page has them. */
function readLinks(page, messageId) {
  return page.evaluate(({ bar, panel }) => {
    const attrs = (a) => a && { href: a.getAttribute('href'), target: a.getAttribute('target'), rel: a.getAttribute('rel'), text: a.textContent };
    const barRoot = document.querySelector(bar)?.shadowRoot;
    const panelRoot = document.querySelector(panel)?.shadowRoot;
    return {
      bar: attrs(barRoot?.querySelector('a[data-tl=open]')),
      bars: barRoot ? barRoot.querySelectorAll('a').length : 0,
      panel: attrs(panelRoot?.querySelector('a[data-tl=panel-open]')),
    };
  }, { bar: messageBarSelector(messageId), panel: PANEL });
}

/** Tracks the expanded message `messageId` from its bar; its links once the bar has one. */
async function trackFromTheBar(page, messageId) {
  await waitForBars(page, (bars) => bars.some((b) => b.messageId === messageId && b.state === 'ready'));
  const before = await readLinks(page, messageId);
  assert.equal(before.bars, 0, 'no link before the email is tracked');
  await page.locator(messageBarSelector(messageId)).locator('[data-tl=track]').click();
  await waitForBars(page, (bars) => bars.some((b) => b.messageId === messageId && b.tracked === 'true' && b.open));
  return trackedEntry(messageId);
}

test('the tracked email\'s bar and the contact panel open their pages in the web app', async () => {
  const { page, errors } = await world.open(`#inbox/${threads.t3.legacyThreadId}`);
  const messageId = threads.t3.messages.at(-1).legacyId;
  const email = await trackFromTheBar(page, messageId);
  const emailPage = `${world.server.url}/emails/${email.id}`;
  assert.equal(email.web_url, emailPage, 'the server\'s link: its public URL, the email\'s page');

  const links = await waitFor(async () => {
    const l = await readLinks(page, messageId);
    return l.panel ? l : null;
  }, { what: 'the panel\'s link' });
  assert.deepEqual(links.bar, { href: emailPage, target: '_blank', rel: 'noopener noreferrer', text: 'Open in Threadline' });
  assert.deepEqual(links.panel, {
    href: `${world.server.url}/contacts/${world.contacts.ann.id}`,
    target: '_blank',
    rel: 'noopener noreferrer',
    text: 'Open in Threadline',
  });

  // From the keyboard: Tab from the Tracked button reaches the link; Enter opens the page
  // in a new tab, which has no opener (the web app asks to sign in first).
  const bar = page.locator(messageBarSelector(messageId));
  await bar.locator('[data-tl=track]').focus();
  await page.keyboard.press('Tab');
  const focused = await page.evaluate((sel) => document.querySelector(sel).shadowRoot.activeElement?.getAttribute('data-tl'), messageBarSelector(messageId));
  assert.equal(focused, 'open');
  const [opened] = await Promise.all([
    world.browser.context.waitForEvent('page'),
    page.keyboard.press('Enter'),
  ]);
  await opened.waitForLoadState();
  const at = new URL(opened.url());
  assert.equal(`${at.origin}${at.pathname}`, `${world.server.url}/sign-in`);
  assert.equal(at.searchParams.get('next'), `/emails/${email.id}`);
  assert.equal(await opened.evaluate(() => window.opener), null, 'noopener');
  await opened.close();
  assert.equal(page.url().startsWith('https://mail.google.com/'), true, 'Gmail stays where it was');
  assert.deepEqual(errors.map(String), []);
  await page.close();
});

test('a hostile contact name leaves the links whole', async () => {
  // Dana (the solo thread's sender) with hostile names, which the bar shows as "Tracked to …".
  const candidates = HOSTILE_PAYLOADS.filter((p) => p.executes && p.value.length <= 200 && !/[\u0000-\u001f\u007f]/.test(p.value));
  let dana = null;
  for (let i = 0; i + 1 < candidates.length && !dana; i++) {
    const made = await world.client.createContact({ first_name: candidates[i].value, last_name: candidates[i + 1].value, emails: ['dana@sub.acme.example'] });
    if (made.status === 201) dana = made.body;
  }
  assert.ok(dana, 'a contact with hostile names');

  // Without a CSP, so that a payload wrongly parsed as HTML would really run.
  const { page } = await world.open(`#inbox/${threads.solo.legacyThreadId}`, '?csp=off');
  const messageId = threads.solo.messages.at(-1).legacyId;
  const email = await trackFromTheBar(page, messageId);
  const links = await waitFor(async () => {
    const l = await readLinks(page, messageId);
    return l.panel ? l : null;
  }, { what: 'the panel\'s link' });
  assert.equal(links.bar.href, `${world.server.url}/emails/${email.id}`);
  assert.equal(links.panel.href, `${world.server.url}/contacts/${dana.id}`);
  assert.equal(links.bars, 1, 'one link in the bar, none made of the name');
  // The Tracked button says to whom (the status line moves on to the source's capture).
  const trackedTo = await page.evaluate((sel) => document.querySelector(sel).shadowRoot.querySelector('[data-tl=track]').title, messageBarSelector(messageId));
  const shown = (s) => s.replace(/\s+/g, ' ').trim().slice(0, 20);
  assert.ok(trackedTo.includes(shown(dana.first_name)), `the name as text: ${trackedTo}`);
  await page.waitForTimeout(300); // an injected handler would have fired by now
  assert.equal(await page.evaluate(PWN_CHECK), false, 'no payload executed');
  await page.close();
});
