// Self-tests of the Firefox harness, without the extension: the CONNECT proxy brings
// https://mail.google.com to the fixture server (a real TLS connection, Gmail's CSP headers),
// refuses every other host, and close() leaves no process of the browser and no profile.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';

import { startFixtureServer } from '../fixture-server.mjs';
import { launchFirefox } from '../lib/firefox.mjs';
import { liveGroupMembers } from '../../lib/chromium-process.mjs';
import { run } from './world.mjs';

test('mail.google.com is the fixture server over HTTPS with its CSP; other hosts are refused; close() reaps everything', async () => {
  const fixtures = await startFixtureServer({ port: 0 });
  let browser;
  try {
    browser = await launchFirefox({ fixturePort: fixtures.port });
    const { driver, proxy } = browser;
    await driver.get('https://mail.google.com/mail/u/0/?csp=gmail#inbox');
    const page = await run(driver, () => ({
      origin: location.origin,
      secure: window.isSecureContext,
      simulator: typeof window.__gmailSim,
      // The page's own scripts ran only because they carry the response's nonce.
      nonced: [...document.scripts].every((s) => s.nonce.length > 0),
    }));
    assert.deepEqual(page, { origin: 'https://mail.google.com', secure: true, simulator: 'object', nonced: true });
    assert.ok(proxy.tunnels.includes('mail.google.com:443'));
    assert.ok(fixtures.requests.some((r) => r.url === '/mail/u/0/?csp=gmail'));
    // Gmail's CSP is enforced: its require-trusted-types-for 'script' refuses script text
    // from a plain string.
    const verdict = await run(driver, () => {
      const s = document.createElement('script');
      try {
        s.textContent = 'window.__unnonced = true';
      } catch (e) {
        return `refused: ${e.name}`;
      }
      document.head.append(s);
      return window.__unnonced === true ? 'ran' : 'blocked';
    });
    assert.equal(verdict, 'refused: TypeError');

    // Any other host never leaves the machine.
    await driver.get('https://example.com/').catch(() => {});
    assert.ok(proxy.refused.includes('CONNECT example.com:443'), JSON.stringify(proxy.refused));

    const { pgid, profileRoot } = browser;
    assert.ok(liveGroupMembers(pgid).length >= 2, 'geckodriver and Firefox share one process group');
    await browser.close();
    browser = null;
    assert.deepEqual(liveGroupMembers(pgid), []);
    assert.equal(fs.existsSync(profileRoot), false);
  } finally {
    await browser?.close();
    await fixtures.close();
  }
});
