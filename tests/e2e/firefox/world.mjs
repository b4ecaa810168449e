// One "world" for the Firefox suite, like lib/threadline.mjs's for Chromium: the fixture
// server, a real threadline-server with the same seeded contacts, and Firefox ESR with the
// unpacked extension (a temporary add-on), all in one browser tab driven over WebDriver.
// The page-side readers (barsInDocument, composeBarsIn) are the Chromium suite's own.

import { By } from 'selenium-webdriver';

import { startFixtureServer } from '../fixture-server.mjs';
import { launchFirefox } from '../lib/firefox.mjs';
import { startServer, api } from '../lib/threadline-server.mjs';
import {
  EXTENSION_DIR, seedContacts, barsInDocument, composeBarsIn, waitFor, SEND_BUTTON,
} from '../lib/threadline.mjs';

export { By };

let draftSeq = 0;

/** Runs `fn` (a self-contained function) in the current page with `args`; returns its value. */
export function run(driver, fn, ...args) {
  return driver.executeScript(`return (${fn}).apply(null, arguments)`, ...args);
}

/** Like run(), for an async `fn`: resolves to what its promise resolves to. */
export function runAsync(driver, fn, ...args) {
  return driver.executeAsyncScript(
    `const done = arguments[arguments.length - 1];
     Promise.resolve((${fn}).apply(null, [...arguments].slice(0, -1)))
       .then((value) => done({ value }), (error) => done({ error: String(error && error.stack || error) }));`,
    ...args,
  ).then((r) => { if (r.error) throw new Error(r.error); return r.value; });
}

export async function startFirefoxWorld({ serverEnv = {}, prefs = {} } = {}) {
  const fixtures = await startFixtureServer({ port: 0 });
  const server = await startServer({ env: serverEnv });
  let browser;
  try {
    const client = api(server.url, server.token);
    const contacts = await seedContacts(client);
    browser = await launchFirefox({ fixturePort: fixtures.port, extensionDir: EXTENSION_DIR, prefs });
    const { driver } = browser;
    const world = {
      fixtures, server, client, contacts, browser, driver,
      optionsUrl: `${browser.extensionBase}/options.html`,
      /** Loads a Gmail page (`route` a hash, `query` e.g. '?layout=preview') and waits for the simulator. */
      async open(route = '#inbox', query = '', pathname = '/mail/u/0/') {
        await driver.get(`https://mail.google.com${pathname}${query}${route}`);
        await runAsync(driver, () => new Promise((resolve) => {
          const check = () => (window.__gmailSim ? window.__gmailSim.ready.then(resolve) : setTimeout(check, 20));
          check();
        }));
      },
      /** Loads the extension's options page and waits until it has built its form. */
      async openOptions() {
        await driver.get(world.optionsUrl);
        await waitFor(() => run(driver, () => document.querySelector('form #serverUrl') !== null), { what: 'the options form' });
      },
      /** Writes options as the options page stores them (from the options page itself). */
      async configure(values) {
        await world.openOptions();
        await runAsync(driver, (v) => chrome.storage.local.set(v), values);
      },
      /** Reads the extension's storage (from the options page). */
      async storage(keys) {
        await world.openOptions();
        return runAsync(driver, (k) => chrome.storage.local.get(k), keys);
      },
      readBars: (kind = 'message-bar') => run(driver, barsInDocument, kind),
      async waitForBars(predicate, { kind = 'message-bar', timeout = 15_000 } = {}) {
        let bars = [];
        try {
          return await waitFor(async () => { bars = await world.readBars(kind); return predicate(bars) ? bars : null; },
            { timeout, interval: 50, what: 'the bars' });
        } catch {
          throw new Error(`bars never matched; last seen: ${JSON.stringify(bars, null, 1).slice(0, 4000)}`);
        }
      },
      readComposeBars: (root) => run(driver, composeBarsIn, root),
      /**
       * Opens a compose through the simulator with a draft id of its own (`opts` as
       * __gmailSim.openCompose takes them); resolves to { root (WebElement), draftId } once
       * its bar is ready with one party per recipient.
       */
      async openCompose(opts) {
        const draftId = `msg-a:r-${Date.now()}${(draftSeq += 1)}`;
        const root = await runAsync(driver, (o) => window.__gmailSim.openCompose(o), { ...opts, draftId: `#${draftId}` });
        const recipients = (opts.to?.length ?? 0) + (opts.cc?.length ?? 0) + (opts.bcc?.length ?? 0);
        const bar = await waitFor(async () => {
          const bars = await world.readComposeBars(root);
          return bars.length === 1 && bars[0].state === 'ready' && bars[0].parties.length === recipients ? bars[0] : null;
        }, { what: 'the compose bar, ready' });
        return { root, draftId, bar };
      },
      /** Clicks the compose's Send button. */
      async send(root) {
        await (await root.findElement(By.css(SEND_BUTTON))).click();
      },
      /** The server's tracked entry for a message id, or null. */
      async trackedEntry(id) {
        const r = await client.trackedState([{ ids: [id] }]);
        if (r.status !== 200) throw new Error(`tracked state: ${r.status} ${JSON.stringify(r.body)}`);
        return r.body.messages[0].tracked_email ?? null;
      },
      /** An element inside the open shadow root of the first host matching `hostSelector`. */
      async inBar(hostSelector, innerSelector) {
        const host = await driver.findElement(By.css(hostSelector));
        return (await host.getShadowRoot()).findElement(By.css(innerSelector));
      },
      async close() {
        await stopAll(browser, server, fixtures);
      },
    };
    return world;
  } catch (error) {
    await stopAll(browser, server, fixtures).catch(() => {});
    throw error;
  }
}

/**
 * Stops all three, whatever fails; then throws the first failure. A browser whose processes
 * outlive the group's SIGKILL is a failure of the test run, not something to swallow.
 */
async function stopAll(browser, server, fixtures) {
  const outcomes = [];
  for (const stop of [() => browser?.close(), () => server.stop(), () => fixtures.close()]) {
    outcomes.push(await Promise.resolve().then(stop).then(() => null, (e) => e));
  }
  const failure = outcomes.find((e) => e);
  if (failure) throw failure;
}
