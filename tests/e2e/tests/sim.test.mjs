// Self-tests of the Gmail simulator and the harness, WITHOUT the extension: if these fail,
// an extension test failing on the same pages says nothing about the extension.
//
// The selectors asserted here are the ones Gmail integrations rely on
// (research/gmail-dom.md §8 and InboxSDK's chains); they are what the fixtures promise.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';

import { startFixtureServer, STRICT_CSP } from '../fixture-server.mjs';
import { launchWithExtension, openGmail } from '../lib/browser.mjs';
import { HOSTILE_PAYLOADS, HOSTILE_ADDRESSES, PWN_CHECK } from '../lib/hostile-corpus.mjs';
import { buildThreads, hostileThread, toLegacyId, fromLegacyId, OWNER, GMAIL_IK, BIG_ATTACHMENT_BYTES } from '../../fixtures/gmail/gmail-data.mjs';
import { MIME_DIR, bigAttachment, rawSource } from '../../fixtures/gmail/gmail-sources.mjs';
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';

const THREADS = Object.fromEntries(buildThreads([hostileThread(HOSTILE_PAYLOADS, HOSTILE_ADDRESSES)]).map((t) => [t.key, t]));
const T3 = THREADS.t3;

let server;
let browser;

before(async () => {
  server = await startFixtureServer();
  browser = await launchWithExtension({ fixturePort: server.port });
});

after(async () => {
  await browser?.close();
  await server?.close();
});

/** Open a page, run `fn(page)`, always close the page. */
async function withGmail(path, fn) {
  const { page, response, errors } = await openGmail(browser.context, path);
  try {
    await fn(page, response);
    assert.deepEqual(errors.map(String), [], 'the page threw');
  } finally {
    await page.close();
  }
}

/** GET a fixture URL from Node, with SNI for mail.google.com, returning headers and body. */
function fetchRaw(path) {
  return new Promise((resolve, reject) => {
    https.get({ host: '127.0.0.1', port: server.port, path, servername: 'mail.google.com', rejectUnauthorized: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d) => { body += d; }).on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
    }).on('error', reject);
  });
}

// The smallest valid WebAssembly module: compiling it is what 'unsafe-eval' decides.
const tryCompileWasm = () => WebAssembly.compile(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0])).then(() => 'compiled', (e) => e.name);
const tryInnerHtml = () => { try { document.createElement('div').innerHTML = '<b>x</b>'; return 'assigned'; } catch (e) { return e.name; } };

async function waitFor(predicate, timeout = 3000) {
  const end = Date.now() + timeout;
  while (!predicate()) {
    if (Date.now() > end) throw new Error('timed out waiting for condition');
    await new Promise((r) => setTimeout(r, 25));
  }
}

const threadPath = (t, query = '') => `/mail/u/0/${query}#inbox/${t.legacyThreadId}`;
const items = (page) => page.locator('[role=main] [role=list] > [role=listitem]');
const classesOf = (page) => items(page).evaluateAll((els) => els.map((e) => e.className));

/** fetch() from the page (same origin, the page's cookies): status, type, text, sha256. */
function fetchFromPage(page, url) {
  return page.evaluate(async (u) => {
    const r = await fetch(u, { redirect: 'manual' });
    const bytes = new Uint8Array(await r.arrayBuffer());
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
    return {
      status: r.status, type: r.type, contentType: r.headers.get('content-type'), size: bytes.length,
      sha256: [...digest].map((b) => b.toString(16).padStart(2, '0')).join(''),
      text: new TextDecoder('latin1').decode(bytes.subarray(0, 200_000)),
    };
  }, url);
}
const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');

// ---------------------------------------------------------------------------------------
// Ids and CSP

test('data: legacy ids are the msg-f decimals in hex (BigInt exact)', () => {
  assert.equal(toLegacyId('1602441164947422913'), '163d03bfda277ec1');
  assert.equal(fromLegacyId('163d03bfda277ec1'), '1602441164947422913');
  assert.equal(T3.threadId, '1602441164947422913');
  assert.equal(T3.legacyThreadId, '163d03bfda277ec1');
  for (const t of Object.values(THREADS)) {
    for (const m of t.messages) {
      assert.equal(BigInt('0x' + m.legacyId).toString(), m.messageId);
      assert.ok(BigInt(m.messageId) > 2n ** 53n, 'ids exceed Number precision, as in Gmail');
    }
  }
  assert.equal(THREADS.t100.messages.length, 100);
  assert.ok(HOSTILE_PAYLOADS.length >= 200);
});

test('csp: Gmail\'s two headers, a fresh nonce per response, written into the page\'s scripts', async () => {
  const a = await fetchRaw('/mail/u/0/');
  const b = await fetchRaw('/mail/u/0/');
  assert.equal(a.status, 200);
  const [scriptSrc, trustedTypes] = a.headers['content-security-policy'].split(', ');
  const nonce = /'nonce-([^']+)'/.exec(scriptSrc)[1];
  assert.equal(scriptSrc, `script-src 'report-sample' 'nonce-${nonce}' 'unsafe-inline' 'strict-dynamic' https: http: 'unsafe-eval';object-src 'none';base-uri 'self';report-uri /cspreport`);
  assert.equal(trustedTypes, "require-trusted-types-for 'script';report-uri /cspreport");
  const scriptTags = a.body.match(/<script\b[^>]*>/g);
  assert.ok(scriptTags.length >= 1);
  for (const tag of scriptTags) assert.ok(tag.includes(`nonce="${nonce}"`), tag);
  assert.notEqual(/'nonce-([^']+)'/.exec(b.headers['content-security-policy'])[1], nonce, 'nonce must change per response');

  await withGmail('/mail/u/0/#inbox', async (page, response) => {
    const csp = (await response.headersArray()).filter((x) => x.name.toLowerCase() === 'content-security-policy');
    assert.equal(csp.length, 2, 'two separate header lines');
    // The nonced module script ran (and its imports, through 'strict-dynamic'):
    assert.equal(await page.locator('[gh=tl] tr.zA').count(), Object.keys(THREADS).length);
    // The simulator itself causes no CSP/Trusted Types violation, including its one HTML parse.
    const before = server.cspReports.length;
    await page.evaluate(() => window.__gmailSim.openCompose({ kind: 'old' }));
    await page.waitForTimeout(300); // violation reports are POSTed asynchronously
    assert.deepEqual(server.cspReports.slice(before), []);
    // Trusted Types are enforced (and reported to /cspreport), and 'unsafe-eval' lets
    // WebAssembly compile.
    assert.equal(await page.evaluate(tryInnerHtml), 'TypeError');
    assert.equal(await page.evaluate(tryCompileWasm), 'compiled');
    await waitFor(() => server.cspReports.length > before);
    assert.equal(server.cspReports[before]['csp-report']['violated-directive'], 'require-trusted-types-for');
    assert.equal(server.cspReports[before]['csp-report']['script-sample'], 'Element innerHTML|<b>x</b>');
  });
});

