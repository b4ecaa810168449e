// Launch Debian's Firefox ESR through geckodriver (WebDriver), driven by selenium-webdriver,
// with the unpacked extension installed as a temporary add-on.
//
// - geckodriver: GECKODRIVER_BIN, else <repo>/.tools/bin/geckodriver (build.sh installs it
//   from crates.io); Firefox: FIREFOX_BIN, else /usr/bin/firefox-esr.
// - https://mail.google.com/ reaches the fixture server through a CONNECT proxy
//   (connect-proxy.mjs) set in the profile's prefs; the fixture's self-signed certificate is
//   accepted by WebDriver's acceptInsecureCerts (Chromium: --ignore-certificate-errors).
// - The add-on's moz-extension:// UUID is fixed through `extensions.webextensions.uuids`,
//   so its options page has a known address.
// - geckodriver is spawned by us, detached: it leads a process group that Firefox and all its
//   content processes inherit. close() quits the session (Firefox exits), then stops the
//   whole group and waits until none of its processes is left (../../lib/chromium-process.mjs)
//   before the profile folder is removed.

import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

import firefox from 'selenium-webdriver/firefox.js';
import { Executor, HttpClient } from 'selenium-webdriver/http/index.js';
import { Command } from 'selenium-webdriver/lib/command.js';

import { stopBrowserGroup } from '../../lib/chromium-process.mjs';
import { startConnectProxy } from './connect-proxy.mjs';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const FIREFOX = process.env.FIREFOX_BIN ?? '/usr/bin/firefox-esr';
export const GECKODRIVER = process.env.GECKODRIVER_BIN ?? path.join(repoRoot, '.tools', 'bin', 'geckodriver');
/** The add-on id of manifest.json's browser_specific_settings.gecko. */
export const ADDON_ID = JSON.parse(fs.readFileSync(path.join(repoRoot, 'manifest.json'), 'utf8'))
  .browser_specific_settings.gecko.id;

const INSTALL_ADDON_PATH = 'threadline:installAddonPath';
const QUIT_MS = 20_000;
/** How long the add-on may take to open its options page after the install. */
const INSTALL_PAGE_MS = 15_000;

/** Starts geckodriver in its own process group; resolves to { child, url, log(), jsErrors }. */
function startGeckodriver(profileRoot, timeout = 20_000) {
  // --allow-system-access: WebDriver may then open the add-on's own pages (moz-extension://),
  // which it otherwise refuses to navigate to; the tests use it for the options page only.
  const args = ['--port', '0', '--binary', FIREFOX, '--profile-root', profileRoot, '--allow-system-access'];
  const child = spawn(GECKODRIVER, args, {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, MOZ_HEADLESS: '1' },
  });
  // The last lines of geckodriver's and Firefox's output, and every uncaught script error
  // Firefox reported there ("JavaScript error: <url>, line <n>: <message>").
  const lines = [];
  const jsErrors = [];
  const keep = (line) => {
    lines.push(line);
    if (lines.length > 400) lines.shift();
    if (line.startsWith('JavaScript error: ')) jsErrors.push(line);
  };
  readline.createInterface({ input: child.stderr }).on('line', keep);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`geckodriver did not listen within ${timeout} ms:\n${lines.join('\n')}`));
    }, timeout);
    child.once('error', (e) => { clearTimeout(timer); reject(e); });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`geckodriver exited (${code ?? signal}):\n${lines.join('\n')}`));
    });
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      keep(line);
      const m = /Listening on (\S+:\d+)/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: `http://${m[1]}`, log: () => lines.join('\n'), jsErrors });
      }
    });
  });
}

/**
 * @param {object} opts
 * @param {number} opts.fixturePort   the fixture server's port: mail.google.com:443 tunnels to it
 * @param {string} [opts.extensionDir] the unpacked extension to install (temporary add-on)
 * @param {Record<string, string|number|boolean>} [opts.prefs] more Firefox prefs
 * @returns {Promise<{driver, extensionBase, proxy, pgid, profileRoot, jsErrors, log(), close()}>}
 *   extensionBase is the add-on's moz-extension://<uuid> origin (null without an extension);
 *   pgid the process group of geckodriver, Firefox and its helpers; profileRoot the folder of
 *   the profile, removed by close(); jsErrors the uncaught script errors Firefox printed.
 */
