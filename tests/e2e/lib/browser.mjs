// Launch Debian's Chromium through playwright-core, with or without the unpacked extension.
//
// Flags are those verified in TOOLCHAIN.md §5 (the background-networking ones keep Chromium
// from flooding the closed network), plus the two that make https://mail.google.com/ resolve to
// the local fixture server (fixture-server.mjs) and accept its self-signed certificate.
// A persistent context is required: Chromium only loads extensions into one.
//
// close() returns once no process of the browser is left, not just its main process (which
// exits before some of its helpers: ../../lib/chromium-process.mjs); only then is the profile
// removed, or reused by the next launch. Playwright's context.close() waits for the main
// process's stdout/stderr pipes to close, which every helper inherits, so in practice it
// waits for them too (measured: none left in 8 closes); the group check makes that a
// guarantee rather than a side effect of inherited descriptors, for a /proc scan.

import { chromium } from 'playwright-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { chromiumPid, reapGroup } from '../../lib/chromium-process.mjs';

export const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';

export const BASE_FLAGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** A fresh, empty profile directory (callers remove it, or keep it to restart the browser). */
export function makeProfileDir(prefix = 'threadline-profile-') {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/**
 * @param {object} opts
 * @param {number} [opts.fixturePort] port of the fixture server: mail.google.com is mapped to it
 *                                    (omit for a browser that does not open Gmail: the web app)
 * @param {string} [opts.extensionDir] unpacked extension to load; omit for a plain browser
 * @param {string} [opts.profileDir]   reuse a profile (browser-restart tests); default: new temp dir
 * @param {string[]} [opts.args]       extra Chromium flags
 * @param {object} [opts.env]         the browser's environment (e.g. LANGUAGE for its UI language)
 * @param {number} [opts.serviceWorkerTimeout] ms to wait for the extension's service worker
 * @returns {Promise<{context, serviceWorker, extensionId, profileDir, close}>}
 *   serviceWorker/extensionId are null without an extension. close() closes the browser and,
 *   unless the caller passed profileDir, deletes the temporary profile.
 */
export async function launchWithExtension({
  fixturePort, extensionDir, profileDir, args = [], env, serviceWorkerTimeout = 15_000,
} = {}) {
  const ownProfile = !profileDir;
  const dir = profileDir ?? makeProfileDir();
  const extensionFlags = extensionDir
    ? [`--disable-extensions-except=${path.resolve(extensionDir)}`, `--load-extension=${path.resolve(extensionDir)}`]
    : [];
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM,
    headless: true,
    ignoreHTTPSErrors: true,
    ...(env ? { env } : {}),
    args: [
      ...BASE_FLAGS,
      ...extensionFlags,
      ...(fixturePort
        ? [`--host-resolver-rules=MAP mail.google.com 127.0.0.1:${fixturePort}`, '--ignore-certificate-errors']
        : []),
      ...args,
    ],
  });
  // Playwright gives no pid for a persistent context; the profile's lock names it. Playwright
  // launched it detached, so it leads a process group that its helpers share.
  let pid;
  try {
    pid = chromiumPid(dir);
  } catch (error) {
    await context.close();
    throw error;
  }

  let serviceWorker = null;
  let extensionId = null;
  if (extensionDir) {
    serviceWorker = context.serviceWorkers().find((w) => w.url().startsWith('chrome-extension://'))
      ?? await context.waitForEvent('serviceworker', {
        predicate: (w) => w.url().startsWith('chrome-extension://'),
        timeout: serviceWorkerTimeout,
      });
    extensionId = new URL(serviceWorker.url()).host;
  }

  const close = async () => {
    await context.close();
    await reapGroup(pid);
    if (ownProfile) fs.rmSync(dir, { recursive: true, force: true });
  };
  return { context, serviceWorker, extensionId, profileDir: dir, close };
}

/**
 * Open a page of the Gmail simulator and wait until it has rendered. Returns { page,
 * response, errors } where errors collects the page's uncaught exceptions.
 * `path` is relative to https://mail.google.com, e.g. '/mail/u/0/#inbox' or
 * '/mail/u/0/?csp=strict#inbox/163d03bfda277ec1'.
 */
export async function openGmail(context, pathAndHash = '/mail/u/0/#inbox') {
  const page = await context.newPage();
  const errors = []; // uncaught exceptions of the page, from its very first script on
  page.on('pageerror', (e) => errors.push(e));
  const response = await page.goto(`https://mail.google.com${pathAndHash}`);
  await page.waitForFunction(() => window.__gmailSim !== undefined);
  await page.evaluate(() => window.__gmailSim.ready);
  return { page, response, errors };
}