test('csp: ?csp=strict sends script-src \'self\': the page works, WebAssembly cannot compile', async () => {
  const raw = await fetchRaw('/mail/u/0/?csp=strict');
  assert.equal(raw.headers['content-security-policy'], STRICT_CSP);
  await withGmail(threadPath(T3, '?csp=strict'), async (page) => {
    assert.equal(await page.locator('h2.hP').textContent(), T3.subject);
    assert.equal(await page.evaluate(tryCompileWasm), 'CompileError');
    assert.equal(await page.evaluate(tryInnerHtml), 'assigned', 'no Trusted Types in the strict variant');
  });
  const off = await fetchRaw('/mail/u/0/?csp=off');
  assert.equal(off.headers['content-security-policy'], undefined);
});

// ---------------------------------------------------------------------------------------
// Thread view

test('thread view: Gmail\'s structure, ids and fields', async () => {
  await withGmail(threadPath(T3), async (page) => {
    const h2 = page.locator('[role=main] .g.id .a98.iY h2.hP');
    assert.equal(await h2.getAttribute('data-legacy-thread-id'), '163d03bfda277ec1');
    assert.equal(await h2.getAttribute('data-thread-perm-id'), 'thread-f:1602441164947422913');
    assert.equal(await h2.textContent(), T3.subject);
    assert.equal(await page.locator('.a98.iY > .nH .V8djrc.byY .ha h2.hP').count(), 1);
    assert.deepEqual(await classesOf(page), ['kv', 'kv', 'h7']);

    const facts = await page.evaluate(() => [...document.querySelectorAll('[role=main] [role=list] > [role=listitem]')].map((item) => {
      const core = item.querySelector('[data-message-id]');
      const q = (s) => item.querySelector(s);
      return {
        core: core.className,
        messageId: core.getAttribute('data-message-id'),
        legacyId: core.getAttribute('data-legacy-message-id'),
        sender: { email: q('span.gD').getAttribute('email'), name: q('span.gD').getAttribute('name'), hovercard: q('span.gD').getAttribute('data-hovercard-id') },
        dateTitle: q('span.g3')?.getAttribute('title'),
        recipients: [...item.querySelectorAll('span.hb > span.g2[email][name]')].map((s) => s.getAttribute('email')),
        body: q('div.ii.gt > div.a3s.aiL')?.textContent ?? null,
        spacerInCore: !!core.querySelector('div.hi'),
        snippet: q('div.iA.g6')?.textContent ?? null,
      };
    }));
    T3.messages.forEach((m, i) => {
      assert.equal(facts[i].messageId, `#msg-f:${m.messageId}`);
      assert.equal(facts[i].legacyId, m.legacyId);
      assert.deepEqual(facts[i].sender, { email: m.from.email, name: m.from.name, hovercard: m.from.email });
      assert.match(facts[i].dateTitle, /\d{4}, \d+:\d\d [AP]M$/);
    });
    assert.equal(facts[0].legacyId, '163d03bfda277ec1');
    // collapsed: .adf.ads with a snippet, no recipients, no body
    for (const f of facts.slice(0, 2)) {
      assert.equal(f.core, 'adf ads');
      assert.deepEqual(f.recipients, []);
      assert.equal(f.body, null);
      assert.ok(f.snippet.length > 0);
    }
    // expanded: .adn.ads with recipients, body and the .hi spacer
    const last = facts[2];
    assert.equal(last.core, 'adn ads');
    assert.deepEqual(last.recipients, ['owner@example.com', 'bob@globex.example']);
    assert.ok(last.body.startsWith('Sounds good.'));
    assert.ok(last.spacerInCore);
    // the Reply / Forward strip after the last message
    assert.equal(await page.locator('[role=list] > .h7:last-child .gA.gt.acV .ip.iq td.amr div.nr.tMHS5d div.amn span.ams[role=link]').count(), 3);
    assert.equal(await page.title(), `${T3.subject} - ${OWNER.email} - Gmail`);
  });
});

test('thread view: clicking expands (kv→h7, body built then) and the header collapses', async () => {
  await withGmail(threadPath(T3), async (page) => {
    const first = items(page).first();
    const before = await first.elementHandle();
    await first.click();
    assert.equal(await first.getAttribute('class'), 'h7');
    assert.equal(await first.getAttribute('aria-expanded'), 'true');
    assert.equal(await first.locator('.adn.ads span.hb > span.g2[email="owner@example.com"]').count(), 1);
    assert.ok((await first.locator('div.ii.gt div.a3s.aiL').textContent()).includes('proposal for the Q3 rollout'));
    assert.ok(await before.evaluate((el, now) => el === now, await first.elementHandle()), 'same listitem element');
    await first.locator('.gE').click({ position: { x: 400, y: 5 } });
    assert.equal(await first.getAttribute('class'), 'kv');
    assert.equal(await first.locator('.hb').count(), 0);
    assert.equal(await first.locator('.adf.ads .iA.g6').count(), 1);
    // buttons in the header do not collapse
    await items(page).last().locator('.aap').click();
    assert.equal(await items(page).last().getAttribute('class'), 'h7');
  });
});