/**
 * The add-on opens its options page when it is installed unconfigured, a moment after the
 * install: Firefox puts it in the blank first tab (or, if that tab is in use, a tab of its
 * own, which is closed). Waits for it, so that no test's first navigation races with it.
 */
async function awaitInstallPage(driver, optionsUrl) {
  const first = await driver.getWindowHandle();
  const deadline = Date.now() + INSTALL_PAGE_MS;
  for (;;) {
    for (const handle of await driver.getAllWindowHandles()) {
      if (handle !== first) await driver.switchTo().window(handle);
      const found = (await driver.getCurrentUrl()) === optionsUrl;
      if (found && handle !== first) await driver.close();
      if (handle !== first || found) await driver.switchTo().window(first);
      if (found) return;
    }
    if (Date.now() > deadline) throw new Error(`the add-on did not open ${optionsUrl} on install`);
    await new Promise((resolve) => { setTimeout(resolve, 50); });
  }
}

export async function launchFirefox({ fixturePort, extensionDir, prefs = {} } = {}) {
  if (!fixturePort) throw new Error('launchFirefox: fixturePort is required');
  const profileRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'threadline-firefox-'));
  const proxy = await startConnectProxy({ routes: { 'mail.google.com:443': fixturePort } });
  const uuid = crypto.randomUUID();
  let gecko;
  let driver;
  // If this process ends without close() (a crashed test file), the browser does not outlive
  // it: Playwright does the same for Chromium. Only a synchronous kill can run in 'exit'.
  const killOnExit = () => {
    try { process.kill(-gecko.child.pid, 'SIGKILL'); } catch { /* already gone */ }
  };
  const close = async () => {
    process.off('exit', killOnExit);
    // A Firefox that does not answer quit() within QUIT_MS is ended with its group anyway.
    if (driver) {
      let timer;
      await Promise.race([
        driver.quit().catch(() => {}),
        new Promise((resolve) => { timer = setTimeout(resolve, QUIT_MS); }),
      ]);
      clearTimeout(timer);
    }
    if (gecko) await stopBrowserGroup(gecko.child);
    await proxy.close();
    fs.rmSync(profileRoot, { recursive: true, force: true });
  };
  try {
    gecko = await startGeckodriver(profileRoot);
    process.once('exit', killOnExit);
    const options = new firefox.Options()
      .addArguments('-headless')
      .setAcceptInsecureCerts(true)
      .setPreference('network.proxy.type', 1)
      .setPreference('network.proxy.ssl', '127.0.0.1')
      .setPreference('network.proxy.ssl_port', proxy.port)
      .setPreference('network.proxy.http', '127.0.0.1')
      .setPreference('network.proxy.http_port', proxy.port)
      .setPreference('network.proxy.no_proxies_on', '')
      .setPreference('network.proxy.allow_hijacking_localhost', false)
      // Remote settings (blocklists and the like) would only knock at the proxy's door.
      .setPreference('services.settings.server', 'data:,#remote-settings-disabled')
      .setPreference('extensions.webextensions.uuids', JSON.stringify({ [ADDON_ID]: uuid }));
    for (const [name, value] of Object.entries(prefs)) options.setPreference(name, value);
    const executor = new Executor(new HttpClient(gecko.url));
    executor.defineCommand(INSTALL_ADDON_PATH, 'POST', '/session/:sessionId/moz/addon/install');
    driver = await firefox.Driver.createSession(options, executor);
    if (extensionDir) {
      // The folder itself (geckodriver's `path`), not a zip of it: what about:debugging's
      // "Load Temporary Add-on" does with an unpacked extension.
      const id = await driver.execute(new Command(INSTALL_ADDON_PATH)
        .setParameter('path', path.resolve(extensionDir))
        .setParameter('temporary', true));
      if (id !== ADDON_ID) throw new Error(`installed add-on ${id}, expected ${ADDON_ID}`);
      await awaitInstallPage(driver, `moz-extension://${uuid}/options.html`);
    }
  } catch (error) {
    await close().catch(() => {});
    throw error;
  }
  return {
    driver,
    extensionBase: extensionDir ? `moz-extension://${uuid}` : null,
    proxy,
    pgid: gecko.child.pid,
    profileRoot,
    jsErrors: gecko.jsErrors,
    log: () => gecko.log(),
    close,
  };
}
