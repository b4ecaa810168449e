// One "world" for the Firefox suite, like lib/threadline.mjs's for Chromium: the fixture
// server, a real threadline-server with the same seeded contacts, and Firefox ESR with the
// unpacked extension (a temporary add-on), all in one browser tab driven over WebDriver.
// The page-side readers (barsInDocument, composeBarsIn) are the Chromium suite's own.

import { By } from 'selenium-webdriver';

import { startFixtureServer } from '../fixture-server.mjs';
import { launchFirefox } from '../lib/firefox.mjs';
import { startServer, api } from '../lib/threadline-server.mjs';
import { EXTENSION_DIR, seedContacts, barsInDocument, composeBarsIn, waitFor } from '../lib/threadline.mjs';

export { By };

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

export async function startFirefoxWorld({ serverEnv = {} } = {}) {
  const fixtures = await startFixtureServer({ port: 0 });
  const server = await startServer({ env: serverEnv });
  let browser;
  try {
    const client = api(server.url, server.token);
    const contacts = await seedContacts(client);
    browser = await launchFirefox({ fixturePort: fixtures.port, extensionDir: EXTENSION_DIR });
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