test('thread view: the fold hides the middle of long threads and expands on click', async () => {
  const t8 = THREADS.t8;
  await withGmail(threadPath(t8), async (page) => {
    assert.deepEqual(await classesOf(page), ['kv', 'kQ adv', 'kQ', 'kQ', 'kQ', 'kv', 'kv', 'h7']);
    assert.equal(await page.locator('.kQ.adv .adx span').first().textContent(), '4');
    assert.equal(await page.locator('.kQ [data-message-id]').count(), 0, 'hidden messages are not loaded');
    // this thread exercises Gmail's missing data-thread-perm-id variant
    assert.equal(await page.locator('h2.hP').getAttribute('data-thread-perm-id'), null);
    assert.equal(await page.locator('h2.hP').getAttribute('data-legacy-thread-id'), t8.legacyThreadId);
    await page.locator('.kQ.adv').click();
    assert.deepEqual(await classesOf(page), ['kv', 'kv', 'kv', 'kv', 'kv', 'kv', 'kv', 'h7']);
    const ids = await page.locator('[role=list] [data-legacy-message-id]').evaluateAll((els) => els.map((e) => e.getAttribute('data-legacy-message-id')));
    assert.deepEqual(ids, t8.messages.map((m) => m.legacyId));
  });
});

test('thread view: 100-message thread folds 96, and expandAll renders every message', async () => {
  const t100 = THREADS.t100;
  await withGmail(threadPath(t100), async (page) => {
    assert.equal(await items(page).count(), 100);
    assert.equal(await page.locator('[role=list] > .kQ').count(), 96);
    assert.equal(await page.locator('.kQ.adv .adx span').first().textContent(), '96');
    await page.evaluate(() => window.__gmailSim.expandAll());
    const pairs = await page.locator('[role=list] .adn.ads').evaluateAll((els) => els.map((e) => [e.getAttribute('data-message-id'), e.getAttribute('data-legacy-message-id')]));
    assert.equal(pairs.length, 100);
    pairs.forEach(([sync, legacy], i) => {
      assert.equal(sync, `#msg-f:${t100.messages[i].messageId}`);
      assert.equal(BigInt('0x' + legacy).toString(), sync.slice('#msg-f:'.length));
    });
  });
});

test('layouts: legacy table.Bs > tr and the preview pane', async () => {
  await withGmail(threadPath(T3, '?layout=legacy'), async (page) => {
    assert.equal(await page.locator('[role=main] .g.id table.Bs > tr > td.Bu > div.if h2.hP').count(), 1);
    assert.equal(await page.evaluate(() => document.querySelector('table.Bs').firstElementChild.tagName), 'TR');
    assert.equal(await page.locator('.if [role=list] > [role=listitem]').count(), 3);
    assert.equal(await page.locator('.a98').count(), 0);
  });
  await withGmail(threadPath(T3, '?layout=preview'), async (page) => {
    assert.ok(await page.locator('[gh=tl]').isVisible(), 'the list stays visible');
    assert.equal(await page.locator('div[role=main] .aia .ao9 .a98.iY h2.hP').textContent(), T3.subject);
    assert.equal(await page.locator('.aia [role=list] > .h7 .adn.ads[data-legacy-message-id]').count(), 1);
    await page.locator('[gh=tl] tr.zA', { hasText: 'Pricing questions' }).click();
    await page.waitForFunction((id) => document.querySelector('.aia h2.hP')?.getAttribute('data-legacy-thread-id') === id, THREADS.t8.legacyThreadId);
    await page.evaluate(() => window.__gmailSim.openInbox());
    assert.equal(await page.locator('.aia .ao9 .apa').count(), 1);
    assert.equal(await page.locator('h2.hP').count(), 0);
  });
});

// ---------------------------------------------------------------------------------------
// Navigation

test('navigation: inbox rows open threads; back shows the list again', async () => {
  await withGmail('/mail/u/0/#inbox', async (page) => {
    const views = page.locator('div.aeF > div.nH > [role=main]');
    assert.equal(await views.count(), 1);
    const row = page.locator('[gh=tl] tr.zA', { hasText: T3.subject });
    assert.equal(await row.locator('span[data-thread-id][data-legacy-thread-id]').getAttribute('data-thread-id'), `#thread-f:${T3.threadId}`);
    assert.equal(await row.locator('.yW span[email]').first().getAttribute('email'), 'ann.lee@acme.example');
    await row.click();
    await page.waitForSelector('h2.hP');
    assert.equal(new URL(page.url()).hash, `#inbox/${T3.legacyThreadId}`);
    assert.equal(await views.count(), 2, 'Gmail keeps the list view, hidden');
    assert.equal(await page.locator('[role=main]:has([gh=tl])').evaluate((el) => el.style.display), 'none');
    assert.ok(await page.locator('h2.hP').isVisible());

    await page.goBack();
    await page.waitForFunction(() => !document.querySelector('h2.hP'));
    assert.ok(await page.locator('[gh=tl]').isVisible());
    assert.equal(await views.count(), 1, 'the conversation DOM is dropped');
    assert.match(await page.title(), /^Inbox \(1\) - owner@example\.com - Gmail$/);

    await page.evaluate(() => window.__gmailSim.openThread('t8'));
    assert.equal(await page.locator('h2.hP').textContent(), THREADS.t8.subject);
    await page.evaluate(() => window.__gmailSim.openThread('solo'));
    assert.equal(await page.locator('h2.hP').count(), 1, 'one conversation at a time');
    assert.equal(await page.locator('h2.hP').textContent(), THREADS.solo.subject);
  });
  await withGmail('/mail/u/0/#inbox?compose=new', async (page) => {
    await page.waitForSelector('div.dw .nH > .nH > .no [role=dialog] form');
  });
});

// ---------------------------------------------------------------------------------------
// Inline reply and Gmail's id resolution of a sent message

