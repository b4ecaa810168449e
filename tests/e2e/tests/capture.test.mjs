// The whole email: tracking a message sends its raw source, fetched from Gmail's own
// "Download original" by the content script (the page's ik, the user's session), to the real
// server, which parses it and keeps its attachments. On send too; a failing Gmail leaves the
// email tracked from the page and completed later; two users share one email.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';

import { startWorld, configure, waitForBars, waitFor, messageBarSelector } from '../lib/threadline.mjs';
import { serverBinary, api } from '../lib/threadline-server.mjs';
import { buildThreads, GMAIL_IK, gmailIk } from '../../fixtures/gmail/gmail-data.mjs';
import { MIME_DIR } from '../../fixtures/gmail/gmail-sources.mjs';

const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');
const mime = (file) => fs.readFileSync(`${MIME_DIR}/${file}`);
const THREADS = Object.fromEntries(buildThreads().map((t) => [t.key, t]));
const THREADS_U1 = Object.fromEntries(buildThreads([], { account: 1 }).map((t) => [t.key, t]));

let world;

before(async () => {
  world = await startWorld();
  await configure(world.browser, world.server, { trackOnSendDefault: true });
  // The people of the MIME samples, so that the bar has a contact to track to.
  for (const [first, email, company, domain] of [['Bob', 'bob@acme.com', 'Acme Corp', 'acme.com'], ['Jürgen', 'juergen@acme.de', 'Acme DE', 'acme.de'], ['Taro', 'yamada@example.jp', 'Yamada KK', 'example.jp']]) {
    const r = await world.client.createContact({ first_name: first, last_name: 'Sample', emails: [email], company: { kind: 'new', name: company, domain } });
    assert.equal(r.status, 201, JSON.stringify(r.body));
  }
});

after(async () => {
  await world?.close();
});

/** The caller's tracked entry of a message (by any of its ids), or null. */
async function entryOf(client, id) {
  const r = await client.trackedState([{ ids: [id] }]);
  return r.body.messages?.[0]?.tracked_email ?? null;
}

/** The whole entry (GET), once its source has been parsed. */
function waitParsed(client, id, { timeout = 30_000 } = {}) {
  return waitFor(async () => {
    const r = await client.get(`/tracked-emails/${id}`);
    return r.body?.source?.status === 'parsed' ? r.body : null;
  }, { timeout, interval: 200, what: `the source of ${id}` });
}

async function trackFromBar(page, legacyId) {
  await waitForBars(page, (b) => b.some((x) => x.messageId === legacyId && x.state === 'ready'));
  await page.locator(messageBarSelector(legacyId)).locator('[data-tl=track]').click();
  await waitForBars(page, (b) => b.some((x) => x.messageId === legacyId && x.tracked === 'true'));
}

