// The web app's end-to-end harness: a real server on a temporary database, Debian's Chromium
// through playwright-core (no extension), axe-core for accessibility.
//
// The page's Content-Security-Policy stays on: axe is evaluated through the DevTools
// protocol (page.evaluate), which the policy does not govern, never injected as a <script>.

import fs from 'node:fs';
import { createRequire } from 'node:module';

import { launchWithExtension } from '../lib/browser.mjs';
import { startServer } from '../lib/threadline-server.mjs';

const require = createRequire(import.meta.url);
const AXE_SOURCE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

export const PASSWORD = 'correct horse battery staple';

/**
 * A server with an owner who has no password yet, and a browser. `options` go to
 * `startServer` (a fixed `port`, `env`).
 */
export async function startWeb(options = {}) {
  const server = await startServer(options);
  if (!server.setupUrl) throw new Error(`the server printed no setup link:\n${server.log()}`);
  const browser = await launchWithExtension({});
  return {
    server,
    browser,
    context: browser.context,
    async close() {
      await browser.close();
      await server.stop();
    },
  };
}

/**
 * A new page that records what the browser refused or failed: CSP violations, uncaught
 * errors, console errors. `problems()` lists them.
 */
export async function newPage(context, { language } = {}) {
  const page = await context.newPage();
  if (language) await page.setExtraHTTPHeaders({ 'Accept-Language': language });
  const problems = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    // A page answered 401/410 on purpose is logged by the browser as a failed load: not a
    // problem of the page. A CSP refusal or a script error is.
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) {
      problems.push(`console: ${m.text()}`);
    }
  });
  page.problems = () => problems;
  return page;
}

/** The owner sets up through the printed link, with the keyboard only; lands on Home. */
export async function setUpOwner(page, server, { email = 'owner@example.com', name = 'Olivia Owner', password = PASSWORD } = {}) {
  await page.goto(server.setupUrl);
  await page.locator('#email').focus();
  await page.keyboard.press('ControlOrMeta+a');
  await page.keyboard.type(email);
  await page.keyboard.press('Tab');
  await page.keyboard.type(name);
  await page.keyboard.press('Tab');
  await page.keyboard.type(password);
  await page.keyboard.press('Enter');
  await page.waitForURL(`${server.url}/`);
}

/** axe-core's serious and critical violations of the page as it is now (WCAG 2.x A/AA). */
export async function axeViolations(page) {
  await page.evaluate(AXE_SOURCE);
  const result = await page.evaluate(() => window.axe.run(document, {
    runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] },
    resultTypes: ['violations'],
  }));
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}