test('inline reply: chips UI, ids, send appends #msg-a then resolves to the legacy id', async () => {
  await withGmail(threadPath(T3), async (page) => {
    await page.locator('.amn span.ams[role=link]', { hasText: /^Reply$/ }).click();
    const m9 = page.locator('.ip.adB > .M9');
    await m9.waitFor();
    // InboxSDK's inline page-parser chain, end to end:
    const chain = '.M9 > div[role=region] > table > tbody > tr > td > form > div > table[role=presentation] > tbody > tr > td.Iy > div.fX > table.GS > tbody > tr.bzf > td.eV > div > div > div.anm[name=to] > div.aUy > div > div > div > div > [role=listbox] > div > div > div[role=option][data-name]';
    const chip = page.locator(chain);
    assert.equal(await chip.count(), 1);
    assert.equal(await chip.getAttribute('data-hovercard-id'), 'ann.lee@acme.example');
    assert.equal(await chip.getAttribute('data-name'), 'Ann Lee');
    assert.equal(await m9.locator('.GS .anm[name=to] [role=listbox] input[role=combobox][aria-autocomplete=list]:not([name])').count(), 1);
    const draft = await m9.locator('input[name=draft]').getAttribute('value');
    assert.match(draft, /^#msg-a:r-\d+$/);
    assert.equal(await m9.locator('input[name=rt]').getAttribute('value'), `#thread-f:${T3.threadId}`);
    assert.match(await m9.locator('input[name=composeid]').getAttribute('value'), /^\d+$/);
    assert.equal(await m9.locator('input[name=subjectbox]').inputValue(), `Re: ${T3.subject}`);
    assert.equal(await m9.locator('.Ap div.Am.Al.editable[g_editable=true][role=textbox][contenteditable=true]').count(), 1);
    assert.equal(await m9.locator('.IZ .Up div > div[role=button]:not(.Uo):not([aria-haspopup=true])').count(), 1);
    assert.equal(await m9.locator('.iN > tbody .aDj .aDh .IZ').count(), 1, 'inline status slot');
    assert.equal(await page.locator('.amn').isVisible(), false, 'Reply links hide while composing');

    await m9.locator('[g_editable=true]').fill('Thanks Ann, July works.');
    await m9.locator('.IZ .Up div > div[role=button]:not(.Uo):not([aria-haspopup=true])').click();
    assert.equal(await page.locator('.M9').count(), 0);
    assert.equal(await page.locator('.ip').getAttribute('class'), 'ip iq');
    assert.equal(await page.locator('.b8 .bAq').textContent(), 'Message sent');

    // ~300 ms later: the sent message, with only the client-side id.
    const sent = page.locator(`[role=list] > .h7 .adn.ads[data-message-id="${draft}"]`);
    await sent.waitFor({ timeout: 3000 });
    assert.equal(await sent.getAttribute('data-legacy-message-id'), null);
    assert.equal(await items(page).count(), 4);
    assert.ok((await sent.locator('.a3s.aiL').textContent()).includes('Thanks Ann, July works.'));
    assert.equal(await sent.locator('span.gD').getAttribute('email'), OWNER.email);
    assert.equal(await sent.locator('span.hb span.g2').getAttribute('email'), 'ann.lee@acme.example');
    assert.equal(await page.locator('[role=list] > :last-child .gA .amn').count(), 1, 'reply strip moved under the new last message');

    // ~1 s later: Gmail's id resolution.
    const core = page.locator('[role=list] > :nth-child(4) .adn.ads');
    await page.waitForFunction(() => document.querySelector('[role=list] > :nth-child(4) .adn.ads')?.hasAttribute('data-legacy-message-id'));
    const legacy = await core.getAttribute('data-legacy-message-id');
    assert.match(legacy, /^[0-9a-f]{16}$/);
    assert.equal(await core.getAttribute('data-message-id'), `#msg-f:${BigInt('0x' + legacy)}`);
    const log = await page.evaluate(() => window.__gmailSim.sent());
    assert.equal(log.length, 1);
    assert.equal(log[0].draftId, draft);
    assert.equal(log[0].legacyId, legacy);
    // Gmail's server has the message now: its original is served like any other.
    let raw = null;
    for (let i = 0; i < 40 && !(raw && raw.status === 200); i += 1) {
      raw = await fetchFromPage(page, `/mail/u/0/?view=att&th=${legacy}&attid=0&disp=comp&safe=1&zw`);
      if (raw.status !== 200) await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(raw.status, 200);
    assert.ok(raw.text.includes(`Message-ID: <sim.${legacy}@mail.example.com>`));
    assert.ok(raw.text.includes(Buffer.from('Thanks Ann, July works.').toString('base64').slice(0, 20)));
  });
});

test('inline reply: Ctrl+Enter sends; Reply all and Forward prefill; discard restores the links', async () => {
  await withGmail(threadPath(T3), async (page) => {
    await page.locator('span.ams.bkI').click();
    const m9 = page.locator('.ip.adB > .M9');
    assert.deepEqual(await page.evaluate(() => window.__gmailSim.recipients(document.querySelector('.M9'), 'cc').map((p) => p.email)), ['bob@globex.example']);
    await m9.locator('.gU .oh').click();
    assert.equal(await page.locator('.M9').count(), 0);
    assert.ok(await page.locator('.amn').isVisible());

    await page.locator('span.ams.bkG').click();
    assert.equal(await m9.locator('input[name=subjectbox]').inputValue(), `Fwd: ${T3.subject}`);
    // (the capture's font menu has a [role=option] of its own: scope chip queries to .anm)
    assert.equal(await m9.locator('.anm [role=option]').count(), 0);
    await m9.locator('.anm[name=to] input[role=combobox]').fill('dana@sub.acme.example');
    await m9.locator('.anm[name=to] input[role=combobox]').press('Enter');
    await m9.locator('[g_editable=true]').click();
    await page.keyboard.press('Control+Enter');
    assert.equal(await page.locator('.M9').count(), 0);
    await page.locator('[role=list] > :nth-child(4) .adn.ads').waitFor();
    assert.equal(await page.locator('[role=list] > :nth-child(4) span.hb span.g2').getAttribute('email'), 'dana@sub.acme.example');
  });
});

// ---------------------------------------------------------------------------------------
// Compose windows

const MOLE_DIALOG = 'div.dw .nH > .nH > .no > * div.AD > * > [role=dialog]';
const SEND = '.IZ .Up div > div[role=button]:not(.Uo):not([aria-haspopup=true])';

test('compose: pop-up from [gh=cm], new chips UI, title-bar controls', async () => {
  await withGmail('/mail/u/0/#inbox', async (page) => {
    await page.locator('div[gh=cm]').click();
    const dialog = page.locator(MOLE_DIALOG);
    await dialog.waitFor();
    assert.equal(await dialog.locator('form').count(), 1);
    const chain = '[role=dialog] > div > div > div[jsaction] > div[role=region] > table > tbody > tr > td > form > div > table.GS > tbody > tr.bzf > td.eV > div > div > div.anm[name=to] > div > div > div > div > [role=listbox]';
    assert.equal(await page.locator(chain).count(), 1);
    assert.equal(await dialog.locator('.GS textarea.vO').count(), 0);
    assert.equal(await dialog.locator(SEND).textContent().then((s) => s.trim()), 'Send');
    assert.equal(await dialog.locator('.aDg .aDj > .aDh').count(), 1);
    assert.equal(await dialog.locator('.Hm > img').count(), 3);

    // minimise: the dialog child holding the body gets display:none (InboxSDK isMinimized)
    const bodyContainer = dialog.locator(':scope > div:has(.Am)');
    await dialog.locator('.Hm .Hl').click();
    assert.equal(await bodyContainer.evaluate((el) => el.style.display), 'none');
    await dialog.locator('.Hm .Hl').click();
    assert.equal(await bodyContainer.evaluate((el) => el.style.display), '');

    // full screen moves the same compose to body > .aSs > .aSt, and back
    const draft = await dialog.locator('input[name=draft]').getAttribute('value');
    await dialog.locator('.Hm .Hq').click();
    const full = page.locator('body > .aSs > .aSt [role=dialog]');
    assert.equal(await full.locator('input[name=draft]').getAttribute('value'), draft);
    assert.equal(await page.locator('.no [role=dialog]').count(), 0);
    await full.locator('.Hm .Hq').click();
    assert.equal(await page.locator(MOLE_DIALOG).locator('input[name=draft]').getAttribute('value'), draft);
    assert.equal(await page.locator('body > .aSs > .aSt').count(), 0);

    // close (Save & close) removes it
    await page.locator(MOLE_DIALOG).locator('.Hm .Ha').click();
    assert.equal(await page.locator('[role=dialog]').count(), 0);
  });
});

test('compose: chips are added on Enter/comma/paste and removed by their button or Backspace', async () => {
  await withGmail('/mail/u/0/#inbox', async (page) => {
    await page.evaluate(() => window.__gmailSim.openCompose({ kind: 'popup' }));
    const dialog = page.locator(MOLE_DIALOG);
    const input = dialog.locator('.anm[name=to] input[role=combobox]');
    await input.fill('bob@globex.example');
    await input.press('Enter');
    await input.fill('someone.new@example.org,');
    await input.press(',');
    const chips = dialog.locator('.GS .anm[name=to] [role=listbox] [role=option][data-hovercard-id]');
    assert.deepEqual(await chips.evaluateAll((els) => els.map((e) => [e.getAttribute('data-hovercard-id'), e.getAttribute('data-name')])), [
      ['bob@globex.example', 'Bob Martin'],
      ['someone.new@example.org', 'someone.new@example.org'],
    ]);
    await input.evaluate((el) => {
      const data = new DataTransfer();
      data.setData('text/plain', '"Lee, Ann" <ann.lee@acme.example>, jane.q.doe@gmail.com');
      el.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }));
    });
    assert.equal(await chips.count(), 4);
    await chips.nth(1).locator('.afX').click();
    assert.equal(await chips.count(), 3);
    await input.press('Backspace');
    assert.deepEqual(await chips.evaluateAll((els) => els.map((e) => e.getAttribute('data-hovercard-id'))), ['bob@globex.example', 'ann.lee@acme.example']);

    // Cc appears on request and takes chips too
    assert.equal(await dialog.locator('.anm[name=cc]').isVisible(), false);
    await dialog.locator('span.pE[role=link]').click();
    await page.evaluate(() => window.__gmailSim.addRecipient(document.querySelector('[role=dialog]'), 'carlos+crm@initech.example', 'cc'));
    assert.equal(await dialog.locator('.GS .anm[name=cc] [role=option]').getAttribute('data-name'), 'Carlos Ruiz');
    const info = await page.evaluate(() => window.__gmailSim.composeInfo(document.querySelector('[role=dialog]')));
    assert.deepEqual(info.cc, [{ name: 'Carlos Ruiz', email: 'carlos+crm@initech.example' }]);
  });
});

