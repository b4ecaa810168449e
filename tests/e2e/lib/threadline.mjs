// Helpers for the extension's end-to-end tests: one "world" = the fixture server, a real
// threadline-server on a temporary database with seeded contacts, and Chromium with the
// unpacked extension from dist/extension configured (server URL + token) like a user would.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { startFixtureServer } from '../fixture-server.mjs';
import { launchWithExtension, openGmail, makeProfileDir } from './browser.mjs';
import { startServer, api } from './threadline-server.mjs';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const EXTENSION_DIR = process.env.THREADLINE_EXTENSION_DIR ?? path.join(repoRoot, 'dist', 'extension');

/** The CRM the tests start from: known people of the fixture threads, and one ambiguity. */
export async function seedContacts(client) {
  const made = {};
  const add = async (key, body) => {
    const r = await client.createContact(body);
    if (r.status !== 201) throw new Error(`seeding ${key}: ${r.status} ${JSON.stringify(r.body)}`);
    made[key] = r.body;
  };
  await add('ann', { first_name: 'Ann', last_name: 'Lee', emails: ['ann.lee@acme.example'], company: { kind: 'new', name: 'Acme', domain: 'acme.example' } });
  await add('bob', { first_name: 'Bob', last_name: 'Stone', emails: ['bob@globex.example'], company: { kind: 'new', name: 'Globex', domain: 'globex.example' } });
  // Two contacts share Siobhán's address: the bar must show the ambiguity, not guess.
  await add('siobhan1', { first_name: 'Siobhán', last_name: "O'Brien", emails: ['siobhan.obrien@globex.example'] });
  await add('siobhan2', { first_name: 'S.', last_name: 'OBrien (old)', emails: ['siobhan.obrien@globex.example'] });
  // Stored without dots: Gmail ignores dots, so jane.q.doe@gmail.com is the same person.
  await add('jane', { first_name: 'Jane', last_name: 'Doe', emails: ['janeqdoe@gmail.com'] });
  return made;
}

/** `serverEnv`: extra environment of the server (e.g. `{ RUST_LOG: 'info' }` logs every request). */
export async function startWorld({ seed = true, serverEnv = {} } = {}) {
  // Our own profile, kept across relaunches (a browser restart) and removed at close.
  const profileDir = makeProfileDir();
  const fixtures = await startFixtureServer({ port: 0 });
  const server = await startServer({ env: serverEnv });
  const client = api(server.url, server.token);
  const contacts = seed ? await seedContacts(client) : {};
  const browser = await launchWithExtension({ fixturePort: fixtures.port, extensionDir: EXTENSION_DIR, profileDir });
  await configure(browser, server);
  const world = {
    fixtures, server, client, contacts, browser,
    /** Opens Gmail at `route` (a hash) in the signed-in account `account` (/mail/u/<n>/). */
    async open(route, query = '', { account = 0 } = {}) {
      const { page, errors } = await openGmail(world.browser.context, `/mail/u/${account}/${query}${route}`);
      page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
      await page.evaluate(() => window.__gmailSim?.ready);
      return { page, errors };
    },
    /** The simulator's threads `keys` (`window.__gmailSim.thread`), by key. */
    async threads(keys) {
      const { page } = await world.open('#inbox');
      const found = await page.evaluate((ks) => ks.map((k) => [k, window.__gmailSim.thread(k)]), keys);
      await page.close();
      return Object.fromEntries(found);
    },
    async relaunch() {
      await world.browser.close();
      const again = await launchWithExtension({ fixturePort: fixtures.port, extensionDir: EXTENSION_DIR, profileDir });
      world.browser = again;
      return again;
    },
    async close() {
      await world.browser.close().catch(() => {});
      await server.stop().catch(() => {});
      await fixtures.close().catch(() => {});
      fs.rmSync(profileDir, { recursive: true, force: true });
    },
  };
  return world;
}

/** Sets the options as the options page would store them. */
export async function configure(browser, server, extra = {}) {
  await browser.serviceWorker.evaluate(async ({ url, token, extra }) => {
    await chrome.storage.local.set({ serverUrl: url, apiToken: token, sendUndoSeconds: 5, ...extra });
  }, { url: server.url, token: server.token, extra });
}

// ----- reading the bars (open shadow roots) --------------------------------------------