/** An attachment's bytes, as the server serves them. */
async function download(server, token, id, index) {
  const res = await fetch(`${server.url}/api/v1/tracked-emails/${id}/attachments/${index}`, { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(res.status, 200);
  return Buffer.from(await res.arrayBuffer());
}

/** The background's list of sources still to capture. */
const pendingSources = () => world.browser.serviceWorker.evaluate(async () => {
  const r = await chrome.storage.local.get('threadlineSources');
  return r.threadlineSources ?? { items: [], failed: [] };
});

test('tracking from the bar sends the whole email: Message-ID, parsed source, attachments byte for byte', async () => {
  const msg = THREADS['mime-attach'].messages[0];
  const before = world.fixtures.sourceRequests.length;
  const { page, errors } = await world.open(`#inbox/${THREADS['mime-attach'].legacyThreadId}`);
  await trackFromBar(page, msg.legacyId);
  const entry = await entryOf(world.client, msg.legacyId);
  assert.ok(entry, 'tracked');
  const email = await waitParsed(world.client, entry.id);
  assert.equal(email.rfc_message_id, 'attach.0003@mail.ourco.com');
  assert.ok(email.message_ids.includes(msg.legacyId) && email.message_ids.includes('attach.0003@mail.ourco.com'));
  assert.equal(email.source.sha256, sha256(mime('attachments.eml')), 'the source reached the server unchanged');
  assert.equal(email.source.headers.bcc[0].address, 'archive@ourco.com', 'what the page never shows (Bcc) is there');
  assert.deepEqual(email.attachments.map((a) => a.name), ['Offerte € Zürich.pdf', 'notes.txt', '.._.._etc_passwd']);
  assert.deepEqual(await download(world.server, world.server.token, entry.id, 0), mime('offer.pdf.bin'));
  assert.deepEqual(await download(world.server, world.server.token, entry.id, 1), mime('notes.txt.bin'));

  // Fetched as Gmail's "Download original", with the ik of the page's GLOBALS and the session.
  const asked = world.fixtures.sourceRequests.slice(before);
  assert.equal(asked.length, 1, JSON.stringify(asked));
  assert.equal(asked[0].url, `/mail/u/0/?ik=${GMAIL_IK}&view=att&th=${msg.legacyId}&attid=0&disp=comp&safe=1&zw`);
  assert.equal(asked[0].signedIn, true);
  assert.deepEqual((await pendingSources()).items, []);
  // The bar says so.
  await waitForBars(page, (b) => b.some((x) => x.messageId === msg.legacyId && x.statusKind === 'info' && /whole email, with its attachments, is in Threadline/.test(x.status)));
  assert.deepEqual(errors, []);
  await page.close();
});

test('non-UTF-8 samples arrive whole and are decoded on the server', async () => {
  const msg = THREADS['mime-latin1'].messages[0];
  const { page } = await world.open(`#inbox/${THREADS['mime-latin1'].legacyThreadId}`);
  await trackFromBar(page, msg.legacyId);
  const email = await waitParsed(world.client, (await entryOf(world.client, msg.legacyId)).id);
  assert.equal(email.source.sha256, sha256(mime('latin1.eml')));
  assert.equal(email.subject, 'Grüße aus Köln – Angebot');
  assert.match(email.body_text, /Preise für Köln: 12 °C, 5 ½ Tage/);
  await page.close();
});

test('on send: the sent reply is completed with its source once Gmail has its legacy id', async () => {
  const t3 = THREADS.t3;
  const { page, errors } = await world.open(`#inbox/${t3.legacyThreadId}`);
  await waitForBars(page, (b) => b.length === 1 && b[0].state === 'ready');
  const m9 = await page.evaluateHandle(() => window.__gmailSim.openReply('replyAll'));
  await waitForBars(page, (b) => b.length === 1 && b[0].parties.some((p) => p.status === 'known'), { kind: 'compose-bar' });
  await page.evaluate((el) => window.__gmailSim.setBody(el, 'July works for us; the signed copy follows.'), m9);
  await page.evaluate((el) => window.__gmailSim.send(el), m9);
  const record = await waitFor(async () => {
    const [r] = await page.evaluate(() => window.__gmailSim.sent());
    return r?.legacyId ? r : null;
  }, { what: 'the legacy id of the sent reply' });
  const entry = await waitFor(() => entryOf(world.client, record.legacyId), { timeout: 20_000, what: 'the reply tracked under its legacy id' });
  const email = await waitParsed(world.client, entry.id);
  assert.equal(email.rfc_message_id, `sim.${record.legacyId}@mail.example.com`);
  assert.match(email.body_text, /July works for us; the signed copy follows\./);
  assert.ok(email.message_ids.includes(record.draftId.replace(/^#/, '')), 'one entry: the draft id and the legacy id');
  assert.deepEqual(errors, []);
  await page.close();
});

test('Gmail failing: the email is tracked from the page at once, and completed from the source later', async () => {
  const msg = THREADS['mime-inline'].messages[0];
  world.fixtures.sourceFaults.remaining = 1;
  const { page, errors } = await world.open(`#inbox/${THREADS['mime-inline'].legacyThreadId}`);
  await trackFromBar(page, msg.legacyId);
  const entry = await entryOf(world.client, msg.legacyId);
  const first = await world.client.get(`/tracked-emails/${entry.id}`);
  assert.equal(first.body.source ?? null, null, 'tracked from the page, no source yet');
  assert.equal(first.body.subject, 'Our new logo');
  const waiting = await waitFor(async () => {
    const s = await pendingSources();
    return s.items.find((i) => i.trackedEmailId === entry.id && i.lastError) ?? null;
  }, { what: 'the failed capture remembered' });
  assert.match(waiting.lastError, /Gmail did not give the original of this email/);
  assert.equal(waiting.legacyId, msg.legacyId);
  // The bar says why the email is not whole yet (until the retry, a second or so later).
  await waitForBars(page, (b) => b.some((x) => x.messageId === msg.legacyId && x.statusKind === 'pending' && /Gmail did not give the original/.test(x.status)));
  // The next attempt (after the backoff) finds Gmail answering again.
  const email = await waitParsed(world.client, entry.id);
  assert.equal(email.source.sha256, sha256(mime('inline-image.eml')));
  assert.equal(email.attachments[0].name, 'logo.png');
  assert.equal(email.attachments[0].inline, true);
  assert.deepEqual(await download(world.server, world.server.token, entry.id, 0), mime('logo.png.bin'));
  assert.deepEqual((await pendingSources()).items, []);
  await waitForBars(page, (b) => b.some((x) => x.messageId === msg.legacyId && /is in Threadline/.test(x.status)));
  // The browser logs the failed request itself; nothing else went wrong on the page.
  assert.deepEqual(errors.filter((e) => !/status of 500/.test(e)), []);
  await page.close();
});

test('signed out of Gmail: the capture waits, worded for people, and completes once signed in again', async () => {
  const msg = THREADS['mime-sjis'].messages[0];
  const { page } = await world.open(`#inbox/${THREADS['mime-sjis'].legacyThreadId}`);
  await waitForBars(page, (b) => b.some((x) => x.messageId === msg.legacyId && x.state === 'ready'));
  // The session ends (the cookie is gone) while the page stays open.
  await world.browser.context.clearCookies({ name: 'SID' });
  await trackFromBar(page, msg.legacyId);
  const entry = await entryOf(world.client, msg.legacyId);
  const waiting = await waitFor(async () => {
    const s = await pendingSources();
    return s.items.find((i) => i.trackedEmailId === entry.id && i.lastError) ?? null;
  }, { what: 'the capture refused for want of a session' });
  assert.match(waiting.lastError, /Gmail asked to sign in again/);
  assert.equal((await world.client.get(`/tracked-emails/${entry.id}`)).body.source ?? null, null);
  // Signing in again (Gmail's page sets the session cookie): the next attempt completes it.
  await page.reload();
  const email = await waitParsed(world.client, entry.id, { timeout: 60_000 });
  assert.equal(email.source.sha256, sha256(mime('shift-jis.eml')));
  assert.equal(email.subject, '見積書の件');
  await page.close();
});

test('two users tracking the same email in their own mailboxes share one email', async () => {
  const out = execFileSync(serverBinary(), ['user', 'create', '--email', 'colin@example.com', '--name', 'Colin Colleague', '--data-dir', world.server.dataDir], { encoding: 'utf8' });
  const colinToken = /THREADLINE_TOKEN=(\S+)/.exec(out)?.[1];
  assert.ok(colinToken, out);
  const colin = api(world.server.url, colinToken);

  // Olivia, in her mailbox (/mail/u/0/).
  const mine = THREADS['mime-alt'];
  const { page } = await world.open(`#inbox/${mine.legacyThreadId}`);
  await trackFromBar(page, mine.messages[0].legacyId);
  const oliviaEntry = await waitParsed(world.client, (await entryOf(world.client, mine.messages[0].legacyId)).id);
  await page.close();

  // Colin, in his (/mail/u/1/: the same email under other Gmail ids, another ik).
  const his = THREADS_U1['mime-alt'];
  assert.notEqual(his.messages[0].legacyId, mine.messages[0].legacyId);
  await configure(world.browser, { url: world.server.url, token: colinToken }, { trackOnSendDefault: true });
  try {
    const before = world.fixtures.sourceRequests.length;
    const { page: colinPage } = await world.open(`#inbox/${his.legacyThreadId}`, '', { account: 1 });
    await trackFromBar(colinPage, his.messages[0].legacyId);
    const colinEntry = await waitParsed(colin, (await entryOf(colin, his.messages[0].legacyId)).id);
    assert.ok(world.fixtures.sourceRequests.slice(before).some((r) => r.url.startsWith(`/mail/u/1/?ik=${gmailIk(1)}&view=att&th=${his.messages[0].legacyId}&`)));
    assert.notEqual(colinEntry.id, oliviaEntry.id, 'each user has an entry of their own');
    assert.equal(colinEntry.email_id, oliviaEntry.email_id, 'one email');
    assert.equal(colinEntry.rfc_message_id, 'CAB1x7=alt.0001@mail.acme.com');
    await colinPage.close();
  } finally {
    await configure(world.browser, world.server, { trackOnSendDefault: true });
  }
});