test('compose: old UI from the real 2020 capture, with .vR hidden inputs', async () => {
  await withGmail('/mail/u/0/#inbox', async (page) => {
    await page.evaluate(() => window.__gmailSim.openCompose({ kind: 'old' }));
    await page.evaluate(() => window.__gmailSim.openCompose({ kind: 'old' }));
    const dialog = page.locator(MOLE_DIALOG).first();
    assert.equal(await page.locator(MOLE_DIALOG).count(), 2);
    const textarea = dialog.locator('.GS tr textarea.vO[name=to]');
    assert.equal(await textarea.count(), 1);
    await textarea.fill('Bob Martin <bob@globex.example>');
    await textarea.press('Enter');
    await page.evaluate(() => window.__gmailSim.addRecipient(document.querySelector('[role=dialog]'), 'ann.lee@acme.example'));
    await page.evaluate(() => window.__gmailSim.addRecipient(document.querySelector('[role=dialog]'), 'no.name@example.org'));
    const hidden = dialog.locator('.GS tr td.eV > div > div > .vR > input[type=hidden][name=to]');
    assert.deepEqual(await hidden.evaluateAll((els) => els.map((e) => e.value)), [
      'Bob Martin <bob@globex.example>', 'Ann Lee <ann.lee@acme.example>', 'no.name@example.org',
    ]);
    await dialog.locator('.vR').first().locator('.vM').click();
    assert.equal(await hidden.count(), 2);
    // the capture's markup is intact: subject, ids, body, toolbar, discard, title bar
    assert.equal(await dialog.locator('form.bAs .aoD.az6 input.aoT[name=subjectbox]').count(), 1);
    assert.match(await dialog.locator('input[name=draft]').getAttribute('value'), /^#msg-a:r-\d+$/);
    assert.match(await dialog.locator('input[name=rt]').getAttribute('value'), /^#thread-a:r-\d+$/);
    assert.equal(await dialog.locator('.Ap div.Am.Al.editable[g_editable=true][role=textbox][contenteditable=true]').count(), 1);
    assert.equal(await dialog.locator(`${SEND}.T-I.J-J5-Ji.aoO.v7.T-I-atl.L3`).count(), 1);
    assert.equal(await dialog.locator('.gU .oh .og').count(), 1);
    assert.equal(await dialog.locator('td.Hm img.Hl + img.Hq + img.Ha').count(), 1);
    assert.equal(await dialog.locator('[selector=scheduledSend]').count(), 1);
    // two windows, distinct drafts and no duplicated ":xx" ids
    const drafts = await page.locator('input[name=draft]').evaluateAll((els) => els.map((e) => e.value));
    assert.equal(new Set(drafts).size, 2);
    const ids = await page.evaluate(() => [...document.querySelectorAll('[id^=":"]')].map((e) => e.id));
    assert.equal(new Set(ids).size, ids.length);
    // the jslog carries this draft's id, like Gmail's
    const jslog = await dialog.locator('.M9').getAttribute('jslog');
    assert.ok(atob(/11:([A-Za-z0-9+/=]+)/.exec(jslog)[1]).includes(drafts[0]));
  });
});

test('compose: full-screen kind and the standalone pop-out window', async () => {
  await withGmail('/mail/u/0/#inbox', async (page) => {
    await page.evaluate(() => window.__gmailSim.openCompose({ kind: 'fullscreen', to: ['bob@globex.example'], subject: 'Hello' }));
    const full = page.locator('body > .aSs > .aSt [role=dialog]');
    assert.equal(await full.locator('form').count(), 1);
    assert.equal(await full.locator('.anm[name=to] [role=option]').getAttribute('data-hovercard-id'), 'bob@globex.example');
    assert.equal(await full.locator('input[name=subjectbox]').inputValue(), 'Hello');
    assert.equal(await full.locator('.aYF').textContent(), 'Hello');
    const kind = () => page.evaluate(() => window.__gmailSim.composeInfo(document.querySelector('[role=dialog]')).kind);
    assert.equal(await kind(), 'fullscreen');
    await full.locator('.Hm .Hq').click();
    assert.equal(await kind(), 'popup');
    await assert.rejects(page.evaluate(() => window.__gmailSim.openCompose({ kind: 'standalone' })), /view=cm/);
  });
  await withGmail('/mail/?view=cm&fs=1&tf=1&to=ann.lee@acme.example&su=Standalone', async (page) => {
    assert.ok(await page.evaluate(() => document.body.classList.contains('xE') && document.body.classList.contains('xp')));
    const compose = page.locator('body.xE.xp [role=main] > *');
    await compose.locator('form').waitFor();
    assert.equal(await compose.count(), 1);
    assert.equal(await compose.locator('.anm[name=to] [role=option]').getAttribute('data-name'), 'Ann Lee');
    assert.equal(await compose.locator('input[name=subjectbox]').inputValue(), 'Standalone');
    assert.equal(await page.locator('.aeF, [gh=tl]').count(), 0);
    await compose.locator(SEND).click();
    assert.equal(await page.locator('[role=main] form').count(), 0);
    assert.equal(await page.locator('.bAq').textContent(), 'Message sent');
  });
});

test('compose: send shows "Message sent"; Undo reopens the same draft; Undo expires', async () => {
  await withGmail('/mail/u/0/#inbox', async (page) => {
    const sim = (fn, ...args) => page.evaluate(fn, ...args);
    await sim(() => window.__gmailSim.openCompose({ kind: 'popup', to: ['ann.lee@acme.example'], cc: ['bob@globex.example'], subject: 'Quote', body: 'Here it is.' }));
    const dialog = page.locator(MOLE_DIALOG);
    const draft = await dialog.locator('input[name=draft]').getAttribute('value');
    await dialog.locator(SEND).click();
    assert.equal(await page.locator('[role=dialog]').count(), 0);
    assert.equal(await page.locator('.b8 .vh .bAq').textContent(), 'Message sent');
    await page.locator('#link_undo[role=link]').click();
    await dialog.waitFor();
    assert.equal(await dialog.locator('input[name=draft]').getAttribute('value'), draft, 'same draft id');
    const info = await sim(() => window.__gmailSim.composeInfo(document.querySelector('[role=dialog]')));
    assert.deepEqual([info.to.map((p) => p.email), info.cc.map((p) => p.email), info.subject, info.body], [['ann.lee@acme.example'], ['bob@globex.example'], 'Quote', 'Here it is.']);
    assert.equal((await sim(() => window.__gmailSim.sent()))[0].undone, true);

    // the Undo link disappears once the undo window has passed
    await sim(() => { window.__gmailSim.config.undoWindow = 300; });
    await dialog.locator(SEND).click();
    await page.locator('#link_undo').waitFor();
    await page.locator('#link_undo').waitFor({ state: 'detached', timeout: 3000 });
    assert.equal(await page.locator('.bAq').textContent(), 'Message sent');
    const log = await sim(() => window.__gmailSim.sent());
    assert.deepEqual(log.map((r) => [r.draftId, r.undone]), [[draft, true], [draft, false]]);
  });
});

test('compose: no recipient shows Gmail\'s error; discard removes the window', async () => {
  await withGmail('/mail/u/0/#inbox', async (page) => {
    await page.locator('div[gh=cm]').click();
    const dialog = page.locator(MOLE_DIALOG);
    await dialog.locator(SEND).click();
    assert.equal(await page.locator('[role=alertdialog]').textContent().then((s) => s.includes('Please specify at least one recipient.')), true);
    await page.locator('[role=alertdialog] button[name=ok]').click();
    assert.equal(await dialog.count(), 1, 'still open');
    await dialog.locator('.gU .oh').click();
    assert.equal(await page.locator('[role=dialog]').count(), 0);
    assert.equal(await page.locator('.bAq').textContent(), 'Draft discarded');
    assert.deepEqual(await page.evaluate(() => window.__gmailSim.sent()), []);
  });
});

// ---------------------------------------------------------------------------------------
// Test API extras

test('api: appendReply adds a message (server ids, or the pending msg-a sequence)', async () => {
  await withGmail(threadPath(T3), async (page) => {
    const r = await page.evaluate(() => window.__gmailSim.appendReply({ from: 'bob', body: 'July works for us.' }));
    const added = page.locator('[role=list] > :nth-child(4) .adn.ads');
    assert.equal(await added.getAttribute('data-message-id'), `#msg-f:${r.messageId}`);
    assert.equal(await added.getAttribute('data-legacy-message-id'), r.legacyId);
    assert.equal(toLegacyId(r.messageId), r.legacyId);
    assert.equal(await added.locator('span.gD').getAttribute('email'), 'bob@globex.example');

    const p = await page.evaluate(() => window.__gmailSim.appendReply({ from: 'owner', to: ['ann'], pending: true }));
    const pending = page.locator('[role=list] > :nth-child(5) .adn.ads');
    assert.equal(await pending.getAttribute('data-message-id'), p.clientId);
    assert.equal(await pending.getAttribute('data-legacy-message-id'), null);
    await page.waitForFunction(() => document.querySelector('[role=list] > :nth-child(5) .adn.ads').hasAttribute('data-legacy-message-id'));
  });
});

test('api: mutationStorm churns the page but never the message list', async () => {
  await withGmail(threadPath(T3), async (page) => {
    const result = await page.evaluate(async () => {
      let inList = 0;
      let total = 0;
      const list = document.querySelector('[role=list]');
      const listObserver = new MutationObserver((records) => { inList += records.length; });
      listObserver.observe(list, { subtree: true, childList: true, attributes: true, characterData: true });
      const bodyObserver = new MutationObserver((records) => { total += records.length; });
      bodyObserver.observe(document.body, { subtree: true, childList: true, attributes: true, characterData: true });
      const storm = await window.__gmailSim.mutationStorm(500, 1);
      await new Promise((r) => setTimeout(r, 50));
      return { storm, inList, total };
    });
    assert.equal(result.storm.mutations, 500);
    assert.ok(result.storm.ms >= 900 && result.storm.ms < 3000, `took ${result.storm.ms} ms`);
    assert.ok(result.total >= 400, `observed ${result.total} mutation records`);
    assert.equal(result.inList, 0);
  });
});

// ---------------------------------------------------------------------------------------
// Hostile content

test('hostile corpus: markers really fire when payloads are mis-inserted as HTML (csp=off)', async () => {
  // Guards the assertion below: if the simulator (or the extension) ever parsed these strings
  // as markup, PWN_CHECK would notice. Each payload gets its own marker so all can run at once.
  const marked = HOSTILE_PAYLOADS.map((p, i) => p.value.replaceAll('window.__pwned=1', `window.__p${i}=1`));
  await withGmail('/mail/u/0/?csp=off#inbox', async (page) => {
    const fired = await page.evaluate(async (values) => {
      for (const v of values) {
        const sandbox = document.createElement('div');
        sandbox.innerHTML = v; // deliberately unsafe: there is no Trusted Types under csp=off
        document.body.append(sandbox);
      }
      await new Promise((r) => setTimeout(r, 300));
      return values.map((_, i) => window[`__p${i}`] === 1);
    }, marked);
    const ids = HOSTILE_PAYLOADS.filter((_, i) => fired[i]).map((p) => p.id);
    for (const id of ['handler-auto-1', 'attr-style-1', 'attr-style-5', 'breakout-4']) assert.ok(ids.includes(id), `${id} should fire`);
    assert.ok(ids.length >= 20, `only ${ids.length} payloads fired: ${ids.join(' ')}`);
    assert.ok(HOSTILE_PAYLOADS.filter((_, i) => fired[i]).every((p) => p.executes), 'payloads that fire are flagged executes');
  });
});

for (const csp of ['off', 'gmail']) {
  test(`hostile thread (csp=${csp}): every payload rendered as text, nothing executes`, async () => {
    const hostile = THREADS.hostile;
    const reportsBefore = server.cspReports.length;
    await withGmail(`/mail/u/0/?csp=${csp}#inbox`, async (page) => {
      // the inbox row first: hostile subject and sender names
      const row = page.locator(`[gh=tl] tr.zA:has(span[data-legacy-thread-id="${hostile.legacyThreadId}"])`);
      assert.equal(await row.locator('.bog span').evaluate((el) => el.textContent), hostile.subject);
      await row.click();
      await page.waitForSelector('h2.hP');
      await page.waitForTimeout(300); // let onload/onerror/animation handlers fire if any exist

      assert.equal(await page.evaluate(PWN_CHECK), false, 'a payload executed');
      const check = await page.evaluate(() => {
        const t = window.__gmailSim.thread('hostile');
        const cores = [...document.querySelectorAll('[role=list] .adn.ads')];
        const mismatches = [];
        cores.forEach((core, i) => {
          const m = t.messages[i];
          const sender = core.querySelector('span.gD');
          const body = core.querySelector('.a3s.aiL > div');
          const g2 = core.querySelectorAll('span.hb span.g2');
          const bodyText = [...body.childNodes].map((n) => (n.nodeName === 'BR' ? '\n' : n.data)).join('');
          const shown = m.from.name || m.from.email; // Gmail falls back to the address
          if (sender.textContent !== shown || sender.getAttribute('name') !== shown || sender.getAttribute('email') !== m.from.email) mismatches.push(['sender', i]);
          if (g2[1]?.textContent !== (m.to[1].name || m.to[1].email)) mismatches.push(['recipient', i]);
          if ([...body.children].some((c) => c.tagName !== 'BR')) mismatches.push(['body elements', i]);
          if (bodyText !== t.messages[i].body) mismatches.push(['body text', i]);
        });
        return {
          count: cores.length,
          mismatches,
          subject: document.querySelector('h2.hP').textContent,
          injected: document.querySelectorAll('[role=main] :is(img[src=x], svg, script, iframe, object, embed, style, details, marquee, video, audio, input, form, a, base, meta, link, template, math, noscript, xmp, plaintext, select)').length,
        };
      });
      assert.equal(check.count, HOSTILE_PAYLOADS.length);
      assert.equal(check.subject, hostile.subject);
      assert.equal(check.injected, 0, 'no element was created from a payload');
      assert.deepEqual(check.mismatches, []);
      // and against the corpus as Node has it (the page got it from the same file)
      const bodies = await page.locator('[role=list] .adn.ads .a3s.aiL > div').evaluateAll((els) => els.map((body) => [...body.childNodes].map((n) => (n.nodeName === 'BR' ? '\n' : n.data)).join('')));
      const hasLoneSurrogate = (s) => /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s);
      HOSTILE_PAYLOADS.forEach((p, i) => {
        // lone surrogates cannot cross the CDP/JSON boundary intact; the in-page check covers them
        if (!hasLoneSurrogate(p.value)) assert.equal(bodies[i], p.value, p.id);
      });
      // hovering and clicking through the messages runs nothing either
      for (const i of [0, 40, 80, 120, 160]) {
        await items(page).nth(i).locator('.a3s').hover();
        await items(page).nth(i).locator('.a3s').click();
      }
      assert.equal(await page.evaluate(PWN_CHECK), false);
      if (csp === 'gmail') {
        await page.waitForTimeout(200);
        assert.deepEqual(server.cspReports.slice(reportsBefore), [], 'nothing was even attempted against the CSP');
      }
    });
  });
}

// ---------------------------------------------------------------------------------------
// The raw source ("Show original")

test('show original: the sample threads show what their MIME sample holds', () => {
  for (const t of Object.values(THREADS).filter((x) => x.key.startsWith('mime-') && x.key !== 'mime-malformed')) {
    const msg = t.messages[0];
    const raw = readFileSync(`${MIME_DIR}/${msg.source}`).toString('latin1');
    const header = (name) => new RegExp(`^${name}:([^\\r\\n]*(?:\\r\\n[ \\t][^\\r\\n]*)*)`, 'mi').exec(raw)?.[1] ?? '';
    assert.ok(header('From').includes(`<${msg.from.email}>`) || header('From').trim() === msg.from.email, `${t.key} from`);
    for (const p of msg.to) assert.ok(header('To').includes(p.email), `${t.key} to ${p.email}`);
    for (const p of msg.cc) assert.ok(header('Cc').includes(p.email), `${t.key} cc ${p.email}`);
    assert.equal(new Date(header('Date').trim()).toISOString(), new Date(msg.date).toISOString(), `${t.key} date`);
  }
});

test('show original: GLOBALS carries the ik, the shell sets the session cookie, the endpoints serve the bytes', async () => {
  const shell = await fetchRaw('/mail/u/0/');
  assert.match(String(shell.headers['set-cookie']), /^SID=[0-9a-f]{32}; Path=\/; Secure; HttpOnly/);
  assert.match(shell.body, /<script nonce="[^"]+">var GLOBALS=\[/);

  // Without the session cookie: Gmail sends you to sign in.
  const attach = THREADS['mime-attach'].messages[0];
  const signedOut = await fetchRaw(`/mail/u/0/?view=att&th=${attach.legacyId}&attid=0&disp=comp&safe=1&zw`);
  assert.equal(signedOut.status, 302);
  assert.match(signedOut.headers.location, /^https:\/\/accounts\.google\.com\/ServiceLogin/);

  await withGmail(threadPath(THREADS['mime-attach']), async (page) => {
    assert.equal(await page.evaluate(() => window.GLOBALS[9]), GMAIL_IK);
    assert.equal(await page.evaluate(() => window.GLOBALS[10]), OWNER.email);

    // Download original: the sample's bytes, unchanged, with or without the ik.
    const sample = readFileSync(`${MIME_DIR}/attachments.eml`);
    for (const ik of [`ik=${GMAIL_IK}&`, '']) {
      const got = await fetchFromPage(page, `/mail/u/0/?${ik}view=att&th=${attach.legacyId}&attid=0&disp=comp&safe=1&zw`);
      assert.equal(got.status, 200);
      assert.equal(got.contentType, 'text/plain');
      assert.equal(got.sha256, sha256(sample));
    }
    for (const file of ['latin1.eml', 'shift-jis.eml', 'malformed.eml']) {
      const msg = Object.values(THREADS).find((t) => t.messages[0].source === file).messages[0];
      const got = await fetchFromPage(page, `/mail/u/0/?ik=${GMAIL_IK}&view=att&th=${msg.legacyId}&attid=0&disp=comp&safe=1&zw`);
      assert.equal(got.sha256, sha256(readFileSync(`${MIME_DIR}/${file}`)), file);
    }

    // Show original: HTML, the message escaped in <pre>, and the Download original link.
    const om = await fetchFromPage(page, `/mail/u/0/?ik=${GMAIL_IK}&view=om&permmsgid=msg-f:${attach.messageId}`);
    assert.equal(om.status, 200);
    assert.match(om.contentType, /^text\/html/);
    assert.ok(om.text.includes('<pre class="raw_message_text" id="raw_message_text">Message-ID: &#60;attach.0003@mail.ourco.com&#62;'));
    assert.ok(om.text.includes(`?view=att&amp;th=${attach.legacyId}&amp;attid=0&amp;disp=comp&amp;safe=1&amp;zw`));

    // A wrong ik is refused; an unknown message is not found.
    assert.equal((await fetchFromPage(page, `/mail/u/0/?ik=0000000000&view=om&th=${attach.legacyId}`)).status, 400);
    assert.equal((await fetchFromPage(page, `/mail/u/0/?view=om&th=${attach.legacyId}`)).status, 400);
    assert.equal((await fetchFromPage(page, `/mail/u/0/?ik=0000000000&view=att&th=${attach.legacyId}&attid=0&disp=comp&safe=1&zw`)).status, 400);
    assert.equal((await fetchFromPage(page, `/mail/u/0/?view=att&th=ffff&attid=0&disp=comp&safe=1&zw`)).status, 404);

    // A message without a sample: a text/plain message of what the page shows.
    const t3 = T3.messages[0];
    const plain = await fetchFromPage(page, `/mail/u/0/?view=att&th=${t3.legacyId}&attid=0&disp=comp&safe=1&zw`);
    assert.equal(plain.sha256, sha256(rawSource(T3.subject, t3)));
    assert.ok(plain.text.includes(`Message-ID: <sim.${t3.legacyId}@mail.example.com>`));

    // The big one: a 20 MiB attachment, base64 in a multipart/mixed message.
    const big = THREADS.big.messages[0];
    const got = await fetchFromPage(page, `/mail/u/0/?view=att&th=${big.legacyId}&attid=0&disp=comp&safe=1&zw`);
    assert.ok(got.size > BIG_ATTACHMENT_BYTES * 4 / 3, `${got.size} bytes`);
    assert.ok(got.text.includes('Content-Type: multipart/mixed'));
    assert.ok(got.text.includes(bigAttachment().subarray(0, 57).toString('base64')));

    // Fault injection for the extension's fallback.
    server.sourceFaults.remaining = 1;
    assert.equal((await fetchFromPage(page, `/mail/u/0/?view=att&th=${attach.legacyId}&attid=0&disp=comp&safe=1&zw`)).status, 500);
    assert.equal((await fetchFromPage(page, `/mail/u/0/?view=att&th=${attach.legacyId}&attid=0&disp=comp&safe=1&zw`)).status, 200);
  });
});