/** The simulator's Send button inside a compose window (Gmail's markup). */
export const SEND_BUTTON = '.IZ .Up div > div[role=button]:not(.Uo):not([aria-haspopup=true])';

/** `{ address: status }` of a bar's parties. */
export const statusByAddress = (bar) => Object.fromEntries(bar.parties.map((p) => [p.address, p.status]));

/**
 * Every bar of `kind` in the document: {messageId, state, parties:[{address,status,text}],
 * tracked, open, status}. Runs inside the page (Playwright's page.evaluate, WebDriver's
 * executeScript), so it uses nothing but its argument and the DOM.
 */
export function barsInDocument(kind) {
  return [...document.querySelectorAll(`[data-threadline="${kind}"]`)].map((host) => {
    const root = host.shadowRoot;
    const bar = root.querySelector('[data-tl=bar]');
    const track = root.querySelector('[data-tl=track]');
    const status = root.querySelector('[data-tl=status]');
    return {
      messageId: host.getAttribute('data-message-id'),
      composeKind: host.getAttribute('data-compose-kind'),
      state: bar.getAttribute('data-state'),
      tracked: track ? track.getAttribute('data-tracked') : null,
      tasks: root.querySelector('[data-tl=task]')?.getAttribute('data-tasks') ?? null,
      // "Open in Threadline" of a tracked email: its page in the web app.
      open: root.querySelector('a[data-tl=open]')?.getAttribute('href') ?? null,
      status: status.textContent,
      statusKind: status.getAttribute('data-kind'),
      statusCode: status.getAttribute('data-code'),
      parties: [...root.querySelectorAll('[data-tl-party]')].map((li) => ({
        address: li.getAttribute('data-address'),
        status: li.getAttribute('data-status'),
        text: li.textContent,
      })),
    };
  });
}

/**
 * The compose bar(s) inside one compose window `root`: {kind, composeId, state, trackOnSend,
 * status, parties:[{address, status, picks:[{id, checked}]}]}. Runs inside the page.
 */
export function composeBarsIn(root) {
  return [...root.querySelectorAll('[data-threadline="compose-bar"]')].map((host) => {
    const shadow = host.shadowRoot;
    const toggle = shadow.querySelector('input[data-tl=track-on-send]');
    return {
      kind: host.getAttribute('data-compose-kind'),
      composeId: host.getAttribute('data-compose-id'),
      state: shadow.querySelector('[data-tl=bar]').getAttribute('data-state'),
      trackOnSend: toggle ? toggle.checked : null,
      status: shadow.querySelector('[data-tl=status]').textContent,
      parties: [...shadow.querySelectorAll('[data-tl-party]')].map((li) => ({
        address: li.getAttribute('data-address'),
        status: li.getAttribute('data-status'),
        picks: [...li.querySelectorAll('input[data-tl=pick]')].map((i) => ({ id: i.getAttribute('data-contact-id'), checked: i.checked })),
      })),
    };
  });
}

/** Every message bar on the page (see barsInDocument). */
export function readBars(page, kind = 'message-bar') {
  return page.evaluate(barsInDocument, kind);
}

/** Waits until `predicate(bars)` holds (bars as readBars returns them). */
export async function waitForBars(page, predicate, { kind = 'message-bar', timeout = 10_000 } = {}) {
  const deadline = Date.now() + timeout;
  let bars = [];
  while (Date.now() < deadline) {
    bars = await readBars(page, kind);
    if (predicate(bars)) return bars;
    await page.waitForTimeout(50);
  }
  throw new Error(`bars never matched; last seen: ${JSON.stringify(bars, null, 1).slice(0, 4000)}`);
}

/** Clicks an element inside the bar of `messageId` (or the n-th compose bar). */
export async function clickInBar(page, hostSelector, innerSelector) {
  await page.locator(hostSelector).locator(innerSelector).first().click();
}

export function messageBarSelector(messageId) {
  return `[data-threadline="message-bar"][data-message-id="${messageId}"]`;
}

export async function waitFor(fn, { timeout = 10_000, interval = 100, what = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  while (Date.now() < deadline) {
    last = await fn();
    if (last) return last;
    await new Promise((r) => setTimeout(r, interval));
  }
  throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last)}`);
}
